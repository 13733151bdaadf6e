"""Celery tasks of the segmentation engine: thin wrappers around services."""

import os
import socket

from celery import chord, shared_task
from celery.app.task import Context
from django.utils import timezone

from segments.choices import RunStatus
from segments.models import RefreshRun
from segments.services.churn import churn_model_train
from segments.services.distributed import aggregate_part, id_ranges, merged_frame, refresh_parts
from segments.services.refresh import needs_full_pass, segment_refresh_execute
from segments.services.refresh_runs import segment_refresh_fail, segment_refresh_request
from segments.services.segment_compute import segment_members_compute
from segments.services.vacuum import refresh_tables_vacuum
from segments.services.value_model import value_model_train


@shared_task(acks_late=True, reject_on_worker_lost=True)
def segment_refresh_task(run_id: int) -> str:
    """Execute a requested refresh (a redelivery of a finished run returns at once). A full
    pass is split over workers when SEGMENTS_REFRESH_PARTS is above 1."""
    parts = refresh_parts()
    run = RefreshRun.objects.get(pk=run_id)
    if parts > 1 and run.status == RunStatus.RUNNING and needs_full_pass(run):
        finish = segment_refresh_finish_task.s(run_id).on_error(
            segment_refresh_part_failed_task.s(run_id)
        )
        chord(segment_aggregate_part_task.s(run_id, lo, hi) for lo, hi in id_ranges(parts))(finish)
        return f"split into {parts} parts"
    return _vacuumed_after(segment_refresh_execute(run_id=run_id))


@shared_task(acks_late=True, reject_on_worker_lost=True)
def segment_aggregate_part_task(run_id: int, lo: int, hi: int) -> dict[str, str]:
    """Aggregate one id range of a split refresh; returns where the part is and which worker
    process (host:pid) made it."""
    key = aggregate_part(run_id=run_id, lo=lo, hi=hi)
    return {"key": key, "worker": f"{socket.gethostname()}:{os.getpid()}"}


@shared_task(acks_late=True, reject_on_worker_lost=True)
def segment_refresh_finish_task(parts: list[dict[str, str]], run_id: int) -> str:
    """Merge the parts of a split refresh and finish the run."""
    frame = merged_frame([part["key"] for part in parts])
    run = segment_refresh_execute(run_id=run_id, frame=frame)
    workers = sorted({part["worker"] for part in parts})
    RefreshRun.objects.filter(pk=run_id).update(
        counts={**run.counts, "aggregation_parts": len(parts), "aggregation_workers": workers}
    )
    return _vacuumed_after(run)


def _vacuumed_after(run: RefreshRun) -> str:
    """The run's status, once the tables it rewrote are vacuumed where due (after the run has
    finished: nobody waits for it)."""
    if run.status == RunStatus.SUCCEEDED:
        refresh_tables_vacuum()
    return run.status


@shared_task
def segment_refresh_part_failed_task(
    request: Context, exc: BaseException, traceback: str | None, run_id: int
) -> None:
    """A part of a split refresh failed: the run fails with the error, nothing was written."""
    segment_refresh_fail(run_id=run_id, error=f"a refresh part failed: {exc!r}")


@shared_task
def segment_refresh_scheduled_task() -> str:
    """The scheduled refresh: join a running one, or start one now."""
    run, created = segment_refresh_request(trigger="schedule")
    if not created:
        return f"joined running refresh #{run.pk}"
    return segment_refresh_task(run.pk)


@shared_task
def churn_model_train_task() -> str:
    """Retrain the churn model on the latest history."""
    model = churn_model_train(as_of=timezone.now())
    return f"v{model.version} {model.status}"


@shared_task
def value_model_train_task() -> str:
    """Refit the customer value model (BG/NBD and Gamma-Gamma) on the latest history."""
    model = value_model_train(as_of=timezone.now())
    return f"v{model.version} {model.status}"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def segment_members_compute_task(segment_id: int) -> str:
    """Compute one saved rule segment's members (waits while a refresh runs)."""
    run = segment_members_compute(segment_id=segment_id)
    return "gone" if run is None else f"run {run.pk}"
