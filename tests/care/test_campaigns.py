"""Campaigns: the audience frozen when a run starts, the hold-out share, idempotent starts,
pacing per hour and per day of queue capacity, pause, resume and cancel, the preview's
guardrail counts, recurring runs, and bad input refused with nothing changed."""

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from django.utils import timezone

from callcenter.errors import ApplicationError
from care.choices import CampaignRunStatus, CampaignStatus, EnrollmentStatus, EventType
from care.models import Campaign, CampaignMember, CampaignRun, CareSettings, Enrollment, Event
from care.services.campaigns import (
    campaign_cancel,
    campaign_create,
    campaign_launch,
    campaign_pause,
    campaign_preview,
    campaign_resume,
    campaign_run_start,
    campaigns_tick,
)
from care.services.enrollment import enrollments_complete
from care.services.rules import care_rule_create
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.services.dispatch import dispatch_due
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.care.campaign_fixtures import (
    campaign,
    customers,
    journey,
    segment_with,
    sms_template,
    staffed_queue,
)
from tests.care.conftest import SHANGHAI

pytestmark = pytest.mark.django_db


def _launch(target: Campaign, captured: Any) -> CampaignRun:
    with captured(execute=True):
        campaign_launch(campaign=target, launched_by=UserFactory(role="supervisor"))
    return CampaignRun.objects.get(campaign=target, scheduled_for=target.starts_at)


def test_launch_freezes_the_audience_with_an_exact_holdout_and_plans_each_treated_member(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a segment of 50 and a journey of one SMS, 20% held out
    members = customers(50)
    target = campaign(rule=journey(), segment=segment_with(members), holdout_share=0.2)

    # when a supervisor launches it to start now
    run = _launch(target, django_capture_on_commit_callbacks)

    # then the run froze 50 members, 10 of them control, and only the 40 treated got a task
    run.refresh_from_db()
    assert (run.status, run.members, run.control, run.tasks) == ("started", 50, 10, 40)
    assert Enrollment.objects.filter(rule=target.rule).count() == 50
    assert Enrollment.objects.filter(rule=target.rule, is_control=True).count() == 10
    tasks = OutreachTask.objects.filter(enrollment__rule=target.rule)
    assert tasks.count() == 40
    assert not tasks.filter(enrollment__is_control=True).exists()
    # the campaign events are recorded processed, for the journey only
    events = Event.objects.filter(type=EventType.CAMPAIGN)
    assert events.count() == 50
    assert not events.filter(processed_at__isnull=True).exists()
    assert {event.payload["rule"] for event in events} == {target.rule_id}
    target.refresh_from_db()
    assert target.status == CampaignStatus.RUNNING
    assert target.next_run_at is None


def test_the_audience_is_who_was_in_the_segment_when_the_run_started(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    members = customers(5)
    segment = segment_with(members)
    run = _launch(campaign(rule=journey(), segment=segment), django_capture_on_commit_callbacks)
    # a customer entering the segment afterwards is not added to the started run
    latecomer = CustomerFactory()
    segment.memberships.create(customer=latecomer, entered_at=timezone.now())
    campaigns_tick()
    assert set(CampaignMember.objects.filter(run=run).values_list("customer_id", flat=True)) == {
        c.pk for c in members
    }


def test_starting_a_run_twice_creates_nothing_twice(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    target = campaign(rule=journey(), segment=segment_with(customers(12)))
    run = _launch(target, django_capture_on_commit_callbacks)
    # a redelivered message and the periodic pass both try again
    campaign_run_start(run_id=run.pk)
    campaigns_tick()
    CampaignRun.objects.filter(pk=run.pk).update(status=CampaignRunStatus.PENDING)
    campaign_run_start(run_id=run.pk)  # even a run forced back to pending only adds nothing
    assert CampaignMember.objects.filter(run=run).count() == 12
    assert Event.objects.filter(type=EventType.CAMPAIGN).count() == 12
    assert Enrollment.objects.filter(rule=target.rule).count() == 12
    assert OutreachTask.objects.filter(enrollment__rule=target.rule).count() == 12


def test_sends_are_paced_at_most_n_per_hour_highest_value_first(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    members = customers(35)
    target = campaign(rule=journey(), segment=segment_with(members), max_per_hour={"sms": 10})
    run = _launch(target, django_capture_on_commit_callbacks)
    start = CampaignRun.objects.get(pk=run.pk).started_at
    tasks = list(OutreachTask.objects.filter(enrollment__rule=target.rule).order_by("due_at"))
    per_hour = Counter(int((task.due_at - start).total_seconds() // 3600) for task in tasks)
    assert per_hour == {0: 10, 1: 10, 2: 10, 3: 5}
    # the biggest spender (created last) goes first, the smallest last
    assert tasks[0].customer_id == members[-1].pk
    assert tasks[-1].customer_id == members[0].pk
    assert tasks[0].due_at == start


def test_call_steps_are_spread_over_days_by_the_queues_capacity(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given 2 agents of 5 calls a day (10 a day), of which 4 are already taken today
    settings = CareSettings.load()
    settings.agent_daily_limit = 5
    settings.save()
    queue = staffed_queue("winback", agents=2)
    now = timezone.now()
    OutreachTask.objects.bulk_create(
        [
            OutreachTask(
                customer=CustomerFactory(),
                channel="call",
                due_at=now,
                deadline_at=now + dt.timedelta(hours=1),
                queue=queue,
                idempotency_key=f"manual:{i}",
            )
            for i in range(4)
        ]
    )
    rule = journey(
        steps=[
            {
                "channel": "call",
                "assignee_rule": "queue",
                "assignee_target": "winback",
                "sla_minutes": 240,
                "name": "Call",
            }
        ]
    )
    # when a campaign of 25 starts on Wednesday 10:00
    target = campaign(rule=rule, segment=segment_with(customers(25)))
    _launch(target, django_capture_on_commit_callbacks)

    # then Wednesday takes 6, Thursday and Friday 10 each, and nothing lands on a weekend
    tasks = OutreachTask.objects.filter(enrollment__rule=rule)
    days = Counter(timezone.localtime(task.due_at, SHANGHAI).date() for task in tasks)
    assert days == {
        dt.date(2025, 3, 5): 6,
        dt.date(2025, 3, 6): 10,
        dt.date(2025, 3, 7): 9,
    }
    # the next days' calls fall due when business hours start, and wait in the queue
    thursday = tasks.filter(due_at__date=dt.date(2025, 3, 6)).first()
    assert thursday is not None
    assert timezone.localtime(thursday.due_at, SHANGHAI).time() == dt.time(9, 0)
    assert set(tasks.values_list("queue__slug", "status")) == {("winback", "pending")}


def test_a_campaign_whose_calls_do_not_fit_is_refused_and_nothing_changes(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    staffed_queue("empty", agents=0)
    rule = journey(
        steps=[{"channel": "call", "assignee_target": "empty", "sla_minutes": 60, "name": "Call"}]
    )
    target = campaign(rule=rule, segment=segment_with(customers(3)))
    with pytest.raises(ApplicationError, match="can take 0 call tasks"):
        _launch(target, django_capture_on_commit_callbacks)
    target.refresh_from_db()
    assert target.status == CampaignStatus.DRAFT
    assert not CampaignRun.objects.exists()
    assert not Enrollment.objects.exists()


def test_pause_holds_work_resume_moves_it_on_and_cancel_ends_it(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    target = campaign(rule=journey(), segment=segment_with(customers(6)), max_per_hour={"sms": 2})
    _launch(target, django_capture_on_commit_callbacks)
    tasks = OutreachTask.objects.filter(enrollment__rule=target.rule)
    before = dict(tasks.values_list("pk", "due_at"))

    # pause: nothing is sent even when due, the enrollments stay active (the tasks are moved
    # by the job enqueued after commit)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_pause(campaign=target)
    assert set(tasks.values_list("status", flat=True)) == {TaskStatus.HELD}
    frozen.shift(dt.timedelta(hours=5))
    dispatch_due()
    enrollments_complete()
    assert set(tasks.values_list("status", flat=True)) == {TaskStatus.HELD}
    assert set(Enrollment.objects.values_list("status", flat=True)) == {EnrollmentStatus.ACTIVE}

    # resume: pending again, each due time moved by the pause's 5 hours
    with django_capture_on_commit_callbacks(execute=True):
        campaign_resume(campaign=target)
    after = dict(tasks.values_list("pk", "due_at"))
    assert {pk: after[pk] - due for pk, due in before.items()} == dict.fromkeys(
        before, dt.timedelta(hours=5)
    )
    assert set(tasks.values_list("status", flat=True)) == {TaskStatus.PENDING}

    # cancel: open tasks cancelled and enrollments stopped, with the reason
    with django_capture_on_commit_callbacks(execute=True):
        campaign_cancel(campaign=target)
    assert set(tasks.values_list("status", "reason")) == {
        (TaskStatus.CANCELLED, "campaign_cancelled")
    }
    assert set(Enrollment.objects.values_list("status", "stop_reason")) == {
        (EnrollmentStatus.STOPPED, "campaign_cancelled")
    }
    target.refresh_from_db()
    assert target.status == CampaignStatus.CANCELLED
    with pytest.raises(ApplicationError):
        campaign_resume(campaign=target)


def test_preview_counts_who_each_channel_cannot_reach_or_must_defer(frozen: Any) -> None:
    # given 10 members: 1 do-not-contact, 2 opted out of SMS, 1 capped by 3 recent SMS
    members = customers(10)
    members[0].do_not_contact = True
    members[0].save()
    for customer in members[1:3]:
        customer.sms_opt_out = True
        customer.save()
    now = timezone.now()
    OutreachTask.objects.bulk_create(
        [
            OutreachTask(
                customer=members[3],
                channel="sms",
                status="sent",
                sent_at=now - dt.timedelta(days=1),
                due_at=now - dt.timedelta(days=1),
                deadline_at=now,
                idempotency_key=f"old:{i}",
            )
            for i in range(3)
        ]
    )
    # and 2 customers in New York, where 10:00 in Shanghai is 21:00 (quiet hours)
    for customer in members[4:6]:
        customer.timezone = "America/New_York"
        customer.save()
    target = campaign(rule=journey(), segment=segment_with(members), holdout_share=0.1)

    preview = campaign_preview(campaign=target)

    assert (preview.members, preview.control, preview.treated) == (10, 1, 9)
    [sms] = preview.channels
    assert (sms.do_not_contact, sms.opted_out, sms.frequency_capped, sms.quiet_hours) == (
        1,
        2,
        1,
        2,
    )
    assert sms.reachable == 6
    [line] = preview.load
    assert line.days == [(dt.date(2025, 3, 5), 9)]
    assert preview.error == ""


def test_a_weekly_campaign_runs_again_with_its_own_frozen_audience(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    members = customers(3)
    segment = segment_with(members)
    target = campaign(rule=journey(), segment=segment, recurrence="weekly", weekdays=[3])
    first = _launch(target, django_capture_on_commit_callbacks)
    target.refresh_from_db()
    assert target.next_run_at == first.scheduled_for + dt.timedelta(days=7)
    assert target.status == CampaignStatus.RUNNING

    newcomer = customers(1)[0]
    segment.memberships.create(customer=newcomer, entered_at=timezone.now())
    frozen.shift(dt.timedelta(days=7))
    assert campaigns_tick()["runs_started"] == 1

    second = CampaignRun.objects.get(campaign=target, scheduled_for=target.next_run_at)
    assert second.members == 4
    assert CampaignMember.objects.filter(run=first).count() == 3
    assert Enrollment.objects.filter(rule=target.rule).count() == 7


def test_a_campaign_with_nothing_left_to_do_finishes(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    target = campaign(rule=journey(), segment=segment_with(customers(2)))
    _launch(target, django_capture_on_commit_callbacks)
    OutreachTask.objects.update(status=TaskStatus.SENT, sent_at=timezone.now())
    enrollments_complete()
    assert campaigns_tick()["finished"] == 1
    target.refresh_from_db()
    assert target.status == CampaignStatus.FINISHED


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"holdout_share": 0.95}, "holdout_share"),
        ({"audience_rule": {"field": "monetary", "cmp": "gte", "value": 1}}, "segment"),
        ({"segment": None}, "segment"),
        ({"recurrence": "weekly"}, "weekdays"),
        ({"recurrence": "monthly", "month_day": 31}, "month_day"),
        ({"recurrence": "dates", "run_dates": ["2025-02-30"]}, "run_dates"),
        ({"max_per_hour": {"fax": 3}}, "max_per_hour"),
        ({"max_per_hour": {"sms": 0}}, "max_per_hour"),
        ({"starts_at": dt.datetime(2025, 3, 5, 10, 0)}, "starts_at"),  # noqa: DTZ001 on purpose
        ({"rule": "other"}, "rule"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(
    frozen: Any, change: dict[str, Any], field: str
) -> None:
    data: dict[str, Any] = {
        "name": "Spring",
        "rule": journey().pk,
        "segment": segment_with(customers(1)).pk,
        "starts_at": timezone.now(),
    }
    if change.get("rule") == "other":
        change = {
            "rule": care_rule_create(
                name="Birthday",
                trigger_type=EventType.BIRTHDAY,
                steps=[{"channel": "sms", "template_id": sms_template().pk, "sla_minutes": 60}],
            ).pk
        }
    with pytest.raises(ApplicationError) as error:
        campaign_create(created_by=None, **{**data, **change})
    assert error.value.extra["field"] == field
    assert not Campaign.objects.exists()


def test_a_delayed_call_step_fills_days_from_its_first_due_day(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given 10 calls a day and a call a day after the start (Wednesday 10:00)
    settings = CareSettings.load()
    settings.agent_daily_limit = 5
    settings.save()
    staffed_queue("later", agents=2)
    rule = journey(
        steps=[
            {
                "channel": "call",
                "assignee_target": "later",
                "delay_value": 1,
                "delay_unit": "days",
                "sla_minutes": 60,
                "name": "Call",
            }
        ]
    )
    _launch(
        campaign(rule=rule, segment=segment_with(customers(15))), django_capture_on_commit_callbacks
    )
    due = sorted(
        timezone.localtime(task.due_at, SHANGHAI)
        for task in OutreachTask.objects.filter(enrollment__rule=rule)
    )
    # Wednesday's room is not used; Thursday's calls fall due at 10:00, a day after the start
    assert Counter(moment.date() for moment in due) == {
        dt.date(2025, 3, 6): 10,
        dt.date(2025, 3, 7): 5,
    }
    assert due[0].time() == dt.time(10, 0)
    assert due[-1].time() == dt.time(9, 0)


def test_a_segment_a_campaign_sends_to_cannot_be_deleted(frozen: Any) -> None:
    from segments.services.segments import segment_delete

    segment = segment_with(customers(1))
    campaign(rule=journey(), segment=segment)
    with pytest.raises(ApplicationError, match="still used by: Dormant big spenders, March"):
        segment_delete(segment=segment, deleted_by=None)
    assert segment.memberships.count() == 1


def test_a_campaign_launched_for_later_starts_when_its_moment_comes(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    later = timezone.now() + dt.timedelta(hours=2)
    target = campaign(rule=journey(), segment=segment_with(customers(3)), starts_at=later)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        campaign_launch(campaign=target, launched_by=UserFactory(role="supervisor"))
    assert callbacks == []  # nothing to start yet
    target.refresh_from_db()
    assert (target.status, target.next_run_at) == (CampaignStatus.SCHEDULED, later)
    assert campaigns_tick()["runs_started"] == 0
    assert not Enrollment.objects.exists()

    frozen.shift(dt.timedelta(hours=2))
    assert campaigns_tick()["runs_started"] == 1
    run = CampaignRun.objects.get(campaign=target)
    assert (run.status, run.members) == (CampaignRunStatus.STARTED, 3)


def test_a_run_that_cannot_start_is_recorded_failed_and_the_campaign_ends(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a campaign of calls that fitted when it was launched for later
    settings = CareSettings.load()
    settings.agent_daily_limit = 5
    settings.save()
    queue = staffed_queue("shrinking", agents=1)
    rule = journey(
        steps=[{"channel": "call", "assignee_target": "shrinking", "sla_minutes": 60, "name": "C"}]
    )
    later = timezone.now() + dt.timedelta(hours=1)
    target = campaign(rule=rule, segment=segment_with(customers(3)), starts_at=later)
    campaign_launch(campaign=target, launched_by=UserFactory(role="supervisor"))
    # when the queue loses its agent before the start
    queue.members.clear()
    frozen.shift(dt.timedelta(hours=1))
    campaigns_tick()

    # then the run failed with the reason, nothing was written, and the campaign is over
    run = CampaignRun.objects.get(campaign=target)
    assert run.status == CampaignRunStatus.FAILED
    assert "can take 0 call tasks" in run.error
    assert not CampaignMember.objects.exists()
    assert not Enrollment.objects.exists()
    target.refresh_from_db()
    assert target.status == CampaignStatus.FINISHED


def test_a_rule_tree_audience_is_previewed_and_frozen(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    customers(3, city="Hangzhou")
    customers(2, city="Suzhou")
    target = campaign_create(
        created_by=None,
        name="Hangzhou",
        rule=journey().pk,
        audience_rule={
            "op": "and",
            "children": [{"field": "city", "cmp": "eq", "value": "Hangzhou"}],
        },
        starts_at=timezone.now(),
    )
    assert campaign_preview(campaign=target).members == 3
    run = _launch(target, django_capture_on_commit_callbacks)
    run.refresh_from_db()
    assert (run.status, run.members, run.tasks) == ("started", 3, 3)
