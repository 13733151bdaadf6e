"""My queue and the queue board: who sees which calls, completing and rescheduling a call,
bulk reassignment by supervisors, role boundaries and the pages' query counts."""

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role
from callcenter.models import AuditLog, Interaction
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.outreach.factories import CallTaskFactory, QueueFactory

# The request's savepoint and its release (2); session, user and roles (3); due calls and
# own later calls (2).
MY_QUEUE_QUERIES = 7
# Savepoint and release (2); session, user and roles (3); the tasks page: count and rows (2);
# queue overview (2); agent overview with capacity (counts, members, care settings, agent
# profiles, active users, loads, users: 7); the agent filter, the reassign form's agents and
# queues (3); the service app's tickets needing attention (counts by assignee, rows: 2).
BOARD_QUERIES = 21


@pytest.fixture
def agent(db: None) -> Any:
    return UserFactory(role=Role.AGENT, username="q_agent")


@pytest.fixture
def colleague(db: None) -> Any:
    return UserFactory(role=Role.AGENT, username="q_colleague")


@pytest.fixture
def supervisor(db: None) -> Any:
    return UserFactory(role=Role.SUPERVISOR, username="q_supervisor")


def _as(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def _late(**kwargs: Any) -> OutreachTask:
    due = timezone.now() - dt.timedelta(hours=3)
    return CallTaskFactory(due_at=due, deadline_at=due + dt.timedelta(hours=1), **kwargs)


def test_my_queue_lists_own_and_queue_calls_overdue_first(
    client: Client, agent: Any, colleague: Any
) -> None:
    queue = QueueFactory(slug="vip", members=[agent])
    on_time = CallTaskFactory(
        assignee=agent, customer=CustomerFactory(name="Soon"), body="Script A"
    )
    overdue = _late(assignee=agent, customer=CustomerFactory(name="Late"))
    pooled = CallTaskFactory(queue=queue, customer=CustomerFactory(name="Pooled"))
    CallTaskFactory(assignee=colleague, customer=CustomerFactory(name="Someone else's"))
    later = CallTaskFactory(
        assignee=agent,
        customer=CustomerFactory(name="Tomorrow"),
        due_at=timezone.now() + dt.timedelta(days=1),
        deadline_at=timezone.now() + dt.timedelta(days=1, hours=2),
    )

    response = _as(client, agent).get(reverse("my-queue"))

    html = response.content.decode()
    assert response.status_code == 200
    rows = [row["task"] for row in response.context["rows"]]
    assert rows[0] == overdue
    assert set(rows) == {overdue, on_time, pooled}
    assert response.context["upcoming"] == [later]
    assert "Someone else&#x27;s" not in html
    assert "Script A" in html
    assert 'data-deadline="' in html
    assert "js/desk/countdown.js" in html


def test_completing_a_call_logs_it_and_closes_the_task(client: Client, agent: Any) -> None:
    task = _late(assignee=agent)

    response = _as(client, agent).post(
        reverse("my-queue-complete", args=[task.pk]),
        {"outcome": "reached", "notes": "Happy now"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "row-done" in response.content.decode()
    task.refresh_from_db()
    assert (task.status, task.outcome) == (TaskStatus.DONE, "reached")
    assert Interaction.objects.get(customer=task.customer).agent == agent


def _counts(html: str) -> str:
    """The text of the queue's header counts (the page's or an answer's out-of-band copy)."""
    start = html.index(">", html.index('id="queue-counts"')) + 1
    return " ".join(html[start : html.index("</div>", start)].split())


def test_working_a_call_sends_the_header_counts_along_out_of_band(
    client: Client, agent: Any
) -> None:
    first, second = _late(assignee=agent), _late(assignee=agent)
    CallTaskFactory(assignee=agent)  # due, not overdue yet
    client = _as(client, agent)
    assert "3 calls due" in _counts(client.get(reverse("my-queue")).content.decode())
    assert "2 overdue" in _counts(client.get(reverse("my-queue")).content.decode())

    done = client.post(
        reverse("my-queue-complete", args=[first.pk]),
        {"outcome": "reached"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    later = timezone.localtime() + dt.timedelta(days=1)
    rescheduled = client.post(
        reverse("my-queue-reschedule", args=[second.pk]),
        {"callback_at": later.strftime("%Y-%m-%dT%H:%M"), "outcome": "no_answer"},
        HTTP_HX_REQUEST="true",
    ).content.decode()

    # The row comes first (htmx swaps it in), then the counts, in a template, out of band.
    assert done.index(f'id="task-{first.pk}"') < done.index("<template>")
    assert 'id="queue-counts" data-testid="queue-counts" hx-swap-oob="true"' in done
    assert "2 calls due" in _counts(done)
    assert "1 overdue" in _counts(done)
    assert "1 call due" in _counts(rescheduled)
    assert "overdue" not in _counts(rescheduled)
    assert _counts(rescheduled) == _counts(client.get(reverse("my-queue")).content.decode())


def test_the_last_call_done_leaves_no_calls_due_badge(client: Client, agent: Any) -> None:
    task = _late(assignee=agent)
    client = _as(client, agent)

    answer = client.post(
        reverse("my-queue-complete", args=[task.pk]),
        {"outcome": "reached"},
        HTTP_HX_REQUEST="true",
    ).content.decode()

    assert "due" not in _counts(answer)
    assert "due" not in _counts(client.get(reverse("my-queue")).content.decode())


def test_refused_input_sends_the_counts_unchanged(client: Client, agent: Any) -> None:
    task = _late(assignee=agent)

    answer = _as(client, agent).post(
        reverse("my-queue-complete", args=[task.pk]), {"outcome": "bogus"}, HTTP_HX_REQUEST="true"
    )

    assert answer.status_code == 422
    assert "1 call due" in _counts(answer.content.decode())


def test_the_header_counts_every_due_call_beyond_the_rows_listed(
    client: Client, agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("outreach.views.queue.MY_QUEUE_LIMIT", 2)
    for _ in range(3):
        _late(assignee=agent)

    response = _as(client, agent).get(reverse("my-queue"))

    assert len(response.context["rows"]) == 2
    assert "3 calls due" in _counts(response.content.decode())
    assert "3 overdue" in _counts(response.content.decode())


def test_completing_without_an_outcome_shows_the_error_and_changes_nothing(
    client: Client, agent: Any
) -> None:
    task = _late(assignee=agent)

    response = _as(client, agent).post(
        reverse("my-queue-complete", args=[task.pk]), {"outcome": "bogus"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 422
    assert "field-error" in response.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING


def test_rescheduling_closes_the_call_and_books_a_callback(client: Client, agent: Any) -> None:
    task = _late(assignee=agent)
    when = timezone.localtime() + dt.timedelta(days=1)

    response = _as(client, agent).post(
        reverse("my-queue-reschedule", args=[task.pk]),
        {"callback_at": when.strftime("%Y-%m-%dT%H:%M"), "outcome": "no_answer"},
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.outcome) == (TaskStatus.DONE, "no_answer")
    callback = OutreachTask.objects.get(idempotency_key=f"callback:{task.pk}")
    assert callback.assignee == agent
    assert abs(callback.due_at - when) < dt.timedelta(minutes=1)


def test_a_colleagues_task_is_not_found_and_a_queue_task_they_hold_is_refused(
    client: Client, agent: Any, colleague: Any
) -> None:
    queue = QueueFactory(slug="shared", members=[agent, colleague])
    hidden = _late(assignee=colleague)
    held = _late(assignee=colleague, queue=queue)
    client = _as(client, agent)

    missing = client.post(reverse("my-queue-complete", args=[hidden.pk]), {"outcome": "reached"})
    refused = client.post(reverse("my-queue-complete", args=[held.pk]), {"outcome": "reached"})

    assert missing.status_code == 404
    assert refused.status_code == 403
    assert not Interaction.objects.exists()


def test_my_queue_query_count_is_fixed(client: Client, agent: Any) -> None:
    client = _as(client, agent)
    _late(assignee=agent)
    client.get(reverse("my-queue"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("my-queue"))
    for _ in range(5):
        _late(assignee=agent)
        CallTaskFactory(assignee=agent, due_at=timezone.now() + dt.timedelta(days=2))

    with CaptureQueriesContext(connection) as many:
        client.get(reverse("my-queue"))

    assert len(few) == len(many) == MY_QUEUE_QUERIES


def test_agents_get_403_on_the_board_and_the_reassign(client: Client, agent: Any) -> None:
    task = _late(assignee=agent)
    client = _as(client, agent)

    assert client.get(reverse("queue-board")).status_code == 403
    response = client.post(
        reverse("queue-board-reassign"), {"tasks": [task.pk], "assignee": agent.pk}
    )
    assert response.status_code == 403


def test_board_shows_queues_agents_and_the_tasks_needing_attention(
    client: Client, supervisor: Any, agent: Any
) -> None:
    queue = QueueFactory(slug="vip", name="VIP line", members=[agent])
    overdue = _late(assignee=agent, queue=queue, customer=CustomerFactory(name="Overdue one"))
    breached = CallTaskFactory(
        assignee=agent, breached_at=timezone.now(), customer=CustomerFactory(name="Breached one")
    )
    CallTaskFactory(assignee=agent, customer=CustomerFactory(name="Fine one"))

    response = _as(client, supervisor).get(reverse("queue-board"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "VIP line" in html
    assert "q_agent" in html
    assert set(response.context["page"].object_list) == {overdue, breached}
    assert response.context["totals"]["overdue"] == 1
    assert response.context["totals"]["breached"] == 1
    everything = client.get(reverse("queue-board"), {"show": "all"})
    assert len(everything.context["page"].object_list) == 3


def test_supervisor_reassigns_selected_tasks_in_bulk(
    client: Client, supervisor: Any, agent: Any, colleague: Any
) -> None:
    tasks = [_late(assignee=agent) for _ in range(3)]
    untouched = _late(assignee=agent)

    response = _as(client, supervisor).post(
        reverse("queue-board-reassign"),
        {
            "tasks": [task.pk for task in tasks],
            "assignee": colleague.pk,
            "reason": "sick",
            "back": "/queues/?show=all",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/queues/?show=all"
    assert set(OutreachTask.objects.filter(assignee=colleague)) == set(tasks)
    untouched.refresh_from_db()
    assert untouched.assignee == agent
    assert AuditLog.objects.filter(action="task.reassign").count() == 3


def test_reassign_without_target_or_selection_shows_errors_and_changes_nothing(
    client: Client, supervisor: Any, agent: Any
) -> None:
    task = _late(assignee=agent)
    client = _as(client, supervisor)

    no_target = client.post(reverse("queue-board-reassign"), {"tasks": [task.pk]})
    no_tasks = client.post(reverse("queue-board-reassign"), {"assignee": agent.pk})

    assert no_target.status_code == 400
    assert "Choose an agent or a queue." in no_target.content.decode()
    assert no_tasks.status_code == 400
    assert "Select at least one task." in no_tasks.content.decode()
    task.refresh_from_db()
    assert task.assignee == agent


def test_board_query_count_does_not_grow_with_tasks(
    client: Client, supervisor: Any, agent: Any, colleague: Any
) -> None:
    queue = QueueFactory(slug="vip", members=[agent])
    _late(assignee=agent, queue=queue)
    client = _as(client, supervisor)
    client.get(reverse("queue-board"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("queue-board"))
    other = QueueFactory(slug="b2b", members=[colleague])
    for _ in range(5):
        _late(assignee=agent, queue=queue)
        _late(assignee=colleague, queue=other)
        _late(queue=other)

    with CaptureQueriesContext(connection) as many:
        client.get(reverse("queue-board"))

    assert len(few) == len(many) == BOARD_QUERIES
