"""Task services: idempotent bulk creation, assignment with capacity, cancel, manual tasks,
claim, complete (logging the call), reschedule, reassign with audit."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group

from callcenter.choices import Direction, InteractionChannel, Role
from callcenter.errors import ApplicationError
from callcenter.models import AgentProfile, AuditLog, Interaction
from care.choices import AssigneeRule, StepChannel, TouchKind
from care.models import CareSettings
from outreach.access import TaskAccessDenied
from outreach.choices import TaskOutcome, TaskStatus
from outreach.models import OutreachTask, Queue
from outreach.services.sla import sla_sweep
from outreach.services.tasks import (
    TaskSpec,
    outreach_task_claim,
    outreach_task_complete,
    outreach_task_create_manual,
    outreach_task_reschedule,
    outreach_tasks_cancel,
    outreach_tasks_create,
    outreach_tasks_reassign,
    outreach_tasks_retry,
)
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.outreach.factories import (
    CallTaskFactory,
    CareStepFactory,
    QueueFactory,
    TaskFactory,
    enrollment_with_step,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai (TIME_ZONE)


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def _spec(customer: Any, key: str, **fields: Any) -> TaskSpec:
    due = fields.pop("due_at", NOW)
    return TaskSpec(
        customer_id=customer.pk,
        channel=fields.pop("channel", StepChannel.CALL),
        due_at=due,
        deadline_at=fields.pop("deadline_at", due + dt.timedelta(hours=24)),
        idempotency_key=key,
        **fields,
    )


def _agent(username: str, **profile: Any) -> Any:
    user = UserFactory(username=username, role=Role.AGENT)
    if profile:
        AgentProfile.objects.create(user=user, **profile)
    return user


class TestCreate:
    def test_same_spec_twice_is_one_task(self) -> None:
        customer = CustomerFactory()
        spec = _spec(customer, "enr:1:step:1", channel=StepChannel.SMS, body="hi")
        first = outreach_tasks_create(specs=[spec, spec])
        again = outreach_tasks_create(specs=[spec])
        assert len(first) == 1
        assert first[0].pk == again[0].pk
        assert OutreachTask.objects.count() == 1

    def test_returns_tasks_in_spec_order_and_copies_fields(self) -> None:
        customer = CustomerFactory()
        enrollment, step = enrollment_with_step(customer=customer)
        specs = [
            _spec(
                customer,
                "b",
                channel=StepChannel.SMS,
                enrollment_id=enrollment.pk,
                step_id=step.pk,
                step_position=1,
                touch_kind=TouchKind.SERVICE,
                body="text",
                priority=3.5,
            ),
            _spec(customer, "a", channel=StepChannel.EMAIL, body="mail"),
        ]
        tasks = outreach_tasks_create(specs=specs)
        assert [task.idempotency_key for task in tasks] == ["b", "a"]
        sms = tasks[0]
        assert (sms.enrollment_id, sms.step_id, sms.step_position) == (enrollment.pk, step.pk, 1)
        assert (sms.touch_kind, sms.body, sms.priority) == (TouchKind.SERVICE, "text", 3.5)
        assert (sms.status, sms.assignee_id, sms.queue_id) == (TaskStatus.PENDING, None, None)
        # automated tasks are never gated: the dispatcher claims them when due
        assert sms.next_attempt_at is None

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"channel": "fax"}, "Unknown channel"),
            ({"deadline_at": NOW - dt.timedelta(minutes=1)}, "deadline"),
            ({"touch_kind": "spam"}, "touch kind"),
            ({"assignee_rule": "random"}, "assignee rule"),
        ],
    )
    def test_bad_spec_is_refused_and_nothing_is_created(self, fields: dict, message: str) -> None:
        customer = CustomerFactory()
        good = _spec(customer, "good")
        with pytest.raises(ApplicationError, match=message):
            outreach_tasks_create(specs=[good, _spec(customer, "bad", **fields)])
        assert not OutreachTask.objects.exists()

    def test_cancel_open_tasks_of_enrollments(self) -> None:
        customer = CustomerFactory()
        enrollment, _step = enrollment_with_step(customer=customer)
        other, _ = enrollment_with_step(customer=customer)
        pending = TaskFactory(customer=customer, enrollment=enrollment)
        claimed = CallTaskFactory(customer=customer, enrollment=enrollment, status="claimed")
        sent = TaskFactory(customer=customer, enrollment=enrollment, status=TaskStatus.SENT)
        untouched = TaskFactory(customer=customer, enrollment=other)

        assert outreach_tasks_cancel(enrollment_ids=[enrollment.pk], reason="ticket_resolved") == 2

        for task in (pending, claimed):
            task.refresh_from_db()
            assert (task.status, task.reason) == (TaskStatus.CANCELLED, "ticket_resolved")
        sent.refresh_from_db()
        untouched.refresh_from_db()
        assert sent.status == TaskStatus.SENT
        assert untouched.status == TaskStatus.PENDING


class TestAssignment:
    def test_advisor_rule_goes_to_the_advisor_and_falls_back_to_the_queue(self) -> None:
        advisor = _agent("advisor")
        busy_advisor = _agent("away", is_available=False)
        with_advisor = CustomerFactory(advisor=advisor)
        away = CustomerFactory(advisor=busy_advisor)
        without = CustomerFactory()
        rule = {"assignee_rule": AssigneeRule.ADVISOR, "assignee_target": "general"}
        tasks = outreach_tasks_create(
            specs=[
                _spec(with_advisor, "1", **rule),
                _spec(away, "2", **rule),
                _spec(without, "3", **rule),
            ]
        )
        assert [task.assignee_id for task in tasks] == [advisor.pk, None, None]
        assert {task.queue.slug for task in tasks} == {"general"}

    def test_queue_rule_waits_unassigned_in_the_queue(self) -> None:
        queue = QueueFactory(slug="senior", members=[_agent("a1")])
        (task,) = outreach_tasks_create(
            specs=[
                _spec(
                    CustomerFactory(),
                    "q",
                    assignee_rule=AssigneeRule.QUEUE,
                    assignee_target="senior",
                )
            ]
        )
        assert (task.assignee_id, task.queue_id) == (None, queue.pk)

    def test_unknown_queue_is_created_so_the_task_is_visible(self) -> None:
        (task,) = outreach_tasks_create(
            specs=[_spec(CustomerFactory(), "q", assignee_rule=AssigneeRule.QUEUE)]
        )
        assert task.queue.slug == "general"

    def test_least_loaded_member_of_a_queue(self) -> None:
        light, heavy = _agent("light"), _agent("heavy")
        off = _agent("off", is_available=False)
        QueueFactory(slug="senior", members=[light, heavy, off])
        CallTaskFactory(assignee=heavy, due_at=NOW)
        CallTaskFactory(assignee=light, due_at=NOW, status=TaskStatus.CANCELLED)  # no load
        rule = {"assignee_rule": AssigneeRule.LEAST_LOADED, "assignee_target": "senior"}
        tasks = outreach_tasks_create(
            specs=[_spec(CustomerFactory(), str(i), **rule) for i in range(3)]
        )
        # light (0) takes one, then both have one: lowest id first, then light again
        assert sorted(task.assignee_id for task in tasks).count(light.pk) == 2
        assert [task.assignee_id for task in tasks].count(heavy.pk) == 1
        assert off.pk not in {task.assignee_id for task in tasks}

    def test_least_loaded_member_of_a_group(self) -> None:
        supervisor = UserFactory(username="sup", role=Role.SUPERVISOR)
        (task,) = outreach_tasks_create(
            specs=[
                _spec(
                    CustomerFactory(),
                    "s",
                    assignee_rule=AssigneeRule.LEAST_LOADED,
                    assignee_target=Group.objects.get(name=Role.SUPERVISOR).name,
                )
            ]
        )
        assert task.assignee_id == supervisor.pk
        assert task.queue.slug == "supervisor"

    def test_daily_limit_leaves_the_lowest_value_tasks_waiting(self) -> None:
        agent = _agent("capped", daily_task_limit=2)
        QueueFactory(slug="general", members=[agent])
        rule = {"assignee_rule": AssigneeRule.LEAST_LOADED, "assignee_target": "general"}
        values = [10.0, 500.0, 50.0, 900.0]
        tasks = outreach_tasks_create(
            specs=[
                _spec(CustomerFactory(), f"v{value}", priority=value, **rule) for value in values
            ]
        )
        assigned = {task.priority: task.assignee_id for task in tasks}
        assert assigned == {10.0: None, 500.0: agent.pk, 50.0: None, 900.0: agent.pk}
        # the limit is per day: tasks due tomorrow fit again
        tomorrow = NOW + dt.timedelta(days=1)
        (later,) = outreach_tasks_create(
            specs=[_spec(CustomerFactory(), "t", due_at=tomorrow, **rule)]
        )
        assert later.assignee_id == agent.pk

    def test_care_default_limit_counts_work_done_today_and_overdue_work(self) -> None:
        settings = CareSettings.load()
        settings.agent_daily_limit = 3
        settings.save()
        agent = _agent("a")
        QueueFactory(slug="general", members=[agent])
        CallTaskFactory(assignee=agent, status=TaskStatus.DONE, completed_at=NOW)
        CallTaskFactory(assignee=agent, due_at=NOW - dt.timedelta(days=2))  # overdue, open
        CallTaskFactory(
            assignee=agent,
            status=TaskStatus.DONE,
            completed_at=NOW - dt.timedelta(days=1),  # yesterday's work
            due_at=NOW - dt.timedelta(days=1),
        )
        rule = {"assignee_rule": AssigneeRule.LEAST_LOADED, "assignee_target": "general"}
        tasks = outreach_tasks_create(
            specs=[_spec(CustomerFactory(), str(i), **rule) for i in range(2)]
        )
        assert [task.assignee_id for task in tasks].count(agent.pk) == 1

    def test_waiting_tasks_are_assigned_highest_value_first_when_room_appears(self) -> None:
        agent = _agent("a", daily_task_limit=1)
        QueueFactory(slug="general", members=[agent])
        step = CareStepFactory(
            channel=StepChannel.CALL,
            assignee_rule=AssigneeRule.LEAST_LOADED,
            assignee_target="general",
        )
        rule = {
            "assignee_rule": AssigneeRule.LEAST_LOADED,
            "assignee_target": "general",
            "step_id": step.pk,
        }
        first, low, high = outreach_tasks_create(
            specs=[
                _spec(CustomerFactory(), "first", priority=100.0, **rule),
                _spec(CustomerFactory(), "low", priority=1.0, **rule),
                _spec(CustomerFactory(), "high", priority=80.0, **rule),
            ]
        )
        assert (first.assignee_id, low.assignee_id, high.assignee_id) == (agent.pk, None, None)

        # a sweep today finds no room
        assert sla_sweep()["assigned"] == 0

        # the next morning the agent has room for one: the higher-value task goes first
        OutreachTask.objects.filter(pk=first.pk).update(status=TaskStatus.DONE, completed_at=NOW)
        with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
            assert sla_sweep()["assigned"] == 1
        high.refresh_from_db()
        low.refresh_from_db()
        assert (high.assignee_id, low.assignee_id) == (agent.pk, None)


class TestManual:
    def test_supervisor_schedules_a_call_for_an_agent(self) -> None:
        supervisor = UserFactory(username="sup", role=Role.SUPERVISOR)
        agent = _agent("a")
        task = outreach_task_create_manual(
            customer=CustomerFactory(),
            created_by=supervisor,
            due_at=NOW + dt.timedelta(hours=1),
            assignee=agent,
            body="Explain the refund",
        )
        assert (task.channel, task.assignee_id, task.created_by_id) == (
            StepChannel.CALL,
            agent.pk,
            supervisor.pk,
        )
        assert task.deadline_at == task.due_at + dt.timedelta(hours=2)
        assert task.idempotency_key.startswith("manual:")

    def test_supervisor_without_assignee_lands_in_the_general_queue(self) -> None:
        supervisor = UserFactory(username="sup", role=Role.SUPERVISOR)
        task = outreach_task_create_manual(
            customer=CustomerFactory(), created_by=supervisor, due_at=NOW
        )
        assert (task.assignee_id, task.queue.slug) == (None, "general")

    def test_agent_schedules_a_callback_for_themselves(self) -> None:
        agent = _agent("a")
        task = outreach_task_create_manual(
            customer=CustomerFactory(), created_by=agent, due_at=NOW + dt.timedelta(hours=3)
        )
        assert task.assignee_id == agent.pk
        assert task.touch_kind == TouchKind.SERVICE

    @pytest.mark.parametrize("what", ["other_agent", "sms", "foreign_queue"])
    def test_agent_limits(self, what: str) -> None:
        agent = _agent("a")
        kwargs: dict[str, Any] = {}
        if what == "other_agent":
            kwargs["assignee"] = _agent("b")
        elif what == "sms":
            kwargs.update(channel=StepChannel.SMS, body="hello")
        else:
            kwargs["queue"] = QueueFactory(slug="vip")
        with pytest.raises(TaskAccessDenied):
            outreach_task_create_manual(
                customer=CustomerFactory(), created_by=agent, due_at=NOW, **kwargs
            )

    def test_user_without_role_cannot_schedule(self) -> None:
        with pytest.raises(TaskAccessDenied):
            outreach_task_create_manual(
                customer=CustomerFactory(), created_by=UserFactory(username="x"), due_at=NOW
            )


class TestWork:
    def test_claim_complete_logs_an_outbound_call(self) -> None:
        agent = _agent("a")
        queue = QueueFactory(slug="general", members=[agent])
        task = CallTaskFactory(queue=queue)

        task = outreach_task_claim(task=task, user=agent)
        assert (task.status, task.assignee_id, task.claimed_by) == (
            TaskStatus.CLAIMED,
            agent.pk,
            f"user:{agent.pk}",
        )
        assert outreach_task_claim(task=task, user=agent).claimed_at == NOW  # idempotent

        task = outreach_task_complete(
            task=task, user=agent, outcome=TaskOutcome.REACHED, notes="客户很满意，谢谢"
        )
        assert (task.status, task.outcome, task.completed_at) == (
            TaskStatus.DONE,
            TaskOutcome.REACHED,
            NOW,
        )
        interaction = Interaction.objects.get(customer=task.customer)
        assert interaction.channel == InteractionChannel.CALL
        assert interaction.direction == Direction.OUTBOUND
        assert interaction.agent_id == agent.pk
        assert interaction.outcome == TaskOutcome.REACHED
        assert interaction.notes == "客户很满意，谢谢"

        with pytest.raises(ApplicationError, match="no longer be worked"):
            outreach_task_complete(task=task, user=agent, outcome=TaskOutcome.REACHED)
        assert Interaction.objects.count() == 1

    def test_agent_cannot_work_a_colleagues_task_or_a_foreign_queue(self) -> None:
        agent, colleague = _agent("a"), _agent("b")
        queue = QueueFactory(slug="general", members=[agent, colleague])
        theirs = CallTaskFactory(queue=queue, assignee=colleague)
        foreign = CallTaskFactory(queue=QueueFactory(slug="vip"))
        for task in (theirs, foreign):
            with pytest.raises(TaskAccessDenied):
                outreach_task_claim(task=task, user=agent)
            with pytest.raises(TaskAccessDenied):
                outreach_task_complete(task=task, user=agent, outcome=TaskOutcome.REACHED)
        assert not Interaction.objects.exists()

    def test_supervisor_may_take_any_task(self) -> None:
        supervisor = UserFactory(username="sup", role=Role.SUPERVISOR)
        task = CallTaskFactory(assignee=_agent("a"))
        assert outreach_task_claim(task=task, user=supervisor).assignee_id == supervisor.pk

    def test_automated_tasks_are_not_worked_by_people(self) -> None:
        supervisor = UserFactory(username="sup", role=Role.SUPERVISOR)
        with pytest.raises(ApplicationError, match="Only call tasks"):
            outreach_task_claim(task=TaskFactory(), user=supervisor)

    def test_reschedule_closes_the_call_and_books_the_callback(self) -> None:
        agent = _agent("a")
        task = CallTaskFactory(assignee=agent, due_at=NOW, deadline_at=NOW + dt.timedelta(hours=4))
        callback_at = NOW + dt.timedelta(days=1)

        callback = outreach_task_reschedule(
            task=task, user=agent, callback_at=callback_at, notes="请明天下午再打"
        )

        task.refresh_from_db()
        assert (task.status, task.outcome) == (TaskStatus.DONE, TaskOutcome.CALLBACK_REQUESTED)
        assert (callback.due_at, callback.deadline_at, callback.callback_at) == (
            callback_at,
            callback_at + dt.timedelta(hours=4),
            callback_at,
        )
        assert (callback.assignee_id, callback.status, callback.touch_kind) == (
            agent.pk,
            TaskStatus.PENDING,
            TouchKind.SERVICE,
        )
        assert f"#{task.pk}" in callback.notes
        assert "请明天下午再打" in callback.notes
        assert Interaction.objects.filter(outcome=TaskOutcome.CALLBACK_REQUESTED).count() == 1
        with pytest.raises(ApplicationError):
            outreach_task_reschedule(task=task, user=agent, callback_at=callback_at)

    def test_reschedule_into_the_past_is_refused(self) -> None:
        agent = _agent("a")
        task = CallTaskFactory(assignee=agent)
        with pytest.raises(ApplicationError, match="past"):
            outreach_task_reschedule(
                task=task, user=agent, callback_at=NOW - dt.timedelta(minutes=5)
            )
        task.refresh_from_db()
        assert task.status == TaskStatus.PENDING


class TestReassign:
    def test_supervisor_moves_tasks_with_an_audit_entry_each(self) -> None:
        supervisor = UserFactory(username="sup", role=Role.SUPERVISOR)
        old, new = _agent("old"), _agent("new")
        claimed = CallTaskFactory(
            assignee=old, status=TaskStatus.CLAIMED, claimed_at=NOW, claimed_by="user:1"
        )
        pending = CallTaskFactory(assignee=old)
        done = CallTaskFactory(assignee=old, status=TaskStatus.DONE)
        sms = TaskFactory()

        moved = outreach_tasks_reassign(
            task_ids=[claimed.pk, pending.pk, done.pk, sms.pk], by=supervisor, assignee=new
        )

        assert sorted(moved) == sorted([claimed.pk, pending.pk])
        claimed.refresh_from_db()
        assert (claimed.assignee_id, claimed.status, claimed.claimed_by) == (
            new.pk,
            TaskStatus.PENDING,
            "",
        )
        entries = AuditLog.objects.filter(action="task.reassign").order_by("object_id")
        assert [entry.object_id for entry in entries] == sorted([str(claimed.pk), str(pending.pk)])
        assert all(entry.actor_id == supervisor.pk for entry in entries)
        assert entries[0].data["from_assignee"] == old.pk
        assert entries[0].data["to_assignee"] == new.pk

    def test_back_to_a_queue(self) -> None:
        supervisor = UserFactory(username="sup", role=Role.SUPERVISOR)
        queue = QueueFactory(slug="senior")
        task = CallTaskFactory(assignee=_agent("a"))
        outreach_tasks_reassign(task_ids=[task.pk], by=supervisor, queue=queue)
        task.refresh_from_db()
        assert (task.assignee_id, task.queue_id) == (None, queue.pk)

    def test_agents_may_not_reassign(self) -> None:
        agent = _agent("a")
        task = CallTaskFactory(assignee=agent)
        with pytest.raises(TaskAccessDenied):
            outreach_tasks_reassign(task_ids=[task.pk], by=agent, assignee=_agent("b"))
        assert not AuditLog.objects.filter(action="task.reassign").exists()

    def test_only_staff_can_receive_tasks(self) -> None:
        supervisor = UserFactory(username="sup", role=Role.SUPERVISOR)
        task = CallTaskFactory()
        with pytest.raises(ApplicationError, match="no call-center role"):
            outreach_tasks_reassign(
                task_ids=[task.pk], by=supervisor, assignee=UserFactory(username="nobody")
            )


def test_retry_failed_messages_that_never_reached_the_provider() -> None:
    failed = TaskFactory(status=TaskStatus.FAILED, attempts=5, last_error="HTTP 500")
    receipt_failed = TaskFactory(status=TaskStatus.FAILED, provider_message_id="msg-1")
    assert outreach_tasks_retry(task_ids=[failed.pk, receipt_failed.pk]) == 1
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (TaskStatus.PENDING, 0)
    assert Queue.objects.count() == 0
