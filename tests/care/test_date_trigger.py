"""The "date reached" trigger: its parameters, the set-based emission in the time-events pass
(local day and hour per time zone, offsets, attributes and profile fields, bad values,
idempotency, catch-up, fixed queries) and a rule run end to end, from the API and the editor."""

import datetime as dt
import zoneinfo
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from callcenter.choices import CustomerStatus
from callcenter.errors import ApplicationError
from callcenter.models import Customer
from care.choices import EventType
from care.models import CareRule, CareSettings, Enrollment, Event, MessageTemplate
from care.services.enrollment import active_rules, rules_triggered
from care.services.events import events_process, time_events_emit
from care.services.rules import care_rule_activate, care_rule_create
from care.services.templates import template_create
from care.services.triggers import trigger_params_validate
from tests.callcenter.factories import CustomerFactory
from tests.care.conftest import SHANGHAI

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
# 10:00 in Shanghai is 02:00 in London, the same day.
SHANGHAI_10AM = dt.datetime(2025, 3, 5, 10, 0, tzinfo=SHANGHAI)
DUE_IN_3_DAYS = {"field": "attr:repayment_due_at", "offset_days": -3, "at_hour": 10}
TWO_HOURS_BEFORE = {"field": "attr:appointment_at", "offset_hours": -2}


@pytest.fixture
def sms() -> MessageTemplate:
    return template_create(
        name="Due soon", channel="sms", variants={"en": {"body": "Due {{ customer.name }}"}}
    )


def _date_rule(sms: MessageTemplate, params: dict[str, Any], name: str = "Due") -> CareRule:
    rule = care_rule_create(
        name=name,
        trigger_type=EventType.DATE_REACHED,
        trigger_params=params,
        steps=[{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
    )
    return care_rule_activate(rule=rule)


def _customer(timezone: str = "Asia/Shanghai", **attributes: Any) -> Customer:
    return CustomerFactory(timezone=timezone, attributes=attributes)


def _events(rule: CareRule) -> dict[int, Event]:
    return {
        event.customer_id: event
        for event in Event.objects.filter(type=EventType.DATE_REACHED, payload__rule=rule.pk)
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"offset_days": -3, "at_hour": 10}, 'needs the parameter "field"'),
        ({"field": "attr:due", "at_hour": 10}, 'needs the parameter "offset_days"'),
        ({"field": "attr:due", "offset_days": 1}, 'needs the parameter "at_hour"'),
        ({**DUE_IN_3_DAYS, "field": "birthday"}, "unknown date birthday"),
        ({**DUE_IN_3_DAYS, "field": "attr:"}, "unknown date attr:"),
        ({**DUE_IN_3_DAYS, "field": "attr:due date"}, "unknown date attr:due date"),
        ({**DUE_IN_3_DAYS, "field": 7}, "unknown date 7"),
        ({**DUE_IN_3_DAYS, "offset_days": 366}, '"offset_days" must be a whole number'),
        ({**DUE_IN_3_DAYS, "offset_days": 1.5}, '"offset_days" must be a whole number'),
        ({**DUE_IN_3_DAYS, "at_hour": 24}, '"at_hour" must be a whole number from 0 to 23'),
        ({**DUE_IN_3_DAYS, "at_hour": True}, '"at_hour" must be a whole number'),
        ({**DUE_IN_3_DAYS, "hours": 2}, 'takes no parameter "hours"'),
        ({**DUE_IN_3_DAYS, "offset_hours": -2}, "give offset_hours alone"),
        ({"field": "attr:due", "offset_hours": -2, "at_hour": 9}, "give offset_hours alone"),
        ({"field": "attr:due", "offset_hours": -721}, '"offset_hours" must be a whole number'),
        ({"field": "attr:due", "offset_hours": 1.5}, '"offset_hours" must be a whole number'),
    ],
)
def test_date_parameters_are_checked(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ApplicationError, match=message):
        trigger_params_validate(trigger_type=EventType.DATE_REACHED, params=params)


def test_valid_date_parameters() -> None:
    for params in [
        DUE_IN_3_DAYS,
        {"field": "created_at", "offset_days": 30, "at_hour": 0},
        {"field": "attr:points.expire-at_2", "offset_days": -365, "at_hour": 23},
        {"field": "attr:appointment_at", "offset_hours": -2},
        {"field": "created_at", "offset_hours": 720},
    ]:
        assert trigger_params_validate(trigger_type=EventType.DATE_REACHED, params=params) == params


def test_a_date_event_fires_the_rule_it_was_emitted_for_only(sms: MessageTemplate) -> None:
    first = _date_rule(sms, DUE_IN_3_DAYS, "First")
    twin = _date_rule(sms, DUE_IN_3_DAYS, "Twin")
    payload = {**DUE_IN_3_DAYS, "rule": first.pk, "date": "2025-03-08"}

    rules = active_rules()

    fired = rules_triggered(event_type=EventType.DATE_REACHED, payload=payload, rules=rules)

    assert [rule.rule_id for rule in fired] == [first.pk]
    assert twin.pk != first.pk


def test_dates_fire_at_the_local_hour_of_each_time_zone_and_once(sms: MessageTemplate) -> None:
    rule = _date_rule(sms, DUE_IN_3_DAYS)
    date_only = _customer(repayment_due_at="2025-03-08")
    with_time = _customer(repayment_due_at="2025-03-08T23:30:00+08:00")
    london = _customer("Europe/London", repayment_due_at="2025-03-08")
    other_day = _customer(repayment_due_at="2025-03-09")
    for bad in ["2025-02-30", "soon", "2025-3-8", 20250308, None, ["2025-03-08"]]:
        _customer(repayment_due_at=bad)
    _customer("Mars/Olympus", repayment_due_at="2025-03-08")
    merged = _customer(repayment_due_at="2025-03-08")
    Customer.objects.filter(pk=merged.pk).update(
        status=CustomerStatus.MERGED, merged_into=date_only
    )

    with time_machine.travel(SHANGHAI_10AM - dt.timedelta(minutes=1), tick=False):
        early = time_events_emit()
    with time_machine.travel(SHANGHAI_10AM, tick=False):
        first = time_events_emit()
        again = time_events_emit()
    # Catch-up: London's pass at 10:00 was missed; it fires late on the same local day.
    with time_machine.travel(dt.datetime(2025, 3, 5, 22, tzinfo=LONDON), tick=False):
        late = time_events_emit()

    assert (early["date_reached"], first["date_reached"], again["date_reached"]) == (0, 2, 0)
    assert late["date_reached"] == 1
    events = _events(rule)
    assert set(events) == {date_only.pk, with_time.pk, london.pk}
    assert other_day.pk not in events
    event = events[date_only.pk]
    assert event.payload == {**DUE_IN_3_DAYS, "rule": rule.pk, "date": "2025-03-08"}
    assert event.idempotency_key == f"date:{rule.pk}:{date_only.pk}:2025-03-08"
    assert event.occurred_at == SHANGHAI_10AM
    assert events[london.pk].occurred_at == dt.datetime(2025, 3, 5, 10, tzinfo=LONDON)


def test_a_missed_day_is_not_caught_up_the_day_after(sms: MessageTemplate) -> None:
    _date_rule(sms, DUE_IN_3_DAYS)
    _customer(repayment_due_at="2025-03-08")

    with time_machine.travel(SHANGHAI_10AM + dt.timedelta(days=1), tick=False):
        counts = time_events_emit()

    assert counts["date_reached"] == 0


def test_after_an_attribute_date_and_a_profile_date(sms: MessageTemplate) -> None:
    expired = _date_rule(
        sms, {"field": "attr:membership_expires_at", "offset_days": 2, "at_hour": 9}, "Lapsed"
    )
    joined = _date_rule(sms, {"field": "created_at", "offset_days": 30, "at_hour": 9}, "Day 30")
    lapsed = _customer(membership_expires_at="2025-03-03")
    _customer(membership_expires_at="2025-03-05")
    newcomer = _customer()
    # 2 February, 23:30 UTC is 3 February in Shanghai: the local date counts.
    Customer.objects.filter(pk=newcomer.pk).update(
        created_at=dt.datetime(2025, 2, 2, 23, 30, tzinfo=dt.UTC)
    )
    Customer.objects.exclude(pk=newcomer.pk).update(
        created_at=dt.datetime(2025, 2, 4, tzinfo=SHANGHAI)
    )

    with time_machine.travel(SHANGHAI_10AM, tick=False):
        counts = time_events_emit()

    assert counts["date_reached"] == 2
    assert set(_events(expired)) == {lapsed.pk}
    assert set(_events(joined)) == {newcomer.pk}
    assert _events(joined)[newcomer.pk].payload["date"] == "2025-02-03"


def test_a_pinned_day_fires_whatever_the_hour(sms: MessageTemplate) -> None:
    _date_rule(sms, DUE_IN_3_DAYS)
    _customer(repayment_due_at="2025-03-08")

    with time_machine.travel(SHANGHAI_10AM - dt.timedelta(hours=3), tick=False):
        counts = time_events_emit(today=dt.date(2025, 3, 5))

    assert counts["date_reached"] == 1


def test_without_date_rules_the_pass_reports_no_date_count() -> None:
    assert "date_reached" not in time_events_emit(today=dt.date(2025, 3, 5))


def test_the_pass_costs_one_query_for_all_date_rules_whatever_the_customers(
    sms: MessageTemplate, django_assert_num_queries: Any
) -> None:
    CareSettings.load()
    with time_machine.travel(SHANGHAI_10AM, tick=False):
        with CaptureQueriesContext(connection) as without_rules:
            time_events_emit()
        _date_rule(sms, DUE_IN_3_DAYS)
        _customer(repayment_due_at="2025-03-08")
        with django_assert_num_queries(len(without_rules) + 1):
            time_events_emit()
        _date_rule(sms, {"field": "created_at", "offset_days": 1, "at_hour": 0}, "Day 1")
        for _ in range(20):
            _customer(repayment_due_at="2025-03-08")
        with django_assert_num_queries(len(without_rules) + 1):
            counts = time_events_emit()

    assert counts["date_reached"] == 20


def test_a_date_rule_end_to_end_enrolls_each_customer_in_its_own_rule(
    sms: MessageTemplate,
) -> None:
    rule = _date_rule(sms, DUE_IN_3_DAYS, "First")
    twin = _date_rule(sms, DUE_IN_3_DAYS, "Twin")
    customer = _customer(repayment_due_at="2025-03-08")

    with time_machine.travel(SHANGHAI_10AM, tick=False):
        time_events_emit()
        ids = list(Event.objects.values_list("pk", flat=True))
        outcome = events_process(event_ids=ids)

    assert outcome["processed"] == 2
    enrollments = Enrollment.objects.filter(customer=customer)
    assert sorted(enrollments.values_list("rule_id", flat=True)) == sorted([rule.pk, twin.pk])
    for enrollment in enrollments:
        assert enrollment.event.payload["rule"] == enrollment.rule_id


def test_the_api_takes_a_date_rule_and_refuses_bad_parameters(
    api_as: Any, crm_admin_user: Any, sms: MessageTemplate
) -> None:
    client = api_as(crm_admin_user)
    body = {
        "name": "Repayment",
        "trigger_type": "date_reached",
        "trigger_params": DUE_IN_3_DAYS,
        "steps": [{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
    }

    created = client.post("/api/care/rules/", body, format="json")
    refused = client.post(
        "/api/care/rules/",
        {**body, "name": "Bad", "trigger_params": {**DUE_IN_3_DAYS, "at_hour": 25}},
        format="json",
    )

    assert created.status_code == 201, created.json()
    assert created.json()["trigger_params"] == DUE_IN_3_DAYS
    assert refused.status_code == 400
    assert '"at_hour" must be a whole number from 0 to 23' in refused.json()["detail"]
    assert refused.json()["field"] == "trigger_params"
    assert not CareRule.objects.filter(name="Bad").exists()


def test_the_editor_explains_the_date_parameters_and_refuses_bad_ones(
    admin_client: Client, sms: MessageTemplate
) -> None:
    data = {
        "name": "Repayment",
        "description": "",
        "trigger_type": "date_reached",
        "tp_date_reached__field": "birthday",
        "tp_date_reached__offset_days": "-3",
        "tp_date_reached__at_hour": "10",
        "conditions": "",
        "category": "marketing",
        "priority": "0",
        "cooldown_days": "0",
        "holdout_percent": "0",
        "note": "",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "20",
        "steps-0-channel": "sms",
        "steps-0-template": str(sms.pk),
        "steps-0-delay_value": "0",
        "steps-0-delay_unit": "hours",
        "steps-0-sla_minutes": "60",
        "steps-0-escalation": "reassign",
        "steps-0-touch_kind": "proactive",
        "steps-0-ORDER": "1",
    }

    page = admin_client.get(reverse("care-rule-create"))
    refused = admin_client.post(reverse("care-rule-create"), data)
    with translation.override("zh-hans"):
        page_zh = admin_client.get(reverse("care-rule-create"), HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert '<option value="date_reached">' in page.content.decode()
    assert 'name="tp_date_reached__offset_days" min="-365" max="365"' in page.content.decode()
    assert "负数表示在该日期之前" in page_zh.content.decode()
    assert refused.status_code == 400
    errors = refused.context["form"].errors
    assert "unknown date birthday" in str(errors["tp_date_reached__field"])
    assert not CareRule.objects.exists()

    # Hours from the moment instead of days and an hour: both at once are refused beside the
    # days; hours alone are saved.
    hours = {
        **data,
        "tp_date_reached__field": "attr:",
        "tp_date_reached__field_key": "appointment_at",
        "tp_date_reached__offset_hours": "-2",
    }
    mixed = admin_client.post(reverse("care-rule-create"), hours)
    del hours["tp_date_reached__offset_days"], hours["tp_date_reached__at_hour"]
    saved = admin_client.post(reverse("care-rule-create"), hours)

    assert mixed.status_code == 400
    assert "give offset_hours alone" in str(
        mixed.context["form"].errors["tp_date_reached__offset_days"]
    )
    assert saved.status_code == 302
    assert CareRule.objects.get().trigger_params == TWO_HOURS_BEFORE


def test_hours_before_a_moment_fire_within_the_hour_on_each_clock_and_once(
    sms: MessageTemplate,
) -> None:
    """An hours-offset rule fires once the moment plus the offset has passed (within the
    catch-up window): a moment with a zone is read as written, one without on the customer's
    clock, a date alone at its local midnight; values that are no real moment are skipped."""
    rule = _date_rule(sms, TWO_HOURS_BEFORE)
    zoned = _customer(appointment_at="2025-03-05T12:00:00+08:00")
    naive = _customer(appointment_at="2025-03-05 11:30")
    london = _customer("Europe/London", appointment_at="2025-03-05T12:00")
    utc = _customer("Europe/London", appointment_at="2025-03-05T03:00:00Z")
    for bad in ["2025-02-30T12:00", "2025-03-05T24:00", "soon", "2025-03-05T12:00+25:00", 7]:
        _customer(appointment_at=bad)
    long_past = _customer(appointment_at="2025-03-05T07:00:00+08:00")
    CareSettings.load()

    with time_machine.travel(SHANGHAI_10AM, tick=False):
        first = time_events_emit()
        again = time_events_emit()
    # 12:00 in London is 20:00 in Shanghai: two hours before, 18:00, it fires.
    with time_machine.travel(SHANGHAI_10AM + dt.timedelta(hours=8, minutes=30), tick=False):
        later = time_events_emit()

    events = _events(rule)
    assert set(events) == {zoned.pk, naive.pk, utc.pk, london.pk}
    assert (first["date_reached"], again["date_reached"], later["date_reached"]) == (3, 0, 1)
    assert long_past.pk not in events
    assert events[zoned.pk].payload == {
        "rule": rule.pk,
        "field": "attr:appointment_at",
        "offset_hours": -2,
        "moment": "2025-03-05T12:00:00+08:00",
    }
    assert events[zoned.pk].occurred_at == dt.datetime(2025, 3, 5, 10, 0, tzinfo=SHANGHAI)
    assert events[naive.pk].occurred_at == dt.datetime(2025, 3, 5, 9, 30, tzinfo=SHANGHAI)
    assert events[london.pk].occurred_at == dt.datetime(2025, 3, 5, 10, 0, tzinfo=LONDON)
    assert events[utc.pk].occurred_at == dt.datetime(2025, 3, 5, 1, 0, tzinfo=dt.UTC)


def test_hours_after_a_profile_moment(sms: MessageTemplate) -> None:
    rule = _date_rule(sms, {"field": "created_at", "offset_hours": 1}, "An hour after sign-up")
    new = _customer()
    newer = _customer()
    Customer.objects.filter(pk=new.pk).update(created_at=SHANGHAI_10AM - dt.timedelta(minutes=90))
    Customer.objects.filter(pk=newer.pk).update(created_at=SHANGHAI_10AM - dt.timedelta(minutes=30))
    CareSettings.load()

    with time_machine.travel(SHANGHAI_10AM, tick=False):
        time_events_emit()

    assert set(_events(rule)) == {new.pk}
    assert _events(rule)[new.pk].occurred_at == SHANGHAI_10AM - dt.timedelta(minutes=30)
