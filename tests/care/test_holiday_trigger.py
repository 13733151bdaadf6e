"""The "holiday" trigger: its parameters, the set-based emission in the time-events pass (the
first day of each holiday period, offsets before and after, local hour and catch-up,
idempotency, fixed queries) and a rule run end to end, from the calendar sync and the API."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from callcenter.choices import CalendarDayKind, CalendarDaySource
from callcenter.errors import ApplicationError
from callcenter.models import CalendarDay, Customer
from callcenter.services.calendar import calendar_days_sync
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

GREETING = {"holiday": "Spring Festival", "offset_days": -3, "at_hour": 10}
SPRING_FESTIVAL = dt.date(2026, 2, 15)
# Three days before the Spring Festival of 2026 (15 to 23 February), 10:00 in Shanghai.
GREETING_AT = dt.datetime(2026, 2, 12, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def sms() -> MessageTemplate:
    return template_create(
        name="Greeting", channel="sms", variants={"en": {"body": "Happy {{ customer.name }}"}}
    )


def _holidays(name: str, first: dt.date, days: int) -> None:
    CalendarDay.objects.bulk_create(
        CalendarDay(
            day=first + dt.timedelta(days=n),
            kind=CalendarDayKind.HOLIDAY,
            name=name,
            source=CalendarDaySource.ADMIN,
        )
        for n in range(days)
    )


def _holiday_rule(sms: MessageTemplate, params: dict[str, Any], name: str = "Greet") -> CareRule:
    rule = care_rule_create(
        name=name,
        trigger_type=EventType.HOLIDAY,
        trigger_params=params,
        steps=[{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
    )
    return care_rule_activate(rule=rule)


def _events(rule: CareRule) -> dict[int, Event]:
    return {
        event.customer_id: event
        for event in Event.objects.filter(type=EventType.HOLIDAY, payload__rule=rule.pk)
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"offset_days": -3, "at_hour": 10}, 'needs the parameter "holiday"'),
        ({"holiday": "any", "at_hour": 10}, 'needs the parameter "offset_days"'),
        ({"holiday": "any", "offset_days": 1}, 'needs the parameter "at_hour"'),
        ({**GREETING, "holiday": "Xmas"}, 'unknown holiday Xmas; use "any" or one of .*'),
        ({**GREETING, "holiday": 3}, "unknown holiday 3"),
        ({**GREETING, "offset_days": 31}, '"offset_days" must be a whole number from -30 to 30'),
        ({**GREETING, "offset_days": -31}, '"offset_days" must be a whole number'),
        ({**GREETING, "at_hour": 24}, '"at_hour" must be a whole number from 0 to 23'),
        ({**GREETING, "field": "created_at"}, 'takes no parameter "field"'),
    ],
)
def test_holiday_parameters_are_checked(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ApplicationError, match=message):
        trigger_params_validate(trigger_type=EventType.HOLIDAY, params=params)


def test_an_unknown_holiday_lists_the_known_names() -> None:
    _holidays("Company Day", dt.date(2026, 6, 1), 1)

    with pytest.raises(ApplicationError) as refused:
        trigger_params_validate(trigger_type=EventType.HOLIDAY, params={**GREETING, "holiday": "X"})

    assert "Company Day" in str(refused.value)
    assert "Mid-autumn Festival" in str(refused.value)


def test_valid_holiday_parameters() -> None:
    _holidays("Company Day", dt.date(2026, 6, 1), 1)
    for params in [
        GREETING,
        {"holiday": "any", "offset_days": 30, "at_hour": 0},
        {"holiday": "Company Day", "offset_days": -30, "at_hour": 23},
    ]:
        assert trigger_params_validate(trigger_type=EventType.HOLIDAY, params=params) == params


def test_a_holiday_event_fires_the_rule_it_was_emitted_for_only(sms: MessageTemplate) -> None:
    first = _holiday_rule(sms, GREETING, "First")
    _holiday_rule(sms, GREETING, "Twin")
    payload = {**GREETING, "rule": first.pk, "date": "2026-02-15"}

    fired = rules_triggered(event_type=EventType.HOLIDAY, payload=payload, rules=active_rules())

    assert [rule.rule_id for rule in fired] == [first.pk]


def test_a_holiday_fires_before_its_first_day_at_the_local_hour_and_once(
    sms: MessageTemplate,
) -> None:
    _holidays("Spring Festival", SPRING_FESTIVAL, 9)
    rule = _holiday_rule(sms, GREETING)
    shanghai = CustomerFactory(timezone="Asia/Shanghai")
    london = CustomerFactory(timezone="Europe/London")
    CustomerFactory(timezone="Mars/Olympus")

    with time_machine.travel(GREETING_AT - dt.timedelta(minutes=1), tick=False):
        early = time_events_emit()
    with time_machine.travel(GREETING_AT, tick=False):
        first = time_events_emit()
        again = time_events_emit()
    # Catch-up: London's pass at 10:00 was missed; it fires late on the same local day.
    with time_machine.travel(dt.datetime(2026, 2, 12, 22, tzinfo=dt.UTC), tick=False):
        late = time_events_emit()

    assert (early["holiday"], first["holiday"], again["holiday"], late["holiday"]) == (0, 1, 0, 1)
    events = _events(rule)
    assert set(events) == {shanghai.pk, london.pk}
    event = events[shanghai.pk]
    assert event.payload == {**GREETING, "rule": rule.pk, "date": "2026-02-15"}
    assert event.idempotency_key == f"holiday:{rule.pk}:{shanghai.pk}:2026-02-15"
    assert event.occurred_at == GREETING_AT
    assert events[london.pk].occurred_at == dt.datetime(2026, 2, 12, 10, tzinfo=dt.UTC)


def test_a_missed_day_is_not_caught_up_the_day_after(sms: MessageTemplate) -> None:
    _holidays("Spring Festival", SPRING_FESTIVAL, 9)
    _holiday_rule(sms, GREETING)
    CustomerFactory(timezone="Asia/Shanghai")

    with time_machine.travel(GREETING_AT + dt.timedelta(days=1), tick=False):
        counts = time_events_emit()

    assert counts["holiday"] == 0


def test_only_the_first_day_of_each_period_anchors(sms: MessageTemplate) -> None:
    _holidays("Spring Festival", SPRING_FESTIVAL, 9)
    # Labour Day right after another holiday still has a first day of its own.
    _holidays("Tomb-sweeping Day", dt.date(2026, 4, 28), 3)
    _holidays("Labour Day", dt.date(2026, 5, 1), 5)
    on_the_day = _holiday_rule(sms, {"holiday": "any", "offset_days": 0, "at_hour": 9}, "Any")
    after = _holiday_rule(sms, {**GREETING, "offset_days": 2}, "After")
    customer = CustomerFactory(timezone="Asia/Shanghai")

    fired: dict[dt.date, dict[str, int]] = {}
    for day in [*(SPRING_FESTIVAL + dt.timedelta(days=n) for n in range(9))]:
        fired[day] = time_events_emit(today=day)
    for day in [dt.date(2026, 4, 28), dt.date(2026, 4, 29), dt.date(2026, 5, 1)]:
        fired[day] = time_events_emit(today=day)

    assert {day for day, counts in fired.items() if counts["holiday"]} == {
        SPRING_FESTIVAL,
        dt.date(2026, 2, 17),
        dt.date(2026, 4, 28),
        dt.date(2026, 5, 1),
    }
    dates = sorted(event.payload["date"] for event in Event.objects.filter(type="holiday"))
    assert dates == ["2026-02-15", "2026-02-15", "2026-04-28", "2026-05-01"]
    assert _events(after)[customer.pk].payload["holiday"] == "Spring Festival"
    assert {
        event.payload["holiday"] for event in Event.objects.filter(payload__rule=on_the_day.pk)
    } == {
        "Spring Festival",
        "Tomb-sweeping Day",
        "Labour Day",
    }


def test_without_holiday_rules_the_pass_reports_no_holiday_count() -> None:
    assert "holiday" not in time_events_emit(today=SPRING_FESTIVAL)


def test_the_pass_costs_one_query_for_all_holiday_rules_whatever_the_customers(
    sms: MessageTemplate, django_assert_num_queries: Any
) -> None:
    _holidays("Spring Festival", SPRING_FESTIVAL, 9)
    CareSettings.load()
    with time_machine.travel(GREETING_AT, tick=False):
        with CaptureQueriesContext(connection) as without_rules:
            time_events_emit()
        _holiday_rule(sms, GREETING)
        CustomerFactory(timezone="Asia/Shanghai")
        with django_assert_num_queries(len(without_rules) + 1):
            time_events_emit()
        _holiday_rule(sms, {"holiday": "any", "offset_days": -3, "at_hour": 0}, "Any")
        for _ in range(20):
            CustomerFactory(timezone="Asia/Shanghai")
        with django_assert_num_queries(len(without_rules) + 1):
            counts = time_events_emit()

    assert counts["holiday"] == 41


def test_a_holiday_rule_end_to_end_from_the_synced_calendar(sms: MessageTemplate) -> None:
    calendar_days_sync(years=[2026])
    rule = _holiday_rule(sms, GREETING, "First")
    twin = _holiday_rule(sms, GREETING, "Twin")
    customer = CustomerFactory(timezone="Asia/Shanghai")

    with time_machine.travel(GREETING_AT, tick=False):
        time_events_emit()
        ids = list(Event.objects.values_list("pk", flat=True))
        outcome = events_process(event_ids=ids)

    assert outcome["processed"] == 2
    enrollments = Enrollment.objects.filter(customer=customer)
    assert sorted(enrollments.values_list("rule_id", flat=True)) == sorted([rule.pk, twin.pk])
    for enrollment in enrollments:
        assert enrollment.event.payload == {
            **GREETING,
            "rule": enrollment.rule_id,
            "date": "2026-02-15",
        }


def test_the_api_takes_a_holiday_rule_and_refuses_bad_parameters(
    api_as: Any, crm_admin_user: Any, sms: MessageTemplate
) -> None:
    client = api_as(crm_admin_user)
    body = {
        "name": "Spring greeting",
        "trigger_type": "holiday",
        "trigger_params": GREETING,
        "steps": [{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
    }

    created = client.post("/api/care/rules/", body, format="json")
    refused = client.post(
        "/api/care/rules/",
        {**body, "name": "Bad", "trigger_params": {**GREETING, "holiday": "Xmas"}},
        format="json",
    )
    posted = client.post(
        "/api/events/",
        {"type": "holiday", "customer_id": CustomerFactory().pk, "payload": {}},
        format="json",
    )

    assert created.status_code == 201, created.json()
    assert created.json()["trigger_params"] == GREETING
    assert refused.status_code == 400
    assert "unknown holiday Xmas" in refused.json()["detail"]
    assert not CareRule.objects.filter(name="Bad").exists()
    assert posted.status_code in (400, 403)
    assert not Event.objects.filter(type=EventType.HOLIDAY).exists()
    assert Customer.objects.exists()


def test_the_editor_explains_the_holiday_parameters(admin_client: Client) -> None:
    page = admin_client.get(reverse("care-rule-create"))
    with translation.override("zh-hans"):
        page_zh = admin_client.get(reverse("care-rule-create"), HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert '<option value="holiday">' in page.content.decode()
    assert 'data-trigger-fields="holiday"' in page.content.decode()
    assert 'name="tp_holiday__offset_days" min="-30" max="30"' in page.content.decode()
    assert "days count from the first day of the holiday" in page.content.decode()
    assert "从假期第一天起算" in page_zh.content.decode()


def test_date_and_holiday_rules_fire_together_in_one_statement(
    sms: MessageTemplate, django_assert_num_queries: Any
) -> None:
    """The pass narrows customers once for every dated rule and then tests each on its own
    clock: a holiday rule, an attribute date rule and a profile date rule fire together, each
    for its own customers only; a customer whose zone PostgreSQL does not know gets nothing."""
    _holidays("Spring Festival", SPRING_FESTIVAL, 9)
    greet = _holiday_rule(sms, GREETING)
    due = care_rule_activate(
        rule=care_rule_create(
            name="Due",
            trigger_type=EventType.DATE_REACHED,
            trigger_params={"field": "attr:repayment_due_at", "offset_days": -3, "at_hour": 9},
            steps=[{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
        )
    )
    signed_up = care_rule_activate(
        rule=care_rule_create(
            name="Day 1",
            trigger_type=EventType.DATE_REACHED,
            trigger_params={"field": "created_at", "offset_days": 1, "at_hour": 0},
            steps=[{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
        )
    )
    owing = CustomerFactory(timezone="Asia/Shanghai", attributes={"repayment_due_at": "2026-02-15"})
    later = CustomerFactory(timezone="Asia/Shanghai", attributes={"repayment_due_at": "2026-02-16"})
    new = CustomerFactory(timezone="Asia/Shanghai")
    Customer.objects.filter(pk=new.pk).update(created_at=GREETING_AT - dt.timedelta(days=1))
    lost = CustomerFactory(timezone="Mars/Olympus", attributes={"repayment_due_at": "2026-02-15"})
    CareSettings.load()
    with time_machine.travel(GREETING_AT, tick=False):
        with CaptureQueriesContext(connection) as quiet_day:
            time_events_emit(today=dt.date(2026, 1, 1))
        with django_assert_num_queries(len(quiet_day)):
            counts = time_events_emit()

    assert set(_events(greet)) == {owing.pk, later.pk, new.pk}
    assert set(
        Event.objects.filter(payload__rule=due.pk).values_list("customer_id", flat=True)
    ) == {owing.pk}
    assert set(
        Event.objects.filter(payload__rule=signed_up.pk).values_list("customer_id", flat=True)
    ) == {new.pk}
    assert lost.pk not in set(Event.objects.values_list("customer_id", flat=True))
    assert counts["holiday"] == 3
    assert counts["date_reached"] == 2
