"""Messages that speak to the customer: custom attributes, the last order's category and
product, top category, preferred channel, segment and value tier, each with a fallback when
missing, loaded for a whole batch at once; previews with real or sample records."""

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Direction, InteractionChannel, Language, OrderStatus
from callcenter.errors import ApplicationError
from care.choices import TemplateChannel
from care.models import MessageTemplate
from care.services.templates import (
    template_context_rows,
    template_create,
    template_placeholders,
    template_preview,
    template_render,
)
from segments.choices import ValueTier
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    TicketFactory,
)
from tests.segments.factories import (
    CustomerMetricsFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 7, 0, tzinfo=dt.UTC)


def _sms(body: str, language: str = Language.EN) -> MessageTemplate:
    return template_create(
        name="Speak", channel=TemplateChannel.SMS, variants={language: {"body": body}}
    )


def _render(body: str, customer: Any, language: str = Language.EN) -> str:
    return template_render(template=_sms(body, language), customer_id=customer.pk).body


def _order(customer: Any, days_ago: int, **fields: Any) -> Any:
    return OrderFactory(customer=customer, placed_at=NOW - dt.timedelta(days=days_ago), **fields)


def _rich_customer(**fields: Any) -> Any:
    """A customer with attributes, orders, inbound contacts, a segment and a value tier."""
    customer = CustomerFactory(
        language=Language.EN, attributes={"points": 1280, "level": "Gold", "vip": True}, **fields
    )
    _order(customer, 90, category="Tea", product="Longjing 250 g")
    _order(customer, 60, category="Tea", product="Pu-erh cake")
    _order(customer, 5, category="Teaware", product="Gaiwan")
    _order(customer, 1, category="Snacks", product="Mooncakes", status=OrderStatus.REFUNDED)
    for channel in (InteractionChannel.WECHAT, InteractionChannel.WECHAT, InteractionChannel.CALL):
        InteractionFactory(customer=customer, channel=channel, direction=Direction.INBOUND)
    for _ in range(3):
        InteractionFactory(
            customer=customer, channel=InteractionChannel.SMS, direction=Direction.OUTBOUND
        )
    early = SegmentFactory(name="Tea lovers")
    late = SegmentFactory(name="Weekend buyers")
    gone = SegmentFactory(name="Left long ago")
    SegmentMembershipFactory(segment=early, customer=customer, entered_at=NOW - dt.timedelta(30))
    SegmentMembershipFactory(segment=late, customer=customer, entered_at=NOW - dt.timedelta(2))
    SegmentMembershipFactory(
        segment=gone, customer=customer, entered_at=NOW - dt.timedelta(1), exited_at=NOW
    )
    CustomerMetricsFactory(customer=customer, value_tier=ValueTier.HIGH)
    return customer


class TestEachVariable:
    def test_custom_attributes_show_texts_and_numbers(self) -> None:
        customer = _rich_customer()
        body = (
            '{{ customer.attr.points|default:"some" }} points, '
            '{{ customer.attr.level|default:"member" }}'
        )
        assert _render(body, customer) == "1280 points, Gold"

    def test_the_last_paid_orders_category_and_product(self) -> None:
        customer = _rich_customer()
        body = '{{ order.category|default:"x" }}: {{ order.product|default:"x" }}'
        # the refund placed yesterday is not the last paid order
        assert _render(body, customer) == "Teaware: Gaiwan"

    def test_the_top_category_is_the_one_bought_most_often(self) -> None:
        customer = _rich_customer()
        assert _render('{{ customer.top_category|default:"x" }}', customer) == "Tea"

    def test_a_tie_for_top_category_goes_to_the_one_bought_last(self) -> None:
        customer = CustomerFactory(language=Language.EN)
        _order(customer, 9, category="Books")
        _order(customer, 3, category="Music")
        assert _render('{{ customer.top_category|default:"x" }}', customer) == "Music"

    def test_the_preferred_channel_is_the_one_the_customer_uses_most(self) -> None:
        customer = _rich_customer()
        body = '{{ customer.preferred_channel|default:"x" }}'
        assert _render(body, customer) == "WeChat"
        assert _render(body, customer, Language.ZH_HANS) == "微信"

    def test_the_segment_is_the_active_rule_segment_joined_last(self) -> None:
        customer = _rich_customer()
        assert _render('{{ customer.segment|default:"x" }}', customer) == "Weekend buyers"

    def test_the_value_tier_is_written_in_the_texts_language(self) -> None:
        customer = _rich_customer()
        body = '{{ customer.value_tier|default:"x" }}'
        assert _render(body, customer) == "High value"
        assert _render(body, customer, Language.ZH_HANS) == "高价值"

    def test_the_order_an_event_names_gives_category_and_product(self) -> None:
        customer = _rich_customer()
        named = _order(customer, 60, category="Gifts", product="Gift card")
        template = _sms('{{ order.product|default:"x" }}')
        rendered = template_render(
            template=template, customer_id=customer.pk, extra={"order_id": named.pk}
        )
        assert rendered.body == "Gift card"


class TestFallbacks:
    def test_missing_values_render_their_fallback_never_a_gap(self) -> None:
        bare = CustomerFactory(language=Language.EN, attributes={"vip": True, "tags": ["a"]})
        body = (
            '{{ customer.attr.points|default:"your points" }}|'
            '{{ customer.attr.vip|default:"member" }}|'
            '{{ customer.attr.tags|default:"tags" }}|'
            '{{ customer.top_category|default:"our range" }}|'
            '{{ customer.preferred_channel|default:"phone" }}|'
            '{{ customer.segment|default:"friends" }}|'
            '{{ customer.value_tier|default:"valued" }}|'
            '{{ order.category|default:"goods" }}|'
            '{{ order.product|default:"your order" }}'
        )
        assert _render(body, bare) == (
            "your points|member|tags|our range|phone|friends|valued|goods|your order"
        )

    def test_a_condition_on_the_value_may_stand_for_a_fallback(self) -> None:
        body = "Hi{% if customer.attr.points %}, {{ customer.attr.points }} points{% endif %}!"
        assert _render(body, _rich_customer()) == "Hi, 1280 points!"
        assert _render(body, CustomerFactory(language=Language.EN)) == "Hi!"

    def test_an_attribute_named_like_a_method_reads_the_attribute_only(self) -> None:
        customer = CustomerFactory(language=Language.EN, attributes={"keys": "3 keys"})
        body = '{{ customer.attr.keys|default:"x" }} {{ customer.attr.items|default:"none" }}'
        assert _render(body, customer) == "3 keys none"

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ("{{ customer.attr.points }}", "give a fallback, e.g. {{ customer.attr.points|def"),
            ("{{ order.product|upper }}", '"{{ order.product }}" may be missing'),
            ("{{ customer.segment }}", '"{{ customer.segment }}" may be missing'),
            ('{{ customer.value_tier|default:" " }}', "must be a text that is not blank"),
            (
                "{{ customer.top_category|default:customer.segment }}",
                'the fallback of "{{ customer.top_category }}" must be a text',
            ),
            (
                "{% if customer.attr.a %}{{ customer.attr.b }}{% endif %}",
                '"{{ customer.attr.b }}" may be missing',
            ),
            (
                "{% if not order.category %}{{ order.category }}{% endif %}",
                '"{{ order.category }}" may be missing',
            ),
            (
                "{% if order.product %}x{% else %}{{ order.product }}{% endif %}",
                '"{{ order.product }}" may be missing',
            ),
        ],
    )
    def test_a_missing_value_without_a_fallback_is_refused_at_save(
        self, body: str, message: str
    ) -> None:
        with pytest.raises(ApplicationError) as refused:
            _sms(body)
        assert message in refused.value.message
        assert not MessageTemplate.objects.exists()

    @pytest.mark.parametrize(
        "body",
        [
            '{{ customer.attr|default:"x" }}',
            '{{ customer.attrs.points|default:"x" }}',
            '{{ customer.attr.points.value|default:"x" }}',
            '{{ customer.preferred|default:"x" }}',
            '{{ order.products|default:"x" }}',
            "{{ customer.attr.points|default:customer.password }}",
        ],
    )
    def test_unknown_variables_are_refused(self, body: str) -> None:
        with pytest.raises(ApplicationError, match="unknown placeholder"):
            _sms(body)

    def test_the_placeholders_a_text_uses_are_named(self) -> None:
        text = (
            '{{ customer.attr.points|default:"x" }} {% if customer.segment %}'
            "{{ customer.segment }}{% endif %} {{ customer.name }}"
        )
        assert template_placeholders(text) == {
            "customer.attr.NAME",
            "customer.segment",
            "customer.name",
        }


class TestBatchLoading:
    def _queries(self, count: int, placeholders: set[str] | None) -> int:
        customers = [_rich_customer() for _ in range(count)]
        with CaptureQueriesContext(connection) as queries:
            rows = template_context_rows(
                [(c.pk, None) for c in customers], placeholders=placeholders
            )
        assert set(rows.top_categories) == (
            {c.pk for c in customers}
            if placeholders is None or "customer.top_category" in placeholders
            else set()
        )
        return len(queries)

    def test_a_batch_costs_the_same_few_queries_whatever_its_size(self) -> None:
        assert self._queries(1, None) == self._queries(6, None) == 6

    def test_only_what_the_texts_use_is_loaded(self) -> None:
        assert self._queries(3, {"customer.name", "order.product"}) == 3
        assert self._queries(3, {"customer.attr.NAME", "customer.value_tier"}) == 3
        assert self._queries(3, {"customer.top_category"}) == 4


class TestPreview:
    def test_the_preview_uses_the_customers_own_ticket_and_order(self) -> None:
        customer = _rich_customer()
        TicketFactory(customer=customer, external_id="T-5", subject="Leaking lid")
        rendered = template_preview(
            customer_id=customer.pk,
            channel=TemplateChannel.SMS,
            variants={"en": {"body": '{{ ticket.subject }} / {{ order.product|default:"x" }}'}},
        )
        assert rendered["en"].body == "Leaking lid / Gaiwan"
        assert rendered["en"].samples == ()

    def test_a_customer_without_ticket_or_order_is_previewed_with_samples(self) -> None:
        customer = CustomerFactory(language=Language.EN)
        rendered = template_preview(
            customer_id=customer.pk,
            channel=TemplateChannel.SMS,
            variants={
                "en": {
                    "body": "{{ ticket.number }} {{ order.number }} {{ order.amount }} "
                    '{{ order.product|default:"x" }}'
                }
            },
        )
        assert rendered["en"].body == "T-10086 SO-20260001 199.00 Sample product"
        assert rendered["en"].samples == ("ticket", "order")
        # only the records the texts use are sampled
        only_order = template_preview(
            customer_id=customer.pk,
            channel=TemplateChannel.SMS,
            variants={"en": {"body": "{{ order.number }}"}},
        )
        assert only_order["en"].samples == ("order",)
        # sending never uses samples
        template = _sms("{{ ticket.number }}|{{ order.number }}")
        assert template_render(template=template, customer_id=customer.pk).body == "|"

    def test_the_preview_page_says_which_records_are_samples(self, admin_client: Client) -> None:
        customer = CustomerFactory(language=Language.EN)
        OrderFactory(customer=customer, placed_at=timezone.now(), product="Gaiwan")
        response = admin_client.post(
            reverse("care-template-preview"),
            {
                "name": "x",
                "channel": "sms",
                "description": "",
                "subject_zh_hans": "",
                "body_zh_hans": "",
                "subject_en": "",
                "body_en": '{{ ticket.number }} {{ order.product|default:"x" }}',
                "customer_id": str(customer.pk),
            },
        )
        html = response.content.decode()
        assert "T-10086 Gaiwan" in html
        assert "no open ticket: a sample ticket is shown" in html

    def test_the_editor_lists_the_new_placeholders_with_their_fallback(
        self, admin_client: Client
    ) -> None:
        html = admin_client.get(reverse("care-template-create")).content.decode()
        for name in ("customer.attr.NAME", "customer.top_category", "order.product"):
            assert f'data-placeholder="{name}|default:&quot;…&quot;"' in html
        assert 'data-placeholder="customer.name"' in html


def test_amounts_in_attributes_read_as_written() -> None:
    customer = CustomerFactory(language=Language.EN, attributes={"balance": 12.5, "n": 0})
    body = '{{ customer.attr.balance|default:"x" }}/{{ customer.attr.n|default:"none" }}'
    # 0 is a value: shown as written
    assert _render(body, customer) == "12.5/0"
