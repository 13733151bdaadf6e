"""What the service app shows of tickets on other apps' pages: a customer's open tickets with
their SLA (customer page, desk card) and the queue board's tickets breaching soon and breached
by assignee. Each is a fixed number of queries over the shared SLA selector."""

import datetime as dt
from typing import Any

from django.db.models import Count, Q

from callcenter.choices import OPEN_TICKET_STATUSES
from callcenter.models import Ticket
from service.choices import SlaState
from service.selectors.ticket_sla import ticket_sla_annotate, ticket_sla_order

# Fixed slices: each part costs one query for any history.
CUSTOMER_TICKETS_SHOWN = 10
BOARD_TICKETS_SHOWN = 20
ATTENTION = (SlaState.BREACHED.value, SlaState.WARNING.value)


def customer_open_tickets(*, customer_id: int, now: dt.datetime) -> list[Ticket]:
    """The customer's open tickets with assignee and SLA state, the nearest due first (one
    query)."""
    tickets = Ticket.objects.filter(
        customer_id=customer_id, status__in=OPEN_TICKET_STATUSES
    ).select_related("assignee")
    return list(ticket_sla_order(ticket_sla_annotate(tickets, now=now))[:CUSTOMER_TICKETS_SHOWN])


def board_ticket_attention(*, now: dt.datetime) -> dict[str, Any]:
    """For the queue board: per assignee (unassigned as one row) the open tickets breached and
    breaching soon (one query), and the most urgent of them (one query)."""
    open_tickets = ticket_sla_annotate(
        Ticket.objects.filter(status__in=OPEN_TICKET_STATUSES), now=now
    ).filter(Q(sla_state__in=ATTENTION))
    by_assignee = list(
        open_tickets.values("assignee_id", "assignee__username")
        .annotate(
            breached=Count("pk", filter=Q(sla_state=SlaState.BREACHED.value)),
            warning=Count("pk", filter=Q(sla_state=SlaState.WARNING.value)),
        )
        .order_by("-breached", "-warning", "assignee__username")
    )
    tickets = list(
        ticket_sla_order(open_tickets.select_related("customer", "assignee"))[:BOARD_TICKETS_SHOWN]
    )
    totals = {
        "breached": sum(row["breached"] for row in by_assignee),
        "warning": sum(row["warning"] for row in by_assignee),
    }
    return {"by_assignee": by_assignee, "tickets": tickets, "totals": totals}
