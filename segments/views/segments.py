"""Segment pages: the list with trends, a segment's detail (members, composition, movement,
settings), and the customers of one R x F cell."""

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.views import role_required
from segments.choices import SegmentKind
from segments.colours import LIFECYCLE_COLOURS, TIER_COLOURS
from segments.forms import SegmentSettingsForm
from segments.models import Segment
from segments.rules.explain import rule_words
from segments.selectors import members_explain, segment_snapshots
from segments.selectors_ui import (
    customers_in_cell,
    segment_composition,
    segment_member_rows,
    segments_with_trends,
    share_chart_rows,
)
from segments.services.segment_compute import segment_compute_pending, segment_members_request
from segments.services.segments import segment_update
from segments.views import MANAGERS

MEMBERS_PAGE_SIZE = 25
CELL_PAGE_SIZE = 50
MAX_QUERY_LENGTH = 200
SPARKLINE_POINTS = 30
# The composition charts painted in the stages' and tiers' own colours (the others: the palette).
COMPOSITION_COLOURS = {"lifecycle": LIFECYCLE_COLOURS, "tier": TIER_COLOURS}


def _trend(segment: Segment) -> list[int]:
    """Sizes at the latest refreshes, oldest first, from the prefetched snapshots."""
    return [snapshot.size for snapshot in segment.snapshots.all()][::-1]


@require_GET
@role_required(MANAGERS)
def segment_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every segment with its size, trend sparkline, kind and last refresh; filter by kind."""
    kind = request.GET.get("kind", "")
    segments = segments_with_trends(points=SPARKLINE_POINTS)
    if kind in SegmentKind.values:
        segments = segments.filter(kind=kind)
    else:
        kind = ""
    rows = [{"segment": segment, "trend": _trend(segment)} for segment in segments]
    context = {"rows": rows, "kind": kind, "kinds": SegmentKind.choices}
    return render(request, "segments/segment_list.html", context)


def _members_context(request: AuthenticatedHttpRequest, segment: Segment) -> dict[str, Any]:
    query = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    sort, members = segment_member_rows(
        segment=segment, query=query, sort=request.GET.get("sort", "")
    )
    page = Paginator(members, MEMBERS_PAGE_SIZE).get_page(request.GET.get("page"))
    members_explain(list(page.object_list))
    return {
        "segment": segment,
        "query": query,
        "sort": sort,
        "page": page,
    }


def _rule_text(segment: Segment) -> str:
    """The rule in words, in the page's language."""
    if segment.kind != SegmentKind.RULE:
        return ""
    return rule_words(tree=segment.rule)


def _detail_context(
    request: AuthenticatedHttpRequest, segment: Segment, settings_form: SegmentSettingsForm
) -> dict[str, Any]:
    snapshots = segment_snapshots(segment=segment)
    composition = segment_composition(segment=segment)
    return {
        **_members_context(request, segment),
        "rule_text": _rule_text(segment),
        "composition": composition,
        "chart_data": {
            "composition": {
                name: share_chart_rows(shares, COMPOSITION_COLOURS.get(name))
                for name, shares in composition.items()
            },
            "movement": [
                {
                    "taken_at": snapshot.taken_at.isoformat(),
                    "size": snapshot.size,
                    "entered": snapshot.entered,
                    "exited": snapshot.exited,
                }
                for snapshot in snapshots
            ],
        },
        "settings_form": settings_form,
        "computing": segment_compute_pending(segment=segment),
    }


@require_GET
@role_required(MANAGERS)
def segment_detail_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A segment: members, composition charts, entries and exits over time, settings."""
    segment = get_object_or_404(Segment, pk=pk)
    form = SegmentSettingsForm(
        initial={
            "capacity": segment.capacity,
            "priority_field": segment.priority_field,
            "priority_descending": segment.priority_descending,
        }
    )
    return render(request, "segments/segment_detail.html", _detail_context(request, segment, form))


@require_GET
@role_required(MANAGERS)
def segment_members_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The member table (search, sort, page) as a fragment for htmx."""
    segment = get_object_or_404(Segment, pk=pk)
    response = render(request, "segments/partials/members.html", _members_context(request, segment))
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
@role_required(MANAGERS)
def segment_size_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The segment's member count, or "computing" (polling again) while a worker computes it."""
    segment = get_object_or_404(Segment, pk=pk)
    context = {"segment": segment, "computing": segment_compute_pending(segment=segment)}
    return render(request, "segments/partials/segment_size.html", context)


@require_POST
@role_required(MANAGERS)
def segment_settings_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Save capacity and priority; errors are shown next to the fields, nothing changes."""
    segment = get_object_or_404(Segment, pk=pk)
    form = SegmentSettingsForm(request.POST)
    if form.is_valid():
        try:
            segment_update(segment=segment, updated_by=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if segment.kind != SegmentKind.RULE:
                messages.success(request, _("Settings saved. They apply from the next refresh."))
            elif segment_members_request(segment=segment):
                messages.success(request, _("Settings saved. The members are computed again."))
            else:
                messages.success(request, _("Segment saved. Its members are being computed."))
            return redirect("segment-detail", pk=segment.pk)
    context = _detail_context(request, segment, form)
    return render(request, "segments/segment_detail.html", context, status=400)


@require_GET
@role_required(MANAGERS)
def rf_cell_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The customers of one R x F cell of the dashboard grid, highest spend first."""
    try:
        r, f = int(request.GET.get("r", "")), int(request.GET.get("f", ""))
    except ValueError:
        r = f = 0
    if not (1 <= r <= 5 and 1 <= f <= 5):
        return HttpResponse(_("R and F must be whole numbers from 1 to 5."), status=400)
    page = Paginator(customers_in_cell(r=r, f=f), CELL_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "segments/rf_cell.html", {"r": r, "f": f, "page": page})
