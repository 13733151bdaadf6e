"""Celery tasks of care plans: thin wrappers around the event services."""

from celery import shared_task

from care.services.campaigns import campaign_run_start, campaign_work_settle, campaigns_tick
from care.services.enrollment import enrollments_complete
from care.services.events import events_process, events_sweep, time_events_emit
from care.services.journey_runs import journeys_time_out


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def event_process_task(event_ids: list[int]) -> dict[str, int]:
    """Process a batch of outbox events (enqueued after the commit that wrote them). Running
    it twice is harmless: processed events are skipped. Nobody reads its result (the events
    table holds the outcome), so none is stored: one Redis write less per event."""
    return events_process(event_ids=event_ids)


@shared_task
def event_sweep_task() -> dict[str, int]:
    """Process events whose message was lost, and close finished enrollments."""
    counts = events_sweep()
    counts["enrollments_completed"] = enrollments_complete()
    return counts


@shared_task
def journeys_time_out_task() -> int:
    """Take the timeout branch of the journeys whose wait has passed (safe twice: a taken wait
    is cleared in the same transaction). Returns how many moved on."""
    return journeys_time_out()


@shared_task
def time_events_task() -> dict[str, int]:
    """Birthdays, anniversaries, inactivity and month starts (idempotent; runs hourly so every
    time zone gets its events on its own day)."""
    return time_events_emit()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def campaign_run_start_task(run_id: int) -> int:
    """Start a campaign run (enqueued after launch commits). Safe twice: a started run is left
    alone. Returns the tasks it created."""
    return campaign_run_start(run_id=run_id).tasks


@shared_task(acks_late=True, reject_on_worker_lost=True)
def campaign_work_settle_task(campaign_id: int) -> int:
    """Move a campaign's tasks to its paused, resumed or cancelled status (enqueued after the
    decision commits). Safe twice: a settled campaign is left alone. Returns the tasks moved."""
    return campaign_work_settle(campaign_id=campaign_id)


@shared_task
def campaigns_tick_task() -> dict[str, int]:
    """Start due campaign runs (recurring ones, and any whose message was lost) and finish the
    campaigns with nothing left to do."""
    return campaigns_tick()
