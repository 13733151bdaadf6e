"""Recording events in the outbox: rows written with the domain change, processed after commit.

Domain writes record their events in their own transaction (`events_record`, through the
`domain_events` signal); after commit one Celery task per batch processes them. If the message
is lost, the sweep (care.services.events.processing) finds the rows later.
"""

import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from callcenter.events import DomainEvent
from callcenter.jobs import enqueue_on_commit
from care.choices import EventSource
from care.models import Event

# Event ids per Celery message: small messages, and a redelivered one redoes little.
ENQUEUE_BATCH = 500


def events_enqueue(event_ids: list[int]) -> None:
    """After commit, one processing task per batch of ids. If the broker is down the error is
    logged (robust) and the sweep processes the rows later."""
    for start in range(0, len(event_ids), ENQUEUE_BATCH):
        enqueue_on_commit("care.tasks.event_process_task", event_ids[start : start + ENQUEUE_BATCH])


def _occurred(value: str | dt.datetime | None, now: dt.datetime) -> dt.datetime:
    if value is None:
        return now
    moment = value if isinstance(value, dt.datetime) else parse_datetime(value)
    if moment is None:
        return now
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def events_record(*, events: list[DomainEvent], source: str = EventSource.DOMAIN) -> list[int]:
    """Write domain events to the outbox in the current transaction (one INSERT) and process
    them after commit. Returns the new ids."""
    if not events:
        return []
    now = timezone.now()
    rows = Event.objects.bulk_create(
        Event(
            type=event.type,
            customer_id=event.customer_id,
            payload=event.payload,
            source=source,
            occurred_at=_occurred(event.occurred_at, now),
        )
        for event in events
    )
    ids = [row.pk for row in rows]
    events_enqueue(ids)
    return ids
