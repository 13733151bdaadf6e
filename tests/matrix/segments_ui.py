"""Decisions for the supervisor workspace pages: dashboard, segments, clusters and churn.

Supervisors and admins only; agents get 403 from the server on every page, including the rule
editor (and the CSV export, an API route decided in `core`)."""

from typing import Any

from segments.models import NextBestAction
from tests.matrix import ADMINS, MANAGERS, STAFF, Entry, _e, _page
from tests.segments.value_fits import ValueModelFitFactory

EXPECTATIONS: dict[str, Entry] = {
    "dashboard": _page(get=MANAGERS),
    "dashboard-cell": _page(get=MANAGERS),
    "segment-list": _page(get=MANAGERS),
    "segment-create": _page(get=MANAGERS, post=MANAGERS),
    "segment-edit": _page("segment", get=MANAGERS, post=MANAGERS),
    "segment-detail": _page("segment", get=MANAGERS),
    "segment-members": _page("segment", get=MANAGERS),
    "segment-size": _page("segment", get=MANAGERS),
    "segment-settings": _page("segment", post=MANAGERS),
    "segment-refresh": _page(get=MANAGERS, post=MANAGERS),
    "segment-refresh-history": _page(get=MANAGERS),
    "segment-refresh-progress": _page("refresh_run", get=MANAGERS),
    "clusters": _page(get=MANAGERS),
    "churn-retrain": _page(post=MANAGERS),
    # Queues the value model's fit by task name.
    "value-model-retrain": _page(post=MANAGERS),
    # Next best actions: supervisors read the list, admins write (pages and API).
    "next-best-actions": _page(get=MANAGERS),
    "next-best-action-create": _page(get=ADMINS, post=ADMINS),
    "next-best-action-edit": _page("next_best_action", get=ADMINS, post=ADMINS),
    "next-best-action-move": _page("next_best_action", post=ADMINS),
    "next-best-action-delete": _page("next_best_action", post=ADMINS),
    "api-next-best-actions": _e(get=MANAGERS, post=ADMINS),
    "api-next-best-action": _e("next_best_action", get=MANAGERS, patch=ADMINS, delete=ADMINS),
    # The customer page's segments section: everyone who may open the customer page.
    "customer-segments-fragment": _page("customer", get=STAFF),
}


def extra_objects(base: dict[str, Any]) -> dict[str, int]:
    """A current value model fit, so the API's "current" answers (a 404 would not exercise
    it); a next best action (an installed default) for its pages and API."""
    rule = NextBestAction.objects.order_by("pk").first()
    assert rule is not None
    return {"value_model": ValueModelFitFactory().pk, "next_best_action": rule.pk}
