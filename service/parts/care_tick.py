"""The ticket SLA sweep as a pass of the care tick (care.services.tick.tick_passes)."""

from care.services.tick import tick_passes
from service.services.sla_sweep import ticket_sla_sweep


def register() -> None:
    tick_passes.register("ticket_sla", ticket_sla_sweep, order=30)
