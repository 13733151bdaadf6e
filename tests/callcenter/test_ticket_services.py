"""Working a ticket: every transition, its history row and announcement, and every refusal
(which changes nothing)."""

from collections.abc import Iterator
from typing import Any

import pytest

from callcenter.choices import Role, TicketChangeKind, TicketPriority, TicketStatus
from callcenter.errors import ApplicationError, ApplicationForbidden
from callcenter.models import Ticket, TicketUpdate
from callcenter.services.activity import ticket_open, ticket_resolve
from callcenter.services.ticket_changes import TicketChange, ticket_listeners
from callcenter.services.tickets import (
    ticket_assign,
    ticket_change,
    ticket_customer_reply,
    ticket_reopen,
    ticket_respond,
    ticket_resume,
    ticket_wait,
    ticket_workable,
)
from tests.callcenter.factories import CustomerFactory, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard() -> Iterator[list[TicketChange]]:
    """The changes announced to the ticket listeners during the test."""
    changes: list[TicketChange] = []
    ticket_listeners.register("test-recorder", changes.append, order=999)
    yield changes
    ticket_listeners.unregister("test-recorder")


@pytest.fixture
def agent() -> Any:
    return UserFactory(role=Role.AGENT, username="wang")


@pytest.fixture
def other_agent() -> Any:
    return UserFactory(role=Role.AGENT, username="li")


@pytest.fixture
def supervisor() -> Any:
    return UserFactory(role=Role.SUPERVISOR, username="boss")


def _kinds(ticket: Ticket) -> list[str]:
    return list(TicketUpdate.objects.filter(ticket=ticket).values_list("kind", flat=True))


def test_respond_records_the_first_response_once_and_moves_to_in_progress(
    agent: Any, heard: list[TicketChange]
) -> None:
    ticket = TicketFactory(assignee=agent)

    ticket_respond(ticket=ticket, by=agent, text="We are checking the parcel.", channel="sms")
    ticket.refresh_from_db()
    first = ticket.first_responded_at
    ticket_respond(ticket=ticket, by=agent, text="Found it, arriving tomorrow.")
    ticket.refresh_from_db()

    assert first is not None
    assert ticket.first_responded_at == first
    assert ticket.status == TicketStatus.IN_PROGRESS
    update = TicketUpdate.objects.filter(ticket=ticket).first()
    assert update is not None
    assert (update.kind, update.text, update.channel, update.by) == (
        TicketChangeKind.RESPONDED,
        "We are checking the parcel.",
        "sms",
        agent,
    )
    assert [c.kind for c in heard] == [TicketChangeKind.RESPONDED] * 2
    assert heard[0].by == agent


def test_wait_and_resume(agent: Any, heard: list[TicketChange]) -> None:
    ticket = TicketFactory(assignee=agent, status=TicketStatus.IN_PROGRESS)

    ticket_wait(ticket=ticket, by=agent, text="Asked for the order number.")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.WAITING
    ticket_resume(ticket=ticket, by=agent)
    ticket.refresh_from_db()

    assert ticket.status == TicketStatus.IN_PROGRESS
    assert _kinds(ticket) == [TicketChangeKind.WAITING, TicketChangeKind.RESUMED]
    assert [c.kind for c in heard] == [TicketChangeKind.WAITING, TicketChangeKind.RESUMED]


def test_customer_reply_ends_the_wait(agent: Any, heard: list[TicketChange]) -> None:
    ticket = TicketFactory(assignee=agent, status=TicketStatus.WAITING)

    ticket_customer_reply(ticket=ticket, by=agent, text="Order 8812.", channel="call")
    ticket.refresh_from_db()

    assert ticket.status == TicketStatus.IN_PROGRESS
    assert _kinds(ticket) == [TicketChangeKind.CUSTOMER_REPLIED]
    assert heard[0].ticket.status == TicketStatus.IN_PROGRESS


def test_reopen_a_resolved_ticket(agent: Any, heard: list[TicketChange]) -> None:
    ticket = TicketFactory(assignee=agent)
    ticket_respond(ticket=ticket, by=agent, text="Refund sent.")
    ticket_resolve(ticket=ticket, by=agent, text="Refunded.")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED

    ticket_reopen(ticket=ticket, by=agent, text="The refund did not arrive.")
    ticket.refresh_from_db()

    assert ticket.status == TicketStatus.IN_PROGRESS
    assert ticket.resolved_at is None
    assert _kinds(ticket) == [
        TicketChangeKind.RESPONDED,
        TicketChangeKind.RESOLVED,
        TicketChangeKind.REOPENED,
    ]
    assert [c.kind for c in heard][-1] == TicketChangeKind.REOPENED


def test_open_writes_the_first_history_row_with_its_channel(agent: Any) -> None:
    ticket = ticket_open(
        customer=CustomerFactory(),
        kind="complaint",
        subject="Broken screen",
        channel="wechat",
        by=agent,
    )

    update = TicketUpdate.objects.get(ticket=ticket)
    assert (update.kind, update.channel, update.by) == (TicketChangeKind.OPENED, "wechat", agent)
    assert ticket.channel == "wechat"


def test_change_kind_and_priority_says_from_what_to_what(agent: Any) -> None:
    ticket = TicketFactory(assignee=agent)

    ticket_change(ticket=ticket, by=agent, kind="inquiry", priority=TicketPriority.URGENT)
    ticket.refresh_from_db()

    assert (ticket.kind, ticket.priority) == ("inquiry", TicketPriority.URGENT)
    update = TicketUpdate.objects.get(ticket=ticket)
    assert "complaint → inquiry" in update.text
    assert "normal → urgent" in update.text


def test_supervisor_assigns_anyone_and_agent_claims_unassigned(
    agent: Any, other_agent: Any, supervisor: Any, heard: list[TicketChange]
) -> None:
    ticket = TicketFactory()

    ticket_assign(ticket=ticket, by=agent, assignee=agent)
    ticket_assign(ticket=ticket, by=supervisor, assignee=other_agent, text="Li knows this one.")
    ticket.refresh_from_db()

    assert ticket.assignee == other_agent
    update = TicketUpdate.objects.filter(ticket=ticket).last()
    assert update is not None
    assert (update.assignee, update.by, update.text) == (
        other_agent,
        supervisor,
        "Li knows this one.",
    )
    assert [c.kind for c in heard] == [TicketChangeKind.ASSIGNED] * 2


# --- refusals: each changes nothing -------------------------------------------------------


def _unchanged(ticket: Ticket) -> None:
    before = Ticket.objects.values().get(pk=ticket.pk)
    assert not TicketUpdate.objects.filter(ticket=ticket).exists()
    assert before["updated_at"] == ticket.updated_at


@pytest.mark.parametrize(
    ("status", "act", "message"),
    [
        (TicketStatus.RESOLVED, "respond", "reopen it first"),
        (TicketStatus.CLOSED, "respond", "reopen it first"),
        (TicketStatus.WAITING, "wait", "already waiting"),
        (TicketStatus.RESOLVED, "wait", "reopen it first"),
        (TicketStatus.OPEN, "resume", "not waiting"),
        (TicketStatus.IN_PROGRESS, "reopen", "Only a resolved ticket"),
        (TicketStatus.CLOSED, "reopen", "Only a resolved ticket"),
        (TicketStatus.RESOLVED, "reply", "reopen it first"),
        (TicketStatus.RESOLVED, "change", "reopen it first"),
        (TicketStatus.RESOLVED, "assign", "reopen it first"),
    ],
)
def test_bad_transitions_are_refused_and_change_nothing(
    supervisor: Any, heard: list[TicketChange], status: str, act: str, message: str
) -> None:
    ticket = TicketFactory(status=status)
    actions = {
        "respond": lambda: ticket_respond(ticket=ticket, by=supervisor, text="Hi"),
        "wait": lambda: ticket_wait(ticket=ticket, by=supervisor),
        "resume": lambda: ticket_resume(ticket=ticket, by=supervisor),
        "reopen": lambda: ticket_reopen(ticket=ticket, by=supervisor),
        "reply": lambda: ticket_customer_reply(ticket=ticket, by=supervisor, text="Hello"),
        "change": lambda: ticket_change(ticket=ticket, by=supervisor, priority="high"),
        "assign": lambda: ticket_assign(ticket=ticket, by=supervisor, assignee=supervisor),
    }

    with pytest.raises(ApplicationError, match=message):
        actions[act]()

    _unchanged(ticket)
    assert Ticket.objects.get(pk=ticket.pk).status == status
    assert heard == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": "   "}, "Write what you told the customer"),
        ({"text": "Hi", "channel": "pigeon"}, "Unknown channel"),
        ({"text": "x" * 10_001}, "too long"),
    ],
)
def test_bad_response_input_is_refused(agent: Any, kwargs: dict[str, str], message: str) -> None:
    ticket = TicketFactory(assignee=agent)

    with pytest.raises(ApplicationError, match=message):
        ticket_respond(ticket=ticket, by=agent, **kwargs)

    _unchanged(ticket)
    assert Ticket.objects.get(pk=ticket.pk).first_responded_at is None


def test_agent_cannot_work_someone_elses_ticket(agent: Any, other_agent: Any) -> None:
    ticket = TicketFactory(assignee=other_agent)

    assert not ticket_workable(agent, ticket)
    for act in (
        lambda: ticket_respond(ticket=ticket, by=agent, text="Hi"),
        lambda: ticket_wait(ticket=ticket, by=agent),
        lambda: ticket_resolve(ticket=ticket, by=agent),
        lambda: ticket_change(ticket=ticket, by=agent, priority="high"),
        lambda: ticket_assign(ticket=ticket, by=agent, assignee=agent),
    ):
        with pytest.raises(ApplicationForbidden):
            act()

    _unchanged(ticket)
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.OPEN


def test_agent_may_not_assign_others_or_unassign(agent: Any, other_agent: Any) -> None:
    unassigned = TicketFactory()
    mine = TicketFactory(assignee=agent)

    with pytest.raises(ApplicationForbidden, match="only claim"):
        ticket_assign(ticket=unassigned, by=agent, assignee=other_agent)
    with pytest.raises(ApplicationForbidden, match="only claim"):
        ticket_assign(ticket=mine, by=agent, assignee=None)

    _unchanged(unassigned)
    _unchanged(mine)


def test_assignee_needs_a_role_and_a_change(supervisor: Any, agent: Any) -> None:
    ticket = TicketFactory(assignee=agent)
    nobody = UserFactory(username="norole")

    with pytest.raises(ApplicationError, match="no call-center role"):
        ticket_assign(ticket=ticket, by=supervisor, assignee=nobody)
    with pytest.raises(ApplicationError, match="already assigned"):
        ticket_assign(ticket=ticket, by=supervisor, assignee=agent)

    _unchanged(ticket)


def test_nothing_to_change_and_unknown_priority(agent: Any) -> None:
    ticket = TicketFactory(assignee=agent)

    with pytest.raises(ApplicationError, match="Nothing to change"):
        ticket_change(ticket=ticket, by=agent, kind=ticket.kind)
    with pytest.raises(ApplicationError, match="Unknown priority"):
        ticket_change(ticket=ticket, by=agent, priority="asap")

    _unchanged(ticket)


def test_a_listener_failure_rolls_the_change_back(agent: Any) -> None:
    ticket = TicketFactory(assignee=agent)

    def fail(change: TicketChange) -> None:
        raise RuntimeError("listener down")

    ticket_listeners.register("test-failing", fail, order=999)
    try:
        with pytest.raises(RuntimeError):
            ticket_respond(ticket=ticket, by=agent, text="Hi")
    finally:
        ticket_listeners.unregister("test-failing")

    _unchanged(ticket)
    assert Ticket.objects.get(pk=ticket.pk).first_responded_at is None
