"""The bookkeeping of segment refresh runs: requesting one, the executor's lock, live progress,
recording a failure.

Only one refresh runs at a time. A request while one runs joins it (gets the running run back);
a unique partial constraint on RefreshRun guarantees it, and the executing worker holds a
PostgreSQL advisory lock so a redelivered task never runs the same refresh twice. The run itself
is computed and written by segments.services.refresh.
"""

import datetime as dt
import time
import traceback
from collections.abc import Callable
from typing import TypedDict

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from segments.choices import RunStatus
from segments.models import RefreshRun, SegmentSettings

# Key of the PostgreSQL advisory lock held by the process executing a refresh.
REFRESH_LOCK_KEY = 7_201_001
# A run still "running" after this long while nobody holds the lock was abandoned
# (its worker died); a new request marks it failed and starts afresh.
STALE_AFTER = dt.timedelta(minutes=30)
# How often an executor waiting for the lock tries again (see refresh_lock_wait).
LOCK_RETRY_SECONDS = 0.2
PROGRESS_TTL_SECONDS = 24 * 3600
# Share of the whole run each phase accounts for, for the progress bar.
PHASES: list[tuple[str, int]] = [
    ("aggregate", 35),
    ("score", 5),
    ("churn", 8),
    ("value", 2),
    ("clusters", 10),
    ("write", 15),
    ("memberships", 12),
    ("behaviour", 5),
    ("rules", 3),
    ("snapshots", 5),
]

ProgressCallback = Callable[[str, int], None]


class RefreshProgress(TypedDict):
    """Where a run is: its phase and how much of the whole run is done."""

    phase: str
    percent: int


def _progress_key(run_id: int) -> str:
    return f"segments:refresh:{run_id}:progress"


def refresh_progress(*, run: RefreshRun) -> RefreshProgress:
    """Live phase and percent of a run (from Redis while it runs, from the row after)."""
    if run.status == RunStatus.RUNNING:
        live = cache.get(_progress_key(run.pk))
        if live:
            return live
    return {"phase": run.phase, "percent": run.percent}


def refresh_progress_clear(*, run_id: int) -> None:
    """Drop a run's live progress once it is no longer running (the row holds the last one)."""
    cache.delete(_progress_key(run_id))


def _holds_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [REFRESH_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def _run_is_running(run_id: int) -> bool:
    return RefreshRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).exists()


def refresh_lock_wait(run_id: int) -> bool:
    """Take the lock for run `run_id`, waiting while another executor holds it.

    The executor of the previous run commits its result, which lets a new run be requested, a
    moment before it releases the lock; a new run's task arriving in between must wait for it,
    not give up (the run would stay queued, and every later request join it, until it went
    stale). Returns False, without the lock, when the run stops running meanwhile (another
    executor of the same run, a redelivered task, finished it) or after STALE_AFTER.
    """
    deadline = time.monotonic() + STALE_AFTER.total_seconds()
    while not _holds_lock():
        if not _run_is_running(run_id) or time.monotonic() > deadline:
            return False
        time.sleep(LOCK_RETRY_SECONDS)
    return True


def refresh_lock_release() -> None:
    """Let go of the executor's lock (taken by refresh_lock_wait)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [REFRESH_LOCK_KEY])


def _abandon_stale_run() -> None:
    """Fail a run left 'running' by a dead worker, so a new one can start."""
    stale = RefreshRun.objects.filter(
        status=RunStatus.RUNNING, started_at__lt=timezone.now() - STALE_AFTER
    ).first()
    if stale is None or not _holds_lock():
        return
    refresh_lock_release()
    RefreshRun.objects.filter(pk=stale.pk, status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        error="Abandoned: the worker running it stopped.",
    )


def segment_refresh_request(
    *,
    as_of: dt.datetime | None = None,
    window_days: int | None = None,
    requested_by: User | None = None,
    trigger: str = "manual",
) -> tuple[RefreshRun, bool]:
    """Create a run (created=True) or return the one already running (created=False)."""
    _abandon_stale_run()
    settings = SegmentSettings.load()
    try:
        with transaction.atomic():
            run = RefreshRun.objects.create(
                as_of=as_of or timezone.now(),
                window_days=window_days or settings.window_days,
                requested_by=requested_by
                if requested_by is not None and requested_by.is_authenticated
                else None,
                trigger=trigger,
                phase="queued",
            )
    except IntegrityError:
        running = RefreshRun.objects.filter(status=RunStatus.RUNNING).first()
        if running is None:
            raise
        return running, False
    return run, True


def segment_refresh_fail(*, run_id: int, error: str) -> None:
    """Mark a running run failed (a worker's part of a split refresh failed)."""
    RefreshRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED, finished_at=timezone.now(), phase="failed", error=error[:4000]
    )
    refresh_progress_clear(run_id=run_id)


class PhaseClock:
    """Times the phases of a run and publishes progress (phase, percent) as each starts."""

    def __init__(self, run_id: int, on_progress: ProgressCallback | None) -> None:
        self.run_id = run_id
        self.on_progress = on_progress
        self.timings: dict[str, float] = {}
        self.started = time.perf_counter()
        self._phase: str | None = None
        self._phase_started = self.started

    def start(self, phase: str) -> None:
        now = time.perf_counter()
        if self._phase is not None:
            self.timings[self._phase] = round(now - self._phase_started, 3)
        self._phase, self._phase_started = phase, now
        names = [name for name, _weight in PHASES]
        percent = sum(weight for _name, weight in PHASES[: names.index(phase)])
        state = {"phase": phase, "percent": percent}
        cache.set(_progress_key(self.run_id), state, PROGRESS_TTL_SECONDS)
        if self.on_progress is not None:
            self.on_progress(phase, percent)

    def finish(self) -> dict[str, float]:
        end = time.perf_counter()
        if self._phase is not None:
            self.timings[self._phase] = round(end - self._phase_started, 3)
        self.timings["total"] = round(end - self.started, 3)
        return self.timings


def refresh_failure_record(
    *, run: RefreshRun, exc: BaseException, timings: dict[str, float]
) -> None:
    """Record a run's failure with its error and timings; the connection may be broken, so
    reconnect if needed."""
    if connection.connection is not None and connection.needs_rollback:
        connection.rollback()
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - a dead connection is replaced below
        connection.close()
    message = f"{exc.__class__.__name__}: {exc}"
    last_frames = "".join(traceback.format_exception(exc)[-3:])
    RefreshRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        phase="failed",
        timings=timings,
        error=f"{message}\n\n{last_frames}"[:4000],
    )
