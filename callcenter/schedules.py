"""Every periodic job, declared in one place and installed into django-celery-beat.

Rows are created when missing (after each `migrate`); admins may then edit the schedule in the
admin (Periodic tasks) and their edits are kept. `expire_seconds` drops a run that waited too
long in the queue, so a backlog never runs the same job many times.
"""

from dataclasses import dataclass

from django.db import transaction


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    crontab: dict[str, str] | None = None
    every_seconds: int | None = None
    expire_seconds: int = 3600
    queue: str | None = None


PERIODIC_TASKS: list[Periodic] = [
    # Business accounts' monthly value reports: last month's, on the 1st early morning (the
    # emails wait for the end of quiet hours; the advisors' calls are due within days).
    Periodic(
        name="Monthly account reports",
        task="service.tasks.account_reports_monthly_task",
        crontab={"minute": "15", "hour": "6", "day_of_month": "1"},
        expire_seconds=12 * 3600,
    ),
    # Nightly reachability and receptiveness (outreach fills segments.CustomerReach), before
    # the segment refresh, whose rules and capacity priorities read it.
    Periodic(
        name="Nightly reachability",
        task="outreach.tasks.reach_refresh_task",
        crontab={"minute": "10", "hour": "2"},
        expire_seconds=3 * 3600,
        queue="segments",
    ),
    # Nightly segment refresh (metrics, scores, memberships), after the day's orders are in.
    Periodic(
        name="Nightly segment refresh",
        task="segments.tasks.segment_refresh_scheduled_task",
        crontab={"minute": "30", "hour": "2"},
        expire_seconds=6 * 3600,
        queue="segments",
    ),
    # Weekly churn-model retraining on the latest history, before Monday's refresh.
    Periodic(
        name="Weekly churn model training",
        task="segments.tasks.churn_model_train_task",
        crontab={"minute": "30", "hour": "1", "day_of_week": "1"},
        expire_seconds=12 * 3600,
        queue="segments",
    ),
    # Weekly value-model fit (purchases and spend per customer) on the latest history, after
    # the churn training and before Monday's refresh.
    Periodic(
        name="Weekly value model fit",
        task="segments.tasks.value_model_train_task",
        crontab={"minute": "0", "hour": "2", "day_of_week": "1"},
        expire_seconds=12 * 3600,
        queue="segments",
    ),
    # Outreach dispatcher: send due SMS, email and automated calls, release due call tasks.
    Periodic(
        name="Outreach dispatch",
        task="outreach.tasks.dispatch_due_task",
        every_seconds=60,
        expire_seconds=55,
        queue="outreach",
    ),
    # Outreach SLA sweep: flag breached tasks, escalate once, assign waiting call tasks.
    Periodic(
        name="Outreach SLA sweep",
        task="outreach.tasks.sla_sweep_task",
        every_seconds=60,
        expire_seconds=55,
        queue="outreach",
    ),
    # Care event sweep: process outbox events whose message was lost (broker down, worker
    # killed), then close enrollments with nothing left to do.
    Periodic(
        name="Care event sweep",
        task="care.tasks.event_sweep_task",
        every_seconds=60,
        expire_seconds=55,
    ),
    # Care journeys: take the timeout branch of the waits past their limit (waits are rows with
    # `wait_until`, so a missed minute is caught up by the next pass).
    Periodic(
        name="Care journey timeouts",
        task="care.tasks.journeys_time_out_task",
        every_seconds=60,
        expire_seconds=55,
    ),
    # Campaigns: start due runs (recurring occurrences, launches whose message was lost) and
    # finish the campaigns with nothing left to do.
    Periodic(
        name="Care campaign runs",
        task="care.tasks.campaigns_tick_task",
        every_seconds=60,
        expire_seconds=55,
    ),
    # Care time events (birthday, anniversary, inactivity, first of the month): hourly, so each
    # customer's local day starts on time in every time zone; idempotent keys make reruns free.
    Periodic(
        name="Care time events",
        task="care.tasks.time_events_task",
        crontab={"minute": "5"},
        expire_seconds=3000,
    ),
    # Background CSV imports: send again the ones whose message was lost or whose worker died,
    # and remove uploaded files nothing refers to (a second delivery of a live run is a no-op).
    Periodic(
        name="Import sweep",
        task="callcenter.tasks.import_runs_resume_task",
        every_seconds=300,
        expire_seconds=240,
    ),
    # Holiday calendar: write the package's holidays of this year and the next, so a package
    # update after a deploy and the next year's days (published each autumn) arrive on time.
    Periodic(
        name="Holiday calendar sync",
        task="callcenter.tasks.calendar_days_sync_task",
        crontab={"minute": "40", "hour": "3"},
        expire_seconds=6 * 3600,
    ),
    # Nightly duplicate finder: new likely duplicates become open merge proposals for the
    # supervisors' review (Duplicates page); dismissed pairs are never proposed again.
    Periodic(
        name="Nightly duplicate finder",
        task="callcenter.tasks.merge_proposals_find_task",
        crontab={"minute": "50", "hour": "3"},
        expire_seconds=6 * 3600,
    ),
    # Ticket SLA sweep: attach policies to imported tickets, warn, mark breaches, escalate once.
    Periodic(
        name="Ticket SLA sweep",
        task="service.tasks.ticket_sla_sweep_task",
        every_seconds=60,
        expire_seconds=55,
    ),
]


@transaction.atomic
def periodic_tasks_install() -> int:
    """Create the declared periodic tasks that do not exist yet; returns how many were added."""
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    added = 0
    for job in PERIODIC_TASKS:
        if PeriodicTask.objects.filter(name=job.name).exists():
            continue
        schedule: dict[str, object] = {}
        if job.crontab is not None:
            schedule["crontab"], _ = CrontabSchedule.objects.get_or_create(
                timezone=settings.TIME_ZONE,
                **{
                    "minute": "0",
                    "hour": "*",
                    "day_of_week": "*",
                    "day_of_month": "*",
                    "month_of_year": "*",
                    **job.crontab,
                },
            )
        else:
            schedule["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=job.every_seconds, period=IntervalSchedule.SECONDS
            )
        PeriodicTask.objects.create(
            name=job.name,
            task=job.task,
            expire_seconds=job.expire_seconds,
            queue=job.queue,
            **schedule,
        )
        added += 1
    return added
