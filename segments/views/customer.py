"""The segments section of the customer page: scores, current segments with their "why", and
past stays. Loaded into the page by htmx, so the customer-profile app does not depend on
segments."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from callcenter.http import AuthenticatedHttpRequest
from callcenter.models import Customer
from callcenter.views import role_required
from segments.models import days_since
from segments.selectors import customer_metrics, customer_segments

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
    return render(
        request,
        "segments/partials/customer_segments.html",
        {"metrics": metrics, "as_of": as_of, "recency_days": recency, **stays},
    )
