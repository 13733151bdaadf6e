"""Celery tasks of outreach: thin wrappers around the dispatcher and the SLA sweep.

Both are safe to run twice or concurrently: the dispatcher claims rows with SKIP LOCKED and
sends with idempotency keys; the sweep's updates are guarded by the columns they set.
"""

from celery import shared_task

from outreach.services.dispatch import dispatch_due
from outreach.services.reach import reach_refresh
from outreach.services.sla import sla_sweep


@shared_task(acks_late=True, reject_on_worker_lost=True)
def dispatch_due_task() -> dict[str, int]:
    """Send what is due now (beat every minute, and right after an opt-out confirmation)."""
    return dispatch_due()


@shared_task
def sla_sweep_task() -> dict[str, int]:
    """Flag SLA breaches, escalate them once, hand waiting call tasks to free agents."""
    return sla_sweep()


@shared_task
def reach_refresh_task(full: bool = False) -> dict[str, int]:
    """Recompute customers' reachability and receptiveness (nightly, before the segment
    refresh, which reads them)."""
    return reach_refresh(full=full)
