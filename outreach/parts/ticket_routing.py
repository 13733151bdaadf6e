"""Outreach's ticket listener (callcenter.services.ticket_changes.ticket_listeners): a new
ticket is routed to a queue and, when someone has room, an agent, inside ticket_open's
transaction (outreach.services.routing)."""

from callcenter.services.ticket_changes import ticket_listeners
from outreach.services.routing import ticket_change_route

# Last: routing announces the assignment it makes (a nested change), so every other listener
# (the SLA clock) hears "opened" before "assigned".
ROUTING_ORDER = 900


def register() -> None:
    ticket_listeners.register("routing", ticket_change_route, order=ROUTING_ORDER)
