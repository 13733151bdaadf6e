"""Pause, resume and cancel take effect at the decision's commit (nothing of the campaign is
dispatched or shown in queues from then), a background job moves the task rows after, safe
twice and whatever decisions came in between; launching an empty audience is refused, and a
recurring run that finds its audience empty is skipped, saying why."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role
from callcenter.errors import ApplicationError
from care.choices import CampaignRunStatus, CampaignStatus, EnrollmentStatus
from care.models import Campaign, CampaignRun, Enrollment
from care.services.campaigns import (
    campaign_cancel,
    campaign_launch,
    campaign_pause,
    campaign_preview,
    campaign_resume,
    campaign_work_settle,
    campaigns_tick,
)
from care.services.enrollment import enrollments_complete
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.selectors import agent_queue
from outreach.services.dispatch import dispatch_due
from outreach.services.tasks import outreach_task_claim
from segments.models import SegmentMembership
from tests.callcenter.factories import UserFactory
from tests.care.campaign_fixtures import (
    campaign,
    customers,
    journey,
    segment_with,
    staffed_queue,
)

pytestmark = pytest.mark.django_db

EMPTY = "No one is in this audience now."


def _launched(captured: Any, count: int = 4, **extra: Any) -> Campaign:
    target = campaign(rule=journey(), segment=segment_with(customers(count)), **extra)
    with captured(execute=True):
        campaign_launch(campaign=target, launched_by=UserFactory(role=Role.SUPERVISOR))
    target.refresh_from_db()
    return target


def _rows(target: Campaign) -> dict[int, tuple[str, dt.datetime]]:
    tasks = OutreachTask.objects.filter(enrollment__rule=target.rule)
    return {pk: (status, due) for pk, status, due in tasks.values_list("pk", "status", "due_at")}


def _run(callbacks: list[Any]) -> None:
    for callback in callbacks:
        callback()


def test_a_pause_is_immediate_nothing_is_sent_before_the_job_and_the_job_holds_the_rows(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    target = _launched(django_capture_on_commit_callbacks)
    before = _rows(target)
    assert {status for status, _due in before.values()} == {TaskStatus.PENDING}

    # when the supervisor pauses (the job enqueued after commit has not run yet)
    with django_capture_on_commit_callbacks() as callbacks:
        campaign_pause(campaign=target)
    target.refresh_from_db()
    assert (target.status, target.work_pending) == (CampaignStatus.PAUSED, True)
    assert len(callbacks) == 1

    # then the dispatcher sends nothing of it, though its tasks are due and still pending
    counts = dispatch_due()
    assert counts["claimed"] == 0
    assert _rows(target) == before

    # the job holds the rows, and a second run of it changes nothing
    _run(callbacks)
    held = _rows(target)
    assert {status for status, _due in held.values()} == {TaskStatus.HELD}
    target.refresh_from_db()
    assert target.work_pending is False
    assert campaign_work_settle(campaign_id=target.pk) == 0
    _run(callbacks)
    assert _rows(target) == held


def test_a_paused_campaigns_calls_leave_the_agents_queue_at_the_decision(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    queue = staffed_queue("win-back", agents=1)
    agent = queue.members.get()
    rule = journey(
        steps=[{"channel": "call", "assignee_target": "win-back", "sla_minutes": 60, "name": "C"}]
    )
    target = campaign(rule=rule, segment=segment_with(customers(2)))
    with django_capture_on_commit_callbacks(execute=True):
        campaign_launch(campaign=target, launched_by=UserFactory(role=Role.SUPERVISOR))
    dispatch_due()  # releases the calls due today to the queue
    assert agent_queue(user=agent).count() == 2

    with django_capture_on_commit_callbacks() as callbacks:
        campaign_pause(campaign=target)
    assert agent_queue(user=agent).count() == 0
    _run(callbacks)
    assert agent_queue(user=agent).count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        campaign_resume(campaign=target)
    assert agent_queue(user=agent).count() == 2


def test_a_quick_pause_then_resume_before_any_job_ends_pending_and_moved_by_the_pause(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    target = _launched(django_capture_on_commit_callbacks, max_per_hour={"sms": 2})
    before = _rows(target)

    with django_capture_on_commit_callbacks() as paused:
        campaign_pause(campaign=target)
    frozen.shift(dt.timedelta(hours=2))
    dispatch_due()
    with django_capture_on_commit_callbacks() as resumed:
        campaign_resume(campaign=target)
    target.refresh_from_db()
    assert (target.status, target.work_pending) == (CampaignStatus.RUNNING, True)

    # the two jobs run late, in order: the first already finds the campaign running
    _run(paused + resumed)
    after = _rows(target)
    assert {status for status, _due in after.values()} == {TaskStatus.PENDING}
    assert {pk: after[pk][1] - due for pk, (_s, due) in before.items()} == dict.fromkeys(
        before, dt.timedelta(hours=2)
    )
    _run(paused + resumed)
    assert _rows(target) == after


def test_pause_job_then_resume_then_pause_again_moves_by_the_time_paused(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    target = _launched(django_capture_on_commit_callbacks)
    before = _rows(target)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_pause(campaign=target)
    frozen.shift(dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks() as resumed:
        campaign_resume(campaign=target)
    with django_capture_on_commit_callbacks() as paused_again:
        campaign_pause(campaign=target)
    _run(resumed + paused_again)
    assert {status for status, _due in _rows(target).values()} == {TaskStatus.HELD}
    frozen.shift(dt.timedelta(hours=3))
    with django_capture_on_commit_callbacks(execute=True):
        campaign_resume(campaign=target)
    after = _rows(target)
    assert {status for status, _due in after.values()} == {TaskStatus.PENDING}
    assert {after[pk][1] - due for pk, (_s, due) in before.items()} == {dt.timedelta(hours=4)}


def test_a_cancel_is_immediate_and_the_job_cancels_the_work_once(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    target = _launched(django_capture_on_commit_callbacks, recurrence="weekly", weekdays=[3])
    assert CampaignRun.objects.filter(campaign=target, status=CampaignRunStatus.PENDING).exists()
    with django_capture_on_commit_callbacks() as callbacks:
        campaign_cancel(campaign=target)
    target.refresh_from_db()
    assert (target.status, target.work_pending) == (CampaignStatus.CANCELLED, True)
    assert not CampaignRun.objects.filter(status=CampaignRunStatus.PENDING).exists()
    assert dispatch_due()["claimed"] == 0
    assert {status for status, _due in _rows(target).values()} == {TaskStatus.PENDING}

    _run(callbacks)
    done = _rows(target)
    assert {status for status, _due in done.values()} == {TaskStatus.CANCELLED}
    assert set(Enrollment.objects.values_list("status", "stop_reason")) == {
        (EnrollmentStatus.STOPPED, "campaign_cancelled")
    }
    _run(callbacks)
    assert _rows(target) == done
    with pytest.raises(ApplicationError):
        campaign_resume(campaign=target)


def test_a_decision_whose_job_was_lost_is_settled_by_the_periodic_pass(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    target = _launched(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks():  # the message is lost
        campaign_pause(campaign=target)
    assert campaigns_tick()["settled"] == 0  # a job may still be on its way
    frozen.shift(dt.timedelta(minutes=6))
    assert campaigns_tick()["settled"] == 1
    assert {status for status, _due in _rows(target).values()} == {TaskStatus.HELD}


def test_the_page_and_the_api_record_the_decision_and_show_it_until_the_job_ran(
    client: Client, frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(UserFactory(role=Role.SUPERVISOR))
    target = _launched(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("care-campaign-pause", args=[target.pk]))
    assert response.status_code == 302
    panel = client.get(reverse("care-campaign-progress", args=[target.pk])).content.decode()
    assert 'data-work-pending="paused"' in panel
    assert "Pausing…" in panel
    assert "hx-trigger" in panel
    _run(callbacks)
    panel = client.get(reverse("care-campaign-progress", args=[target.pk])).content.decode()
    assert "data-work-pending" not in panel

    with django_capture_on_commit_callbacks() as callbacks:
        answer = client.post(reverse("api-care-campaign-resume", args=[target.pk]))
    assert answer.status_code == 202
    assert (answer.json()["status"], answer.json()["work_pending"]) == ("running", True)
    panel = client.get(reverse("care-campaign-progress", args=[target.pk])).content.decode()
    assert "Resuming…" in panel
    _run(callbacks)
    detail = client.get(reverse("api-care-campaign", args=[target.pk])).json()
    assert detail["work_pending"] is False


def test_launching_an_empty_audience_is_refused_and_changes_nothing(
    client: Client, frozen: Any
) -> None:
    client.force_login(UserFactory(role=Role.SUPERVISOR))
    target = campaign(rule=journey(), segment=segment_with(customers(2)))
    SegmentMembership.objects.update(exited_at=timezone.now())
    before = Campaign.objects.values().get(pk=target.pk)

    preview = campaign_preview(campaign=target)
    assert (preview.members, preview.error) == (0, EMPTY)
    assert EMPTY in client.get(reverse("care-campaign", args=[target.pk])).content.decode()

    with pytest.raises(ApplicationError) as refused:
        campaign_launch(campaign=target, launched_by=UserFactory(role=Role.SUPERVISOR))
    assert (refused.value.message, refused.value.extra) == (EMPTY, {"field": "segment"})
    answer = client.post(reverse("api-care-campaign-launch", args=[target.pk]))
    assert answer.status_code == 400
    assert answer.json()["field"] == "segment"
    assert EMPTY in str(answer.json())
    page = client.post(reverse("care-campaign-launch", args=[target.pk]), follow=True)
    assert EMPTY in page.content.decode()
    assert Campaign.objects.values().get(pk=target.pk) == before
    assert not CampaignRun.objects.exists()


def test_a_recurring_run_that_finds_its_audience_empty_is_skipped_saying_why(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    target = _launched(django_capture_on_commit_callbacks, recurrence="weekly", weekdays=[3])
    SegmentMembership.objects.update(exited_at=timezone.now())
    frozen.shift(dt.timedelta(days=7))
    assert campaigns_tick()["runs_started"] == 1
    second = CampaignRun.objects.filter(campaign=target).order_by("scheduled_for")[1]
    assert (second.status, second.error, second.members) == (
        CampaignRunStatus.SKIPPED,
        EMPTY,
        0,
    )
    target.refresh_from_db()
    assert target.status == CampaignStatus.RUNNING
    assert CampaignRun.objects.filter(campaign=target, status=CampaignRunStatus.PENDING).exists()


def test_a_paused_campaigns_call_cannot_be_claimed_from_a_stale_screen(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    queue = staffed_queue("win-back", agents=1)
    agent = queue.members.get()
    rule = journey(
        steps=[{"channel": "call", "assignee_target": "win-back", "sla_minutes": 60, "name": "C"}]
    )
    target = campaign(rule=rule, segment=segment_with(customers(1)))
    with django_capture_on_commit_callbacks(execute=True):
        campaign_launch(campaign=target, launched_by=UserFactory(role=Role.SUPERVISOR))
    dispatch_due()
    task = agent_queue(user=agent).get()
    with django_capture_on_commit_callbacks():  # the job has not run yet
        campaign_pause(campaign=target)
    with pytest.raises(ApplicationError, match="paused or cancelled"):
        outreach_task_claim(task=task, user=agent)
    task.refresh_from_db()
    assert (task.status, task.assignee_id) == (TaskStatus.PENDING, None)


def test_a_due_run_waits_for_the_resume_to_settle_so_its_tasks_are_not_moved(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    target = _launched(django_capture_on_commit_callbacks, recurrence="weekly", weekdays=[3])
    OutreachTask.objects.update(status=TaskStatus.SENT, sent_at=timezone.now())
    enrollments_complete()  # the first run is over
    with django_capture_on_commit_callbacks(execute=True):
        campaign_pause(campaign=target)
    frozen.shift(dt.timedelta(days=7, minutes=1))
    with django_capture_on_commit_callbacks() as resumed:
        campaign_resume(campaign=target)
    assert campaigns_tick()["runs_started"] == 0
    _run(resumed)
    assert campaigns_tick()["runs_started"] == 1
    second = CampaignRun.objects.filter(campaign=target).order_by("scheduled_for")[1]
    new = OutreachTask.objects.filter(enrollment__campaign_member__run=second)
    assert new.count() == 4
    assert set(new.values_list("status", "due_at")) == {(TaskStatus.PENDING, timezone.now())}
