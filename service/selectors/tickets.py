"""The ticket workspace's reads: the list (page and API) and one ticket with its history.

Who sees which tickets in the workspace list: supervisors and admins every ticket (scope
`all` by default, or `mine` / `unassigned`); an agent the tickets they may work, theirs and the
unassigned ones (`callcenter.services.tickets.ticket_workable`), narrowed by `mine` or
`unassigned`. The ticket page shows any ticket to every role (as the customer page lists them);
its forms and the API's actions refuse what the user may not work.
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import OuterRef, Q, QuerySet, Subquery

from callcenter.choices import OPEN_TICKET_STATUSES, ContactKind
from callcenter.models import ContactPoint, Ticket
from callcenter.roles import MANAGER_ROLES, has_role
from callcenter.selectors.profile import ticket_csat_score
from service.selectors.ticket_sla import ticket_sla_annotate, ticket_sla_order

SCOPES = ("mine", "unassigned", "workable", "all")
ORDERINGS = ("sla", "-opened_at", "opened_at")


@dataclass(frozen=True)
class TicketQuery:
    """What the workspace list filters on; empty values filter nothing. `statuses` empty means
    the open ones."""

    scope: str = ""
    statuses: tuple[str, ...] = ()
    kind: str = ""
    priority: str = ""
    sla_states: tuple[str, ...] = ()
    customer_id: int | None = None
    assignee_id: int | None = None
    ordering: str = "sla"


def default_scope(user: User) -> str:
    """The list a user sees first: supervisors every ticket, agents what they may work."""
    return "all" if has_role(user, MANAGER_ROLES) else "workable"


def scopes_for(user: User) -> tuple[str, ...]:
    """The scopes `user` may choose."""
    return SCOPES if has_role(user, MANAGER_ROLES) else ("workable", "mine", "unassigned")


def _primary_phone() -> Subquery:
    return Subquery(
        ContactPoint.objects.filter(
            customer_id=OuterRef("customer_id"), kind=ContactKind.PHONE, is_active=True
        )
        .order_by("-is_primary", "id")
        .values("value")[:1]
    )


def ticket_workspace_list(*, user: User, query: TicketQuery, now: dt.datetime) -> QuerySet[Ticket]:
    """Tickets for the workspace list with their customer, assignee, primary phone (raw: the
    caller masks it for the role) and SLA state, in one statement."""
    scope = query.scope if query.scope in scopes_for(user) else default_scope(user)
    tickets = Ticket.objects.select_related("customer", "assignee", "sla")
    if scope == "mine":
        tickets = tickets.filter(assignee_id=user.pk)
    elif scope == "unassigned":
        tickets = tickets.filter(assignee__isnull=True)
    elif scope == "workable":
        tickets = tickets.filter(Q(assignee_id=user.pk) | Q(assignee__isnull=True))
    tickets = tickets.filter(status__in=query.statuses or OPEN_TICKET_STATUSES)
    if query.kind:
        tickets = tickets.filter(kind=query.kind)
    if query.priority:
        tickets = tickets.filter(priority=query.priority)
    if query.assignee_id is not None:
        tickets = tickets.filter(assignee_id=query.assignee_id)
    if query.customer_id is not None:
        tickets = tickets.filter(customer_id=query.customer_id)
    tickets = ticket_sla_annotate(tickets, now=now).annotate(
        customer_phone=_primary_phone(), csat_score=ticket_csat_score()
    )
    if query.sla_states:
        tickets = tickets.filter(sla_state__in=list(query.sla_states))
    if query.ordering in ("-opened_at", "opened_at"):
        return tickets.order_by(query.ordering, "-id")
    return ticket_sla_order(tickets)


def ticket_detail(*, ticket_id: int, now: dt.datetime) -> Ticket | None:
    """One ticket with its customer, assignee, clock and SLA state, or None."""
    tickets = Ticket.objects.select_related("customer", "assignee", "sla", "sla__policy")
    return (
        ticket_sla_annotate(tickets, now=now)
        .annotate(customer_phone=_primary_phone(), csat_score=ticket_csat_score())
        .filter(pk=ticket_id)
        .first()
    )
