"""Reads behind the care reports: effectiveness of each rule against its control group, and the
care KPIs of the supervisor dashboard.

Definitions shared by both (an enrollment's "follow-up window" is ATTRIBUTION_DAYS after it):

- reached: a treated enrollment with a message delivered to the customer or a call task done
  with an outcome that means the customer was on the line (`REACHED_OUTCOMES`).
- responded: the customer replied by SMS, contacted us (inbound interaction) or placed a paid
  order within the follow-up window; the same test outreach uses for `only_if_no_response`
  (outreach.services.guardrails.customer_responded), measured for control members too.
- converted: a paid order placed within the follow-up window.

Every query is one set-based statement (aggregate / annotate, `date_trunc` buckets); no report
loops over customers in Python.
"""

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDay, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from callcenter.choices import Direction, OrderStatus, SurveyKind, TicketKind
from callcenter.models import Interaction, Order, SurveyResponse, Ticket
from care.choices import EventType, StepChannel
from care.models import CareRule, Enrollment
from outreach.choices import InboundAction, TaskStatus
from outreach.models import InboundMessage, OutreachTask
from outreach.services.guardrails import REACHED_OUTCOMES

ATTRIBUTION_DAYS = 30
# Below this many members in either group a difference is not worth a verdict.
MIN_GROUP_SIZE = 20
Z_95 = 1.959963984540054
KPI_PERIODS = (7, 30, 90)
DEFAULT_KPI_DAYS = 30


# ---------------------------------------------------------------------------------------------
# Statistics (pure)


@dataclass(frozen=True)
class Uplift:
    """Treated rate minus control rate with its 95% interval (Newcombe's hybrid score
    interval, method 10 of Newcombe 1998, built from two Wilson score intervals)."""

    treated_rate: float | None
    control_rate: float | None
    difference: float | None
    low: float | None
    high: float | None
    verdict: str  # "works", "hurts" or "no_evidence"


def wilson_interval(successes: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) when there is no observation."""
    if total <= 0:
        return 0.0, 1.0
    p = successes / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def uplift_interval(
    *,
    treated_successes: int,
    treated_total: int,
    control_successes: int,
    control_total: int,
    min_group_size: int = MIN_GROUP_SIZE,
) -> Uplift:
    """The uplift of treated over control and a plain verdict: "works" when the whole 95%
    interval lies above 0, "hurts" when below, otherwise (or with fewer than
    `min_group_size` members in a group) "no_evidence".

    Newcombe's interval rather than the normal (Wald) approximation: it stays inside [-1, 1]
    and keeps its coverage with small groups and rates near 0 or 1, which is what a 10%
    hold-out of a young rule looks like.
    """
    if treated_total <= 0 or control_total <= 0:
        rate_t = treated_successes / treated_total if treated_total > 0 else None
        rate_c = control_successes / control_total if control_total > 0 else None
        return Uplift(rate_t, rate_c, None, None, None, "no_evidence")
    p1 = treated_successes / treated_total
    p2 = control_successes / control_total
    l1, u1 = wilson_interval(treated_successes, treated_total)
    l2, u2 = wilson_interval(control_successes, control_total)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    verdict = "no_evidence"
    if min(treated_total, control_total) >= min_group_size:
        if low > 0:
            verdict = "works"
        elif high < 0:
            verdict = "hurts"
    return Uplift(p1, p2, difference, low, high, verdict)


def rate(part: int | None, whole: int | None) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    if not whole:
        return None
    return (part or 0) / whole


# ---------------------------------------------------------------------------------------------
# Per-enrollment outcome subqueries


def _window_end() -> Any:
    return F("enrolled_at") + dt.timedelta(days=ATTRIBUTION_DAYS)


def _converted() -> Exists:
    return Exists(
        Order.objects.filter(
            customer_id=OuterRef("customer_id"),
            status=OrderStatus.PAID,
            placed_at__gt=OuterRef("enrolled_at"),
            placed_at__lte=OuterRef("window_end"),
        )
    )


def _responded() -> Q:
    replied = InboundMessage.objects.filter(
        customer_id=OuterRef("customer_id"),
        action=InboundAction.REPLY,
        received_at__gt=OuterRef("enrolled_at"),
        received_at__lte=OuterRef("window_end"),
    )
    contacted = Interaction.objects.filter(
        customer_id=OuterRef("customer_id"),
        direction=Direction.INBOUND,
        occurred_at__gt=OuterRef("enrolled_at"),
        occurred_at__lte=OuterRef("window_end"),
    )
    return Q(Exists(replied)) | Q(Exists(contacted)) | Q(_converted())


def _reached() -> Exists:
    return Exists(
        OutreachTask.objects.filter(enrollment_id=OuterRef("pk")).filter(
            Q(status=TaskStatus.DELIVERED)
            | Q(channel=StepChannel.CALL, status=TaskStatus.DONE, outcome__in=REACHED_OUTCOMES)
        )
    )


def _enrollments_with_outcomes(enrollments: QuerySet[Enrollment]) -> QuerySet[Enrollment]:
    return enrollments.alias(window_end=_window_end()).annotate(
        is_reached=_reached(),
        is_responded=_responded(),
        is_converted=_converted(),
    )


# ---------------------------------------------------------------------------------------------
# Effectiveness per rule


@dataclass(frozen=True)
class RuleEffect:
    rule_id: int
    name: str
    is_active: bool
    holdout_share: float
    enrolled: int
    control: int
    reached: int
    responded: int
    converted: int
    control_responded: int
    control_converted: int
    reach_rate: float | None
    response_rate: float | None
    control_response_rate: float | None
    uplift: Uplift


def rule_effectiveness(*, since: dt.datetime | None = None) -> list[RuleEffect]:
    """Every rule with its treated and control counts and the conversion uplift, enrollments
    from `since` on (all when None). Two queries: rules, and one grouped aggregate."""
    enrollments = Enrollment.objects.all()
    if since is not None:
        enrollments = enrollments.filter(enrolled_at__gte=since)
    treated, control = Q(is_control=False), Q(is_control=True)
    counts = {
        row["rule_id"]: row
        for row in _enrollments_with_outcomes(enrollments)
        .values("rule_id")
        .annotate(
            enrolled=Count("pk", filter=treated),
            control=Count("pk", filter=control),
            reached=Count("pk", filter=treated & Q(is_reached=True)),
            responded=Count("pk", filter=treated & Q(is_responded=True)),
            converted=Count("pk", filter=treated & Q(is_converted=True)),
            control_responded=Count("pk", filter=control & Q(is_responded=True)),
            control_converted=Count("pk", filter=control & Q(is_converted=True)),
        )
        .order_by()
    }
    empty = dict.fromkeys(
        (
            "enrolled",
            "control",
            "reached",
            "responded",
            "converted",
            "control_responded",
            "control_converted",
        ),
        0,
    )
    effects = []
    for rule in CareRule.objects.only("pk", "name", "is_active", "holdout_share", "priority"):
        row = counts.get(rule.pk, empty)
        effects.append(
            RuleEffect(
                rule_id=rule.pk,
                name=rule.name,
                is_active=rule.is_active,
                holdout_share=rule.holdout_share,
                enrolled=row["enrolled"],
                control=row["control"],
                reached=row["reached"],
                responded=row["responded"],
                converted=row["converted"],
                control_responded=row["control_responded"],
                control_converted=row["control_converted"],
                reach_rate=rate(row["reached"], row["enrolled"]),
                response_rate=rate(row["responded"], row["enrolled"]),
                control_response_rate=rate(row["control_responded"], row["control"]),
                uplift=uplift_interval(
                    treated_successes=row["converted"],
                    treated_total=row["enrolled"],
                    control_successes=row["control_converted"],
                    control_total=row["control"],
                ),
            )
        )
    return effects


def rule_recent_results(*, days: int = 30) -> dict[int, dict[str, int]]:
    """Per rule id: customers enrolled (treated and control) and tasks created in the last
    `days` days. Two grouped queries."""
    since = timezone.now() - dt.timedelta(days=days)
    results: dict[int, dict[str, int]] = {}
    for row in (
        Enrollment.objects.filter(enrolled_at__gte=since)
        .values("rule_id")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        results.setdefault(row["rule_id"], {"enrolled": 0, "tasks": 0})["enrolled"] = row["n"]
    for task_row in (
        OutreachTask.objects.filter(created_at__gte=since, enrollment__isnull=False)
        .values("enrollment__rule_id")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        entry = results.setdefault(task_row["enrollment__rule_id"], {"enrolled": 0, "tasks": 0})
        entry["tasks"] = task_row["n"]
    return results


# ---------------------------------------------------------------------------------------------
# Dashboard KPIs


@dataclass(frozen=True)
class CareKpis:
    """The care KPIs of one period (see `care_kpis` for each definition)."""

    days: int
    start: dt.datetime
    end: dt.datetime
    tasks_created: int
    tasks_sent: int
    tasks_reached: int
    enrolled: int
    response_rate: float | None
    conversion_rate: float | None
    sla_due: int
    sla_compliance: float | None
    nps: float | None
    nps_answers: int
    dormant_enrolled: int
    wakeup_rate: float | None
    buyers: int
    repurchase_rate: float | None
    complaints: int
    series: dict[str, Any]


def _bucket(days: int) -> tuple[type, int]:
    """Daily buckets up to a month, weekly beyond (a 90-day chart of 13 bars reads better)."""
    if days > 31:
        return TruncWeek, 7
    return TruncDay, 1


def _bucket_starts(start: dt.datetime, end: dt.datetime, step_days: int) -> list[dt.date]:
    local_start = timezone.localtime(start).date()
    if step_days == 7:
        local_start -= dt.timedelta(days=local_start.weekday())
    last = timezone.localtime(end).date()
    starts = []
    day = local_start
    while day <= last:
        starts.append(day)
        day += dt.timedelta(days=step_days)
    return starts


def _series(
    rows: Iterable[Mapping[str, Any]], starts: list[dt.date], *fields: str
) -> dict[str, list[Any]]:
    by_day = {timezone.localtime(row["bucket"]).date(): row for row in rows}
    return {
        field: [(by_day[day][field] if day in by_day else 0) or 0 for day in starts]
        for field in fields
    }


def _nps(promoters: int, detractors: int, answers: int) -> float | None:
    if not answers:
        return None
    return round(100 * (promoters - detractors) / answers, 1)


def care_kpis(*, days: int = DEFAULT_KPI_DAYS, now: dt.datetime | None = None) -> CareKpis:
    """The care KPIs of the last `days` days up to `now`, with their trends; six queries
    whatever the data (bucketed by day, by week beyond a month, in the current time zone).

    - tasks created: outreach tasks created in the period (every channel).
    - tasks sent: messages and automated calls handed to the gateway in the period.
    - tasks reached: messages delivered, plus call tasks completed with an outcome meaning the
      customer was on the line (reached, callback requested, converted, declined).
    - response rate: of treated enrollments started in the period, those whose customer
      responded within ATTRIBUTION_DAYS (see the module docstring).
    - conversion rate: of the same enrollments, those followed by a paid order within
      ATTRIBUTION_DAYS.
    - SLA compliance: of call tasks whose deadline fell in the period (and has passed), those
      done by the deadline.
    - NPS: % promoters (9-10) minus % detractors (0-6) of NPS answers in the period.
    - dormant wake-up rate: of treated enrollments of inactivity-triggered rules ("no order for
      N days") started in the period, those followed by a paid order within ATTRIBUTION_DAYS.
    - repurchase rate: of customers with a paid order in the period, those with two or more.
    - complaints: complaint tickets opened in the period.
    """
    end = now or timezone.now()
    start = end - dt.timedelta(days=days)
    trunc, step = _bucket(days)
    starts = _bucket_starts(start, end, step)
    reached = Q(status=TaskStatus.DELIVERED, delivered_at__gte=start) | Q(
        channel=StepChannel.CALL,
        status=TaskStatus.DONE,
        outcome__in=REACHED_OUTCOMES,
        completed_at__gte=start,
    )
    sla_due = Q(channel=StepChannel.CALL, deadline_at__gte=start, deadline_at__lte=end)
    tasks = OutreachTask.objects.filter(
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
    # The trend follows each day's tasks: created that day, of which sent, of which reached.
    task_rows = (
        OutreachTask.objects.filter(created_at__gte=start)
        .annotate(bucket=trunc("created_at"))
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
    dormant = Q(rule__trigger_type=EventType.INACTIVITY)
    enrollment = _enrollments_with_outcomes(
        Enrollment.objects.filter(enrolled_at__gte=start, enrolled_at__lte=end, is_control=False)
    ).aggregate(
        enrolled=Count("pk"),
        responded=Count("pk", filter=Q(is_responded=True)),
        converted=Count("pk", filter=Q(is_converted=True)),
        dormant=Count("pk", filter=dormant),
        woken=Count("pk", filter=dormant & Q(is_converted=True)),
    )
    nps_rows = (
        SurveyResponse.objects.filter(kind=SurveyKind.NPS, responded_at__gte=start)
        .annotate(bucket=trunc("responded_at"))
        .values("bucket")
        .annotate(
            answers=Count("pk"),
            promoters=Count("pk", filter=Q(score__gte=9)),
            detractors=Count("pk", filter=Q(score__lte=6)),
        )
        .order_by("bucket")
    )
    complaint_rows = (
        Ticket.objects.filter(kind=TicketKind.COMPLAINT, opened_at__gte=start)
        .annotate(bucket=trunc("opened_at"))
        .values("bucket")
        .annotate(complaints=Count("pk"))
        .order_by("bucket")
    )
    buyers = (
        Order.objects.filter(status=OrderStatus.PAID, placed_at__gte=start, placed_at__lte=end)
        .values("customer_id")
        .annotate(orders=Count("pk"))
        .order_by()
        .aggregate(
            buyers=Count("customer_id"), repeat=Count("customer_id", filter=Q(orders__gte=2))
        )
    )
    task_series = _series(task_rows, starts, "created", "sent", "reached")
    nps_list = list(nps_rows)
    nps_series = _series(nps_list, starts, "answers", "promoters", "detractors")
    answers = sum(nps_series["answers"])
    complaints = _series(complaint_rows, starts, "complaints")["complaints"]
    return CareKpis(
        days=days,
        start=start,
        end=end,
        tasks_created=tasks["created"],
        tasks_sent=tasks["sent"],
        tasks_reached=tasks["reached"],
        enrolled=enrollment["enrolled"],
        response_rate=rate(enrollment["responded"], enrollment["enrolled"]),
        conversion_rate=rate(enrollment["converted"], enrollment["enrolled"]),
        sla_due=tasks["sla_due"],
        sla_compliance=rate(tasks["sla_met"], tasks["sla_due"]),
        nps=_nps(sum(nps_series["promoters"]), sum(nps_series["detractors"]), answers),
        nps_answers=answers,
        dormant_enrolled=enrollment["dormant"],
        wakeup_rate=rate(enrollment["woken"], enrollment["dormant"]),
        buyers=buyers["buyers"],
        repurchase_rate=rate(buyers["repeat"], buyers["buyers"]),
        complaints=sum(complaints),
        series={
            "labels": [day.isoformat() for day in starts],
            "created": task_series["created"],
            "sent": task_series["sent"],
            "reached": task_series["reached"],
            "nps": [
                _nps(p, d, a)
                for p, d, a in zip(
                    nps_series["promoters"],
                    nps_series["detractors"],
                    nps_series["answers"],
                    strict=True,
                )
            ],
            "complaints": complaints,
        },
    )


VERDICT_LABELS = {
    "works": _("Works"),
    "hurts": _("Hurts"),
    "no_evidence": _("No evidence yet"),
}
