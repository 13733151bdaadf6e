"""Celery tasks of the customer-profile domain: thin wrappers around the import services."""

from celery import shared_task

from callcenter.services.imports.background import import_run_execute, import_runs_resume

# A background import may read a file of IMPORT_MAX_UPLOAD_MB and announce its events; it gets
# more time than the global task limits, which are sized for the periodic jobs.
IMPORT_SOFT_TIME_LIMIT = 1800
IMPORT_TIME_LIMIT = 1900


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
    time_limit=IMPORT_TIME_LIMIT,
)
def import_run_execute_task(run_id: int) -> str:
    """Import a queued upload; a second delivery of a run that is running or finished returns
    at once. A worker lost mid-import leaves nothing imported and the task is delivered again."""
    run = import_run_execute(run_id=run_id)
    return run.status if run is not None else "skipped"


@shared_task
def import_runs_resume_task() -> dict[str, int]:
    """Send again stalled background imports; remove stored files nothing refers to."""
    return import_runs_resume()
