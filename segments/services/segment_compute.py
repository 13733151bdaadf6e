"""Computing one rule segment's members right after it is saved, instead of at the next refresh.

The members are computed set-based by the refresh's own code for one segment
(`segment_memberships_compute`), as of the moment the stored metrics describe, and recorded as
a refresh records them: entries and exits point to a `RefreshRun` of status `segment` (which
is not a refresh: the latest succeeded run stays the one whose metrics are stored), a snapshot
is written and `segment_memberships_changed` lets care turn the moves into events.

It holds the refresh's advisory lock (as a transaction lock), so it never interleaves with a
refresh. Small bases are computed in the request; larger ones, or while a refresh holds the
lock, by a worker on the segments queue, and the segment page says "computing" until it is done.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from callcenter.jobs import enqueue_on_commit
from callcenter.models import Customer
from segments.choices import RunStatus, SegmentKind
from segments.models import RefreshRun, Segment, SegmentSettings, SegmentSnapshot
from segments.selectors import refresh_latest_succeeded
from segments.services.memberships import segment_memberships_compute
from segments.services.refresh_runs import REFRESH_LOCK_KEY
from segments.signals import segment_memberships_changed

logger = logging.getLogger(__name__)

# How long the "computing" mark lives if the worker never clears it (it died).
PENDING_TTL_SECONDS = 3600
# How long the mark outlives a computation that succeeded. A page may have read the segment
# before the worker committed and read the mark after: if the mark were gone by then, the page
# would show the old size as final and stop polling. Kept a while, the mark is still there and
# older than the new `last_refreshed_at`, so the page polls once more and reads the new size.
PENDING_SETTLE_SECONDS = 60


def _pending_key(segment_id: int) -> str:
    return f"segments:compute:{segment_id}:pending"


def _pending_since(value: object, segment: Segment) -> bool:
    """A mark counts until the segment's members were computed after it was set (by the task
    or by any refresh, so a task lost with the broker does not say "computing" for long)."""
    if not isinstance(value, int | float):
        return False
    done = segment.last_refreshed_at
    return done is None or value > done.timestamp()


def segment_compute_pending(*, segment: Segment) -> bool:
    """True while a worker is to compute the segment's members."""
    return _pending_since(cache.get(_pending_key(segment.pk)), segment)


def segments_compute_pending(*, segments: list[Segment]) -> set[int]:
    """Which of these segments a worker is to compute (one cache read for all)."""
    keys = {_pending_key(segment.pk): segment for segment in segments}
    marks = cache.get_many(list(keys))
    return {segment.pk for key, segment in keys.items() if _pending_since(marks.get(key), segment)}


def _customers_estimate() -> int:
    """The planner's estimate of the customers (no count over the table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [Customer._meta.db_table]
        )
        row = cursor.fetchone()
    return max(int(row[0]), 0) if row else 0


def _lock(*, wait: bool) -> bool:
    """Take the refresh lock until the end of the transaction (waiting for it with `wait`)."""
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REFRESH_LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [REFRESH_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def segment_members_compute(*, segment_id: int, wait: bool = True) -> RefreshRun | None:
    """Compute one rule segment's members now; returns the run recording its moves, or None
    when the segment is gone (or not a rule segment) or, without `wait`, a refresh holds the
    lock."""
    run = None
    try:
        run = _compute(segment_id=segment_id, wait=wait)
        return run
    finally:
        if run is None:  # not computed (failed, gone, or the lock busy): nothing to settle
            cache.delete(_pending_key(segment_id))
        else:
            cache.touch(_pending_key(segment_id), PENDING_SETTLE_SECONDS)


def _compute(*, segment_id: int, wait: bool) -> RefreshRun | None:
    with transaction.atomic():
        if not _lock(wait=wait):
            return None
        segment = Segment.objects.filter(pk=segment_id, kind=SegmentKind.RULE).first()
        if segment is None:
            return None
        latest = refresh_latest_succeeded()
        now = timezone.now()
        as_of = latest.as_of if latest is not None else now
        window = latest.window_days if latest is not None else SegmentSettings.load().window_days
        run = RefreshRun.objects.create(
            status=RunStatus.SEGMENT,
            trigger="segment",
            as_of=as_of,
            window_days=window,
            phase="done",
            percent=100,
        )
        moves, size = segment_memberships_compute(
            segment=segment, run_id=run.pk, as_of=as_of, now=now
        )
        entered, exited = moves[(segment.pk, "entered")], moves[(segment.pk, "exited")]
        SegmentSnapshot.objects.create(
            segment=segment, run=run, taken_at=now, size=size, entered=entered, exited=exited
        )
        Segment.objects.filter(pk=segment.pk).update(size=size, last_refreshed_at=now)
        segment_memberships_changed.send(sender=RefreshRun, run_id=run.pk)
        RefreshRun.objects.filter(pk=run.pk).update(
            finished_at=timezone.now(),
            counts={"segment": segment.pk, "size": size, "entered": entered, "exited": exited},
        )
    return run


def segment_members_request(*, segment: Segment) -> bool:
    """Have a saved rule segment's members computed: now, in this request, when the customer
    base is at most SEGMENT_COMPUTE_SYNC_MAX_CUSTOMERS and no refresh holds the lock (returns
    True); otherwise by a worker after the commit (returns False, the segment is marked
    pending until the worker is done)."""
    if segment.kind != SegmentKind.RULE:
        return True
    if _customers_estimate() <= settings.SEGMENT_COMPUTE_SYNC_MAX_CUSTOMERS:
        try:
            with transaction.atomic():
                computed = segment_members_compute(segment_id=segment.pk, wait=False)
        except DatabaseError:
            # The save stands; the worker tries again (and logs its own failure).
            logger.exception("computing segment %s in the request failed", segment.pk)
            computed = None
        if computed is not None:
            segment.refresh_from_db(fields=["size", "last_refreshed_at"])
            return True
    cache.set(_pending_key(segment.pk), timezone.now().timestamp(), PENDING_TTL_SECONDS)
    enqueue_on_commit("segments.tasks.segment_members_compute_task", segment.pk)
    return False
