"""Celery tasks of the service app."""

from celery import shared_task

from service.services.sla_sweep import ticket_sla_sweep


@shared_task
def ticket_sla_sweep_task() -> dict[str, int]:
    """Attach, warn, breach and escalate ticket SLAs (beat every minute; safe to run twice)."""
    return ticket_sla_sweep()
