"""The segments section of the screen-pop card: scores and current segments with their why."""

from typing import Any

from segments.models import CustomerMetrics, SegmentMembership, days_since

SEGMENTS_SHOWN = 12
METRIC_FIELDS = (
    "rfm_code",
    "rfm_segment",
    "lifecycle_stage",
    "value_tier",
    "churn_probability",
    "monetary",
    "frequency",
    "last_order_at",
    "cluster",
)


def segments_section(customer: dict[str, Any]) -> dict[str, Any]:
    """Badges for the agent: RFM segment, lifecycle, tier, churn risk, value; and segments.

    Two small indexed queries (metrics by primary key, open memberships by customer).
    """
    metrics = (
        CustomerMetrics.objects.filter(customer_id=customer["id"]).values(*METRIC_FIELDS).first()
    )
    if metrics is not None:
        metrics["monetary"] = str(metrics["monetary"])
        metrics["recency_days"] = days_since(metrics.pop("last_order_at"))
    memberships = list(
        SegmentMembership.objects.filter(customer_id=customer["id"], exited_at__isnull=True)
        .order_by("segment__kind", "segment__name")
        .values("segment__slug", "segment__name", "segment__kind", "entered_at", "reason")[
            :SEGMENTS_SHOWN
        ]
    )
    return {
        "metrics": metrics,
        "segments": [
            {
                "slug": row["segment__slug"],
                "name": row["segment__name"],
                "kind": row["segment__kind"],
                "since": row["entered_at"].isoformat(),
                "why": row["reason"],
            }
            for row in memberships
        ],
    }
