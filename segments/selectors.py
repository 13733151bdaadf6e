"""Reads of the segmentation engine."""

from django.db.models import Prefetch, Q, QuerySet

from callcenter.selectors.customers import customer_search
from segments.choices import ChurnModelStatus
from segments.models import (
    ChurnModel,
    ClusterProfile,
    CustomerMetrics,
    RefreshRun,
    Segment,
    SegmentMembership,
    SegmentSnapshot,
)

SNAPSHOT_HISTORY = 60


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


def segment_members(*, segment: Segment, query: str = "") -> QuerySet[SegmentMembership]:
    """Current members with customer and metrics joined (no N+1 in lists)."""
    memberships = SegmentMembership.objects.filter(
        segment=segment, exited_at__isnull=True
    ).select_related("customer", "customer__metrics")
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


def customer_metrics(*, customer_id: int) -> CustomerMetrics | None:
    return CustomerMetrics.objects.filter(customer_id=customer_id).first()


def refresh_runs() -> QuerySet[RefreshRun]:
    return RefreshRun.objects.select_related("requested_by").order_by("-started_at", "-id")


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
