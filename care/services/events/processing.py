"""Processing events into enrollments, and the sweep that finds events whose message was lost.

Processing is idempotent: the event row is locked (SKIP LOCKED), a processed event is left
alone, and an enrollment is unique per rule, customer and event.
"""

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from care.choices import EnrollmentStatus
from care.models import CareSettings, Enrollment, Event
from care.services.enrollment import (
    STOP_EVENT_TYPES,
    ActiveRule,
    active_rules,
    enrollments_create,
    enrollments_stop_for_event,
    rules_triggered,
)
from care.services.journey_runs import journeys_advance_for_event
from care.services.journeys import OUTCOME_EVENTS

logger = logging.getLogger(__name__)

# The sweep leaves younger events to the task enqueued at their commit.
SWEEP_GRACE = dt.timedelta(seconds=10)
# Events per sweep pass (each is processed in its own short transaction).
SWEEP_BATCH = 2000
# An event failing this often is left alone (visible with its last error) for a person.
MAX_EVENT_ATTEMPTS = 5


def event_max_age() -> dt.timedelta:
    """Events older than this when processed enroll nobody (e.g. a history import), though
    they still stop plans. Setting CARE_EVENT_MAX_AGE_HOURS, default 72."""
    return dt.timedelta(hours=getattr(settings, "CARE_EVENT_MAX_AGE_HOURS", 72))


def event_process(
    *,
    event_id: int,
    rules: dict[str, list[ActiveRule]] | None = None,
    care_settings: CareSettings | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Process one event: stop the plans it ends, move on the journeys waiting for it, enroll into
    the rules it triggers, mark it processed. Returns "processed", "skipped" (already done,
    or locked by another worker) or "failed" (attempts and last error recorded; the sweep
    retries it)."""
    now = now or timezone.now()
    with transaction.atomic():
        event = Event.objects.select_for_update(skip_locked=True).filter(pk=event_id).first()
        if event is None or event.processed_at is not None:
            return "skipped"
        if rules is None:
            rules = active_rules()
        try:
            with transaction.atomic():
                enrollments_stop_for_event(event=event, now=now)
                journeys_advance_for_event(event=event, now=now)
                if event.occurred_at >= now - event_max_age():
                    enrollments_create(
                        event=event, rules=rules, now=now, care_settings=care_settings
                    )
        except Exception as exc:
            # Recorded and visible (admin, API); the sweep retries up to MAX_EVENT_ATTEMPTS.
            logger.exception("care event %s failed", event_id)
            event.attempts += 1
            event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            event.save(update_fields=["attempts", "last_error"])
            return "failed"
        event.attempts += 1
        event.processed_at = now
        event.last_error = ""
        event.save(update_fields=["attempts", "processed_at", "last_error"])
    return "processed"


def _needs_work(
    rows: Sequence[Mapping[str, Any]], rules: dict[str, list[ActiveRule]], now: dt.datetime
) -> tuple[list[int], list[int]]:
    """Split unprocessed events into those that need a look of their own and those that
    trigger no rule, stop no plan and answer no journey (marked processed together)."""
    oldest = now - event_max_age()
    reactive = STOP_EVENT_TYPES | OUTCOME_EVENTS
    stoppers = {row["customer_id"] for row in rows if row["type"] in reactive}
    with_plans = (
        set(
            Enrollment.objects.filter(
                customer_id__in=stoppers, status=EnrollmentStatus.ACTIVE
            ).values_list("customer_id", flat=True)
        )
        if stoppers
        else set()
    )
    triggering = {
        row["id"]
        for row in rows
        if row["occurred_at"] >= oldest
        and rules_triggered(event_type=row["type"], payload=row["payload"], rules=rules)
    }
    # A plan may also start within this batch (an earlier event of the same customer).
    with_plans |= {row["customer_id"] for row in rows if row["id"] in triggering}
    busy: list[int] = []
    idle: list[int] = []
    for row in rows:
        stops = row["type"] in reactive and row["customer_id"] in with_plans
        (busy if row["id"] in triggering or stops else idle).append(row["id"])
    return busy, idle


def events_process(*, event_ids: Iterable[int], now: dt.datetime | None = None) -> dict[str, int]:
    """Process a batch of events (each in its own transaction, rules loaded once)."""
    now = now or timezone.now()
    rows = list(
        Event.objects.filter(pk__in=list(event_ids), processed_at__isnull=True)
        .order_by("pk")
        .values("id", "type", "customer_id", "payload", "occurred_at")
    )
    counts = {"processed": 0, "skipped": 0, "failed": 0}
    if not rows:
        return counts
    rules = active_rules()
    busy, idle = _needs_work(rows, rules, now)
    if idle:
        counts["processed"] += Event.objects.filter(pk__in=idle, processed_at__isnull=True).update(
            processed_at=now, attempts=F("attempts") + 1, last_error=""
        )
    care_settings = CareSettings.load() if busy else None
    for event_id in busy:
        outcome = event_process(
            event_id=event_id, rules=rules, care_settings=care_settings, now=now
        )
        counts[outcome] += 1
    return counts


def events_sweep(*, now: dt.datetime | None = None, limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Process events left unprocessed for longer than SWEEP_GRACE (their message was lost or
    their processing failed), oldest first."""
    now = now or timezone.now()
    ids = list(
        Event.objects.filter(
            processed_at__isnull=True,
            created_at__lte=now - SWEEP_GRACE,
            attempts__lt=MAX_EVENT_ATTEMPTS,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return events_process(event_ids=ids, now=now)
