"""The segments section of the screen-pop card: scores and current segments with their why.

An `SqlSection`: its two statements (metrics by primary key, open memberships by customer)
join the card's single round trip. Plain SQL on the tables of `segments.models`
(CustomerMetrics, SegmentMembership, Segment); tests/segments test the section's values.
"""

from typing import Any

from callcenter.selectors.screenpop import Rows, SqlSection
from segments.models import days_since

SEGMENTS_SHOWN = 12

_METRICS_SQL = """SELECT rfm_code, rfm_segment, lifecycle_stage, value_tier, churn_probability,
       monetary, frequency, last_order_at, cluster
FROM segments_customermetrics WHERE customer_id = %(customer)s"""
_MEMBERSHIPS_SQL = """SELECT s.slug, s.name, s.kind, m.entered_at, m.reason
FROM segments_segmentmembership m JOIN segments_segment s ON s.id = m.segment_id
WHERE m.customer_id = %(customer)s AND m.exited_at IS NULL
ORDER BY s.kind, s.name LIMIT %(segments_shown)s"""


def _segments(metrics_rows: Rows, membership_rows: Rows) -> dict[str, Any]:
    metrics = metrics_rows[0] if metrics_rows else None
    if metrics is not None:
        metrics["monetary"] = str(metrics["monetary"])
        metrics["recency_days"] = days_since(metrics.pop("last_order_at"))
    return {
        "metrics": metrics,
        "segments": [
            {
                "slug": row["slug"],
                "name": row["name"],
                "kind": row["kind"],
                "since": row["entered_at"].isoformat(),
                "why": row["reason"],
            }
            for row in membership_rows
        ],
    }


segments_section = SqlSection(
    statements=[_METRICS_SQL, _MEMBERSHIPS_SQL],
    build=_segments,
    params={"segments_shown": SEGMENTS_SHOWN},
)
"""Badges for the agent (RFM segment, lifecycle, tier, churn risk, value) and the customer's
current segments, sorted by kind and name."""
