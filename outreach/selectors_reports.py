"""Reads of outreach tasks and replies behind the care reports (care.selectors_reports), which
get them through the report part outreach registers (outreach/parts/care_reports.py).

- reached: a message delivered, or a call task done with an outcome meaning the customer was
  on the line (`REACHED_OUTCOMES`: reached, callback requested, converted, declined).
- replied: an SMS reply of the customer received in an enrollment's follow-up window.
"""

import datetime as dt

from django.db.models import Count, Exists, F, OuterRef, Q

from care.choices import StepChannel
from care.selectors_reports import KpiPeriod, WorkFigures, bucket_series
from outreach.choices import InboundAction, TaskStatus
from outreach.models import InboundMessage, OutreachTask
from outreach.services.guardrails import REACHED_OUTCOMES


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
    - SLA due and met: call tasks whose deadline fell in the period (and has passed), and those
      of them done by the deadline.
    - series: per bucket, the tasks created then, of which sent, of which reached.
    """
    start = period.start
    reached = Q(status=TaskStatus.DELIVERED, delivered_at__gte=start) | Q(
        channel=StepChannel.CALL,
        status=TaskStatus.DONE,
        outcome__in=REACHED_OUTCOMES,
        completed_at__gte=start,
    )
    sla_due = Q(channel=StepChannel.CALL, deadline_at__gte=start, deadline_at__lte=period.end)
    totals = OutreachTask.objects.filter(
        Q(created_at__gte=start) | Q(sent_at__gte=start) | reached | sla_due
    ).aggregate(
        created=Count("pk", filter=Q(created_at__gte=start)),
        sent=Count("pk", filter=Q(sent_at__gte=start)),
        reached=Count("pk", filter=reached),
        sla_due=Count("pk", filter=sla_due),
        sla_met=Count(
            "pk",
            filter=sla_due & Q(status=TaskStatus.DONE, completed_at__lte=F("deadline_at")),
        ),
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
