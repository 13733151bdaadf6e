"""The SLA sweep: breaches flagged set-based, each escalated once (reassign or notify
supervisors), audited; plus the Celery tasks and their beat schedule."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core import mail

from callcenter.choices import Role
from callcenter.models import AgentProfile, AuditLog
from callcenter.schedules import PERIODIC_TASKS
from care.choices import StepChannel
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.services.sla import sla_sweep
from outreach.tasks import dispatch_due_task, sla_sweep_task
from tests.callcenter.factories import UserFactory
from tests.outreach.factories import CallTaskFactory, QueueFactory, TaskFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 2, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def _late(**fields: Any) -> OutreachTask:
    return CallTaskFactory(due_at=NOW - 3 * HOUR, deadline_at=NOW - HOUR, **fields)


def _agent(name: str, **profile: Any) -> Any:
    user = UserFactory(username=name, role=Role.AGENT)
    if profile:
        AgentProfile.objects.create(user=user, **profile)
    return user


def test_breaches_are_flagged_once() -> None:
    late_call = _late()
    late_sms = TaskFactory(due_at=NOW - 3 * HOUR, deadline_at=NOW - HOUR)
    in_time = CallTaskFactory(due_at=NOW, deadline_at=NOW + HOUR)
    done = _late(status=TaskStatus.DONE)
    earlier = _late(breached_at=NOW - HOUR)

    assert sla_sweep()["breached"] == 2

    for task in (late_call, late_sms):
        task.refresh_from_db()
        assert task.breached_at == NOW
    for task in (in_time, done):
        task.refresh_from_db()
        assert task.breached_at is None
    earlier.refresh_from_db()
    assert earlier.breached_at == NOW - HOUR
    # an automated task is only flagged
    late_sms.refresh_from_db()
    assert late_sms.escalated_at is None
    assert sla_sweep()["breached"] == 0


def test_breach_is_reassigned_to_the_least_loaded_colleague_once() -> None:
    slow, busy, free = _agent("slow"), _agent("busy"), _agent("free")
    away = _agent("away", is_available=False)
    queue = QueueFactory(slug="general", members=[slow, busy, free, away])
    CallTaskFactory(assignee=busy, due_at=NOW)
    task = _late(assignee=slow, queue=queue)

    counts = sla_sweep()

    assert (counts["breached"], counts["reassigned"], counts["notified"]) == (1, 1, 0)
    task.refresh_from_db()
    assert (task.assignee_id, task.escalated_at, task.status) == (
        free.pk,
        NOW,
        TaskStatus.PENDING,
    )
    breach = AuditLog.objects.get(action="task.breach", object_id=str(task.pk))
    assert breach.data["escalation"] == "reassigned"
    assert (breach.data["from_assignee"], breach.data["to_assignee"]) == (slow.pk, free.pk)
    move = AuditLog.objects.get(action="task.reassign", object_id=str(task.pk))
    assert move.data["reason"] == "sla_breach"
    assert mail.outbox == []

    # escalated once: later sweeps leave it alone
    with time_machine.travel(NOW + HOUR, tick=False):
        assert sla_sweep()["reassigned"] == 0
    assert AuditLog.objects.filter(action="task.breach").count() == 1


def test_supervisor_queue_breach_notifies_supervisors() -> None:
    UserFactory(username="boss", role=Role.SUPERVISOR, email="boss@example.com")
    UserFactory(username="boss2", role=Role.SUPERVISOR, email="")
    supervisors = QueueFactory(slug="supervisors", name="Supervisors")
    first = _late(queue=supervisors)
    second = _late(queue=supervisors)

    counts = sla_sweep()

    assert (counts["reassigned"], counts["notified"]) == (0, 2)
    (message,) = mail.outbox
    assert message.to == ["boss@example.com"]
    assert "2" in message.subject
    assert f"#{first.pk}" in message.body
    assert f"#{second.pk}" in message.body
    entries = AuditLog.objects.filter(action="task.breach")
    assert {entry.data["escalation"] for entry in entries} == {"supervisors_notified"}
    first.refresh_from_db()
    assert (first.assignee_id, first.escalated_at) == (None, NOW)


def test_no_colleague_with_room_notifies_supervisors() -> None:
    UserFactory(username="boss", role=Role.SUPERVISOR, email="boss@example.com")
    alone = _agent("alone")
    full = _agent("full", daily_task_limit=1)
    queue = QueueFactory(slug="general", members=[alone, full])
    CallTaskFactory(assignee=full, due_at=NOW)
    task = _late(assignee=alone, queue=queue)
    assert sla_sweep()["notified"] == 1
    task.refresh_from_db()
    assert task.assignee_id == alone.pk
    assert len(mail.outbox) == 1


def test_celery_tasks_run_the_services(settings: Any) -> None:
    due = TaskFactory(channel=StepChannel.EMAIL, due_at=NOW, body="x")
    late = _late()
    assert dispatch_due_task.delay().get()["skipped"] == 1  # no email address
    assert sla_sweep_task.delay().get()["breached"] == 1
    due.refresh_from_db()
    late.refresh_from_db()
    assert due.status == TaskStatus.SKIPPED
    assert late.breached_at == NOW


def test_beat_runs_dispatch_and_sweep_every_minute() -> None:
    jobs = {job.task: job for job in PERIODIC_TASKS}
    for name in ("outreach.tasks.dispatch_due_task", "outreach.tasks.sla_sweep_task"):
        assert jobs[name].every_seconds == 60
        assert jobs[name].expire_seconds < 60
        assert jobs[name].queue == "outreach"
    assert dispatch_due_task.acks_late is True
    assert dispatch_due_task.reject_on_worker_lost is True


def test_a_step_can_ask_to_notify_supervisors_instead_of_reassigning() -> None:
    from care.choices import Escalation
    from tests.outreach.factories import CareStepFactory

    UserFactory(username="boss", role=Role.SUPERVISOR, email="boss@example.com")
    slow, free = _agent("slow"), _agent("free")
    queue = QueueFactory(slug="general", members=[slow, free])
    step = CareStepFactory(channel=StepChannel.CALL, escalation=Escalation.NOTIFY)
    task = _late(assignee=slow, queue=queue, step=step)

    counts = sla_sweep()

    assert (counts["reassigned"], counts["notified"]) == (0, 1)
    task.refresh_from_db()
    assert task.assignee_id == slow.pk
    assert len(mail.outbox) == 1
