"""Reads of the segmentation engine.

Stored metrics and scores describe one moment: the as-of of the latest successful refresh
(`metrics_as_of`). Days since the last order or contact are not stored; wherever they are shown
beside the scores they are counted to that moment (`segments.models.days_since`), never to now,
and reads that return metrics carry the moment as `metrics_as_of`, read in the same statement so
a refresh finishing meanwhile cannot mix two moments.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

from django.db.models import F, FloatField, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from callcenter.selectors.customers import customer_search
from segments.choices import ChurnModelStatus, RunStatus, SegmentKind
from segments.models import (
    ChurnModel,
    ClusterProfile,
    CustomerBehaviour,
    CustomerMetrics,
    CustomerReach,
    RefreshRun,
    Segment,
    SegmentMembership,
    SegmentSnapshot,
    ValueModel,
)
from segments.rules.explain import Why, builtin_explain, rules_explain

SNAPSHOT_HISTORY = 60
VALUE_MODEL_HISTORY = 10
# The as-of of the latest successful refresh, for raw SQL (exports, the screen-pop section): the
# query `metrics_as_of` makes, served by the index refresh_succeeded_latest.
METRICS_AS_OF_SQL = (
    f"SELECT as_of FROM segments_refreshrun WHERE status = '{RunStatus.SUCCEEDED.value}' "  # noqa: S608 - module constants
    "ORDER BY finished_at DESC LIMIT 1"
)


# Stand-ins of the expected value of a touch: an unknown churn probability or reachability.
UNKNOWN_CHURN = 0.5
UNKNOWN_REACHABILITY = 0.5


def touch_value(customer_path: str = "") -> CombinedExpression:
    """The expected value of a touch for the customer at `customer_path` (empty: the queryset's
    own Customer): predicted 365-day value (without a prediction: spend in the window) x churn
    probability (unknown: 0.5) x reachability (unknown: 0.5). Null without a metrics row, so it
    sorts last. Used by capacity-capped segments (PriorityField.TOUCH_VALUE) and the agents'
    call lists ordered by expected value."""
    prefix = f"{customer_path}__" if customer_path else ""
    value = Cast(
        Coalesce(F(f"{prefix}metrics__predicted_value_365d"), F(f"{prefix}metrics__monetary")),
        FloatField(),
    )
    churn = Coalesce(F(f"{prefix}metrics__churn_probability"), Value(UNKNOWN_CHURN))
    reach = Coalesce(F(f"{prefix}reach__reachability"), Value(UNKNOWN_REACHABILITY))
    return value * churn * reach


def customer_reach(*, customer_id: int) -> CustomerReach | None:
    """A customer's reachability and receptiveness (filled by outreach), if computed."""
    return CustomerReach.objects.filter(customer_id=customer_id).first()


class MetricsAsOf(TypedDict):
    """The annotation reads that return metrics add: the moment the metrics describe."""

    metrics_as_of: dt.datetime | None


# A metrics row and a membership as the reads below return them, with `metrics_as_of`. The
# plain models at runtime: on Python 3.11 WithAnnotations[Model, TypedDict] fails there, and
# drf-spectacular resolves the type hints of the serializer methods that take these.
if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    MetricsRow = WithAnnotations[CustomerMetrics, MetricsAsOf]
    MemberRow = WithAnnotations[SegmentMembership, MetricsAsOf]
else:
    MetricsRow = CustomerMetrics
    MemberRow = SegmentMembership


def _succeeded_latest_first() -> QuerySet[RefreshRun]:
    return RefreshRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-finished_at")


def refresh_latest_succeeded() -> RefreshRun | None:
    """The latest successful refresh: the one whose results are stored."""
    return _succeeded_latest_first().first()


def metrics_as_of() -> dt.datetime | None:
    """The moment the stored metrics and scores describe (None before the first refresh)."""
    return _succeeded_latest_first().values_list("as_of", flat=True).first()


def _as_of_subquery() -> Subquery:
    return Subquery(_succeeded_latest_first().values("as_of")[:1])


def segment_list() -> QuerySet[Segment]:
    """Segments with the history needed for sparklines prefetched (one extra query)."""
    return Segment.objects.prefetch_related(
        Prefetch(
            "snapshots",
            queryset=SegmentSnapshot.objects.order_by("-taken_at").only(
                "segment_id", "taken_at", "size", "entered", "exited"
            ),
        )
    ).order_by("kind", "name")


def segment_members(*, segment: Segment, query: str = "") -> QuerySet[MemberRow]:
    """Current members with customer and metrics joined (no N+1 in lists), each with the moment
    its metrics describe (`metrics_as_of`)."""
    memberships = (
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
        .select_related("segment", "customer", "customer__metrics")
        .annotate(metrics_as_of=_as_of_subquery())
    )
    if query:
        memberships = memberships.filter(customer__in=customer_search(query))
    return memberships


def segment_snapshots(*, segment: Segment, limit: int = SNAPSHOT_HISTORY) -> list[SegmentSnapshot]:
    """The latest snapshots of a segment, oldest first (for trend charts)."""
    latest = list(SegmentSnapshot.objects.filter(segment=segment).order_by("-taken_at")[:limit])
    return latest[::-1]


def customer_segments(
    *, customer_id: int, history_limit: int | None = None
) -> dict[str, list[SegmentMembership]]:
    """A customer's current memberships (with why) and past stays, newest first; with
    `history_limit`, only that many of the latest past stays (still one query)."""
    memberships = SegmentMembership.objects.filter(customer_id=customer_id)
    if history_limit is not None:
        latest_past = (
            memberships.filter(exited_at__isnull=False)
            .order_by("-entered_at")
            .values("pk")[:history_limit]
        )
        memberships = memberships.filter(Q(exited_at__isnull=True) | Q(pk__in=latest_past))
    rows = list(memberships.select_related("segment").order_by("-entered_at"))
    return {
        "current": [row for row in rows if row.exited_at is None],
        "history": [row for row in rows if row.exited_at is not None],
    }


def customer_metrics(*, customer_id: int) -> MetricsRow | None:
    """A customer's metrics row with the moment it describes (`metrics_as_of`)."""
    return (
        CustomerMetrics.objects.filter(customer_id=customer_id)
        .annotate(metrics_as_of=_as_of_subquery())
        .first()
    )


def refresh_runs() -> QuerySet[RefreshRun]:
    """Refresh runs, latest first (not the runs that computed one saved segment)."""
    return (
        RefreshRun.objects.exclude(status=RunStatus.SEGMENT)
        .select_related("requested_by")
        .order_by("-started_at", "-id")
    )


def cluster_profiles_latest() -> list[ClusterProfile]:
    """Cluster descriptions from the latest run that produced clusters."""
    latest = ClusterProfile.objects.order_by("-run_id").values_list("run_id", flat=True).first()
    if latest is None:
        return []
    return list(ClusterProfile.objects.filter(run_id=latest).order_by("number"))


def churn_model_status() -> dict[str, object]:
    """The current model and the latest training attempts."""
    current = ChurnModel.objects.filter(is_current=True).defer("model_blob").first()
    attempts = list(ChurnModel.objects.defer("model_blob").order_by("-version")[:10])
    return {
        "current": current,
        "attempts": attempts,
        "trained": current is not None and current.status == ChurnModelStatus.TRAINED,
    }


def customer_behaviour(*, customer_id: int) -> CustomerBehaviour | None:
    """A customer's buying habits and service history, with the customer (gender, birthday)
    and their reachability (`customer.reach`, when outreach computed it) in the same query."""
    return (
        CustomerBehaviour.objects.select_related("customer", "customer__reach")
        .filter(customer_id=customer_id)
        .first()
    )


def value_model_current() -> ValueModel | None:
    """The value model fit in use (the one the refresh scores with), if any."""
    return ValueModel.objects.filter(is_current=True).first()


def value_model_fits() -> QuerySet[ValueModel]:
    """Every fit of the value model, the latest first (for the API's cursor pages)."""
    return ValueModel.objects.order_by("-version")


class ValueModelStatus(TypedDict):
    current: ValueModel | None
    fits: list[ValueModel]
    trained: bool


def value_model_status(*, history: int = VALUE_MODEL_HISTORY) -> ValueModelStatus:
    """The current value model fit and the latest fits (two queries)."""
    current = value_model_current()
    return {
        "current": current,
        "fits": list(value_model_fits()[:history]),
        "trained": current is not None and current.status == ChurnModelStatus.TRAINED,
    }


def memberships_explain(
    memberships: Sequence[SegmentMembership],
    *,
    metrics: Mapping[int, CustomerMetrics | None],
    as_of: dt.datetime | None = None,
) -> None:
    """Attach `why` (segments.rules.explain.Why, in the active language) to each membership
    (segment loaded): a rule segment's from its rule and the customer's values, as of the
    moment the stored metrics describe (one query for all), a built-in one's from the
    customer's metrics row (`metrics`: customer id -> row)."""
    rule_rows = [m for m in memberships if m.segment.kind == SegmentKind.RULE]
    whys: dict[tuple[int, int], Why] = {}
    if rule_rows:
        whys = rules_explain(
            rules={m.segment_id: m.segment.rule for m in rule_rows},
            customer_ids={m.customer_id for m in rule_rows},
            as_of=as_of or metrics_as_of() or timezone.now(),
        )
    for membership in memberships:
        segment = membership.segment
        if segment.kind == SegmentKind.RULE:
            why = whys.get((segment.pk, membership.customer_id), Why())
        else:
            why = builtin_explain(
                kind=segment.kind,
                metrics=metrics.get(membership.customer_id),
                segment_name=segment.display_name,
            )
        membership.why = why  # type: ignore[attr-defined]


def members_explain(members: Sequence[SegmentMembership]) -> None:
    """`memberships_explain` for rows of `segment_members` (customer, metrics and the as-of
    already read with them)."""
    if not members:
        return
    metrics: dict[int, CustomerMetrics | None] = {}
    for member in members:
        try:
            metrics[member.customer_id] = member.customer.metrics
        except CustomerMetrics.DoesNotExist:
            metrics[member.customer_id] = None
    # No as-of read with them: no refresh has succeeded yet, the why counts to now.
    as_of = getattr(members[0], "metrics_as_of", None)
    memberships_explain(members, metrics=metrics, as_of=as_of or timezone.now())


def rule_segments_why(*, customer_id: int, slugs: Sequence[str]) -> dict[str, str]:
    """Why the customer is in each of these rule segments, in words (slug -> text); three
    queries (the segments' rules, the scores' as-of, the customer's values)."""
    segments = list(
        Segment.objects.filter(slug__in=list(slugs), kind=SegmentKind.RULE).only(
            "pk", "slug", "rule"
        )
    )
    if not segments:
        return {}
    whys = rules_explain(
        rules={segment.pk: segment.rule for segment in segments},
        customer_ids=[customer_id],
        as_of=metrics_as_of() or timezone.now(),
    )
    return {
        segment.slug: whys[(segment.pk, customer_id)].text
        for segment in segments
        if (segment.pk, customer_id) in whys
    }
