"""What happens to a ticket, announced to the apps above inside the writing transaction.

Every service that changes a ticket's life (opened, a response to the customer, the customer
writing back, waiting on the customer and back, assigned, resolved, reopened) calls
`ticket_change_announce`; the upper apps register listeners (the SLA clock, routing) in their
`AppConfig.ready()`. A listener runs in the caller's transaction, so what it writes commits or
rolls back with the change. Tickets written set-based (the CSV import) announce nothing: the
listeners' own periodic passes pick those up. `TicketChangeKind` lives in
`callcenter.choices` (the ticket history stores it) and is re-exported here.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import User

from callcenter.choices import TicketChangeKind
from callcenter.extensions import Registry
from callcenter.models import Ticket


@dataclass(frozen=True)
class TicketChange:
    """One change of a ticket: the ticket as saved, what happened, when, and by whom."""

    ticket: Ticket
    kind: TicketChangeKind
    at: dt.datetime
    by: User | None = None


ticket_listeners: Registry[Callable[[TicketChange], None]] = Registry(
    "ticket listeners (called in the writing transaction with each change)"
)


__all__ = ["TicketChange", "TicketChangeKind", "ticket_change_announce", "ticket_listeners"]


def ticket_change_announce(change: TicketChange) -> None:
    """Tell every registered listener, in registration order."""
    for listener in ticket_listeners:
        listener(change)
