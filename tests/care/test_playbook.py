"""Each playbook rule from its trigger to its outreach tasks, with exact due and deadline times."""

import datetime as dt
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from callcenter.choices import InteractionChannel, SurveyKind, TicketKind
from callcenter.services.activity import (
    interaction_log,
    order_record,
    survey_record,
    ticket_open,
    ticket_resolve,
)
from care.choices import EnrollmentStatus, StepChannel, StopCondition, TouchKind
from care.models import CareRule, Enrollment, MessageTemplate
from care.playbook import PLAYBOOK_KEYS, RULES, TEMPLATES
from care.services.events import segment_events_record, time_events_emit
from outreach.choices import TaskStatus
from outreach.models import OutreachTask, Queue
from segments.choices import LifecycleStage, RunStatus, ValueTier
from segments.models import RefreshRun, Segment, SegmentMembership, SegmentSnapshot
from tests.callcenter.factories import BusinessCustomerFactory, CustomerFactory, UserFactory
from tests.care.conftest import SHANGHAI, WEDNESDAY_10AM
from tests.segments.factories import CustomerMetricsFactory

pytestmark = pytest.mark.django_db

NOW = WEDNESDAY_10AM
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
TaskList = Callable[[int], list[OutreachTask]]


def _summary(tasks: list[OutreachTask]) -> list[tuple[Any, ...]]:
    return [
        (
            task.enrollment.rule.playbook_key,
            task.channel,
            task.template.slug if task.template else None,
            task.due_at,
            task.deadline_at,
        )
        for task in tasks
    ]


def test_install_is_idempotent_and_rules_stay_off_unless_the_setting_lists_them(
    db: None, settings: Any
) -> None:
    # given: only the birthday rule asked for
    settings.CARE_PLAYBOOK_ACTIVE = ["birthday"]

    # when: installed twice
    call_command("install_playbook")
    call_command("install_playbook")

    # then: one of each, all rules off except the one listed
    assert CareRule.objects.count() == len(RULES)
    assert MessageTemplate.objects.count() == len(TEMPLATES)
    assert set(CareRule.objects.values_list("playbook_key", flat=True)) == set(PLAYBOOK_KEYS)
    assert list(CareRule.objects.filter(is_active=True).values_list("playbook_key", flat=True)) == [
        "birthday"
    ]
    assert set(Queue.objects.values_list("slug", flat=True)) >= {"general", "senior", "supervisors"}
    for template in MessageTemplate.objects.prefetch_related("variants"):
        assert {v.language for v in template.variants.all()} == {"zh-hans", "en"}


def test_install_keeps_an_admins_edits(db: None, settings: Any) -> None:
    call_command("install_playbook")
    CareRule.objects.filter(playbook_key="birthday").update(name="Our birthday wishes")
    MessageTemplate.objects.filter(slug="birthday-sms").update(name="Edited")

    call_command("install_playbook")

    assert CareRule.objects.get(playbook_key="birthday").name == "Our birthday wishes"
    assert MessageTemplate.objects.get(slug="birthday-sms").name == "Edited"


def test_complaint_opened_apology_sms_within_1h_and_call_within_24h(
    playbook: dict, frozen: Any, tasks_of: TaskList, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory()

    with django_capture_on_commit_callbacks(execute=True):
        ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Broken on arrival")

    tasks = tasks_of(customer.pk)
    assert _summary(tasks) == [
        ("complaint-opened", StepChannel.SMS, "complaint-apology-sms", NOW, NOW + H),
        ("complaint-opened", StepChannel.CALL, "complaint-followup-call", NOW, NOW + 24 * H),
    ]
    assert [task.touch_kind for task in tasks] == [TouchKind.SERVICE, TouchKind.SERVICE]
    assert tasks[1].queue.slug == "general"


def test_an_inquiry_triggers_no_complaint_care(
    playbook: dict, frozen: Any, tasks_of: TaskList, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory()

    with django_capture_on_commit_callbacks(execute=True):
        ticket_open(customer=customer, kind=TicketKind.INQUIRY, subject="Opening hours?")

    assert tasks_of(customer.pk) == []


def test_complaint_resolved_stops_the_follow_up_and_sends_the_survey_2_days_later(
    playbook: dict, frozen: Any, tasks_of: TaskList, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Late")

    # when: resolved three hours later
    frozen.shift(3 * H)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_resolve(ticket=ticket)

    # then: the open follow-up is cancelled with the reason, the survey is planned
    opened = Enrollment.objects.get(rule__playbook_key="complaint-opened")
    assert opened.status == EnrollmentStatus.STOPPED
    assert opened.stop_reason == StopCondition.TICKET_RESOLVED
    call = OutreachTask.objects.get(enrollment=opened, channel=StepChannel.CALL)
    assert (call.status, call.reason) == (TaskStatus.CANCELLED, StopCondition.TICKET_RESOLVED)
    survey = OutreachTask.objects.get(enrollment__rule__playbook_key="complaint-resolved")
    resolved_at = NOW + 3 * H
    assert (survey.channel, survey.template.slug) == (StepChannel.SMS, "complaint-survey-sms")
    assert (survey.due_at, survey.deadline_at) == (resolved_at + 2 * D, resolved_at + 3 * D)


def test_resolving_another_ticket_does_not_stop_the_complaint_follow_up(
    playbook: dict, frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Late")
        other = ticket_open(customer=customer, kind=TicketKind.INQUIRY, subject="Question")
    frozen.shift(H)

    with django_capture_on_commit_callbacks(execute=True):
        ticket_resolve(ticket=other)

    opened = Enrollment.objects.get(rule__playbook_key="complaint-opened")
    assert opened.status == EnrollmentStatus.ACTIVE


def test_first_order_welcome_sms_and_courtesy_call_on_day_3_in_business_hours(
    playbook: dict, frozen: Any, tasks_of: TaskList, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory()

    with django_capture_on_commit_callbacks(execute=True):
        order_record(customer=customer, external_id="O-1", placed_at=NOW, amount=Decimal("99"))

    # Day 3 is a Saturday: the call moves to Monday 09:00, the start of business hours.
    monday_9am = dt.datetime(2025, 3, 10, 9, 0, tzinfo=SHANGHAI)
    assert _summary(tasks_of(customer.pk)) == [
        ("first-order", StepChannel.SMS, "welcome-guide-sms", NOW, NOW + 24 * H),
        ("first-order", StepChannel.CALL, "welcome-courtesy-call", monday_9am, monday_9am + 24 * H),
    ]


def test_a_second_order_enrolls_nobody_again(
    playbook: dict, frozen: Any, tasks_of: TaskList, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        order_record(customer=customer, external_id="O-1", placed_at=NOW, amount=Decimal("99"))
    frozen.shift(H)

    with django_capture_on_commit_callbacks(execute=True):
        order_record(customer=customer, external_id="O-2", placed_at=NOW + H, amount=Decimal("5"))

    assert Enrollment.objects.filter(customer=customer).count() == 1


def test_business_first_order_welcome_pack_advisor_call_day_3_review_call_day_7(
    playbook: dict, frozen: Any, tasks_of: TaskList, django_capture_on_commit_callbacks: Any
) -> None:
    advisor = UserFactory(role="agent", username="advisor")
    customer = BusinessCustomerFactory(advisor=advisor)

    with django_capture_on_commit_callbacks(execute=True):
        order_record(customer=customer, external_id="B-1", placed_at=NOW, amount=Decimal("9000"))

    monday_9am = dt.datetime(2025, 3, 10, 9, 0, tzinfo=SHANGHAI)
    tasks = tasks_of(customer.pk)
    assert _summary(tasks) == [
        ("business-first-order", StepChannel.EMAIL, "business-welcome-email", NOW, NOW + 24 * H),
        (
            "business-first-order",
            StepChannel.CALL,
            "business-advisor-call",
            monday_9am,
            monday_9am + 24 * H,
        ),
        (
            "business-first-order",
            StepChannel.CALL,
            "business-review-call",
            NOW + 7 * D,
            NOW + 8 * D,
        ),
    ]
    # The person rule's condition (kind = person) keeps business customers out of it.
    assert not Enrollment.objects.filter(rule__playbook_key="first-order").exists()
    assert {task.assignee_id for task in tasks if task.channel == StepChannel.CALL} == {advisor.pk}


def test_inactivity_60_days_wake_up_sms_then_call_for_high_value_after_7_days(
    playbook: dict,
    frozen: Any,
    tasks_of: TaskList,
    no_holdout: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    customer = CustomerFactory()
    CustomerMetricsFactory(
        customer=customer, last_order_at=NOW - 60 * D - H, value_tier=ValueTier.HIGH
    )

    with django_capture_on_commit_callbacks(execute=True):
        counts = time_events_emit()

    assert counts["inactivity"] == 1
    tasks = tasks_of(customer.pk)
    assert _summary(tasks) == [
        ("dormant-wake-up", StepChannel.SMS, "wakeup-offer-sms", NOW, NOW + 24 * H),
        ("dormant-wake-up", StepChannel.CALL, "wakeup-call", NOW + 7 * D, NOW + 8 * D),
    ]
    # The call's conditions travel with the version; outreach checks them when it falls due.
    version_steps = tasks[1].enrollment.rule_version.snapshot["steps"]
    assert version_steps[1]["conditions"] == {"field": "value_tier", "cmp": "eq", "value": "high"}
    assert version_steps[1]["only_if_no_response"] is True


def test_an_order_stops_the_wake_up_plan(
    playbook: dict,
    frozen: Any,
    tasks_of: TaskList,
    no_holdout: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    customer = CustomerFactory()
    CustomerMetricsFactory(customer=customer, last_order_at=NOW - 61 * D)
    with django_capture_on_commit_callbacks(execute=True):
        time_events_emit()
    frozen.shift(2 * D)

    with django_capture_on_commit_callbacks(execute=True):
        order_record(
            customer=customer, external_id="O-back", placed_at=NOW + 2 * D, amount=Decimal("50")
        )

    wake_up = Enrollment.objects.get(rule__playbook_key="dormant-wake-up")
    assert (wake_up.status, wake_up.stop_reason) == (
        EnrollmentStatus.STOPPED,
        StopCondition.CUSTOMER_ORDERED,
    )
    call = OutreachTask.objects.get(enrollment=wake_up, channel=StepChannel.CALL)
    assert call.status == TaskStatus.CANCELLED


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0, [("nps-detractor", StepChannel.CALL, "nps-detractor-call", NOW, NOW + 24 * H)]),
        (6, [("nps-detractor", StepChannel.CALL, "nps-detractor-call", NOW, NOW + 24 * H)]),
        (7, []),
        (8, []),
        (9, [("nps-promoter", StepChannel.SMS, "nps-referral-sms", NOW, NOW + 24 * H)]),
        (10, [("nps-promoter", StepChannel.SMS, "nps-referral-sms", NOW, NOW + 24 * H)]),
    ],
)
def test_nps_detractor_supervisor_call_and_promoter_referral(
    playbook: dict,
    frozen: Any,
    tasks_of: TaskList,
    django_capture_on_commit_callbacks: Any,
    score: int,
    expected: list,
) -> None:
    customer = CustomerFactory()

    with django_capture_on_commit_callbacks(execute=True):
        survey_record(customer=customer, kind=SurveyKind.NPS, score=score)

    tasks = tasks_of(customer.pk)
    assert _summary(tasks) == expected
    if score <= 6:
        assert tasks[0].queue.slug == "supervisors"


def test_strongly_negative_call_priority_callback_within_2h_by_senior_agent(
    playbook: dict, frozen: Any, tasks_of: TaskList, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory()

    with django_capture_on_commit_callbacks(execute=True):
        interaction_log(
            customer=customer,
            channel=InteractionChannel.CALL,
            notes="The service was terrible, I am furious and disgusted, worst experience ever",
        )
        # A calm call and a furious chat trigger nothing.
        interaction_log(customer=customer, channel=InteractionChannel.CALL, notes="ok thanks")
        interaction_log(
            customer=customer, channel=InteractionChannel.CHAT, notes="太差了，非常生气"
        )

    tasks = tasks_of(customer.pk)
    assert _summary(tasks) == [
        ("negative-call-sentiment", StepChannel.CALL, "sentiment-callback", NOW, NOW + 2 * H),
    ]
    assert tasks[0].queue.slug == "senior"
    assert tasks[0].touch_kind == TouchKind.SERVICE


def test_birthday_greeting_at_10_on_the_day_in_the_customers_time_zone(
    playbook: dict, tasks_of: TaskList, django_capture_on_commit_callbacks: Any
) -> None:
    import time_machine

    new_york = zoneinfo.ZoneInfo("America/New_York")
    customer = CustomerFactory(birthday=dt.date(1990, 3, 5), timezone="America/New_York")
    # 5 March 10:00 in Shanghai is still 4 March in New York: no greeting yet.
    with time_machine.travel(NOW, tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=True):
            assert time_events_emit()["birthday"] == 0
        traveller.move_to(dt.datetime(2025, 3, 5, 0, 30, tzinfo=new_york))
        with django_capture_on_commit_callbacks(execute=True):
            assert time_events_emit()["birthday"] == 1
            # Running again (hourly schedule) adds nothing.
            assert time_events_emit()["birthday"] == 0

    ten_am = dt.datetime(2025, 3, 5, 10, 0, tzinfo=new_york)
    assert _summary(tasks_of(customer.pk)) == [
        ("birthday", StepChannel.SMS, "birthday-sms", ten_am, ten_am + 8 * H),
    ]


def test_high_value_customer_entering_churn_risk_gets_an_advisor_call_within_48h(
    playbook: dict, frozen: Any, tasks_of: TaskList, django_capture_on_commit_callbacks: Any
) -> None:
    advisor = UserFactory(role="agent", username="advisor")
    high = CustomerFactory(advisor=advisor)
    low = CustomerFactory()
    CustomerMetricsFactory(customer=high, value_tier=ValueTier.HIGH)
    CustomerMetricsFactory(customer=low, value_tier=ValueTier.LOW)
    churn_risk = Segment.objects.get(slug="lifecycle-churn-risk")
    assert churn_risk.key == LifecycleStage.CHURN_RISK
    run = RefreshRun.objects.create(as_of=NOW, window_days=365, status=RunStatus.SUCCEEDED)
    for customer in (high, low):
        SegmentMembership.objects.create(
            segment=churn_risk, customer=customer, entered_at=NOW, entered_run=run
        )
    SegmentSnapshot.objects.create(
        segment=churn_risk, run=run, taken_at=NOW, size=2, entered=2, exited=0
    )

    with django_capture_on_commit_callbacks(execute=True):
        segment_events_record(run_id=run.pk)

    tasks = tasks_of(high.pk)
    assert _summary(tasks) == [
        ("churn-risk-high-value", StepChannel.CALL, "churn-advisor-call", NOW, NOW + 48 * H),
    ]
    assert tasks[0].assignee_id == advisor.pk
    assert tasks_of(low.pk) == []


def test_business_customer_monthly_value_report_task(
    playbook: dict, tasks_of: TaskList, django_capture_on_commit_callbacks: Any
) -> None:
    import time_machine

    business = BusinessCustomerFactory()
    person = CustomerFactory()
    # Saturday 1 March 2025: the task waits for Monday's business hours.
    with time_machine.travel(dt.datetime(2025, 3, 1, 0, 20, tzinfo=SHANGHAI), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            counts = time_events_emit()

    assert counts["monthly"] == 1
    monday_9am = dt.datetime(2025, 3, 3, 9, 0, tzinfo=SHANGHAI)
    assert _summary(tasks_of(business.pk)) == [
        (
            "business-monthly-report",
            StepChannel.CALL,
            "business-value-report",
            monday_9am,
            monday_9am + 3 * D,
        ),
    ]
    assert tasks_of(person.pk) == []


def test_a_churn_risk_call_preempts_the_wake_up_offer_and_a_complaint_runs_beside_it(
    playbook: dict,
    frozen: Any,
    tasks_of: TaskList,
    no_holdout: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: a dormant high-value customer in the wake-up plan (retention, priority 50)
    customer = CustomerFactory()
    CustomerMetricsFactory(
        customer=customer, last_order_at=NOW - 60 * D - H, value_tier=ValueTier.HIGH
    )
    with django_capture_on_commit_callbacks(execute=True):
        time_events_emit()
    frozen.shift(H)

    # when: they complain, then enter churn risk (the advisor call: retention, priority 70)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Late")
    run = RefreshRun.objects.create(as_of=NOW, window_days=365, status=RunStatus.SUCCEEDED)
    churn_risk = Segment.objects.get(slug="lifecycle-churn-risk")
    SegmentMembership.objects.create(
        segment=churn_risk, customer=customer, entered_at=NOW + H, entered_run=run
    )
    SegmentSnapshot.objects.create(
        segment=churn_risk, run=run, taken_at=NOW + H, size=1, entered=1, exited=0
    )
    with django_capture_on_commit_callbacks(execute=True):
        segment_events_record(run_id=run.pk)

    # then: the advisor call preempted the wake-up offer; the complaint plan runs beside it
    plans = {
        enrollment.rule.playbook_key: enrollment
        for enrollment in Enrollment.objects.filter(customer=customer).select_related(
            "rule", "outranked_by__rule"
        )
    }
    wake_up = plans["dormant-wake-up"]
    assert (wake_up.status, wake_up.stop_reason, wake_up.outranked_by.rule.playbook_key) == (
        EnrollmentStatus.STOPPED,
        "preempted",
        "churn-risk-high-value",
    )
    assert plans["churn-risk-high-value"].status == EnrollmentStatus.ACTIVE
    assert plans["complaint-opened"].status == EnrollmentStatus.ACTIVE
    open_work = {
        task.enrollment.rule.playbook_key
        for task in tasks_of(customer.pk)
        if task.status != TaskStatus.CANCELLED
    }
    assert "churn-risk-high-value" in open_work
    assert "complaint-opened" in open_work
    assert OutreachTask.objects.get(enrollment=wake_up, channel=StepChannel.CALL).status == (
        TaskStatus.CANCELLED
    )
