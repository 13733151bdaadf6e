"""Enrollment: cooldown, hold-out share, stop conditions, versions kept, business hours,
completion, and two workers on one event."""

import datetime as dt
import threading
import zoneinfo
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from callcenter.choices import ConsentChannel, ConsentSource
from callcenter.events import DomainEvent
from callcenter.services.customers import customer_consent_set
from care.choices import EnrollmentStatus, EventType, RuleCategory, StopCondition
from care.models import CareRule, CareSettings, Enrollment, Event
from care.services.enrollment import business_moment, enrollments_complete
from care.services.events import event_process, events_process, events_record
from care.services.rules import care_rule_activate, care_rule_create, care_rule_update
from care.services.templates import template_create
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from tests.callcenter.factories import CustomerFactory
from tests.care.conftest import WEDNESDAY_10AM

NOW = WEDNESDAY_10AM
D = dt.timedelta(days=1)


@pytest.fixture
def sms(db: None) -> Any:
    return template_create(name="Promo", channel="sms", variants={"en": {"body": "Hi"}})


def _rule(sms: Any, **overrides: Any) -> CareRule:
    values: dict[str, Any] = {
        "name": "Promo",
        "trigger_type": EventType.EXTERNAL,
        "trigger_params": {"name": "promo"},
        "steps": [
            {"channel": "sms", "template_id": sms.pk, "sla_minutes": 60},
            {
                "channel": "sms",
                "template_id": sms.pk,
                "delay_value": 2,
                "delay_unit": "days",
                "sla_minutes": 60,
            },
        ],
    }
    values.update(overrides)
    return care_rule_activate(rule=care_rule_create(**values))


def _fire(customer_id: int, **event: Any) -> list[int]:
    """Record an event (by default the "promo" external event) and process it."""
    event = event or {"type": EventType.EXTERNAL, "payload": {"name": "promo"}}
    ids = events_record(events=[DomainEvent(customer_id=customer_id, **event)])
    events_process(event_ids=ids)
    return ids


@pytest.mark.django_db
def test_cooldown_blocks_a_second_enrollment_within_n_days(sms: Any, frozen: Any) -> None:
    _rule(sms, cooldown_days=7)
    customer = CustomerFactory()

    _fire(customer.pk)
    frozen.shift(3 * D)
    _fire(customer.pk)
    assert Enrollment.objects.count() == 1

    frozen.shift(5 * D)
    _fire(customer.pk)
    assert Enrollment.objects.count() == 2
    # every event was processed, enrolled or not
    assert not Event.objects.filter(processed_at__isnull=True).exists()


@pytest.mark.django_db
def test_without_cooldown_each_event_enrolls_once(sms: Any, frozen: Any) -> None:
    # A service plan never competes (a proactive one is held back by itself: test_arbitration).
    _rule(sms, category=RuleCategory.SERVICE)
    customer = CustomerFactory()

    _fire(customer.pk)
    _fire(customer.pk)

    assert list(Enrollment.objects.filter(customer=customer).values_list("status", flat=True)) == [
        EnrollmentStatus.ACTIVE,
        EnrollmentStatus.ACTIVE,
    ]


@pytest.mark.django_db
def test_holdout_share_is_roughly_right_and_control_members_get_no_tasks(
    sms: Any, frozen: Any
) -> None:
    # A service plan never competes, so each of a customer's events enrolls them again.
    _rule(sms, holdout_share=0.2, category=RuleCategory.SERVICE)
    customers = CustomerFactory.create_batch(20)
    total = 500
    ids = events_record(
        events=[
            DomainEvent(type=EventType.EXTERNAL, customer_id=c.pk, payload={"name": "promo"})
            for c in customers * (total // len(customers))
        ]
    )

    counts = events_process(event_ids=ids)

    assert counts["processed"] == total
    control = Enrollment.objects.filter(is_control=True).count()
    # binomial(500, 0.2): mean 100, sd 8.9; +-40 is 4.5 sd
    assert 60 <= control <= 140
    treated = Enrollment.objects.filter(is_control=False).count()
    assert control + treated == total
    assert OutreachTask.objects.count() == 2 * treated
    assert not OutreachTask.objects.filter(enrollment__is_control=True).exists()


@pytest.mark.django_db
def test_conditions_decide_who_is_enrolled(sms: Any, frozen: Any) -> None:
    _rule(sms, conditions={"field": "city", "cmp": "eq", "value": "北京"})
    beijing = CustomerFactory(city="北京")
    shanghai = CustomerFactory(city="上海")

    _fire(beijing.pk)
    _fire(shanghai.pk)

    assert list(Enrollment.objects.values_list("customer_id", flat=True)) == [beijing.pk]


@pytest.mark.django_db
def test_higher_priority_rules_are_enrolled_first(sms: Any, frozen: Any) -> None:
    low = _rule(sms, name="Low", priority=1)
    high = _rule(sms, name="High", priority=50)
    customer = CustomerFactory()

    _fire(customer.pk)

    assert list(Enrollment.objects.order_by("id").values_list("rule_id", flat=True)) == [
        high.pk,
        low.pk,
    ]


@pytest.mark.django_db
def test_opting_out_stops_plans_that_stop_on_it_and_cancels_their_tasks(
    sms: Any, frozen: Any
) -> None:
    stops = _rule(sms, name="Marketing", stop_conditions=[StopCondition.OPTED_OUT])
    keeps = _rule(sms, name="Service", category=RuleCategory.SERVICE)
    customer = CustomerFactory()
    _fire(customer.pk)
    frozen.shift(dt.timedelta(hours=1))

    with transaction.atomic():
        customer_consent_set(
            customer=customer,
            channel=ConsentChannel.SMS,
            opted_out=True,
            source=ConsentSource.INBOUND_SMS,
        )
    consent_events = Event.objects.filter(type=EventType.CONSENT_CHANGED)
    events_process(event_ids=list(consent_events.values_list("pk", flat=True)))

    stopped = Enrollment.objects.get(rule=stops)
    assert (stopped.status, stopped.stop_reason) == (
        EnrollmentStatus.STOPPED,
        StopCondition.OPTED_OUT,
    )
    assert stopped.finished_at == NOW + dt.timedelta(hours=1)
    assert set(OutreachTask.objects.filter(enrollment=stopped).values_list("status", "reason")) == {
        (TaskStatus.CANCELLED, StopCondition.OPTED_OUT)
    }
    assert Enrollment.objects.get(rule=keeps).status == EnrollmentStatus.ACTIVE
    assert not OutreachTask.objects.filter(
        enrollment__rule=keeps, status=TaskStatus.CANCELLED
    ).exists()


@pytest.mark.django_db
def test_a_reply_stops_plans_that_stop_on_a_reply_but_sent_tasks_stay_sent(
    sms: Any, frozen: Any
) -> None:
    rule = _rule(sms, stop_conditions=[StopCondition.CUSTOMER_REPLIED])
    customer = CustomerFactory()
    _fire(customer.pk)
    first = OutreachTask.objects.get(enrollment__rule=rule, step_position=1)
    OutreachTask.objects.filter(pk=first.pk).update(status=TaskStatus.SENT)
    frozen.shift(dt.timedelta(hours=5))

    _fire(customer.pk, type=EventType.CUSTOMER_REPLIED, payload={"channel": "sms"})

    assert Enrollment.objects.get(rule=rule).stop_reason == StopCondition.CUSTOMER_REPLIED
    assert dict(
        OutreachTask.objects.filter(enrollment__rule=rule).values_list("step_position", "status")
    ) == {1: TaskStatus.SENT, 2: TaskStatus.CANCELLED}


@pytest.mark.django_db
def test_opting_back_in_stops_nothing(sms: Any, frozen: Any) -> None:
    _rule(sms, stop_conditions=[StopCondition.OPTED_OUT])
    customer = CustomerFactory()
    _fire(customer.pk)
    frozen.shift(dt.timedelta(hours=1))

    _fire(
        customer.pk,
        type=EventType.CONSENT_CHANGED,
        payload={"channel": "sms", "opted_out": False},
    )

    assert Enrollment.objects.get().status == EnrollmentStatus.ACTIVE


@pytest.mark.django_db
def test_an_enrollment_keeps_its_version_after_the_rule_is_edited(sms: Any, frozen: Any) -> None:
    # A service plan, so that the second event enrolls the customer again beside the first.
    rule = _rule(sms, category=RuleCategory.SERVICE)
    customer = CustomerFactory()
    _fire(customer.pk)
    before = Enrollment.objects.get()
    version_before = before.rule_version.version

    # when: an admin drops the second step and lengthens the first one's SLA
    first_step = rule.steps.get(position=1)
    care_rule_update(
        rule=rule,
        steps=[{"id": first_step.pk, "channel": "sms", "template_id": sms.pk, "sla_minutes": 600}],
    )
    frozen.shift(dt.timedelta(hours=1))
    _fire(customer.pk)

    before.refresh_from_db()
    after = Enrollment.objects.exclude(pk=before.pk).get()
    assert before.rule_version.version == version_before
    assert after.rule_version.version == version_before + 1
    assert OutreachTask.objects.filter(enrollment=before).count() == 2
    assert OutreachTask.objects.filter(enrollment=after).count() == 1
    old_steps = before.rule_version.snapshot["steps"]
    assert [s["sla_minutes"] for s in old_steps] == [60, 60]


@pytest.mark.django_db
def test_an_inactive_rule_enrolls_nobody(sms: Any, frozen: Any) -> None:
    rule = care_rule_create(
        name="Off",
        trigger_type=EventType.EXTERNAL,
        steps=[{"channel": "sms", "template_id": sms.pk}],
    )
    customer = CustomerFactory()

    _fire(customer.pk)

    assert rule.is_active is False
    assert not Enrollment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("local", "expected"),
    [
        # Wednesday 10:00 is inside business hours: unchanged
        ((2025, 3, 5, 10, 0), (2025, 3, 5, 10, 0)),
        # before opening: the same day at 09:00
        ((2025, 3, 5, 7, 30), (2025, 3, 5, 9, 0)),
        # at closing time: the next morning
        ((2025, 3, 5, 18, 0), (2025, 3, 6, 9, 0)),
        # Friday evening and Saturday: Monday morning
        ((2025, 3, 7, 20, 0), (2025, 3, 10, 9, 0)),
        ((2025, 3, 8, 12, 0), (2025, 3, 10, 9, 0)),
    ],
)
def test_business_hours_move_a_due_time_into_the_next_window(
    local: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    settings = CareSettings.load()

    for zone_name in ("Asia/Shanghai", "America/New_York"):
        zone = zoneinfo.ZoneInfo(zone_name)
        moment = dt.datetime(*local, tzinfo=zone)
        moved = business_moment(moment, zone=zone, settings=settings)
        assert moved == dt.datetime(*expected, tzinfo=zone)


@pytest.mark.django_db
def test_enrollments_complete_when_no_step_is_left(sms: Any, frozen: Any) -> None:
    _rule(sms, holdout_share=0.0)
    customer = CustomerFactory()
    _fire(customer.pk)
    enrollment = Enrollment.objects.get()

    # the second step is due in 2 days: nothing completes before, even with tasks done
    OutreachTask.objects.update(status=TaskStatus.SENT)
    frozen.shift(D)
    assert enrollments_complete() == 0

    # the span has passed but a task is still open
    OutreachTask.objects.filter(step_position=2).update(status=TaskStatus.PENDING)
    frozen.shift(2 * D)
    assert enrollments_complete() == 0

    OutreachTask.objects.update(status=TaskStatus.DELIVERED)
    assert enrollments_complete() == 1
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert enrollment.finished_at == NOW + 3 * D


def test_two_workers_on_one_event_enroll_once(committed_rows: None) -> None:
    sms = template_create(name="Promo", channel="sms", variants={"en": {"body": "Hi"}})
    _rule(sms)
    customer = CustomerFactory()
    # an event whose message is on its way (recorded, not yet processed)
    event = Event.objects.create(
        type=EventType.EXTERNAL,
        customer=customer,
        payload={"name": "promo"},
        occurred_at=timezone.now(),
    )
    ids = [event.pk]
    holding = threading.Event()
    release = threading.Event()
    results: list[str] = []

    def slow_worker() -> None:
        # holds the event's row lock as a worker would in the middle of processing
        try:
            with transaction.atomic():
                Event.objects.select_for_update().get(pk=ids[0])
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_worker)
    thread.start()
    assert holding.wait(10)
    results.append(event_process(event_id=ids[0]))
    release.set()
    thread.join()
    results.append(event_process(event_id=ids[0]))
    results.append(event_process(event_id=ids[0]))

    # the locked event is skipped, not waited for; then processed once
    assert results == ["skipped", "processed", "skipped"]
    assert Enrollment.objects.count() == 1
