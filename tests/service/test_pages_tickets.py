"""The ticket workspace pages: the list (roles, filters, SLA colours, one query for the rows)
and the ticket page (history, SLA box, forms; agents refused on a colleague's ticket)."""

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role, TicketStatus
from callcenter.models import Ticket, TicketUpdate
from callcenter.services.tickets import ticket_respond
from tests.callcenter.factories import CustomerFactory, PhoneFactory, TicketFactory, UserFactory
from tests.service.factories import sla_for

pytestmark = pytest.mark.django_db

LIST = reverse("service-tickets")


@pytest.fixture
def agent() -> Any:
    return UserFactory(role=Role.AGENT, username="wang")


@pytest.fixture
def colleague() -> Any:
    return UserFactory(role=Role.AGENT, username="li")


@pytest.fixture
def world(agent: Any, colleague: Any) -> dict[str, Ticket]:
    now = timezone.now()
    customer = CustomerFactory(name="王芳")
    PhoneFactory(customer=customer, value="+8613800138000")
    breached = TicketFactory(customer=customer, assignee=agent, subject="Parcel lost")
    sla_for(breached, first_response_due_at=now - dt.timedelta(minutes=30))
    warned = TicketFactory(customer=customer, subject="Refund slow")
    sla_for(warned, first_response_due_at=now + dt.timedelta(hours=1), warned_at=now)
    paused = TicketFactory(customer=customer, assignee=agent, status=TicketStatus.WAITING)
    sla_for(paused, first_response_due_at=now + dt.timedelta(hours=2), paused_at=now)
    theirs = TicketFactory(customer=customer, assignee=colleague, subject="Colleague's")
    sla_for(theirs, first_response_due_at=now + dt.timedelta(hours=3))
    return {"breached": breached, "warned": warned, "paused": paused, "theirs": theirs}


def _login(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def _row_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-ticket="(\d+)"', html)]


def test_agent_list_shows_theirs_and_unassigned_by_nearest_due_with_colours(
    client: Client, agent: Any, world: dict[str, Ticket]
) -> None:
    response = _login(client, agent).get(LIST)

    html = response.content.decode()
    assert response.status_code == 200
    assert _row_ids(html) == [world["breached"].pk, world["warned"].pk, world["paused"].pk]
    assert 'badge-red sla-badge" data-sla-state="breached">Breached · overdue 30m' in html
    assert 'data-sla-state="warning"' in html
    assert "badge-amber" in html
    assert 'badge-gray sla-badge" data-sla-state="paused">Paused · 2h 00m left' in html
    assert "+8613800138000" not in html


def test_supervisor_sees_all_and_filters(client: Client, world: dict[str, Ticket]) -> None:
    client = _login(client, UserFactory(role=Role.SUPERVISOR, username="boss"))

    everything = _row_ids(client.get(LIST).content.decode())
    breached = _row_ids(client.get(LIST, {"sla": "breached"}).content.decode())
    unassigned = _row_ids(client.get(LIST, {"scope": "unassigned"}).content.decode())
    waiting = _row_ids(client.get(LIST, {"status": "waiting"}).content.decode())

    assert world["theirs"].pk in everything
    assert breached == [world["breached"].pk]
    assert unassigned == [world["warned"].pk]
    assert waiting == [world["paused"].pk]
    assert "+8613800138000" in client.get(LIST).content.decode()


def test_bad_filters_are_400(client: Client, agent: Any) -> None:
    client = _login(client, agent)

    assert client.get(LIST, {"sla": "late"}).status_code == 400
    # An agent may not ask for every ticket.
    assert client.get(LIST, {"scope": "all"}).status_code == 400
    assert client.get(LIST, {"page": "x"}).status_code == 400


def test_list_rows_cost_one_query_whatever_their_number(
    client: Client, agent: Any, world: dict[str, Ticket]
) -> None:
    client = _login(client, agent)
    client.get(LIST)
    with CaptureQueriesContext(connection) as few:
        client.get(LIST)
    for index in range(10):
        ticket = TicketFactory(assignee=agent, subject=f"More {index}")
        PhoneFactory(customer=ticket.customer)
        sla_for(ticket)

    with CaptureQueriesContext(connection) as many:
        response = client.get(LIST)

    assert len(_row_ids(response.content.decode())) == 13
    assert len(many) == len(few)
    ticket_queries = [q for q in many.captured_queries if "callcenter_ticket" in q["sql"]]
    assert len(ticket_queries) == 1


def test_ticket_page_shows_history_sla_and_forms(
    client: Client, agent: Any, world: dict[str, Ticket]
) -> None:
    client = _login(client, agent)
    ticket = world["breached"]
    url = reverse("service-ticket", args=[ticket.pk])

    posted = client.post(
        reverse("service-ticket-respond", args=[ticket.pk]),
        {"text": "We found your parcel.", "channel": "call"},
    )
    html = client.get(url).content.decode()

    assert posted.status_code == 302
    assert "We found your parcel." in html
    assert 'id="sla-box"' in html
    assert "First response" in html
    assert 'id="respond-form"' in html
    assert "王芳" in html


def test_agent_cannot_work_a_colleagues_ticket_from_the_page(
    client: Client, agent: Any, world: dict[str, Ticket]
) -> None:
    client = _login(client, agent)
    ticket = world["theirs"]

    page = client.get(reverse("service-ticket", args=[ticket.pk])).content.decode()
    refused = client.post(reverse("service-ticket-resolve", args=[ticket.pk]), {"text": ""})

    assert 'id="respond-form"' not in page
    assert "assigned to a colleague" in page
    assert refused.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.OPEN


def test_page_transitions_and_refusals(
    client: Client, agent: Any, world: dict[str, Ticket]
) -> None:
    client = _login(client, agent)
    ticket = world["warned"]

    claimed = client.post(reverse("service-ticket-assign", args=[ticket.pk]), {"claim": "1"})
    waited = client.post(reverse("service-ticket-wait", args=[ticket.pk]), {"text": "Photo?"})
    again = client.post(reverse("service-ticket-wait", args=[ticket.pk]), {})
    resumed = client.post(reverse("service-ticket-resume", args=[ticket.pk]), {})
    resolved = client.post(reverse("service-ticket-resolve", args=[ticket.pk]), {"text": "Done"})
    reopened = client.post(reverse("service-ticket-reopen", args=[ticket.pk]), {})
    empty = client.post(reverse("service-ticket-respond", args=[ticket.pk]), {"text": ""})

    assert [r.status_code for r in (claimed, waited, resumed, resolved, reopened)] == [302] * 5
    assert again.status_code == 400
    assert "already waiting" in again.content.decode()
    assert empty.status_code == 400
    assert list(TicketUpdate.objects.filter(ticket=ticket).values_list("kind", flat=True)) == [
        "assigned",
        "waiting",
        "resumed",
        "resolved",
        "reopened",
    ]


def test_supervisor_assigns_from_the_page(
    client: Client, colleague: Any, world: dict[str, Ticket]
) -> None:
    client = _login(client, UserFactory(role=Role.SUPERVISOR, username="boss"))
    ticket = world["warned"]

    page = client.get(reverse("service-ticket", args=[ticket.pk])).content.decode()
    response = client.post(
        reverse("service-ticket-assign", args=[ticket.pk]), {"assignee": colleague.pk}
    )

    assert 'id="assign-form"' in page
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).assignee == colleague


def test_unknown_ticket_is_404(client: Client, agent: Any) -> None:
    client = _login(client, agent)

    assert client.get(reverse("service-ticket", args=[999999])).status_code == 404
    assert client.post(reverse("service-ticket-wait", args=[999999])).status_code == 404


def test_customer_reply_from_the_page_ends_the_wait(
    client: Client, agent: Any, world: dict[str, Ticket]
) -> None:
    client = _login(client, agent)
    ticket = world["paused"]

    response = client.post(
        reverse("service-ticket-customer-reply", args=[ticket.pk]),
        {"text": "Here is the photo.", "channel": "wechat"},
    )

    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.IN_PROGRESS
    update = TicketUpdate.objects.get(ticket=ticket)
    assert (update.kind, update.text, update.channel) == (
        "customer_replied",
        "Here is the photo.",
        "wechat",
    )


def test_change_priority_from_the_page(
    client: Client, agent: Any, world: dict[str, Ticket]
) -> None:
    client = _login(client, agent)
    ticket = world["breached"]
    url = reverse("service-ticket-change", args=[ticket.pk])
    same = {"kind": ticket.kind, "priority": ticket.priority, "channel": ""}

    changed = client.post(url, {**same, "priority": "urgent"})
    unchanged = client.post(url, {**same, "priority": "urgent"})
    bad = client.post(url, {**same, "priority": "asap"})

    assert changed.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).priority == "urgent"
    assert unchanged.status_code == 400
    assert "Nothing to change" in unchanged.content.decode()
    assert bad.status_code == 400
    assert TicketUpdate.objects.filter(ticket=ticket, kind="updated").count() == 1


def test_ticket_page_queries_do_not_grow_with_its_history(
    client: Client, agent: Any, world: dict[str, Ticket]
) -> None:
    client = _login(client, agent)
    ticket = world["breached"]
    url = reverse("service-ticket", args=[ticket.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for index in range(8):
        ticket_respond(ticket=ticket, by=agent, text=f"Update {index}")

    with CaptureQueriesContext(connection) as many:
        response = client.get(url)

    assert response.content.decode().count('data-kind="responded"') == 8
    assert len(many) == len(few)


def test_the_scope_shown_first_is_the_list_shown(client: Client) -> None:
    # A supervisor sees every ticket first, an agent what they may work: the select says so.
    for role, scope in ((Role.SUPERVISOR, "all"), (Role.AGENT, "workable")):
        client.force_login(UserFactory(role=role))
        page = client.get(reverse("service-tickets")).content.decode()
        assert f'<option value="{scope}" selected>' in page
