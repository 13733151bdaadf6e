"""The event outbox: recording events, ingesting them from other systems, processing them.

Events are rows before they are messages. Domain writes record their events in their own
transaction (`events_record`, through the `domain_events` signal); after commit one Celery task
per batch processes them (`events_process`). If the message is lost (broker down, worker
killed), `events_sweep` finds the rows still unprocessed a few seconds later. Processing is
idempotent: the event row is locked (SKIP LOCKED), a processed event is left alone, and an
enrollment is unique per rule, customer and event.

Other systems post events to the API (`event_ingest`). Who may post which type is one table,
EVENT_POSTERS; an idempotency key belongs to the client that sent it (a user, or the signed
events integration), so one client cannot take a key another will use.

Bulk producers are set-based: a segment refresh announces entries and exits with one
INSERT ... SELECT per kind, limited to the segments active rules listen to, and the daily time
events (birthday, anniversary, inactivity, monthly) are one INSERT ... SELECT each, made
idempotent by keys such as "birthday:<customer>:<date>".

Modules: `outbox` (recording), `posters` (who may post what), `ingest` (events posted to the
API), `processing` (into enrollments, and the sweep), `bulk` (segment and time events),
`thresholds` (threshold crossings, part of the time-events pass). Their
names are re-exported here; a test that replaces one must patch the module that uses it.
"""

from care.services.events.bulk import (
    INACTIVITY_CATCH_UP_DAYS,
    INACTIVITY_SQL,
    SEGMENT_EVENT_SQL,
    SEGMENT_EVENTS_SQL,
    TIME_EVENT_SQL,
    segment_events_record,
    time_events_emit,
)
from care.services.events.ingest import (
    MAX_KEY_LENGTH,
    MAX_PAYLOAD_BYTES,
    IdempotencyConflict,
    event_ingest,
)
from care.services.events.outbox import ENQUEUE_BATCH, events_enqueue, events_record
from care.services.events.posters import (
    EVENT_POSTER_ROLES,
    EVENT_POSTERS,
    SIGNED_INTEGRATION,
    EventPoster,
    event_post_check,
)
from care.services.events.processing import (
    MAX_EVENT_ATTEMPTS,
    SWEEP_BATCH,
    SWEEP_GRACE,
    event_max_age,
    event_process,
    events_process,
    events_sweep,
)

__all__ = (
    "ENQUEUE_BATCH",
    "EVENT_POSTERS",
    "EVENT_POSTER_ROLES",
    "INACTIVITY_CATCH_UP_DAYS",
    "INACTIVITY_SQL",
    "MAX_EVENT_ATTEMPTS",
    "MAX_KEY_LENGTH",
    "MAX_PAYLOAD_BYTES",
    "SEGMENT_EVENTS_SQL",
    "SEGMENT_EVENT_SQL",
    "SIGNED_INTEGRATION",
    "SWEEP_BATCH",
    "SWEEP_GRACE",
    "TIME_EVENT_SQL",
    "EventPoster",
    "IdempotencyConflict",
    "event_ingest",
    "event_max_age",
    "event_post_check",
    "event_process",
    "events_enqueue",
    "events_process",
    "events_record",
    "events_sweep",
    "segment_events_record",
    "time_events_emit",
)
