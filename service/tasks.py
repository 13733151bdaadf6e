"""Celery tasks of the service app: thin wrappers around its services."""

import datetime as dt

from celery import shared_task

from service.services.account_reports import account_reports_run_month, last_month


@shared_task(acks_late=True, reject_on_worker_lost=True)
def account_reports_monthly_task(month: str | None = None) -> dict[str, int]:
    """Generate and send last month's reports of every business account (beat, on the 1st);
    `month` ("YYYY-MM") reruns another. Safe to run twice: reports are unique per account and
    month, and sent once."""
    first = dt.date.fromisoformat(f"{month}-01") if month else last_month()
    return account_reports_run_month(month=first)
