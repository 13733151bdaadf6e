"""Celery tasks of the service app: thin wrappers around its services."""

import datetime as dt

from celery import shared_task

from service.services.account_reports import account_reports_run_month, last_month
from service.services.sla_sweep import ticket_sla_sweep

# Seconds a run works before handing the remaining accounts to a new task: well within the
# global soft time limit (CELERY_TASK_SOFT_TIME_LIMIT, 600 s), with room for the report under
# way when the budget runs out.
RUN_TIME_BUDGET = 420


@shared_task(acks_late=True, reject_on_worker_lost=True)
def account_reports_monthly_task(month: str | None = None) -> dict[str, int]:
    """Generate and send last month's reports of every business account (beat, on the 1st);
    `month` ("YYYY-MM") reruns another. Safe to run twice: reports are unique per account and
    month, and sent once."""
    first = dt.date.fromisoformat(f"{month}-01") if month else last_month()
    counts = account_reports_run_month(month=first, time_budget=RUN_TIME_BUDGET)
    if counts["more"]:
        # Many accounts: the rest in a new task, before this one's time limit.
        account_reports_monthly_task.delay(month=f"{first:%Y-%m}")
    return counts


@shared_task
def ticket_sla_sweep_task() -> dict[str, int]:
    """Attach, warn, breach and escalate ticket SLAs (beat every minute; safe to run twice)."""
    return ticket_sla_sweep()
