"""Celery tasks of the segmentation engine: thin wrappers around services."""

from celery import shared_task
from django.utils import timezone

from segments.services.churn import churn_model_train
from segments.services.refresh import segment_refresh_execute, segment_refresh_request


@shared_task(acks_late=True, reject_on_worker_lost=True)
def segment_refresh_task(run_id: int) -> str:
    """Execute a requested refresh (a redelivery of a finished run returns at once)."""
    run = segment_refresh_execute(run_id=run_id)
    return run.status


@shared_task
def segment_refresh_scheduled_task() -> str:
    """The scheduled refresh: join a running one, or start one now in this worker."""
    run, created = segment_refresh_request(trigger="schedule")
    if not created:
        return f"joined running refresh #{run.pk}"
    return segment_refresh_execute(run_id=run.pk).status


@shared_task
def churn_model_train_task() -> str:
    """Retrain the churn model on the latest history."""
    model = churn_model_train(as_of=timezone.now())
    return f"v{model.version} {model.status}"
