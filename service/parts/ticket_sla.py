"""The SLA clock listens to every ticket change (callcenter.services.ticket_changes)."""

from callcenter.services.ticket_changes import ticket_listeners
from service.services.sla import ticket_sla_on_change


def register() -> None:
    ticket_listeners.register("sla", ticket_sla_on_change, order=10)
