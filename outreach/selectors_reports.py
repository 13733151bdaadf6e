"""Reads of outreach tasks and replies behind the care reports (care.selectors_reports), which
get them through the report part outreach registers (outreach/parts/care_reports.py).

- reached: a message delivered, or a call task done with an outcome meaning the customer was
  on the line (`REACHED_OUTCOMES`: reached, callback requested, converted, declined).
- replied: an SMS reply of the customer received in an enrollment's follow-up window.
- deadline met (SLA): every task with a deadline owes it, whatever its channel. A call task
  meets it when done by then; an automated one (SMS, email, automated call, WeChat, WeCom) when
  it was sent by then and not failed (sent or delivered). Cancelled and skipped tasks (the
  plan withdrew them, or a guardrail stopped them) and held ones (a paused campaign) owe
  nothing.
"""

import datetime as dt

from django.db.models import Count, Exists, F, OuterRef, Q

from care.choices import StepChannel
from care.selectors_reports import KpiPeriod, WorkFigures, bucket_series
from outreach.choices import AUTOMATED_CHANNELS, InboundAction, TaskStatus
from outreach.models import InboundMessage, OutreachTask
from outreach.services.guardrails import REACHED_OUTCOMES

# Tasks whose deadline nobody owes any more.
NOT_OWED_STATUSES = (TaskStatus.CANCELLED, TaskStatus.SKIPPED, TaskStatus.HELD)


def deadline_owed(start: dt.datetime, end: dt.datetime) -> Q:
    """Tasks of any channel whose deadline fell in [start, end] and is still owed."""
    return Q(deadline_at__gte=start, deadline_at__lte=end) & ~Q(status__in=NOT_OWED_STATUSES)


def deadline_met() -> Q:
    """Tasks that met their deadline: a call done by it, an automated task sent (or delivered)
    by it."""
    return Q(
        channel=StepChannel.CALL, status=TaskStatus.DONE, completed_at__lte=F("deadline_at")
    ) | Q(
        channel__in=AUTOMATED_CHANNELS,
        status__in=(TaskStatus.SENT, TaskStatus.DELIVERED),
        sent_at__lte=F("deadline_at"),
    )


def enrollment_reached() -> Exists:
    """Holds for an Enrollment row (`OuterRef("pk")`) one of whose tasks reached the customer."""
    return Exists(
        OutreachTask.objects.filter(enrollment_id=OuterRef("pk")).filter(
            Q(status=TaskStatus.DELIVERED)
            | Q(channel=StepChannel.CALL, status=TaskStatus.DONE, outcome__in=REACHED_OUTCOMES)
        )
    )


def customer_replied() -> Exists:
    """Holds for an Enrollment row annotated with `window_end` whose customer replied by SMS
    after the enrollment and within that window."""
    return Exists(
        InboundMessage.objects.filter(
            customer_id=OuterRef("customer_id"),
            action=InboundAction.REPLY,
            received_at__gt=OuterRef("enrolled_at"),
            received_at__lte=OuterRef("window_end"),
        )
    )


def task_figures(period: KpiPeriod) -> WorkFigures:
    """The tasks of a KPI period, in two queries.

    - created: tasks created in the period (every channel).
    - sent: messages and automated calls handed to the gateway in the period.
    - reached: messages delivered, plus call tasks completed with an outcome meaning the
      customer was on the line, in the period.
    - completed: tasks done (by an agent) in the period.
    - SLA due and met: tasks of every channel whose deadline fell in the period (and has
      passed) and is still owed, and those of them that met it (`deadline_met`: a call done by
      the deadline, a message sent by it).
    - series: per bucket, the tasks created then, of which sent, of which reached.
    """
    start = period.start
    reached = Q(status=TaskStatus.DELIVERED, delivered_at__gte=start) | Q(
        channel=StepChannel.CALL,
        status=TaskStatus.DONE,
        outcome__in=REACHED_OUTCOMES,
        completed_at__gte=start,
    )
    sla_due = deadline_owed(start, period.end)
    completed = Q(status=TaskStatus.DONE, completed_at__gte=start, completed_at__lte=period.end)
    totals = OutreachTask.objects.filter(
        Q(created_at__gte=start) | Q(sent_at__gte=start) | reached | sla_due | completed
    ).aggregate(
        created=Count("pk", filter=Q(created_at__gte=start)),
        sent=Count("pk", filter=Q(sent_at__gte=start)),
        reached=Count("pk", filter=reached),
        completed=Count("pk", filter=completed),
        sla_due=Count("pk", filter=sla_due),
        sla_met=Count("pk", filter=sla_due & deadline_met()),
    )
    rows = (
        OutreachTask.objects.filter(created_at__gte=start)
        .annotate(bucket=period.trunc("created_at"))
        .values("bucket")
        .annotate(
            created=Count("pk"),
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            reached=Count(
                "pk",
                filter=Q(status=TaskStatus.DELIVERED)
                | Q(channel=StepChannel.CALL, status=TaskStatus.DONE, outcome__in=REACHED_OUTCOMES),
            ),
        )
        .order_by("bucket")
    )
    return WorkFigures(
        created=totals["created"],
        sent=totals["sent"],
        reached=totals["reached"],
        sla_due=totals["sla_due"],
        sla_met=totals["sla_met"],
        completed=totals["completed"],
        series=bucket_series(rows, period.starts, "created", "sent", "reached"),
    )


def tasks_by_rule(since: dt.datetime) -> dict[int, int]:
    """Per rule id, the tasks of its enrollments created since `since` (one grouped query)."""
    rows = (
        OutreachTask.objects.filter(created_at__gte=since, enrollment__isnull=False)
        .values("enrollment__rule_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["enrollment__rule_id"]: row["n"] for row in rows}
