"""Decisions for the supervisor workspace pages: dashboard, segments, clusters and churn.

Supervisors and admins only; agents get 403 from the server on every page, including the rule
editor (and the CSV export, an API route decided in `core`)."""

from typing import Any

from tests.matrix import MANAGERS, STAFF, Entry, _page
from tests.segments.value_fits import ValueModelFitFactory

EXPECTATIONS: dict[str, Entry] = {
    "dashboard": _page(get=MANAGERS),
    "dashboard-cell": _page(get=MANAGERS),
    "segment-list": _page(get=MANAGERS),
    "segment-create": _page(get=MANAGERS, post=MANAGERS),
    "segment-edit": _page("segment", get=MANAGERS, post=MANAGERS),
    "segment-detail": _page("segment", get=MANAGERS),
    "segment-members": _page("segment", get=MANAGERS),
    "segment-settings": _page("segment", post=MANAGERS),
    "segment-refresh": _page(get=MANAGERS, post=MANAGERS),
    "segment-refresh-history": _page(get=MANAGERS),
    "segment-refresh-progress": _page("refresh_run", get=MANAGERS),
    "clusters": _page(get=MANAGERS),
    "churn-retrain": _page(post=MANAGERS),
    # Queues the value model's fit by task name.
    "value-model-retrain": _page(post=MANAGERS),
    # The customer page's segments section: everyone who may open the customer page.
    "customer-segments-fragment": _page("customer", get=STAFF),
}


def extra_objects(base: dict[str, Any]) -> dict[str, int]:
    """A current value model fit, so the API's "current" answers (a 404 would not exercise
    it)."""
    return {"value_model": ValueModelFitFactory().pk}
