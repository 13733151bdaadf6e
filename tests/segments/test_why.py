"""Why a customer is in a segment: the customer's own values in words, in English and Chinese
(field and choice labels translated, numbers localized), on the customer page, the member
table, the desk card and in the API."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import number_format

from callcenter.choices import OrderStatus
from segments.choices import LifecycleStage, RfmSegmentName, SegmentKind
from segments.models import Segment
from segments.rules.explain import builtin_explain, format_number, rules_explain
from tests.callcenter.factories import CustomerFactory, OrderFactory
from tests.segments.factories import (
    CustomerMetricsFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

pytestmark = pytest.mark.django_db

SPEND_AND_DORMANT = {
    "op": "and",
    "children": [
        {"field": "monetary", "cmp": "gt", "value": 1000},
        {"field": "lifecycle_stage", "cmp": "eq", "value": "dormant"},
    ],
}


def _grouped(value: int) -> str:
    return number_format(value, force_grouping=True)


@pytest.fixture
def dormant_spender() -> Any:
    customer = CustomerFactory(name="Why Customer", city="杭州")
    CustomerMetricsFactory(
        customer=customer, monetary=Decimal("5671.00"), lifecycle_stage=LifecycleStage.DORMANT
    )
    return customer


def _why(tree: dict, customer: Any) -> Any:
    return rules_explain(rules={1: tree}, customer_ids=[customer.pk], as_of=timezone.now())[
        (1, customer.pk)
    ]


def test_the_why_tells_the_customers_values_in_words(dormant_spender: Any) -> None:
    with translation.override("en"):
        why = _why(SPEND_AND_DORMANT, dormant_spender)

    assert why.text == "Spend in window 5,671 is more than 1,000 · Lifecycle stage is Dormant"
    assert why.as_data()["parts"][0] == {
        "name": "monetary",
        "field_label": "Spend in window",
        "cmp": "gt",
        "value": "5671.00",
        "limit": "1000",
        "text": "Spend in window 5,671 is more than 1,000",
    }


def test_the_why_in_chinese(dormant_spender: Any) -> None:
    with translation.override("zh-hans"):
        text = _why(SPEND_AND_DORMANT, dormant_spender).text
        five, one = _grouped(5671), _grouped(1000)

    assert text == f"窗口期内消费 {five}，高于 {one} · 生命周期阶段为沉睡"


def test_of_an_or_group_only_the_branches_met_are_told(dormant_spender: Any) -> None:
    tree = {
        "op": "or",
        "children": [
            {"field": "city", "cmp": "eq", "value": "上海"},
            {"field": "city", "cmp": "in", "value": ["杭州", "苏州"]},
        ],
    }

    assert _why(tree, dormant_spender).text == "City is 杭州"


def test_counts_dates_membership_yes_no_and_negated_groups(dormant_spender: Any) -> None:
    now = timezone.now()
    for days in (3, 10):
        OrderFactory(
            customer=dormant_spender,
            placed_at=now - dt.timedelta(days=days),
            status=OrderStatus.PAID,
        )
    vip = SegmentFactory(name="VIP list", slug="vip-list")
    SegmentMembershipFactory(segment=vip, customer=dormant_spender)
    tree = {
        "op": "and",
        "children": [
            {"field": "orders_count", "cmp": "gte", "value": 2, "days": 30},
            {"field": "created_at", "cmp": "gt", "value": "2000-01-01"},
            {"field": "segment", "cmp": "in", "value": ["vip-list"]},
            {"field": "sms_opt_out", "cmp": "is_false"},
            {
                "not": True,
                "op": "or",
                "children": [{"field": "city", "cmp": "eq", "value": "北京"}],
            },
        ],
    }

    text = _why(tree, dormant_spender).text

    created = timezone.localtime(dormant_spender.created_at).date().isoformat()
    assert text == (
        "Paid orders in the last 30 days 2 is at least 2 · "
        f"Customer since {created} is after 2000-01-01 · "
        "Member of VIP list · SMS opt-out: no · None of: City equals 北京"
    )
    with translation.override("zh-hans"):
        chinese = _why(tree, dormant_spender).text
    assert chinese.startswith("近 30 天的已支付订单 2，不低于 2 · ")
    assert "属于分群：VIP list" in chinese
    assert "拒收短信：否" in chinese


def test_builtin_segments_tell_the_stage_tier_and_rfm_scores() -> None:
    metrics = CustomerMetricsFactory(
        rfm_segment=RfmSegmentName.CHAMPIONS,
        r_score=5,
        f_score=4,
        m_score=5,
        lifecycle_stage=LifecycleStage.LOST,
    )

    assert builtin_explain(kind=SegmentKind.RFM, metrics=metrics).text == (
        "RFM segment is Champions (R 5 · F 4 · M 5)"
    )
    assert (
        builtin_explain(kind=SegmentKind.TIER, metrics=metrics).text == "Value tier is Medium value"
    )
    with translation.override("zh-hans"):
        assert builtin_explain(kind=SegmentKind.LIFECYCLE, metrics=metrics).text == (
            "生命周期阶段为已流失"
        )


@translation.override("en")
def test_numbers_are_grouped_and_decimals_kept_only_where_there_are_some() -> None:
    assert format_number(Decimal("1234567.00")) == "1,234,567"
    assert format_number(0.25) == "0.25"
    assert format_number(3) == "3"


def test_the_customer_page_shows_the_why_in_both_languages(
    client: Client, agent_user: Any, dormant_spender: Any
) -> None:
    segment = SegmentFactory(name="Dormant spenders", rule=SPEND_AND_DORMANT)
    SegmentMembershipFactory(
        segment=segment, customer=dormant_spender, reason="rule: monetary > 1000 AND ..."
    )
    lifecycle = Segment.objects.get(kind=SegmentKind.LIFECYCLE, key="dormant")
    SegmentMembershipFactory(segment=lifecycle, customer=dormant_spender)
    client.force_login(agent_user)
    url = reverse("customer-segments-fragment", args=[dormant_spender.pk])

    english = client.get(url).content.decode()
    chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "Spend in window 5,671 is more than 1,000" in english
    assert "Lifecycle stage is Dormant" in english
    assert "rule: monetary" not in english
    assert "生命周期阶段为沉睡" in chinese
    assert "窗口期内消费" in chinese


def test_the_member_table_and_the_api_give_the_why(
    client: Client, supervisor_user: Any, dormant_spender: Any, api_as: Any
) -> None:
    segment = SegmentFactory(name="Dormant spenders", rule=SPEND_AND_DORMANT)
    SegmentMembershipFactory(segment=segment, customer=dormant_spender, reason="stored text")
    client.force_login(supervisor_user)

    table = client.get(reverse("segment-members", args=[segment.pk])).content.decode()
    members = api_as(supervisor_user).get(reverse("api-segment-members", args=[segment.pk]))
    mine = api_as(supervisor_user).get(
        reverse("api-customer-segments", args=[dormant_spender.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    assert "Lifecycle stage is Dormant" in table
    row = members.json()["results"][0]
    assert row["reason"] == "stored text"
    assert row["why"]["text"].endswith("Lifecycle stage is Dormant")
    assert [part["name"] for part in row["why"]["parts"]] == ["monetary", "lifecycle_stage"]
    assert mine.json()["current"][0]["why"]["text"].endswith("生命周期阶段为沉睡")


def test_the_desk_card_chip_of_a_rule_segment_tells_the_why(dormant_spender: Any) -> None:
    from callcenter.selectors.desk import DeskCard
    from segments.parts.desk import segments_desk_load

    segment = SegmentFactory(name="Dormant spenders", rule=SPEND_AND_DORMANT)
    stored = {"slug": segment.slug, "name": segment.name, "kind": "rule", "why": "stored"}
    card = DeskCard(
        phone="+8613800000000",
        known=True,
        screenpop={"customer": {"id": dormant_spender.pk}, "segments": {"segments": [stored]}},
    )

    with translation.override("zh-hans"):
        chips = segments_desk_load(card)["rule_segments"]

    assert chips[0]["why"].endswith("生命周期阶段为沉睡")
