"""Reads of the supervisor workspace pages: distributions, the R x F grid, a segment's members
and composition, and the customers most at risk. Each is one grouped query, whatever the number
of customers or segments."""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FloatField,
    OrderBy,
    Prefetch,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from callcenter.choices import CustomerStatus
from segments.choices import (
    LifecycleStage,
    RfmSegmentName,
    RunStatus,
    SegmentKind,
    ValuePotential,
    ValueTier,
)
from segments.models import (
    CustomerMetrics,
    RefreshRun,
    Segment,
    SegmentMembership,
    SegmentSnapshot,
    ValueModel,
)
from segments.selectors import segment_members

SCORES = (5, 4, 3, 2, 1)
AT_RISK_LIMIT = 20
TREND_POINTS = 30

# Member list orderings a supervisor may pick: key -> ORM path.
MEMBER_SORTS: dict[str, str] = {
    "monetary": "customer__metrics__monetary",
    "churn": "customer__metrics__churn_probability",
    "predicted": "customer__metrics__predicted_value_365d",
    "last_order": "customer__metrics__last_order_at",
    "frequency": "customer__metrics__frequency",
    "entered": "entered_at",
    "name": "customer__name",
}
DEFAULT_MEMBER_SORT = "-monetary"


@dataclass(frozen=True)
class Share:
    """One bar of a distribution: a value, its label, how many customers and their spend."""

    value: str
    label: str
    count: int
    spend: Decimal
    percent: float


def _shares(found: Mapping[str, Mapping[str, Any]], choices: Any) -> list[Share]:
    """One Share per choice from grouped rows (value -> {"n", "spend"})."""
    total = sum(row["n"] for row in found.values()) or 1
    return [
        Share(
            value=value,
            label=str(label),
            count=found.get(value, {}).get("n", 0),
            spend=found.get(value, {}).get("spend", Decimal(0)),
            percent=round(100 * found.get(value, {}).get("n", 0) / total, 1),
        )
        for value, label in choices.choices
    ]


def _distribution(field: str, choices: Any, rows: QuerySet[Any]) -> list[Share]:
    found = {row[field]: row for row in rows.values(field).annotate(n=Count("pk"), spend=_spend())}
    return _shares(found, choices)


def _tier_and_potential(rows: QuerySet[Any]) -> tuple[list[Share], list[Share]]:
    """The value tiers and the potential-value layer beside them, from one grouped query."""
    tiers: dict[str, dict[str, Any]] = {}
    potential: dict[str, dict[str, Any]] = {}
    grouped = rows.values("value_tier", "value_potential").annotate(n=Count("pk"), spend=_spend())
    for row in grouped:
        for found, key in ((tiers, row["value_tier"]), (potential, row["value_potential"])):
            entry = found.setdefault(key, {"n": 0, "spend": Decimal(0)})
            entry["n"] += row["n"]
            entry["spend"] += row["spend"]
    return _shares(tiers, ValueTier), _shares(potential, ValuePotential)


def _spend() -> Coalesce:
    return Coalesce(Sum("monetary"), Decimal(0))


def _active_metrics() -> QuerySet[CustomerMetrics]:
    return CustomerMetrics.objects.filter(customer__status=CustomerStatus.ACTIVE)


def lifecycle_distribution() -> list[Share]:
    """Active customers per lifecycle stage (one grouped query)."""
    return _distribution("lifecycle_stage", LifecycleStage, _active_metrics())


def tier_distribution() -> list[Share]:
    """Active customers per value tier (one grouped query)."""
    return _distribution("value_tier", ValueTier, _active_metrics())


def share_chart_rows(
    shares: list[Share], colours: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """A distribution as a chart's data: label and count, and the colour of each value when
    `colours` gives one (`segments.colours`), so every chart paints a value alike."""
    rows: list[dict[str, Any]] = []
    for share in shares:
        row: dict[str, Any] = {"label": share.label, "count": share.count}
        if colours and share.value in colours:
            row["color"] = colours[share.value]
        rows.append(row)
    return rows


def rf_grid() -> dict[str, Any]:
    """The R x F grid: rows R 5..1, columns F 1..5, each cell with count, spend and share."""
    rows = (
        _active_metrics()
        .filter(r_score__isnull=False, f_score__isnull=False)
        .values("r_score", "f_score")
        .annotate(n=Count("pk"), spend=_spend())
    )
    cells = {(row["r_score"], row["f_score"]): row for row in rows}
    biggest = max((row["n"] for row in cells.values()), default=0) or 1
    grid = []
    for r in SCORES:
        line = []
        for f in SCORES[::-1]:
            row: Mapping[str, Any] = cells.get((r, f), {})
            count = row.get("n", 0)
            line.append(
                {
                    "r": r,
                    "f": f,
                    "count": count,
                    "spend": row.get("spend", Decimal(0)),
                    # 0..5: the heat of the cell, for its background shade.
                    "heat": 0 if count == 0 else 1 + round(4 * count / biggest),
                }
            )
        grid.append({"r": r, "cells": line})
    return {"rows": grid, "f_scores": SCORES[::-1]}


def segments_with_trends(*, points: int = TREND_POINTS) -> QuerySet[Segment]:
    """Segments with their latest `points` snapshots prefetched, newest first (two queries).

    The snapshots are ranked per segment in SQL, so the rows read stay bounded however long
    the refresh history grows.
    """
    recent = (
        SegmentSnapshot.objects.annotate(
            rank=Window(RowNumber(), partition_by=F("segment_id"), order_by=F("taken_at").desc())
        )
        .filter(rank__lte=points)
        .order_by("segment_id", "-taken_at")
        .only("segment_id", "taken_at", "size", "entered", "exited")
    )
    return Segment.objects.prefetch_related(Prefetch("snapshots", queryset=recent)).order_by(
        "kind", "name"
    )


def customers_in_cell(*, r: int, f: int) -> QuerySet[CustomerMetrics]:
    """Active customers with scores R=r and F=f, highest spend first."""
    return (
        _active_metrics()
        .filter(r_score=r, f_score=f)
        .select_related("customer")
        .order_by(F("monetary").desc(), "customer_id")
    )


def member_ordering(sort: str) -> tuple[str, list[OrderBy]]:
    """The ordering for a `sort` key ("monetary" or "-monetary"); unknown keys get the default.
    Empty values go last either way; the membership id breaks ties for stable pages."""
    key = sort.lstrip("-")
    if key not in MEMBER_SORTS:
        sort, key = DEFAULT_MEMBER_SORT, DEFAULT_MEMBER_SORT.lstrip("-")
    expression = F(MEMBER_SORTS[key])
    ordered = (
        expression.desc(nulls_last=True)
        if sort.startswith("-")
        else expression.asc(nulls_last=True)
    )
    return sort, [ordered, F("id").asc()]


def segment_member_rows(
    *, segment: Segment, query: str = "", sort: str = DEFAULT_MEMBER_SORT
) -> tuple[str, QuerySet[SegmentMembership]]:
    """Current members (customer and metrics joined), searched and sorted."""
    sort, ordering = member_ordering(sort)
    return sort, segment_members(segment=segment, query=query).order_by(*ordering)


def segment_composition(*, segment: Segment) -> dict[str, list[Share]]:
    """Lifecycle stage, value tier with the potential-value layer, and RFM segment of the
    current members (three grouped queries over the open memberships)."""
    members = CustomerMetrics.objects.filter(
        customer__segment_memberships__segment=segment,
        customer__segment_memberships__exited_at__isnull=True,
    )
    tiers, potential = _tier_and_potential(members)
    return {
        # Empty until the value model has scored a member.
        "lifecycle": _distribution("lifecycle_stage", LifecycleStage, members),
        "tier": tiers,
        "potential": potential if any(share.count for share in potential) else [],
        "rfm": _distribution("rfm_segment", RfmSegmentName, members),
    }


def most_at_risk(*, limit: int = AT_RISK_LIMIT) -> list[CustomerMetrics]:
    """The customers still worth saving: not lost yet, ranked by the value at risk, with their
    customer row. The value at risk is the churn probability times the predicted value of the
    next 365 days (the value model's), or times the spend in the window for a customer the
    value model has not scored. Lost customers have the highest churn probability because they
    are gone; ranking by probability alone put them first. `value_at_risk` is annotated on
    each row."""
    money = DecimalField(max_digits=14, decimal_places=2)
    worth = Coalesce(F("predicted_value_365d"), F("monetary"), output_field=money)
    return list(
        _active_metrics()
        .filter(churn_probability__isnull=False)
        .exclude(lifecycle_stage=LifecycleStage.LOST)
        .annotate(
            value_at_risk=ExpressionWrapper(
                F("churn_probability") * worth, output_field=FloatField()
            )
        )
        .select_related("customer")
        .order_by(
            F("value_at_risk").desc(nulls_last=True),
            F("churn_probability").desc(),
            "customer_id",
        )[:limit]
    )


def recently_lost(*, limit: int = AT_RISK_LIMIT) -> list[CustomerMetrics]:
    """Lost customers, the most recent buyers first (win-back candidates, shown apart from
    those still worth saving), with their customer row."""
    return list(
        _active_metrics()
        .filter(lifecycle_stage=LifecycleStage.LOST)
        .select_related("customer")
        .order_by(F("last_order_at").desc(nulls_last=True), "customer_id")[:limit]
    )


def latest_run() -> RefreshRun | None:
    """The latest refresh run (running or finished)."""
    return (
        RefreshRun.objects.exclude(status=RunStatus.SEGMENT).order_by("-started_at", "-id").first()
    )


def potential_segments(segments: list[Segment]) -> list[Segment]:
    """The potential-value layer's built-in segments among `segments` (already loaded), in the
    order of the layer (grow, keep, slipping, steady); no query."""
    order = {value: index for index, value in enumerate(ValuePotential.values)}
    layer = [segment for segment in segments if segment.kind == SegmentKind.POTENTIAL]
    return sorted(layer, key=lambda s: (order.get(s.key, len(order)), s.name))


@dataclass(frozen=True)
class ModelParameter:
    """One parameter of the value model's fit, with what it means for people."""

    name: str
    value: float | None
    meaning: Promise


# The fit's parameters (time in days), in the order they are shown.
VALUE_MODEL_PARAMETERS: tuple[tuple[str, Promise], ...] = (
    ("r", _("Purchase rate: shape. How much customers differ in how often they buy.")),
    ("alpha", _("Purchase rate: scale, in days. r / alpha is the mean purchases per day.")),
    ("a", _("Drop-out after a purchase: first shape of the beta distribution.")),
    ("b", _("Drop-out after a purchase: second shape. a / (a + b) is the mean chance.")),
    ("p", _("Spend per purchase: shape of one customer's spend around their own mean.")),
    ("q", _("Spend per purchase: shape of how customers' mean spends differ.")),
    ("gamma", _("Spend per purchase: scale. p × gamma / (q - 1) is the mean spend.")),
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def value_model_parameters(model: ValueModel) -> list[ModelParameter]:
    """The fit's seven parameters with their meaning; a missing one is None."""
    params = model.params if isinstance(model.params, dict) else {}
    return [
        ModelParameter(name=name, value=_number(params.get(name)), meaning=meaning)
        for name, meaning in VALUE_MODEL_PARAMETERS
    ]


# The sub-models' names as people write them (the stored keys are identifiers).
_SUB_MODEL_NAMES = {"bgnbd": "BG/NBD", "gamma_gamma": "Gamma-Gamma"}


def value_model_log_likelihoods(model: ValueModel) -> list[tuple[str, float]]:
    """The fit's log-likelihoods by sub-model (as stored), numbers only."""
    stored = model.log_likelihood if isinstance(model.log_likelihood, dict) else {}
    return [
        (_SUB_MODEL_NAMES.get(str(key), str(key)), number)
        for key, value in stored.items()
        if (number := _number(value)) is not None
    ]


def error_percent(error: float | None) -> float | None:
    """A hold-out error (a share of the actual total) in percent, one decimal."""
    return None if error is None else round(100 * error, 1)


def value_model_fit_rows(fits: list[ValueModel]) -> list[dict[str, Any]]:
    """The past fits for the page, each with its hold-out error in percent."""
    return [{"fit": fit, "error_percent": error_percent(fit.holdout_error)} for fit in fits]


def value_model_holdout(model: ValueModel | None) -> dict[str, Any] | None:
    """The fit's hold-out check as rows (customers, predicted and actual purchases per number of
    repeat purchases in calibration), the totals and the error; None without one. Missing keys
    read as empty: the page shows what the fit stored."""
    holdout = model.holdout if model is not None and isinstance(model.holdout, dict) else {}
    buckets = holdout.get("buckets")
    if not isinstance(buckets, list) or not buckets:
        return None
    rows = []
    for bucket in buckets:
        if not isinstance(bucket, dict):
            continue
        rows.append(
            {
                "repeat": str(bucket.get("repeat", "")),
                "customers": _number(bucket.get("customers")),
                "predicted": _number(bucket.get("predicted")),
                "actual": _number(bucket.get("actual")),
            }
        )
    # The totals as the fit stores them ("predicted", "actual"), or under the longer names.
    predicted_total = _number(holdout.get("predicted_total", holdout.get("predicted")))
    actual_total = _number(holdout.get("actual_total", holdout.get("actual")))
    error = model.holdout_error if model is not None else None
    if error is None and predicted_total is not None and actual_total:
        error = (predicted_total - actual_total) / actual_total
    return {
        "rows": rows,
        "days": None if (days := _number(holdout.get("days"))) is None else int(days),
        "predicted_total": predicted_total,
        "actual_total": actual_total,
        "error": error,
        "error_percent": error_percent(error),
        "chart": {
            "labels": [row["repeat"] for row in rows],
            "predicted": [row["predicted"] for row in rows],
            "actual": [row["actual"] for row in rows],
        },
    }
