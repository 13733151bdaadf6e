"""A full refresh spread over Celery workers.

When a refresh must aggregate every customer (no earlier run to build on) and
SEGMENTS_REFRESH_PARTS is above 1, the aggregation is split by customer id range into that many
Celery subtasks (a chord), so several workers (on several machines) run it at once. Each part
leaves its raw metrics in Redis as Parquet; the chord's last step merges them and finishes the
run in the usual single transaction (scores, write-back, memberships), under the refresh lock.
The result is the same as the single pass: tests compare them row by row.
"""

import io

import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db.models import Max, Min

from callcenter.models import Customer
from segments.models import RefreshRun
from segments.services.metrics import metrics_frame

PART_TTL_SECONDS = 3600


def refresh_parts() -> int:
    """How many parts a full aggregation is split into (1: not split)."""
    return max(1, int(getattr(settings, "SEGMENTS_REFRESH_PARTS", 1)))


def id_ranges(parts: int) -> list[tuple[int, int]]:
    """Half-open customer id ranges covering every active customer, about equally wide."""
    bounds = Customer.objects.filter(status="active").aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return [(0, 1)]
    lo, hi = bounds["lo"], bounds["hi"] + 1
    step = max(1, -(-(hi - lo) // parts))
    return [(start, min(start + step, hi)) for start in range(lo, hi, step)]


def _part_key(run_id: int, lo: int) -> str:
    return f"segments:refresh:{run_id}:part:{lo}"


def aggregate_part(*, run_id: int, lo: int, hi: int) -> str:
    """Aggregate the customers with ids in [lo, hi) as of the run; returns the Redis key."""
    run = RefreshRun.objects.get(pk=run_id)
    frame = metrics_frame(as_of=run.as_of, window_days=run.window_days, id_range=(lo, hi))
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    key = _part_key(run_id, lo)
    cache.set(key, buffer.getvalue(), PART_TTL_SECONDS)
    return key


def merged_frame(keys: list[str]) -> pd.DataFrame:
    """The parts as one frame in customer order, as `metrics_frame` returns it."""
    parts = []
    for key in keys:
        payload = cache.get(key)
        if payload is None:
            raise RuntimeError(f"refresh part {key} is missing (expired or lost)")
        parts.append(pd.read_parquet(io.BytesIO(payload)))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values("customer_id", kind="stable", ignore_index=True)
    cache.delete_many(keys)
    return frame.set_index("customer_id", drop=False)
