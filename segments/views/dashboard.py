"""The supervisor dashboard: who the customers are (lifecycle, tier, R x F), how segments move,
and the care KPIs of a chosen period (a fragment the care pages provide)."""

from typing import TypedDict

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from callcenter.http import AuthenticatedHttpRequest
from callcenter.views import role_required
from segments.choices import SegmentKind
from segments.colours import LIFECYCLE_COLOURS, TIER_COLOURS
from segments.models import Segment
from segments.selectors import metrics_as_of
from segments.selectors_ui import (
    latest_run,
    lifecycle_distribution,
    potential_segments,
    rf_grid,
    segments_with_trends,
    share_chart_rows,
    tier_distribution,
)
from segments.views import MANAGERS

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30


class SegmentTrend(TypedDict):
    """A segment with its recent sizes, oldest first, and the last change."""

    segment: Segment
    trend: list[int]
    change: int


@require_GET
@role_required(MANAGERS)
def dashboard_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Distributions, the R x F grid and segment trends, as of the moment the stored scores
    describe (which the page states); a fixed number of queries."""
    try:
        days = int(request.GET.get("days", DEFAULT_PERIOD))
    except ValueError:
        days = DEFAULT_PERIOD
    if days not in PERIODS:
        days = DEFAULT_PERIOD
    lifecycle = lifecycle_distribution()
    tiers = tier_distribution()
    segments = list(segments_with_trends().filter(is_active=True))
    trends: list[SegmentTrend] = []
    for segment in segments:
        snapshots = segment.snapshots.all()
        sizes = [s.size for s in snapshots][::-1]
        trends.append(
            {
                "segment": segment,
                "trend": sizes,
                "change": sizes[-1] - sizes[-2] if len(sizes) > 1 else 0,
            }
        )
    lifecycle_series = [
        {
            "label": row["segment"].display_name,
            # The stage's colour, as in the distribution beside it (None: a stage unknown).
            "color": LIFECYCLE_COLOURS.get(row["segment"].key),
            "points": [
                {"x": s.taken_at.isoformat(), "y": s.size}
                for s in reversed(row["segment"].snapshots.all())
            ],
        }
        for row in trends
        if row["segment"].kind == SegmentKind.LIFECYCLE
    ]
    context = {
        "days": days,
        "lifecycle": lifecycle,
        "tiers": tiers,
        # The potential-value layer beside the tiers: its built-in segments, already loaded.
        "potential": potential_segments(segments),
        "grid": rf_grid(),
        "customers_total": sum(share.count for share in lifecycle),
        "trends": trends,
        "run": latest_run(),
        "as_of": metrics_as_of(),
        "chart_data": {
            "lifecycle": share_chart_rows(lifecycle, LIFECYCLE_COLOURS),
            "tiers": share_chart_rows(tiers, TIER_COLOURS),
            "lifecycle_series": lifecycle_series,
        },
    }
    return render(request, "segments/dashboard.html", context)
