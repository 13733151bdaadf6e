"""Two tickets opened at the same moment, each in its own transaction on its own connection,
for a queue whose only agent has room for one more: the ticket lock makes the second opener
read the load after the first commits, so the agent is not overfilled.

Rows must be committed for the other connection to see them (`committed_rows`)."""

import threading

from django.db import connection

from callcenter.choices import Role, TicketKind
from callcenter.models import AgentProfile, Ticket
from callcenter.services.activity import ticket_open
from outreach.models import TicketRoute
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.outreach.factories import QueueFactory

OPENERS = 2


def test_simultaneous_openings_do_not_overfill_an_agent(committed_rows: None) -> None:
    # given one agent with room for exactly one open ticket
    agent = UserFactory(username="routing_concurrent", role=Role.AGENT)
    AgentProfile.objects.create(user=agent, ticket_capacity=1)
    QueueFactory(slug="general", members=[agent])
    customers = [CustomerFactory() for _ in range(OPENERS)]
    start = threading.Barrier(OPENERS)
    errors: list[BaseException] = []

    def open_one(customer: object) -> None:
        try:
            start.wait()
            ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="No signal")
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connection.close()

    # when two tickets are opened together
    threads = [threading.Thread(target=open_one, args=(customer,)) for customer in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then both are routed, one is the agent's and the other waits in the queue
    assert errors == []
    tickets = Ticket.objects.filter(customer__in=customers)
    assert tickets.count() == OPENERS
    assert tickets.filter(assignee=agent).count() == 1
    assert tickets.filter(assignee__isnull=True).count() == 1
    assert TicketRoute.objects.filter(ticket__in=tickets, queue__slug="general").count() == OPENERS
