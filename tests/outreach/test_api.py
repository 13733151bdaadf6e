"""The outreach API: agent queue ordering, object-level permissions, claim / complete /
reschedule, reassign, manual tasks, filters, supervisor overview and query counts."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from callcenter.choices import Role
from callcenter.models import AgentProfile, AuditLog, Interaction
from care.choices import StepChannel
from outreach.choices import TaskOutcome, TaskStatus
from outreach.models import OutreachTask
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.outreach.factories import CallTaskFactory, QueueFactory, TaskFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 2, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
TASKS = reverse("api-outreach-tasks")
MY_QUEUE = reverse("api-outreach-my-queue")


def _url(name: str, task: OutreachTask) -> str:
    return reverse(f"api-outreach-task-{name}", args=[task.pk])


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def team(db: None) -> dict[str, Any]:
    """Two agents sharing the general queue, a third in another queue, a supervisor."""
    agent = UserFactory(username="agent", role=Role.AGENT)
    colleague = UserFactory(username="colleague", role=Role.AGENT)
    stranger = UserFactory(username="stranger", role=Role.AGENT)
    general = QueueFactory(slug="general", name="General", members=[agent, colleague])
    vip = QueueFactory(slug="vip", name="VIP", members=[stranger])
    supervisor = UserFactory(username="boss", role=Role.SUPERVISOR)
    return {
        "agent": agent,
        "colleague": colleague,
        "stranger": stranger,
        "general": general,
        "vip": vip,
        "supervisor": supervisor,
    }


def _as(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


class TestMyQueue:
    def test_overdue_first_then_by_deadline_only_mine_and_my_queues(
        self, team: dict[str, Any]
    ) -> None:
        agent, general = team["agent"], team["general"]
        due = NOW - HOUR
        soon = CallTaskFactory(assignee=agent, due_at=due, deadline_at=NOW + 2 * HOUR)
        overdue_late = CallTaskFactory(queue=general, due_at=due - HOUR, deadline_at=NOW - HOUR)
        overdue_early = CallTaskFactory(
            assignee=agent, due_at=due - 2 * HOUR, deadline_at=NOW - 2 * HOUR
        )
        later = CallTaskFactory(queue=general, due_at=due, deadline_at=NOW + 5 * HOUR)
        # not in my queue: a colleague's, another queue's, not due yet, gated, done, an SMS
        CallTaskFactory(queue=general, assignee=team["colleague"], due_at=due)
        CallTaskFactory(queue=team["vip"], due_at=due)
        CallTaskFactory(assignee=agent, due_at=NOW + HOUR)
        CallTaskFactory(assignee=agent, due_at=due, next_attempt_at=due)
        CallTaskFactory(assignee=agent, due_at=due, status=TaskStatus.DONE)
        TaskFactory(due_at=due)

        response = _as(agent).get(MY_QUEUE)

        assert response.status_code == 200
        rows = response.json()
        assert [row["id"] for row in rows] == [
            overdue_early.pk,
            overdue_late.pk,
            soon.pk,
            later.pk,
        ]
        assert rows[0]["is_overdue"] is True
        assert rows[0]["seconds_to_deadline"] == -7200
        assert rows[2]["seconds_to_deadline"] == 7200
        assert rows[1]["queue"]["slug"] == "general"
        assert rows[0]["customer"]["name"] == overdue_early.customer.name

    def test_no_n_plus_one(
        self, team: dict[str, Any], django_assert_num_queries: Callable[..., Any]
    ) -> None:
        agent = team["agent"]
        client = _as(agent)
        CallTaskFactory(assignee=agent, due_at=NOW - HOUR)
        client.get(MY_QUEUE)  # warm the role lookup cache of this user object
        for _ in range(10):
            CallTaskFactory(queue=team["general"], due_at=NOW - HOUR)
        # savepoint, the queue query, release (the role lookup is cached on the user)
        with django_assert_num_queries(3):
            assert len(client.get(MY_QUEUE).json()) == 11


class TestPermissions:
    def test_agent_sees_own_and_queue_tasks_only(self, team: dict[str, Any]) -> None:
        mine = CallTaskFactory(assignee=team["agent"])
        queued = CallTaskFactory(queue=team["general"], assignee=team["colleague"])
        CallTaskFactory(queue=team["vip"])
        TaskFactory()

        ids = {row["id"] for row in _as(team["agent"]).get(TASKS).json()["results"]}
        assert ids == {mine.pk, queued.pk}
        assert len(_as(team["supervisor"]).get(TASKS).json()["results"]) == 4

    def test_foreign_task_is_404_and_colleagues_task_is_403(self, team: dict[str, Any]) -> None:
        client = _as(team["agent"])
        foreign = CallTaskFactory(queue=team["vip"])
        colleagues = CallTaskFactory(queue=team["general"], assignee=team["colleague"])
        for name in ("claim", "complete", "reschedule"):
            payload = {"outcome": "reached", "callback_at": (NOW + HOUR).isoformat()}
            assert client.post(_url(name, foreign), payload).status_code == 404
            assert client.post(_url(name, colleagues), payload).status_code == 403
        assert client.get(reverse("api-outreach-task", args=[foreign.pk])).status_code == 404
        assert not Interaction.objects.exists()
        colleagues.refresh_from_db()
        assert colleagues.status == TaskStatus.PENDING

    @pytest.mark.parametrize("url", [TASKS, MY_QUEUE])
    def test_anonymous_and_roleless_users_are_refused(self, url: str) -> None:
        assert APIClient().get(url).status_code == 403
        assert _as(UserFactory(username="nobody")).get(url).status_code == 403

    def test_overview_and_reassign_are_for_supervisors(self, team: dict[str, Any]) -> None:
        client = _as(team["agent"])
        assert client.get(reverse("api-outreach-queues")).status_code == 403
        task = CallTaskFactory(assignee=team["agent"])
        response = client.post(
            reverse("api-outreach-tasks-reassign"),
            {"task_ids": [task.pk], "assignee": team["colleague"].pk},
            format="json",
        )
        assert response.status_code == 403


class TestWorkflow:
    def test_claim_then_complete_logs_the_call(self, team: dict[str, Any]) -> None:
        client = _as(team["agent"])
        task = CallTaskFactory(queue=team["general"], due_at=NOW - HOUR)

        claimed = client.post(_url("claim", task))
        assert claimed.status_code == 200
        assert claimed.json()["status"] == TaskStatus.CLAIMED
        assert claimed.json()["assignee"]["id"] == team["agent"].pk
        # the colleague cannot take it any more
        assert _as(team["colleague"]).post(_url("claim", task)).status_code == 403

        done = client.post(
            _url("complete", task), {"outcome": "converted", "notes": "Upgraded the plan"}
        )
        assert done.status_code == 200
        assert (done.json()["status"], done.json()["outcome"]) == ("done", "converted")
        interaction = Interaction.objects.get()
        assert (interaction.agent_id, interaction.notes) == (team["agent"].pk, "Upgraded the plan")

    def test_detail_shows_the_skip_reason_readably(self, team: dict[str, Any]) -> None:
        task = CallTaskFactory(
            assignee=team["agent"], status=TaskStatus.SKIPPED, reason="do_not_contact"
        )
        body = _as(team["agent"]).get(reverse("api-outreach-task", args=[task.pk])).json()
        assert (body["reason"], body["reason_display"]) == (
            "do_not_contact",
            "Customer is marked do-not-contact",
        )

    def test_complete_needs_a_known_outcome(self, team: dict[str, Any]) -> None:
        task = CallTaskFactory(assignee=team["agent"])
        response = _as(team["agent"]).post(_url("complete", task), {"outcome": "maybe"})
        assert response.status_code == 400

    def test_reschedule_returns_the_callback(self, team: dict[str, Any]) -> None:
        task = CallTaskFactory(assignee=team["agent"], due_at=NOW - HOUR)
        callback_at = NOW + 26 * HOUR
        response = _as(team["agent"]).post(
            _url("reschedule", task),
            {"callback_at": callback_at.isoformat(), "notes": "busy", "outcome": "no_answer"},
        )
        assert response.status_code == 201
        body = response.json()
        assert body["id"] != task.pk
        assert dt.datetime.fromisoformat(body["due_at"]) == callback_at
        task.refresh_from_db()
        assert task.outcome == TaskOutcome.NO_ANSWER

    def test_supervisor_reassigns_in_bulk(self, team: dict[str, Any]) -> None:
        tasks = [CallTaskFactory(assignee=team["agent"]) for _ in range(3)]
        closed = CallTaskFactory(assignee=team["agent"], status=TaskStatus.DONE)
        response = _as(team["supervisor"]).post(
            reverse("api-outreach-tasks-reassign"),
            {
                "task_ids": [t.pk for t in tasks] + [closed.pk, 999999],
                "assignee": team["colleague"].pk,
                "reason": "agent sick",
            },
            format="json",
        )
        assert response.status_code == 200
        assert sorted(response.json()["reassigned"]) == sorted(t.pk for t in tasks)
        assert response.json()["not_reassigned"] == [closed.pk, 999999]
        assert set(
            OutreachTask.objects.filter(pk__in=[t.pk for t in tasks]).values_list(
                "assignee_id", flat=True
            )
        ) == {team["colleague"].pk}
        assert AuditLog.objects.filter(action="task.reassign").count() == 3


class TestManualTasks:
    def test_agent_books_a_callback_for_themselves(self, team: dict[str, Any]) -> None:
        customer = CustomerFactory()
        response = _as(team["agent"]).post(
            TASKS,
            {"customer": customer.pk, "due_at": (NOW + HOUR).isoformat(), "body": "回电"},
            format="json",
        )
        assert response.status_code == 201
        body = response.json()
        assert (body["assignee"]["id"], body["channel"]) == (team["agent"].pk, "call")

    def test_agent_cannot_schedule_for_a_colleague(self, team: dict[str, Any]) -> None:
        response = _as(team["agent"]).post(
            TASKS,
            {
                "customer": CustomerFactory().pk,
                "due_at": NOW.isoformat(),
                "assignee": team["colleague"].pk,
            },
            format="json",
        )
        assert response.status_code == 403
        assert not OutreachTask.objects.exists()

    def test_supervisor_schedules_an_sms(self, team: dict[str, Any]) -> None:
        response = _as(team["supervisor"]).post(
            TASKS,
            {
                "customer": CustomerFactory().pk,
                "due_at": NOW.isoformat(),
                "channel": "sms",
                "body": "Your parcel is on its way",
            },
            format="json",
        )
        assert response.status_code == 201
        assert response.json()["channel"] == StepChannel.SMS


class TestListAndOverview:
    def test_filters(self, team: dict[str, Any]) -> None:
        agent = team["agent"]
        breached = CallTaskFactory(assignee=agent, breached_at=NOW)
        done = CallTaskFactory(assignee=agent, status=TaskStatus.DONE)
        tomorrow = CallTaskFactory(assignee=agent, due_at=NOW + 24 * HOUR)
        sms = TaskFactory(status=TaskStatus.FAILED)
        client = _as(team["supervisor"])

        def ids(**params: Any) -> set[int]:
            return {row["id"] for row in client.get(TASKS, params).json()["results"]}

        assert ids(breached="true") == {breached.pk}
        assert ids(breached="false") == {done.pk, tomorrow.pk, sms.pk}
        assert ids(status="done") == {done.pk}
        assert ids(status=["done", "failed"]) == {done.pk, sms.pk}
        assert ids(channel="sms") == {sms.pk}
        assert ids(agent=agent.pk, due_after=(NOW + HOUR).isoformat()) == {tomorrow.pk}
        assert ids(due_before=(NOW + HOUR).isoformat(), channel="call") == {breached.pk, done.pk}

    def test_list_has_no_n_plus_one(
        self, team: dict[str, Any], django_assert_num_queries: Callable[..., Any]
    ) -> None:
        client = _as(team["agent"])
        client.get(TASKS)
        for _ in range(12):
            CallTaskFactory(queue=team["general"])
        # savepoint, the page query, release (the role lookup is cached on the user)
        with django_assert_num_queries(3):
            assert len(client.get(TASKS).json()["results"]) == 12

    def test_supervisor_overview_counts(self, team: dict[str, Any]) -> None:
        AgentProfile.objects.create(user=team["colleague"], daily_task_limit=7)
        general = team["general"]
        CallTaskFactory(queue=general, deadline_at=NOW - HOUR, due_at=NOW - 2 * HOUR)
        CallTaskFactory(
            queue=general,
            assignee=team["colleague"],
            due_at=NOW - 3 * HOUR,
            deadline_at=NOW - 2 * HOUR,
            breached_at=NOW - HOUR,
        )
        CallTaskFactory(queue=general, due_at=NOW + HOUR)
        CallTaskFactory(queue=general, status=TaskStatus.DONE)

        response = _as(team["supervisor"]).get(reverse("api-outreach-queues"))

        assert response.status_code == 200
        queues = {row["slug"]: row for row in response.json()["queues"]}
        assert queues["general"] == {
            "id": general.pk,
            "slug": "general",
            "name": "General",
            "members_count": 2,
            "open": 3,
            "unassigned": 2,
            "due": 2,
            "overdue": 2,
            "breached": 1,
        }
        assert queues["vip"]["open"] == 0
        agents = {row["username"]: row for row in response.json()["agents"]}
        assert agents["colleague"]["open"] == 1
        assert agents["colleague"]["breached"] == 1
        assert agents["colleague"]["daily_limit"] == 7
        assert agents["colleague"]["today_load"] == 1
        assert agents["agent"]["daily_limit"] == 40
