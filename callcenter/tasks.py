"""Celery tasks of the customer-profile domain: thin wrappers around the import, calendar and
duplicate-finder services."""

import logging

from celery import shared_task
from django.utils import timezone

from callcenter.services.calendar import calendar_days_sync
from callcenter.services.identity import merge_proposals_refresh_unless_running
from callcenter.services.imports.background import import_run_execute, import_runs_resume

logger = logging.getLogger(__name__)

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


@shared_task
def calendar_days_sync_task() -> dict[str, list[int]]:
    """Sync the package's holidays of this year and the next; a year the package does not
    cover yet is logged as a warning and returned in `missing_years`."""
    year = timezone.localdate().year
    result = calendar_days_sync(years=[year, year + 1])
    if result.missing_years:
        logger.warning(
            "The holiday package has no data for %s: update chinesecalendar.",
            ", ".join(map(str, result.missing_years)),
        )
    return {"synced_years": result.synced_years, "missing_years": result.missing_years}


@shared_task
def merge_proposals_find_task() -> dict[str, int] | str:
    """Run the duplicate finder (nightly, and from the proposals page's "Find duplicates
    now"): new pairs become open proposals, open ones get fresh evidence. Skipped while
    another run is under way."""
    scan = merge_proposals_refresh_unless_running()
    if scan is None:
        return "skipped: another run is under way"
    return {"found": scan.found, "created": scan.created, "updated": scan.updated}
