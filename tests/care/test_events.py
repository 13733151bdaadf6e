"""The event outbox: written with the domain change, ingested idempotently, processed once,
swept when the message was lost; segment and time events set-based."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from callcenter.choices import CustomerKind, CustomerStatus, OrderStatus, TicketKind
from callcenter.errors import ApplicationError
from callcenter.events import DomainEvent, emit_events
from callcenter.services.activity import ticket_open, ticket_resolve
from care.choices import EventSource, EventType, RuleCategory
from care.models import CareSettings, Enrollment, Event
from care.services import events as events_module
from care.services.events import (
    MAX_EVENT_ATTEMPTS,
    EventPoster,
    IdempotencyConflict,
    event_ingest,
    event_process,
    events_record,
    events_sweep,
    segment_events_record,
    time_events_emit,
)
from care.services.rules import care_rule_activate, care_rule_create, care_rule_update
from care.services.templates import template_create
from outreach.models import OutreachTask
from segments.models import RefreshRun, SegmentMembership, SegmentSnapshot
from segments.services.refresh import as_of_from_date, segment_refresh
from tests.callcenter.factories import CustomerFactory, OrderFactory, PhoneFactory
from tests.care.conftest import SHANGHAI, WEDNESDAY_10AM
from tests.segments.factories import CustomerMetricsFactory, SegmentFactory

pytestmark = pytest.mark.django_db
# The events integration (signed requests): allowed every type another system may report.
ERP = EventPoster.integration()

NOW = WEDNESDAY_10AM


@pytest.fixture
def complaint_rule(db: None) -> Any:
    template = template_create(
        name="Sorry", channel="sms", variants={"en": {"body": "Sorry {{ ticket.number }}"}}
    )
    rule = care_rule_create(
        name="Complaint",
        trigger_type=EventType.TICKET_OPENED,
        trigger_params={"kind": "complaint"},
        category=RuleCategory.SERVICE,
        steps=[{"channel": "sms", "template_id": template.pk, "sla_minutes": 60}],
    )
    return care_rule_activate(rule=rule)


def _segment_rule(slug: str, trigger: str = EventType.SEGMENT_ENTERED) -> Any:
    template = template_create(
        name=f"T {slug} {trigger}", channel="sms", variants={"en": {"body": "Hi"}}
    )
    rule = care_rule_create(
        name=f"{trigger} {slug}",
        trigger_type=trigger,
        trigger_params={"segment": slug},
        steps=[{"channel": "sms", "template_id": template.pk}],
    )
    return care_rule_activate(rule=rule)


# ---------------------------------------------------------------------------------------------
# Recording


def test_a_domain_write_records_its_event_in_the_same_transaction() -> None:
    customer = CustomerFactory()

    def failing_write() -> None:
        with transaction.atomic():
            ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Late")
            assert Event.objects.filter(type=EventType.TICKET_OPENED).count() == 1
            raise RuntimeError("the write fails after the event was recorded")

    with pytest.raises(RuntimeError):
        failing_write()

    assert not Event.objects.exists()

    ticket = ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Late")
    event = Event.objects.get()
    assert (event.type, event.customer_id, event.source) == (
        EventType.TICKET_OPENED,
        customer.pk,
        EventSource.DOMAIN,
    )
    assert event.payload == {"ticket_id": ticket.pk, "kind": "complaint", "priority": "normal"}
    assert event.processed_at is None


def test_events_are_processed_after_commit_by_one_task_per_batch(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    batches: list[list[int]] = []
    monkeypatch.setattr(
        "care.tasks.event_process_task.delay", lambda ids: batches.append(list(ids))
    )
    customer = CustomerFactory()
    events = [DomainEvent(type=EventType.ORDER_PLACED, customer_id=customer.pk)] * 1200

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ids = events_record(events=events)
        # nothing is enqueued before the commit
        assert batches == []
    for callback in callbacks:
        callback()

    assert [len(batch) for batch in batches] == [500, 500, 200]
    assert [i for batch in batches for i in batch] == ids


def test_occurred_at_of_imported_events_is_kept() -> None:
    customer = CustomerFactory()

    emit_events(
        [
            DomainEvent(
                type=EventType.ORDER_PLACED,
                customer_id=customer.pk,
                payload={"order_id": 1},
                occurred_at="2024-05-01T08:00:00+08:00",
            )
        ]
    )

    assert Event.objects.get().occurred_at == dt.datetime(2024, 5, 1, 0, 0, tzinfo=dt.UTC)


# ---------------------------------------------------------------------------------------------
# Processing


def test_processing_the_same_event_twice_enrolls_once(complaint_rule: Any, frozen: Any) -> None:
    customer = CustomerFactory()
    ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Late")
    event = Event.objects.get()

    assert event_process(event_id=event.pk) == "processed"
    assert event_process(event_id=event.pk) == "skipped"
    # Even if the processed mark were lost, the unique enrollment keeps it to one.
    Event.objects.filter(pk=event.pk).update(processed_at=None)
    assert event_process(event_id=event.pk) == "processed"

    assert Enrollment.objects.count() == 1
    assert OutreachTask.objects.count() == 1
    event.refresh_from_db()
    assert event.processed_at == NOW
    assert event.attempts == 2


def test_processing_one_event_costs_a_fixed_number_of_queries(
    complaint_rule: Any, frozen: Any, django_assert_max_num_queries: Any
) -> None:
    CareSettings.load()
    customer = CustomerFactory()
    ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Late")
    event = Event.objects.get()

    # batch read, rules, settings, lock, customer with value, enrollment, 3 for the task, mark:
    # 10 statements, plus 8 savepoint statements of the nested atomic blocks
    with django_assert_max_num_queries(18):
        events_module.events_process(event_ids=[event.pk])

    assert OutreachTask.objects.filter(customer=customer).count() == 1


def test_events_no_rule_wants_are_marked_processed_in_one_statement(
    complaint_rule: Any, django_assert_num_queries: Any
) -> None:
    customers = CustomerFactory.create_batch(3)
    ids = events_record(
        events=[
            DomainEvent(type=EventType.ORDER_PLACED, customer_id=c.pk, payload={"order_id": i})
            for i, c in enumerate(customers * 100)
        ]
    )

    # read the batch, the active rules, the customers with plans, one UPDATE
    with django_assert_num_queries(4):
        counts = events_module.events_process(event_ids=ids)

    assert counts == {"processed": 300, "skipped": 0, "failed": 0}
    assert not Event.objects.filter(processed_at__isnull=True).exists()


def test_a_failure_is_recorded_rolled_back_and_retried_by_the_sweep(
    complaint_rule: Any, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = CustomerFactory()
    ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Late")
    event = Event.objects.get()

    def broken(*, specs: list) -> list:
        raise RuntimeError("outreach is down")

    monkeypatch.setattr("outreach.parts.care_plans.outreach_tasks_create", broken)
    assert event_process(event_id=event.pk) == "failed"

    event.refresh_from_db()
    assert (event.attempts, event.processed_at) == (1, None)
    assert event.last_error == "RuntimeError: outreach is down"
    # the enrollment made before the failure was rolled back with it
    assert not Enrollment.objects.exists()

    # when: outreach is back and the sweep runs a minute later
    monkeypatch.undo()
    frozen.shift(dt.timedelta(minutes=1))
    assert events_sweep() == {"processed": 1, "skipped": 0, "failed": 0}
    assert Enrollment.objects.count() == 1
    assert OutreachTask.objects.count() == 1


def test_the_sweep_gives_up_after_max_attempts(complaint_rule: Any, frozen: Any) -> None:
    customer = CustomerFactory()
    ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Late")
    Event.objects.update(attempts=MAX_EVENT_ATTEMPTS, last_error="boom")
    frozen.shift(dt.timedelta(minutes=1))

    assert events_sweep()["processed"] == 0
    assert not Enrollment.objects.exists()


def test_the_sweep_recovers_events_whose_message_was_lost(complaint_rule: Any, frozen: Any) -> None:
    # given: events written, but their on-commit message never sent (broker down)
    customers = CustomerFactory.create_batch(5)
    for customer in customers:
        ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Late")
    assert not Enrollment.objects.exists()

    # a fresh event is left to its own message for a few seconds
    assert events_sweep() == {"processed": 0, "skipped": 0, "failed": 0}

    # when: the sweep runs a minute later
    frozen.shift(dt.timedelta(minutes=1))
    counts = events_sweep()

    # then: every event is processed once, and a second sweep finds nothing
    assert counts == {"processed": 5, "skipped": 0, "failed": 0}
    assert set(Enrollment.objects.values_list("customer_id", flat=True)) == {
        c.pk for c in customers
    }
    assert OutreachTask.objects.count() == 5
    assert events_sweep() == {"processed": 0, "skipped": 0, "failed": 0}


def test_a_plan_started_and_ended_within_one_swept_batch_is_stopped(
    complaint_rule: Any, frozen: Any
) -> None:
    care_rule_update(rule=complaint_rule, stop_conditions=["ticket_resolved"])
    customer = CustomerFactory()
    ticket = ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Late")
    frozen.shift(dt.timedelta(minutes=5))
    ticket_resolve(ticket=ticket)
    frozen.shift(dt.timedelta(minutes=1))

    events_sweep()

    enrollment = Enrollment.objects.get()
    assert enrollment.stop_reason == "ticket_resolved"
    assert set(OutreachTask.objects.values_list("status", flat=True)) == {"cancelled"}


def test_stale_events_enroll_nobody(complaint_rule: Any, frozen: Any) -> None:
    customer = CustomerFactory()
    # as an import announces a ticket opened a month ago
    events_record(
        events=[
            DomainEvent(
                type=EventType.TICKET_OPENED,
                customer_id=customer.pk,
                payload={"kind": "complaint"},
                occurred_at=(NOW - dt.timedelta(days=30)).isoformat(),
            )
        ]
    )
    event = Event.objects.get()

    assert event_process(event_id=event.pk) == "processed"
    assert not Enrollment.objects.exists()


def test_a_merged_customer_is_not_enrolled(complaint_rule: Any, frozen: Any) -> None:
    survivor = CustomerFactory()
    merged = CustomerFactory()
    events_record(
        events=[
            DomainEvent(
                type=EventType.TICKET_OPENED, customer_id=merged.pk, payload={"kind": "complaint"}
            )
        ]
    )
    merged.status = CustomerStatus.MERGED
    merged.merged_into = survivor
    merged.save()

    event_process(event_id=Event.objects.get().pk)

    assert not Enrollment.objects.exists()


# ---------------------------------------------------------------------------------------------
# Ingest


def test_ingest_by_id_external_id_or_phone_and_a_repeated_key_is_one_event(frozen: Any) -> None:
    customer = CustomerFactory(external_id="ERP-1")
    PhoneFactory(customer=customer, value="+8613800138000")

    first, created = event_ingest(
        poster=ERP,
        event_type="external",
        idempotency_key="k1",
        external_id="ERP-1",
        payload={"name": "x"},
    )
    again, created_again = event_ingest(
        poster=ERP,
        event_type="external",
        idempotency_key="k1",
        external_id="ERP-1",
        payload={"name": "x"},
    )
    by_phone, _ = event_ingest(
        poster=ERP, event_type="ticket_opened", idempotency_key="k2", phone="138 0013 8000"
    )
    by_id, _ = event_ingest(
        poster=ERP, event_type="ticket_opened", idempotency_key="k3", customer_id=customer.pk
    )

    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert {by_phone.customer_id, by_id.customer_id, first.customer_id} == {customer.pk}
    assert (first.client, first.idempotency_key) == ("integration:events", "k1")
    assert first.source == EventSource.API
    assert Event.objects.count() == 3


def test_ingest_refusals() -> None:
    customer = CustomerFactory()
    other = CustomerFactory()
    event_ingest(poster=ERP, event_type="external", idempotency_key="k", customer_id=customer.pk)

    with pytest.raises(IdempotencyConflict, match="already used for another event"):
        event_ingest(poster=ERP, event_type="external", idempotency_key="k", customer_id=other.pk)
    with pytest.raises(ApplicationError, match="exactly one of"):
        event_ingest(
            poster=ERP,
            event_type="external",
            idempotency_key="k9",
            customer_id=customer.pk,
            phone="1",
        )
    with pytest.raises(ApplicationError, match="Unknown customer"):
        event_ingest(poster=ERP, event_type="external", idempotency_key="k9", external_id="nobody")
    with pytest.raises(ApplicationError, match="Unknown event type"):
        event_ingest(poster=ERP, event_type="party", idempotency_key="k9", customer_id=customer.pk)
    with pytest.raises(ApplicationError, match="idempotency key"):
        event_ingest(
            poster=ERP, event_type="external", idempotency_key=" ", customer_id=customer.pk
        )
    with pytest.raises(ApplicationError, match="in the future"):
        event_ingest(
            poster=ERP,
            event_type="external",
            idempotency_key="k9",
            customer_id=customer.pk,
            occurred_at=timezone.now() + dt.timedelta(hours=1),
        )
    assert Event.objects.count() == 1


def test_ingest_for_a_merged_customer_goes_to_the_survivor() -> None:
    survivor = CustomerFactory()
    merged = CustomerFactory(
        external_id="OLD-1", status=CustomerStatus.MERGED, merged_into=survivor
    )

    event, _ = event_ingest(
        poster=ERP, event_type="external", idempotency_key="m", external_id="OLD-1"
    )

    assert event.customer_id == survivor.pk != merged.pk


# ---------------------------------------------------------------------------------------------
# Segment events


def test_segment_events_are_inserted_set_based_only_for_segments_rules_listen_to(
    django_assert_num_queries: Any,
) -> None:
    listened = SegmentFactory(slug="vip")
    ignored = SegmentFactory(slug="other")
    _segment_rule("vip")
    _segment_rule("vip", trigger=EventType.SEGMENT_EXITED)
    run = RefreshRun.objects.create(as_of=timezone.now(), window_days=365, status="succeeded")
    customers = CustomerFactory.create_batch(40)
    now = timezone.now()
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=listened, customer=c, entered_at=now, entered_run=run)
         for c in customers[:30]]
        + [SegmentMembership(segment=ignored, customer=c, entered_at=now, entered_run=run)
           for c in customers]
        + [SegmentMembership(segment=listened, customer=c, entered_at=now,
                             exited_at=now, exited_run=run) for c in customers[30:]]
    )  # fmt: skip
    # as a refresh records its moment: the run's entries carry its snapshots' moment
    for segment in (listened, ignored):
        SegmentSnapshot.objects.create(
            segment=segment, run=run, taken_at=now, size=0, entered=0, exited=0
        )

    # one query for the rules, one INSERT ... SELECT per kind, however many moved
    with django_assert_num_queries(3):
        counts = segment_events_record(run_id=run.pk)

    assert counts == {"segment_entered": 30, "segment_exited": 10}
    entered = Event.objects.filter(type=EventType.SEGMENT_ENTERED)
    assert set(entered.values_list("customer_id", flat=True)) == {c.pk for c in customers[:30]}
    assert entered.first().payload == {
        "segment": "vip",
        "segment_id": listened.pk,
        "run_id": run.pk,
    }
    assert set(Event.objects.values_list("source", flat=True)) == {EventSource.SEGMENTS}
    # announcing the same run again adds nothing
    assert segment_events_record(run_id=run.pk) == {"segment_entered": 0, "segment_exited": 0}


def test_a_refresh_run_announces_entries_of_listened_segments_only() -> None:
    as_of = as_of_from_date(dt.date(2026, 6, 1))
    dormant = CustomerFactory(name="Dormant")
    OrderFactory(customer=dormant, placed_at=as_of - dt.timedelta(days=90), amount=Decimal("120"))
    OrderFactory(customer=dormant, placed_at=as_of - dt.timedelta(days=200), amount=Decimal("90"))
    active = CustomerFactory(name="Active")
    for days in (3, 20, 40):
        OrderFactory(
            customer=active,
            placed_at=as_of - dt.timedelta(days=days),
            amount=Decimal("300"),
            status=OrderStatus.PAID,
        )
    _segment_rule("lifecycle-dormant")

    run = segment_refresh(as_of=as_of)

    assert run.counts["entered"] > 1
    events = Event.objects.filter(type=EventType.SEGMENT_ENTERED)
    assert list(events.values_list("customer_id", "payload__segment")) == [
        (dormant.pk, "lifecycle-dormant")
    ]


def test_no_active_rule_no_segment_events(django_assert_num_queries: Any) -> None:
    run = RefreshRun.objects.create(as_of=timezone.now(), window_days=365, status="succeeded")
    SegmentMembership.objects.create(
        segment=SegmentFactory(),
        customer=CustomerFactory(),
        entered_at=timezone.now(),
        entered_run=run,
    )

    with django_assert_num_queries(1):
        segment_events_record(run_id=run.pk)

    assert not Event.objects.exists()


# ---------------------------------------------------------------------------------------------
# Time events


def test_time_events_are_idempotent_and_dated_at_the_local_day() -> None:
    born_today = CustomerFactory(birthday=dt.date(1988, 3, 5))
    CustomerFactory(birthday=dt.date(1988, 3, 6))
    leap = CustomerFactory(birthday=dt.date(2000, 2, 29))
    with time_machine.travel(NOW, tick=False):
        first = time_events_emit()
        second = time_events_emit()
    with time_machine.travel(dt.datetime(2025, 2, 28, 9, tzinfo=SHANGHAI), tick=False):
        leap_counts = time_events_emit()

    assert first["birthday"] == 1
    assert second == {"birthday": 0, "anniversary": 0, "monthly": 0, "inactivity": 0}
    assert leap_counts["birthday"] == 1
    event = Event.objects.get(customer=born_today)
    assert event.idempotency_key == f"birthday:{born_today.pk}:2025-03-05"
    assert event.occurred_at == dt.datetime(2025, 3, 5, tzinfo=SHANGHAI)
    assert Event.objects.filter(customer=leap, type=EventType.BIRTHDAY).exists()


def test_membership_anniversary_from_the_second_year() -> None:
    veteran = CustomerFactory()
    newcomer = CustomerFactory()
    veteran.__class__.objects.filter(pk=veteran.pk).update(
        created_at=dt.datetime(2022, 3, 5, 15, tzinfo=SHANGHAI)
    )
    newcomer.__class__.objects.filter(pk=newcomer.pk).update(
        created_at=dt.datetime(2025, 3, 5, 8, tzinfo=SHANGHAI)
    )

    counts = time_events_emit(today=dt.date(2025, 3, 5))

    assert counts["anniversary"] == 1
    assert Event.objects.get(type=EventType.ANNIVERSARY).payload == {
        "date": "2025-03-05",
        "years": 3,
    }


def test_time_events_narrowed_by_utc_day_still_fire_on_the_local_day() -> None:
    """The pass narrows customers by month-day before any time-zone arithmetic; a sign-up or a
    local day that falls on another UTC day is still found."""
    early_bird = CustomerFactory(timezone="Asia/Shanghai")
    # 01:00 in Shanghai on 5 March 2022 is 17:00 UTC on 4 March.
    early_bird.__class__.objects.filter(pk=early_bird.pk).update(
        created_at=dt.datetime(2022, 3, 5, 1, tzinfo=SHANGHAI)
    )
    business = CustomerFactory(
        timezone="Asia/Shanghai", kind=CustomerKind.BUSINESS, company_name="Acme"
    )
    # 07:00 on 1 April in Shanghai is still 31 March in UTC.
    with time_machine.travel(dt.datetime(2025, 3, 5, 7, tzinfo=SHANGHAI), tick=False):
        on_the_fifth = time_events_emit()
    with time_machine.travel(dt.datetime(2025, 4, 1, 7, tzinfo=SHANGHAI), tick=False):
        on_the_first = time_events_emit()

    assert on_the_fifth["anniversary"] == 1
    assert on_the_fifth["monthly"] == 0
    assert Event.objects.get(type=EventType.ANNIVERSARY).customer_id == early_bird.pk
    assert on_the_first["monthly"] == 1
    assert Event.objects.get(type=EventType.MONTHLY).customer_id == business.pk


def test_inactivity_once_per_dormant_spell_within_the_catch_up_window() -> None:
    settings = CareSettings.load()
    settings.inactivity_days = [60, 120]
    settings.save()
    with time_machine.travel(NOW, tick=False):
        day = dt.timedelta(days=1)
        just_dormant = CustomerMetricsFactory(last_order_at=NOW - 60 * day - dt.timedelta(hours=2))
        long_gone = CustomerMetricsFactory(last_order_at=NOW - 400 * day)
        ordered_since = CustomerMetricsFactory(last_order_at=NOW - 62 * day)
        OrderFactory(customer=ordered_since.customer, placed_at=NOW - 3 * day)
        recent = CustomerMetricsFactory(last_order_at=NOW - 10 * day)
        first = time_events_emit()
        again = time_events_emit()

    assert (first["inactivity"], again["inactivity"]) == (1, 0)
    event = Event.objects.get(type=EventType.INACTIVITY)
    assert event.customer_id == just_dormant.customer_id
    assert event.payload["days"] == 60
    assert event.occurred_at == NOW
    assert {long_gone.customer_id, recent.customer_id}.isdisjoint(
        Event.objects.values_list("customer_id", flat=True)
    )


def test_a_customer_with_an_unknown_time_zone_does_not_break_the_run() -> None:
    CustomerFactory(birthday=dt.date(1990, 3, 5), timezone="Mars/Olympus")
    fine = CustomerFactory(birthday=dt.date(1990, 3, 5))

    counts = time_events_emit(today=dt.date(2025, 3, 5))

    assert counts["birthday"] == 1
    assert Event.objects.get().customer_id == fine.pk
