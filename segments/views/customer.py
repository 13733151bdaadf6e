"""The segments section of the customer page: scores, current segments with their "why", and
past stays. Loaded into the page by htmx, so the customer-profile app does not depend on
segments."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from callcenter.models import Customer
from callcenter.views import role_required
from segments.selectors import customer_metrics, customer_segments

PAST_STAYS_SHOWN = 10


@require_GET
@role_required()
def customer_segments_view(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(Customer.objects.only("pk"), pk=pk)
    stays = customer_segments(customer_id=pk, history_limit=PAST_STAYS_SHOWN)
    return render(
        request,
        "segments/partials/customer_segments.html",
        {"metrics": customer_metrics(customer_id=pk), **stays},
    )
