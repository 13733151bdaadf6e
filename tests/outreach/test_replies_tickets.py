"""A customer's written reply lands on their open ticket: a ticket waiting on them goes back to
work and its SLA clock resumes; the reply is still announced to care."""

import pytest

from callcenter.choices import Role, TicketKind, TicketStatus
from callcenter.models import TicketUpdate
from callcenter.services.activity import ticket_open
from callcenter.services.tickets import ticket_respond, ticket_wait
from care.choices import EventType
from care.models import Event
from outreach.services.webhooks import inbound_sms_receive
from service.models import TicketSla
from tests.callcenter.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.service.factories import SlaPolicyFactory

pytestmark = pytest.mark.django_db

NUMBER = "+8613911112222"


def _waiting_ticket():
    customer = CustomerFactory()
    PhoneFactory(customer=customer, value=NUMBER)
    agent = UserFactory(role=Role.AGENT)
    SlaPolicyFactory(name="Everything")
    ticket = ticket_open(
        customer=customer, kind=TicketKind.COMPLAINT, subject="Late delivery", assignee=agent
    )
    ticket_respond(ticket=ticket, by=agent, text="We are checking with the courier.")
    ticket_wait(ticket=ticket, by=agent, text="Asked for the order number.")
    return customer, ticket


def test_an_sms_reply_resumes_the_ticket_waiting_on_the_customer() -> None:
    customer, ticket = _waiting_ticket()
    assert TicketSla.objects.get(ticket=ticket).paused_at is not None

    inbound_sms_receive(from_number=NUMBER, body="Order 4711", provider_message_id="r-1")

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.IN_PROGRESS
    assert TicketSla.objects.get(ticket=ticket).paused_at is None
    reply = TicketUpdate.objects.filter(ticket=ticket).order_by("-pk").first()
    assert reply is not None
    assert (reply.kind, reply.text, reply.channel, reply.by_id) == (
        "customer_replied",
        "Order 4711",
        "sms",
        None,
    )
    assert Event.objects.filter(customer=customer, type=EventType.CUSTOMER_REPLIED).count() == 1


def test_a_repeated_sms_is_recorded_on_the_ticket_once() -> None:
    _customer, ticket = _waiting_ticket()

    for _ in range(2):
        inbound_sms_receive(from_number=NUMBER, body="Order 4711", provider_message_id="r-2")

    assert TicketUpdate.objects.filter(ticket=ticket, kind="customer_replied").count() == 1


def test_a_reply_without_an_open_ticket_is_only_announced() -> None:
    customer = CustomerFactory()
    PhoneFactory(customer=customer, value=NUMBER)

    inbound_sms_receive(from_number=NUMBER, body="Thanks!", provider_message_id="r-3")

    assert not TicketUpdate.objects.filter(ticket__customer=customer).exists()
    assert Event.objects.filter(customer=customer, type=EventType.CUSTOMER_REPLIED).count() == 1
