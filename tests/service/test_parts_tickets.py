"""The SLA where people work: the customer page's open tickets, the desk card and the queue
board, all from the shared SLA selector, at a fixed number of queries."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role, TicketStatus
from callcenter.models import Customer
from tests.callcenter.factories import CustomerFactory, PhoneFactory, TicketFactory, UserFactory
from tests.service.factories import sla_for

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"


@pytest.fixture
def customer() -> Customer:
    now = timezone.now()
    customer = CustomerFactory(name="王芳")
    PhoneFactory(customer=customer, value=PHONE)
    late = TicketFactory(customer=customer, subject="Parcel lost")
    sla_for(late, first_response_due_at=now - dt.timedelta(minutes=20))
    soon = TicketFactory(customer=customer, subject="Refund slow")
    sla_for(soon, first_response_due_at=now + dt.timedelta(minutes=40), warned_at=now)
    done = TicketFactory(
        customer=customer, subject="Old issue", status=TicketStatus.RESOLVED, resolved_at=now
    )
    sla_for(done, first_response_at=now - dt.timedelta(hours=1), resolved_at=now)
    return customer


def _login(client: Client, role: str) -> Client:
    client.force_login(UserFactory(role=role, username=f"parts_{role}"))
    return client


def test_customer_page_lists_open_tickets_with_sla_and_links(
    client: Client, customer: Customer
) -> None:
    html = _login(client, Role.AGENT).get(reverse("customer-detail", args=[customer.pk]))
    text = html.content.decode()

    panel = text[text.index('id="customer-tickets"') :]
    panel = panel[: panel.index("</section>")]
    assert panel.index("Parcel lost") < panel.index("Refund slow")
    assert "Old issue" not in panel
    assert "Breached · overdue 20m" in panel
    assert 'data-sla-state="warning"' in panel
    ticket_pk = customer.tickets.get(subject="Parcel lost").pk
    assert reverse("service-ticket", args=[ticket_pk]) in panel
    # The timeline links every ticket to its page.
    old = customer.tickets.get(subject="Old issue").pk
    assert reverse("service-ticket", args=[old]) in text


def test_customer_page_panel_costs_the_same_queries_for_more_tickets(
    client: Client, customer: Customer
) -> None:
    client = _login(client, Role.SUPERVISOR)
    url = reverse("customer-detail", args=[customer.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(5):
        sla_for(TicketFactory(customer=customer))

    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(few) == len(many)


def test_desk_card_shows_the_callers_ticket_sla(client: Client, customer: Customer) -> None:
    client = _login(client, Role.AGENT)
    card = client.get(reverse("desk-card"), {"phone": PHONE}, HTTP_HX_REQUEST="true")

    html = card.content.decode()
    assert 'id="desk-ticket-sla"' in html
    assert "Breached · overdue 20m" in html
    assert 'data-sla-state="warning"' in html


def test_queue_board_counts_breached_and_breaching_soon_by_assignee(
    client: Client, customer: Customer
) -> None:
    agent = UserFactory(role=Role.AGENT, username="wang")
    sla_for(
        TicketFactory(customer=customer, assignee=agent, subject="Wang's late one"),
        first_response_due_at=timezone.now() - dt.timedelta(hours=2),
    )
    client = _login(client, Role.SUPERVISOR)

    html = client.get(reverse("queue-board")).content.decode()

    part = html[html.index('id="board-tickets"') :]
    part = part[: part.index("</section>")]
    assert "2 breached" in part
    assert "1 breaching soon" in part
    assert "wang" in part
    assert part.index("Wang&#x27;s late one") < part.index("Parcel lost")
    assert "Refund slow" in part
