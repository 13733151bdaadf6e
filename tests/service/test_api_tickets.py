"""The ticket workspace API: the SLA list (roles, filters, masking, bad input) and the ticket
actions on /api/tickets/<id>/ (roles, refusals)."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from callcenter.choices import Role, TicketStatus
from callcenter.models import Ticket, TicketUpdate
from tests.callcenter.factories import CustomerFactory, PhoneFactory, TicketFactory, UserFactory
from tests.service.factories import sla_for

pytestmark = pytest.mark.django_db

LIST = reverse("api-service-tickets")


@pytest.fixture
def agent() -> Any:
    return UserFactory(role=Role.AGENT, username="wang")


@pytest.fixture
def colleague() -> Any:
    return UserFactory(role=Role.AGENT, username="li")


@pytest.fixture
def supervisor() -> Any:
    return UserFactory(role=Role.SUPERVISOR, username="boss")


@pytest.fixture
def world(agent: Any, colleague: Any) -> dict[str, Ticket]:
    now = timezone.now()
    customer = CustomerFactory(name="王芳")
    PhoneFactory(customer=customer, value="+8613800138000")
    mine = TicketFactory(customer=customer, assignee=agent, subject="Mine")
    sla_for(mine, first_response_due_at=now - dt.timedelta(minutes=5))
    unassigned = TicketFactory(customer=customer, subject="Nobody's")
    sla_for(unassigned, first_response_due_at=now + dt.timedelta(hours=1), warned_at=now)
    theirs = TicketFactory(customer=customer, assignee=colleague, subject="Theirs")
    sla_for(theirs, first_response_due_at=now + dt.timedelta(hours=3))
    done = TicketFactory(customer=customer, status=TicketStatus.RESOLVED, resolved_at=now)
    return {"mine": mine, "unassigned": unassigned, "theirs": theirs, "done": done}


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_agent_lists_their_and_unassigned_open_tickets_nearest_due_first(
    api_as: Callable[[Any], APIClient], agent: Any, world: dict[str, Ticket]
) -> None:
    response = api_as(agent).get(LIST)

    assert _ids(response) == [world["mine"].pk, world["unassigned"].pk]
    first = response.json()["results"][0]
    assert first["sla"]["state"] == "breached"
    assert -310 < first["sla"]["seconds_left"] <= -300
    assert first["customer"]["name"] == "王芳"
    # Masked for agents, as the pages show it.
    assert first["customer_phone"] != "+8613800138000"
    assert "8000" in first["customer_phone"]


def test_supervisor_sees_every_ticket_and_full_phones(
    api_as: Callable[[Any], APIClient], supervisor: Any, world: dict[str, Ticket]
) -> None:
    response = api_as(supervisor).get(LIST)

    assert _ids(response) == [world["mine"].pk, world["unassigned"].pk, world["theirs"].pk]
    assert response.json()["results"][0]["customer_phone"] == "+8613800138000"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"assignee": "me"}, ["mine"]),
        ({"assignee": "none"}, ["unassigned"]),
        ({"sla": "breached"}, ["mine"]),
        ({"sla": ["breached", "warning"]}, ["mine", "unassigned"]),
        ({"sla": "warning"}, ["unassigned"]),
        ({"status": "resolved"}, ["done"]),
        ({"kind": "inquiry"}, []),
        ({"ordering": "-opened_at", "assignee": "me"}, ["mine"]),
    ],
)
def test_filters(
    api_as: Callable[[Any], APIClient],
    supervisor: Any,
    agent: Any,
    world: dict[str, Ticket],
    query: dict[str, Any],
    expected: list[str],
) -> None:
    user = agent if query.get("assignee") == "me" else supervisor
    assert _ids(api_as(user).get(LIST, query)) == [world[name].pk for name in expected]


@pytest.mark.parametrize(
    "query",
    [{"assignee": "someone"}, {"sla": "late"}, {"status": "gone"}, {"ordering": "name"}],
)
def test_bad_filters_are_400(
    api_as: Callable[[Any], APIClient], agent: Any, query: dict[str, str]
) -> None:
    assert api_as(agent).get(LIST, query).status_code == 400


def test_list_needs_a_role(api_as: Callable[[Any], APIClient], db: None) -> None:
    assert api_as(None).get(LIST).status_code == 403
    assert api_as(UserFactory(username="norole")).get(LIST).status_code == 403


def _act(client: APIClient, ticket: Ticket, action: str, data: dict[str, Any]) -> Any:
    return client.post(reverse(f"api-ticket-{action}", args=[ticket.pk]), data, format="json")


def test_agent_works_their_ticket_through_the_api(
    api_as: Callable[[Any], APIClient], agent: Any, world: dict[str, Ticket]
) -> None:
    client = api_as(agent)
    ticket = world["mine"]

    responded = _act(client, ticket, "respond", {"text": "On it.", "channel": "sms"})
    waiting = _act(client, ticket, "wait", {"text": "Asked for a photo."})
    replied = _act(client, ticket, "customer-reply", {"text": "Photo sent."})
    resolved = _act(client, ticket, "resolve", {"text": "Replaced."})
    reopened = _act(client, ticket, "reopen", {})
    history = client.get(reverse("api-ticket-history", args=[ticket.pk]))

    assert responded.status_code == 200
    assert responded.json()["first_responded_at"] is not None
    assert waiting.json()["status"] == "waiting"
    assert replied.json()["status"] == "in_progress"
    assert resolved.json()["status"] == "resolved"
    assert reopened.json()["status"] == "in_progress"
    assert [row["kind"] for row in history.json()["results"]] == [
        "responded",
        "waiting",
        "customer_replied",
        "resolved",
        "reopened",
    ]
    assert history.json()["results"][0]["by_username"] == "wang"


def test_agent_claims_unassigned_but_not_a_colleagues_ticket(
    api_as: Callable[[Any], APIClient], agent: Any, colleague: Any, world: dict[str, Ticket]
) -> None:
    client = api_as(agent)

    claimed = _act(client, world["unassigned"], "assign", {"assignee": agent.pk})
    refused = _act(client, world["theirs"], "respond", {"text": "Hello"})
    handed = _act(client, world["mine"], "assign", {"assignee": colleague.pk})

    assert claimed.status_code == 200
    assert claimed.json()["assignee"] == agent.pk
    assert refused.status_code == 403
    assert handed.status_code == 403
    assert not TicketUpdate.objects.filter(ticket=world["theirs"]).exists()
    assert Ticket.objects.get(pk=world["mine"].pk).assignee == agent


def test_supervisor_assigns_and_changes_priority(
    api_as: Callable[[Any], APIClient], supervisor: Any, colleague: Any, world: dict[str, Ticket]
) -> None:
    client = api_as(supervisor)

    assigned = _act(client, world["mine"], "assign", {"assignee": colleague.pk})
    changed = _act(client, world["mine"], "change", {"priority": "urgent"})

    assert assigned.json()["assignee"] == colleague.pk
    assert changed.json()["priority"] == "urgent"


@pytest.mark.parametrize(
    ("action", "data", "status"),
    [
        ("respond", {}, 400),
        ("respond", {"text": "x", "channel": "fax"}, 400),
        ("resume", {}, 400),
        ("reopen", {}, 400),
        ("assign", {"assignee": 999999}, 400),
        ("change", {}, 400),
    ],
)
def test_bad_input_and_transitions_are_400(
    api_as: Callable[[Any], APIClient],
    supervisor: Any,
    world: dict[str, Ticket],
    action: str,
    data: dict[str, Any],
    status: int,
) -> None:
    response = _act(api_as(supervisor), world["mine"], action, data)

    assert response.status_code == status, response.content
    assert not TicketUpdate.objects.filter(ticket=world["mine"]).exists()
