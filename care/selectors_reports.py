"""Reads behind the care reports: effectiveness of each rule against its control group, and the
care KPIs of the supervisor dashboard.

Definitions shared by both (an enrollment's "follow-up window" is ATTRIBUTION_DAYS after it):

- reached: a treated enrollment whose customer the app carrying out its plan reached (outreach:
  a message delivered, or a call task done with an outcome meaning the customer was on the line).
- responded: the customer replied to that app (outreach: an SMS reply), contacted us (inbound
  interaction) or placed a paid order within the follow-up window; the same test outreach uses
  for `only_if_no_response`, measured for control members too.
- converted: a paid order placed within the follow-up window.

What the apps carrying out plans know (reach, replies, their work) comes from the
`report_parts` they register (outreach/parts/care_reports.py), as expressions that join care's
own statements or as figures of their own. Every query is one set-based statement (aggregate /
annotate, `date_trunc` buckets); no report loops over customers in Python.
"""

import datetime as dt
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import TruncDay, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from callcenter.choices import Direction, OrderStatus, SurveyKind, TicketKind
from callcenter.extensions import Registry
from callcenter.models import Interaction, Order, SurveyResponse, Ticket
from care.choices import EnrollmentStatus, EventType
from care.models import CareRule, Enrollment
from segments.choices import LifecycleStage, SegmentKind
from segments.models import SegmentMembership

ATTRIBUTION_DAYS = 30
# Below this many members in either group a difference is not worth a verdict.
MIN_GROUP_SIZE = 20
Z_95 = 1.959963984540054
KPI_PERIODS = (7, 30, 90)
# Lifecycle stages of a customer who has bought and is not lost: the base of the churn rate.
LIVE_STAGES = (
    LifecycleStage.NEW,
    LifecycleStage.ACTIVE,
    LifecycleStage.DORMANT,
    LifecycleStage.CHURN_RISK,
)
DEFAULT_KPI_DAYS = 30


# ---------------------------------------------------------------------------------------------
# What the apps carrying out plans add to the reports


@dataclass(frozen=True)
class KpiPeriod:
    """The period of a KPI panel and its trend buckets (local dates, by day or by week)."""

    days: int
    start: dt.datetime
    end: dt.datetime
    trunc: type  # TruncDay or TruncWeek, applied to a timestamp
    starts: list[dt.date]


@dataclass(frozen=True)
class WorkFigures:
    """The work done on care's plans in a KPI period (outreach: its tasks): created, sent,
    reached, deadlines due and met, completed (by agents); `series` holds created, sent and
    reached per bucket."""

    created: int
    sent: int
    reached: int
    sla_due: int
    sla_met: int
    series: dict[str, list[int]]
    completed: int = 0

    @classmethod
    def none(cls, buckets: int) -> "WorkFigures":
        return cls(0, 0, 0, 0, 0, {key: [0] * buckets for key in ("created", "sent", "reached")})

    def plus(self, other: "WorkFigures") -> "WorkFigures":
        return WorkFigures(
            created=self.created + other.created,
            sent=self.sent + other.sent,
            reached=self.reached + other.reached,
            sla_due=self.sla_due + other.sla_due,
            sla_met=self.sla_met + other.sla_met,
            completed=self.completed + other.completed,
            series={
                key: [a + b for a, b in zip(values, other.series[key], strict=True)]
                for key, values in self.series.items()
            },
        )


@dataclass(frozen=True)
class ReportPart:
    """What an app carrying out care's plans adds to the care reports.

    - `reached()`: a condition (Exists) on an Enrollment row, `OuterRef("pk")`: the customer
      was reached.
    - `responded()`: a condition on an Enrollment row annotated with `window_end`: the customer
      replied between `OuterRef("enrolled_at")` and `OuterRef("window_end")`.
    - `work_figures(period)`: its WorkFigures of the period, in a fixed number of queries.
    - `work_by_rule(since)`: per rule id, what it made of the rule's plans since `since` (one
      query).
    """

    reached: Callable[[], Any]
    responded: Callable[[], Any]
    work_figures: Callable[[KpiPeriod], WorkFigures]
    work_by_rule: Callable[[dt.datetime], dict[int, int]]


report_parts: Registry[ReportPart] = Registry("care report parts")


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


def _either(conditions: list[Any]) -> Any:
    """True when any of `conditions` holds (False when there is none)."""
    if not conditions:
        return Value(False)
    if len(conditions) == 1:
        return conditions[0]
    return reduce(operator.or_, (Q(condition) for condition in conditions))


def _reached() -> Any:
    return _either([part.reached() for part in report_parts])


def _responded() -> Q:
    contacted = Interaction.objects.filter(
        customer_id=OuterRef("customer_id"),
        direction=Direction.INBOUND,
        occurred_at__gt=OuterRef("enrolled_at"),
        occurred_at__lte=OuterRef("window_end"),
    )
    replies = [Q(part.responded()) for part in report_parts]
    return reduce(operator.or_, [*replies, Q(Exists(contacted)), Q(_converted())])


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
    enrollments = Enrollment.objects.exclude(status=EnrollmentStatus.HELD)
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
    `days` days. One grouped query, and one per report part."""
    since = timezone.now() - dt.timedelta(days=days)
    results: dict[int, dict[str, int]] = {}
    for row in (
        Enrollment.objects.filter(enrolled_at__gte=since)
        .exclude(status=EnrollmentStatus.HELD)
        .values("rule_id")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        results.setdefault(row["rule_id"], {"enrolled": 0, "tasks": 0})["enrolled"] = row["n"]
    for part in report_parts:
        for rule_id, count in part.work_by_rule(since).items():
            entry = results.setdefault(rule_id, {"enrolled": 0, "tasks": 0})
            entry["tasks"] += count
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
    sla_met: int
    sla_compliance: float | None
    tasks_completed: int
    nps: float | None
    nps_answers: int
    dormant_enrolled: int
    wakeup_rate: float | None
    buyers: int
    repurchase_rate: float | None
    complaints: int
    series: dict[str, Any]
    csat: float | None = None
    csat_answers: int = 0
    churn_base: int = 0
    churn_lost: int = 0
    churn_rate: float | None = None

    @property
    def churn_percent(self) -> float | None:
        return None if self.churn_rate is None else 100 * self.churn_rate


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


def kpi_period(*, days: int, now: dt.datetime | None = None) -> KpiPeriod:
    """The last `days` days up to `now`, bucketed by day (by week beyond a month) in the
    current time zone."""
    end = now or timezone.now()
    start = end - dt.timedelta(days=days)
    trunc, step = _bucket(days)
    return KpiPeriod(
        days=days, start=start, end=end, trunc=trunc, starts=_bucket_starts(start, end, step)
    )


def bucket_series(
    rows: Iterable[Mapping[str, Any]], starts: list[dt.date], *fields: str
) -> dict[str, list[Any]]:
    """Per field, the values of bucketed rows (`bucket` and the fields) at every bucket start,
    0 where a bucket has no row."""
    by_day = {timezone.localtime(row["bucket"]).date(): row for row in rows}
    return {
        field: [(by_day[day][field] if day in by_day else 0) or 0 for day in starts]
        for field in fields
    }


def _nps(promoters: int, detractors: int, answers: int) -> float | None:
    if not answers:
        return None
    return round(100 * (promoters - detractors) / answers, 1)


def _enrollment_figures(period: KpiPeriod) -> dict[str, int]:
    """Treated enrollments of the period: how many responded, converted, were dormant, woke."""
    dormant = Q(rule__trigger_type=EventType.INACTIVITY)
    return _enrollments_with_outcomes(
        Enrollment.objects.filter(
            enrolled_at__gte=period.start, enrolled_at__lte=period.end, is_control=False
        ).exclude(status=EnrollmentStatus.HELD)
    ).aggregate(
        enrolled=Count("pk"),
        responded=Count("pk", filter=Q(is_responded=True)),
        converted=Count("pk", filter=Q(is_converted=True)),
        dormant=Count("pk", filter=dormant),
        woken=Count("pk", filter=dormant & Q(is_converted=True)),
    )


def _survey_series(period: KpiPeriod) -> dict[str, list[int]]:
    """NPS answers, promoters and detractors, CSAT answers and their score sum, per bucket."""
    nps, csat = Q(kind=SurveyKind.NPS), Q(kind=SurveyKind.CSAT)
    rows = (
        SurveyResponse.objects.filter(responded_at__gte=period.start, responded_at__lte=period.end)
        .annotate(bucket=period.trunc("responded_at"))
        .values("bucket")
        .annotate(
            answers=Count("pk", filter=nps),
            promoters=Count("pk", filter=nps & Q(score__gte=9)),
            detractors=Count("pk", filter=nps & Q(score__lte=6)),
            csat_answers=Count("pk", filter=csat),
            csat_sum=Sum("score", filter=csat),
        )
        .order_by("bucket")
    )
    return bucket_series(
        list(rows),
        period.starts,
        "answers",
        "promoters",
        "detractors",
        "csat_answers",
        "csat_sum",
    )


def _churn_figures(period: KpiPeriod) -> dict[str, int]:
    """Customers in a live lifecycle stage (LIVE_STAGES) at the start of the period, and those
    of them who entered the lost stage during it, from the lifecycle segments' membership
    history (one query)."""
    lifecycle = SegmentMembership.objects.filter(segment__kind=SegmentKind.LIFECYCLE)
    became_lost = lifecycle.filter(
        segment__key=LifecycleStage.LOST,
        customer_id=OuterRef("customer_id"),
        entered_at__gt=period.start,
        entered_at__lte=period.end,
    )
    return (
        lifecycle.filter(segment__key__in=LIVE_STAGES, entered_at__lte=period.start)
        .filter(Q(exited_at__isnull=True) | Q(exited_at__gt=period.start))
        .aggregate(
            base=Count("customer_id", distinct=True),
            lost=Count("customer_id", distinct=True, filter=Q(Exists(became_lost))),
        )
    )


def _complaint_series(period: KpiPeriod) -> list[int]:
    rows = (
        Ticket.objects.filter(kind=TicketKind.COMPLAINT, opened_at__gte=period.start)
        .annotate(bucket=period.trunc("opened_at"))
        .values("bucket")
        .annotate(complaints=Count("pk"))
        .order_by("bucket")
    )
    return bucket_series(rows, period.starts, "complaints")["complaints"]


def _buyer_figures(period: KpiPeriod) -> dict[str, int]:
    """Customers with a paid order in the period, and those with two or more."""
    return (
        Order.objects.filter(
            status=OrderStatus.PAID, placed_at__gte=period.start, placed_at__lte=period.end
        )
        .values("customer_id")
        .annotate(orders=Count("pk"))
        .order_by()
        .aggregate(
            buyers=Count("customer_id"), repeat=Count("customer_id", filter=Q(orders__gte=2))
        )
    )


def _work_figures(period: KpiPeriod) -> WorkFigures:
    return reduce(
        WorkFigures.plus,
        (part.work_figures(period) for part in report_parts),
        WorkFigures.none(len(period.starts)),
    )


def care_kpis(*, days: int = DEFAULT_KPI_DAYS, now: dt.datetime | None = None) -> CareKpis:
    """The care KPIs of the last `days` days up to `now`, with their trends; seven queries (two
    of them outreach's report part) whatever the data (bucketed by day, by week beyond a month, in
    the current time zone).

    - tasks created, sent, reached and completed, SLA compliance: the work done on the plans, as the
      report parts count it (outreach.selectors_reports.task_figures defines each).
    - response rate: of treated enrollments started in the period, those whose customer
      responded within ATTRIBUTION_DAYS (see the module docstring).
    - conversion rate: of the same enrollments, those followed by a paid order within
      ATTRIBUTION_DAYS.
    - NPS: % promoters (9-10) minus % detractors (0-6) of NPS answers in the period.
    - dormant wake-up rate: of treated enrollments of inactivity-triggered rules ("no order for
      N days") started in the period, those followed by a paid order within ATTRIBUTION_DAYS.
    - repurchase rate: of customers with a paid order in the period, those with two or more.
    - complaints: complaint tickets opened in the period.
    - CSAT: the average score (1-5) of CSAT answers received in the period, and their count.
    - churn rate: of customers in a live lifecycle stage (new, active, dormant, churn risk:
      they have bought and are not lost) at the start of the period, those who entered the
      lost stage during it (the lifecycle segments' membership history, which each refresh
      writes; a customer lost and won back within the period still counts as churned).
    """
    period = kpi_period(days=days, now=now)
    work = _work_figures(period)
    enrollment = _enrollment_figures(period)
    nps = _survey_series(period)
    answers = sum(nps["answers"])
    csat_answers = sum(nps["csat_answers"])
    churn = _churn_figures(period)
    complaints = _complaint_series(period)
    buyers = _buyer_figures(period)
    return CareKpis(
        days=days,
        start=period.start,
        end=period.end,
        tasks_created=work.created,
        tasks_sent=work.sent,
        tasks_reached=work.reached,
        enrolled=enrollment["enrolled"],
        response_rate=rate(enrollment["responded"], enrollment["enrolled"]),
        conversion_rate=rate(enrollment["converted"], enrollment["enrolled"]),
        sla_due=work.sla_due,
        sla_met=work.sla_met,
        sla_compliance=rate(work.sla_met, work.sla_due),
        tasks_completed=work.completed,
        nps=_nps(sum(nps["promoters"]), sum(nps["detractors"]), answers),
        nps_answers=answers,
        dormant_enrolled=enrollment["dormant"],
        wakeup_rate=rate(enrollment["woken"], enrollment["dormant"]),
        buyers=buyers["buyers"],
        repurchase_rate=rate(buyers["repeat"], buyers["buyers"]),
        complaints=sum(complaints),
        series={
            "labels": [day.isoformat() for day in period.starts],
            **work.series,
            "nps": [
                _nps(p, d, a)
                for p, d, a in zip(nps["promoters"], nps["detractors"], nps["answers"], strict=True)
            ],
            "complaints": complaints,
            "csat": [
                round(total / count, 2) if count else None
                for total, count in zip(nps["csat_sum"], nps["csat_answers"], strict=True)
            ],
        },
        csat=rate(sum(nps["csat_sum"]), csat_answers),
        csat_answers=csat_answers,
        churn_base=churn["base"],
        churn_lost=churn["lost"],
        churn_rate=rate(churn["lost"], churn["base"]),
    )


VERDICT_LABELS = {
    "works": _("Works"),
    "hurts": _("Hurts"),
    "no_evidence": _("No evidence yet"),
}


# ---------------------------------------------------------------------------------------------
# Effect of a set of enrollments (a campaign's)


@dataclass(frozen=True)
class EnrollmentsEffect:
    """Treated and control counts of a set of enrollments, what came of them, and the
    conversion uplift with its interval (as the rule report computes it)."""

    enrolled: int
    control: int
    reached: int
    responded: int
    converted: int
    control_responded: int
    control_converted: int
    uplift: Uplift


def enrollments_effect(*, enrollments: QuerySet[Enrollment]) -> EnrollmentsEffect:
    """The effect of `enrollments`, in one aggregate query."""
    treated, control = Q(is_control=False), Q(is_control=True)
    row = _enrollments_with_outcomes(enrollments).aggregate(
        enrolled=Count("pk", filter=treated),
        control=Count("pk", filter=control),
        reached=Count("pk", filter=treated & Q(is_reached=True)),
        responded=Count("pk", filter=treated & Q(is_responded=True)),
        converted=Count("pk", filter=treated & Q(is_converted=True)),
        control_responded=Count("pk", filter=control & Q(is_responded=True)),
        control_converted=Count("pk", filter=control & Q(is_converted=True)),
    )
    return EnrollmentsEffect(
        **row,
        uplift=uplift_interval(
            treated_successes=row["converted"],
            treated_total=row["enrolled"],
            control_successes=row["control_converted"],
            control_total=row["control"],
        ),
    )
