"""The "threshold crossed" trigger: its parameters, the set-based pass that remembers each
customer's side of the line (first pass records, a rise fires once, a fall re-arms), attributes
and metrics, bad values, fixed queries, deletion, and a rule run end to end."""

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from callcenter.errors import ApplicationError
from callcenter.models import Customer
from care.choices import EventType
from care.models import CareRule, CareSettings, Enrollment, Event, MessageTemplate, ThresholdState
from care.services.enrollment import active_rules, rules_triggered
from care.services.events import events_process, time_events_emit
from care.services.rules import care_rule_activate, care_rule_create
from care.services.templates import template_create
from care.services.triggers import trigger_params_validate
from tests.callcenter.factories import CustomerFactory
from tests.segments.factories import CustomerMetricsFactory

pytestmark = pytest.mark.django_db

NEARLY_USED_UP = {"field": "attr:data_used_pct", "direction": "above", "value": 90}


@pytest.fixture
def sms() -> MessageTemplate:
    return template_create(
        name="Plan nearly used up",
        channel="sms",
        variants={"en": {"body": "Hi {{ customer.name }}"}},
    )


def _rule(
    sms: MessageTemplate, params: dict[str, Any] = NEARLY_USED_UP, name: str = "Nearly used up"
) -> CareRule:
    rule = care_rule_create(
        name=name,
        trigger_type=EventType.THRESHOLD_CROSSED,
        trigger_params=params,
        steps=[{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
    )
    return care_rule_activate(rule=rule)


def _customer(**attributes: Any) -> Customer:
    return CustomerFactory(attributes=attributes)


def _set(customer: Customer, **attributes: Any) -> None:
    Customer.objects.filter(pk=customer.pk).update(attributes=attributes)


def _fired(rule: CareRule) -> list[int]:
    return sorted(
        Event.objects.filter(type=EventType.THRESHOLD_CROSSED, payload__rule=rule.pk).values_list(
            "customer_id", flat=True
        )
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"direction": "above", "value": 90}, 'needs the parameter "field"'),
        ({"field": "attr:x", "value": 90}, 'needs the parameter "direction"'),
        ({"field": "attr:x", "direction": "above"}, 'needs the parameter "value"'),
        ({**NEARLY_USED_UP, "field": "attr:"}, "unknown value attr:"),
        ({**NEARLY_USED_UP, "field": "attr:used pct"}, "unknown value attr:used pct"),
        ({**NEARLY_USED_UP, "field": "metric:rfm_code"}, "unknown value metric:rfm_code"),
        ({**NEARLY_USED_UP, "field": "spend_90d"}, "unknown value spend_90d"),
        ({**NEARLY_USED_UP, "field": 3}, "unknown value 3"),
        ({**NEARLY_USED_UP, "direction": "up"}, "unknown value up; use one of above, below"),
        ({**NEARLY_USED_UP, "value": "90"}, '"value" must be a number'),
        ({**NEARLY_USED_UP, "value": True}, '"value" must be a number'),
        ({**NEARLY_USED_UP, "days": 2}, 'takes no parameter "days"'),
    ],
)
def test_threshold_parameters_are_checked(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ApplicationError, match=message):
        trigger_params_validate(trigger_type=EventType.THRESHOLD_CROSSED, params=params)


def test_valid_threshold_parameters() -> None:
    for params in (
        NEARLY_USED_UP,
        {"field": "metric:spend_90d", "direction": "below", "value": 12.5},
    ):
        assert (
            trigger_params_validate(trigger_type=EventType.THRESHOLD_CROSSED, params=params)
            == params
        )


def test_first_pass_records_without_firing_then_a_rise_fires_once(sms: MessageTemplate) -> None:
    rule = _rule(sms)
    already = _customer(data_used_pct=95)
    rising = _customer(data_used_pct=50)

    assert time_events_emit()["threshold_crossed"] == 0
    states = dict(ThresholdState.objects.values_list("customer_id", "is_over"))
    assert states == {already.pk: True, rising.pk: False}

    _set(rising, data_used_pct="91.5")
    assert time_events_emit()["threshold_crossed"] == 1
    assert _fired(rule) == [rising.pk]
    event = Event.objects.get(payload__rule=rule.pk)
    assert event.idempotency_key == f"threshold:{rule.pk}:{rising.pk}:1"
    assert event.payload["observed"] == 91.5

    assert time_events_emit()["threshold_crossed"] == 0
    assert _fired(rule) == [rising.pk]


def test_falling_back_and_rising_again_fires_again(sms: MessageTemplate) -> None:
    rule = _rule(sms)
    customer = _customer(data_used_pct=10)
    time_events_emit()
    for used, fired in ((95, 1), (40, 1), (90, 1), (99, 2)):
        _set(customer, data_used_pct=used)
        time_events_emit()
        assert len(_fired(rule)) == fired, used
    keys = set(Event.objects.values_list("idempotency_key", flat=True))
    assert keys == {f"threshold:{rule.pk}:{customer.pk}:1", f"threshold:{rule.pk}:{customer.pk}:2"}


def test_below_a_metric(sms: MessageTemplate) -> None:
    rule = _rule(sms, {"field": "metric:spend_90d", "direction": "below", "value": 100})
    metrics = CustomerMetricsFactory(spend_90d=500)
    CustomerFactory()  # no metrics row: unknown, skipped

    time_events_emit()
    assert ThresholdState.objects.get().customer_id == metrics.customer_id

    metrics.spend_90d = 99
    metrics.save()
    time_events_emit()
    assert _fired(rule) == [metrics.customer_id]
    assert Event.objects.get().payload["field"] == "metric:spend_90d"


def test_values_that_are_not_numbers_are_skipped_and_keep_the_state(sms: MessageTemplate) -> None:
    rule = _rule(sms)
    customer = _customer(data_used_pct=10)
    bad = [_customer(data_used_pct=v) for v in ("ninety", "", "1e999", "9" * 40, None)]
    bad.append(_customer(data_used_pct=[95]))
    time_events_emit()
    assert list(ThresholdState.objects.values_list("customer_id", flat=True)) == [customer.pk]

    _set(customer, data_used_pct="n/a")
    time_events_emit()
    assert ThresholdState.objects.get().is_over is False
    _set(customer, data_used_pct=" 95 ")
    time_events_emit()
    assert _fired(rule) == [customer.pk]


def test_each_rule_fires_only_itself(sms: MessageTemplate) -> None:
    rule = _rule(sms)
    other = _rule(sms, {**NEARLY_USED_UP, "value": 99}, "Used up")
    customer = _customer(data_used_pct=10)
    time_events_emit()
    _set(customer, data_used_pct=95)
    time_events_emit()

    assert _fired(rule) == [customer.pk]
    assert _fired(other) == []
    event = Event.objects.get()
    rules = active_rules()
    assert rules_triggered(event_type=event.type, payload=event.payload, rules=rules) == [
        r for r in rules[EventType.THRESHOLD_CROSSED] if r.rule_id == rule.pk
    ]


def test_without_threshold_rules_the_pass_reports_no_count() -> None:
    assert "threshold_crossed" not in time_events_emit()


def test_the_pass_costs_one_query_per_threshold_rule_whatever_the_customers(
    sms: MessageTemplate, django_assert_num_queries: Any
) -> None:
    CareSettings.load()
    with CaptureQueriesContext(connection) as without_rules:
        time_events_emit()
    _rule(sms)
    _customer(data_used_pct=10)
    with django_assert_num_queries(len(without_rules) + 1):
        time_events_emit()
    _rule(sms, {"field": "metric:spend_90d", "direction": "above", "value": 0}, "Spend")
    customers = [_customer(data_used_pct=10) for _ in range(20)]
    time_events_emit()
    Customer.objects.filter(pk__in=[c.pk for c in customers]).update(
        attributes={"data_used_pct": 95}
    )
    with django_assert_num_queries(len(without_rules) + 2):
        counts = time_events_emit()
    assert counts["threshold_crossed"] == 20


def test_deleting_a_rule_deletes_its_states(sms: MessageTemplate) -> None:
    rule = _rule(sms)
    _customer(data_used_pct=95)
    time_events_emit()
    assert ThresholdState.objects.exists()
    rule.delete()
    assert not ThresholdState.objects.exists()


def test_a_threshold_rule_end_to_end_enrolls_the_customer(sms: MessageTemplate) -> None:
    rule = _rule(sms)
    customer = _customer(data_used_pct=10)
    time_events_emit()
    _set(customer, data_used_pct=95)
    time_events_emit()

    outcome = events_process(event_ids=list(Event.objects.values_list("pk", flat=True)))

    assert outcome["processed"] == 1
    enrollment = Enrollment.objects.get(customer=customer)
    assert enrollment.rule_id == rule.pk
    assert enrollment.event.payload["rule"] == rule.pk


def test_the_editor_explains_the_threshold_parameters(admin_client: Client) -> None:
    page = admin_client.get(reverse("care-rule-create")).content.decode()
    with translation.override("zh-hans"):
        page_zh = admin_client.get(
            reverse("care-rule-create"), HTTP_ACCEPT_LANGUAGE="zh-hans"
        ).content.decode()

    assert '<option value="threshold_crossed">' in page
    assert 'data-trigger-fields="threshold_crossed"' in page
    assert "fires once each time the value crosses the line" in page
    assert "数值每越过一次阈值触发一次" in page_zh


def test_the_api_refuses_bad_threshold_parameters(
    api_as: Any, crm_admin_user: Any, sms: MessageTemplate
) -> None:
    body = {
        "name": "Bad",
        "trigger_type": "threshold_crossed",
        "trigger_params": {**NEARLY_USED_UP, "field": "metric:cluster"},
        "steps": [{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
    }

    refused = api_as(crm_admin_user).post("/api/care/rules/", body, format="json")

    assert refused.status_code == 400
    assert refused.json()["field"] == "trigger_params"
    assert not CareRule.objects.filter(name="Bad").exists()
