"""Outreach's passes in one care tick (care.services.tick.tick_passes): due sends, then the SLA
sweep."""

from care.services.tick import tick_passes
from outreach.services.dispatch import dispatch_due
from outreach.services.sla import sla_sweep


def register() -> None:
    tick_passes.register("dispatch", dispatch_due, order=10)
    tick_passes.register("sla", sla_sweep, order=20)
