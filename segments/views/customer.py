"""The segments section of the customer page: scores, current segments with their "why", and
past stays. Loaded into the page by htmx, so the customer-profile app does not depend on
segments."""

import datetime as dt

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from callcenter.http import AuthenticatedHttpRequest
from callcenter.models import Customer
from callcenter.views import role_required
from segments.choices import IsoWeekday, ReachChannel, age_band
from segments.models import CustomerReach, age_at, days_since, overdue_ratio
from segments.next_best_actions import next_best_actions_for_customer
from segments.selectors import (
    MetricsRow,
    customer_behaviour,
    customer_metrics,
    customer_segments,
    memberships_explain,
)

PAST_STAYS_SHOWN = 10


@require_GET
@role_required()
def customer_segments_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Scores as of the refresh that computed them, with the days since the last order counted
    to that moment (as the R score ranked them), and the customer's segments."""
    get_object_or_404(Customer.objects.only("pk"), pk=pk)
    stays = customer_segments(customer_id=pk, history_limit=PAST_STAYS_SHOWN)
    metrics = customer_metrics(customer_id=pk)
    as_of = metrics.metrics_as_of if metrics is not None else None
    recency = days_since(metrics.last_order_at, as_of=as_of) if metrics is not None else None
    # Without a metrics row there is no as-of to read: the why counts to now.
    memberships_explain(stays["current"], metrics={pk: metrics}, as_of=as_of or timezone.now())
    return render(
        request,
        "segments/partials/customer_segments.html",
        {
            "metrics": metrics,
            "as_of": as_of,
            "recency_days": recency,
            **stays,
            "habits": _habits(pk, metrics, as_of=as_of),
            # What the desk card would suggest now (one query; the rules are cached).
            "next_best_actions": next_best_actions_for_customer(customer_id=pk),
        },
    )


def _habits(pk: int, metrics: MetricsRow | None, *, as_of: dt.datetime | None) -> dict | None:
    """The "Buying habits" panel: the stored behaviour row and what derives from it against
    the scores' as-of (age and band, how overdue the next order is)."""
    row = customer_behaviour(customer_id=pk)
    if row is None:
        return None
    age = age_at(row.customer.birthday, as_of=as_of)
    last_order_at = metrics.last_order_at if metrics is not None else None
    return {
        "row": row,
        "shares": sorted(row.category_shares.items(), key=lambda item: -item[1]),
        "weekday": IsoWeekday(str(row.usual_weekday)).label if row.usual_weekday else "",
        "age": age,
        "age_band": age_band(age).label if age is not None else "",
        "overdue_ratio": overdue_ratio(last_order_at, row.median_gap_days, as_of=as_of),
        "overdue_days": _overdue_days(last_order_at, row.median_gap_days, as_of=as_of),
        "reach": _reach(row.customer),
    }


def _reach(customer: Customer) -> dict | None:
    """The "Reachability" block: the stored row (joined with the behaviour row) and the best
    channel's share; None when outreach has counted nothing for the customer."""
    try:
        reach = customer.reach
    except CustomerReach.DoesNotExist:
        return None
    shares: dict[str, float | None] = {
        ReachChannel.CALL: reach.call_answer_share,
        ReachChannel.SMS: reach.sms_delivered_share,
        ReachChannel.EMAIL: reach.email_delivered_share,
    }
    share = shares.get(reach.best_channel)
    return {"row": reach, "best_share": share}


def _overdue_days(
    last_order_at: dt.datetime | None, median_gap_days: float | None, *, as_of: dt.datetime | None
) -> int | None:
    """Days past the usual gap (0 while the next order is not due yet)."""
    days = days_since(last_order_at, as_of=as_of)
    if days is None or median_gap_days is None:
        return None
    return max(0, round(days - median_gap_days))
