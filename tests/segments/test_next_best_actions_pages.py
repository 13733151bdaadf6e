"""Next best actions on the desk card (action and reason, both languages, one query more) and
their admin surfaces: the pages (admins write, supervisors read, agents refused) and the REST
API (same roles; refusals are 400 with a clear message and save nothing)."""

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from callcenter.choices import Role
from callcenter.models import Customer
from segments.choices import ValuePotential
from segments.models import CustomerBehaviour, NextBestAction
from tests.callcenter.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.callcenter.test_desk import CARD_QUERIES
from tests.segments.desk_card import desk_card_html
from tests.segments.factories import CustomerMetricsFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"
OVERDUE_TEA = {
    "op": "and",
    "children": [
        {"field": "top_category", "cmp": "eq", "value": "Tea"},
        {"field": "overdue_ratio", "cmp": "gte", "value": 1.2},
    ],
}


@pytest.fixture
def tea_buyer() -> Customer:
    """Buys tea every 40 days, repeatedly; last paid order 65 days ago (25 days overdue)."""
    customer = CustomerFactory(name="Zhao Lei")
    PhoneFactory(customer=customer, value=PHONE)
    CustomerMetricsFactory(
        customer=customer,
        last_order_at=timezone.now() - dt.timedelta(days=65, hours=2),
        predicted_value_365d=Decimal("800.00"),
        value_potential=ValuePotential.STEADY,
    )
    CustomerBehaviour.objects.create(
        customer=customer,
        refreshed_at=timezone.now(),
        top_category="Tea",
        top_category_share=0.7,
        repeat_category_share=0.8,
        median_gap_days=40.0,
    )
    return customer


def _client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role, username=f"nba_{role}"))
    return client


def _api(role: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(role=role, username=f"nba_api_{role}"))
    return client


# -- the desk card ----------------------------------------------------------------------------


def test_desk_card_shows_the_default_overdue_rule_with_its_reason_in_both_languages(
    tea_buyer: Customer,
) -> None:
    agent = _client(Role.AGENT)

    english = desk_card_html(agent)
    chinese = desk_card_html(agent, "zh-hans")

    assert "Next best action" in english
    assert "Offer Tea." in english
    assert (
        "Why: Usually buys Tea every 40 days; 25 days overdue (65 days since the last order)."
        in english
    )
    assert "下一步最佳行动" in chinese
    assert "推荐Tea。" in chinese
    assert "原因：通常每 40 天购买一次Tea；已逾期 25 天（距上次下单 65 天）。" in chinese


def test_desk_card_with_next_best_actions_stays_within_its_query_budget(
    tea_buyer: Customer,
) -> None:
    agent = _client(Role.AGENT)
    desk_card_html(agent)  # warm up: the session, and the active rules into the cache
    with CaptureQueriesContext(connection) as queries:
        html = desk_card_html(agent)

    assert "Offer Tea." in html
    assert len(queries) <= CARD_QUERIES
    evaluations = [q for q in queries.captured_queries if "segments_nextbestaction" in q["sql"]]
    assert evaluations == []  # the rules come from the cache


def test_a_customer_matching_no_rule_gets_no_next_best_action_section(db: None) -> None:
    PhoneFactory(customer=CustomerFactory(), value=PHONE)

    html = desk_card_html(_client(Role.AGENT))

    assert 'data-testid="desk-next-best-actions"' not in html


# -- the pages --------------------------------------------------------------------------------


def _form(**values: Any) -> dict[str, Any]:
    return {
        "name": "Tea lovers",
        "position": "5",
        "is_active": "on",
        "condition": json.dumps(OVERDUE_TEA),
        "action_text": "Offer this month's {top_category}",
        "reason_text": "{overdue_days} days overdue",
        "channel": "call",
        **values,
    }


def test_admin_creates_a_rule_on_the_page_and_the_desk_shows_it(tea_buyer: Customer) -> None:
    admin = _client(Role.ADMIN)

    response = admin.post(reverse("next-best-action-create"), _form())

    assert response.status_code == 302
    rule = NextBestAction.objects.get(name="Tea lovers")
    assert rule.condition == OVERDUE_TEA
    html = desk_card_html(_client(Role.AGENT))
    assert "Offer this month&#x27;s Tea" in html
    assert "Why: 25 days overdue" in html
    listing = admin.get(reverse("next-best-actions")).content.decode()
    assert "top_category = Tea AND overdue_ratio ≥ 1.2" in listing
    assert reverse("next-best-action-edit", args=[rule.pk]) in listing


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"action_text": "Offer {category}"}, "Unknown placeholder"),
        (
            {"condition": json.dumps({"op": "and", "children": [{"field": "nope", "cmp": "eq"}]})},
            'unknown field \\"nope\\"',
        ),
        ({"condition": "[1, 2"}, ""),
        ({"channel": "pigeon"}, "pigeon"),
    ],
)
def test_page_refusals_are_form_errors_and_save_nothing(
    values: dict[str, Any], message: str
) -> None:
    before = NextBestAction.objects.count()

    response = _client(Role.ADMIN).post(reverse("next-best-action-create"), _form(**values))

    assert response.status_code == 400
    assert message.replace('\\"', "&quot;") in response.content.decode()
    assert NextBestAction.objects.count() == before


def test_the_editor_reuses_the_segments_rule_builder_with_its_preview() -> None:
    html = _client(Role.ADMIN).get(reverse("next-best-action-create")).content.decode()

    assert "js/rulebuilder/rule-builder.js" in html
    assert "data-rule-builder" in html
    assert f'data-preview-url="{reverse("api-segment-preview")}"' in html
    assert "{top_category}" in html  # the placeholders' help


def test_supervisors_read_the_list_without_edit_controls_and_cannot_write() -> None:
    supervisor = _client(Role.SUPERVISOR)
    rule = NextBestAction.objects.order_by("position").first()
    assert rule is not None

    listing = supervisor.get(reverse("next-best-actions"))

    assert listing.status_code == 200
    assert "Read only" in listing.content.decode()
    assert reverse("next-best-action-edit", args=[rule.pk]) not in listing.content.decode()
    assert supervisor.get(reverse("next-best-action-create")).status_code == 403
    assert supervisor.post(reverse("next-best-action-create"), _form()).status_code == 403
    assert supervisor.post(reverse("next-best-action-delete", args=[rule.pk])).status_code == 403
    assert NextBestAction.objects.filter(pk=rule.pk).exists()


def test_agents_are_refused_every_page() -> None:
    agent = _client(Role.AGENT)
    rule = NextBestAction.objects.first()
    assert rule is not None

    assert agent.get(reverse("next-best-actions")).status_code == 403
    assert agent.get(reverse("next-best-action-edit", args=[rule.pk])).status_code == 403
    assert agent.post(reverse("next-best-action-move", args=[rule.pk])).status_code == 403


def test_admin_moves_a_rule_up_in_the_list() -> None:
    admin = _client(Role.ADMIN)
    names = list(NextBestAction.objects.values_list("name", flat=True))
    second = NextBestAction.objects.get(name=names[1])

    admin.post(reverse("next-best-action-move", args=[second.pk]), {"direction": "up"})

    assert list(NextBestAction.objects.values_list("name", flat=True))[:2] == [
        names[1],
        names[0],
    ]


def test_the_nav_links_the_page_for_managers_only() -> None:
    url = reverse("next-best-actions")

    assert f'href="{url}"' in _client(Role.SUPERVISOR).get(reverse("home")).content.decode()
    assert f'href="{url}"' not in _client(Role.AGENT).get(reverse("home")).content.decode()


def test_the_list_is_in_chinese_for_a_chinese_admin() -> None:
    html = (
        _client(Role.ADMIN)
        .get(reverse("next-best-actions"), HTTP_ACCEPT_LANGUAGE="zh-hans")
        .content.decode()
    )

    assert "下一步最佳行动" in html
    assert "品类复购客户已逾期：推荐该品类" in html


# -- the API ----------------------------------------------------------------------------------

API = "/api/segments/next-best-actions/"


def test_api_admin_creates_changes_and_removes_a_rule() -> None:
    admin = _api(Role.ADMIN)
    payload = {
        "name": "Tea lovers",
        "condition": OVERDUE_TEA,
        "action_text": "Offer {top_category}",
        "position": 5,
    }

    created = admin.post(API, payload, format="json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["condition_text"] == "top_category = Tea AND overdue_ratio ≥ 1.2"
    assert body["is_active"] is True
    changed = admin.patch(f"{API}{body['id']}/", {"is_active": False}, format="json")
    assert changed.status_code == 200
    assert changed.json()["is_active"] is False
    assert admin.delete(f"{API}{body['id']}/").status_code == 204
    assert not NextBestAction.objects.filter(pk=body["id"]).exists()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"action_text": "Offer {category}"},
            {"field": "action_text", "detail": 'Unknown placeholder "{category}"'},
        ),
        (
            {"condition": {"op": "and", "children": [{"field": "age", "cmp": "gt", "value": 900}]}},
            {"path": "children[0]", "detail": "children[0]: "},
        ),
        ({"condition": [1]}, {"path": "", "detail": "The condition must be a group"}),
        ({"position": -3}, {"position": ""}),
        ({"channel": "pigeon"}, {"channel": ""}),
        ({"reason_text": "{"}, {"field": "reason_text", "detail": "A brace without its pair"}),
    ],
)
def test_api_refusals_are_400_with_a_clear_message_and_save_nothing(
    payload: dict[str, Any], expected: dict[str, str]
) -> None:
    before = NextBestAction.objects.count()
    body = {"name": "Bad", "condition": OVERDUE_TEA, "action_text": "Offer tea", **payload}

    response = _api(Role.ADMIN).post(API, body, format="json")

    assert response.status_code == 400
    answer = response.json()
    for key, text in expected.items():
        assert key in answer
        assert text in str(answer[key])
    assert NextBestAction.objects.count() == before


def test_api_supervisors_read_but_do_not_write_and_agents_are_refused() -> None:
    rule = NextBestAction.objects.order_by("position").first()
    assert rule is not None
    supervisor = _api(Role.SUPERVISOR)

    listed = supervisor.get(API)

    assert listed.status_code == 200
    assert [row["key"] for row in listed.json()][:2] == ["resolve-complaint", "overdue-category"]
    assert supervisor.patch(f"{API}{rule.pk}/", {"name": "x"}, format="json").status_code == 403
    assert supervisor.delete(f"{API}{rule.pk}/").status_code == 403
    assert _api(Role.AGENT).get(API).status_code == 403
    assert NextBestAction.objects.get(pk=rule.pk).name == rule.name


def test_the_customer_page_shows_the_next_best_actions_in_both_languages(
    tea_buyer: Customer,
) -> None:
    agent = _client(Role.AGENT)
    url = reverse("customer-segments-fragment", args=[tea_buyer.pk])

    english = agent.get(url).content.decode()
    chinese = agent.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert 'data-testid="customer-next-best-actions"' in english
    assert "Offer Tea." in english
    assert "Why: Usually buys Tea every 40 days; 25 days overdue" in english
    assert "推荐Tea。" in chinese


def test_an_installed_default_is_edited_in_chinese_and_stays_a_default_unless_changed(
    db: None,
) -> None:
    action = NextBestAction.objects.get(key="resolve-complaint")
    english = (action.name, action.action_text, action.reason_text)
    client = _client(Role.ADMIN)
    url = reverse("next-best-action-edit", args=[action.pk])
    chinese = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}

    page = client.get(url, **chinese).content.decode()
    with translation.override("zh-hans"):
        shown = [action.display(field) for field in ("name", "action_text", "reason_text")]
    form = _form(
        name=shown[0],
        action_text=shown[1],
        reason_text=shown[2],
        position=str(action.position),
        condition=json.dumps(action.condition),
        channel=action.channel,
    )

    assert "不满意且有未结投诉：先解决投诉" in page
    assert "Unhappy" not in page
    assert client.post(url, form, **chinese).status_code == 302
    action.refresh_from_db()
    assert (action.name, action.action_text, action.reason_text) == english

    assert client.post(url, {**form, "name": "投诉客户优先安抚"}, **chinese).status_code == 302
    action.refresh_from_db()
    assert action.name == "投诉客户优先安抚"
    assert action.action_text == english[1]
