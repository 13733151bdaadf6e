"""The rule segment editor: create and edit a rule segment with the browser rule builder."""

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.views import role_required
from segments.choices import PriorityField, SegmentKind
from segments.forms import RuleSegmentForm
from segments.models import Segment
from segments.rules import RuleError
from segments.services.segment_compute import segment_members_request
from segments.services.segments import segment_create, segment_update
from segments.views import MANAGERS

EMPTY_RULE = {"op": "and", "children": []}


def _save(
    form: RuleSegmentForm, request: AuthenticatedHttpRequest, segment: Segment | None
) -> Segment | None:
    """Create or update through the service; its refusals become form errors."""
    data = form.cleaned_data
    values = {
        "name": data["name"],
        "description": data["description"],
        "rule": data["rule"],
        "capacity": data["capacity"],
        "priority_field": data["priority_field"],
        "priority_descending": data["priority_descending"],
    }
    try:
        if segment is None:
            return segment_create(created_by=request.user, **values)
        return segment_update(segment=segment, updated_by=request.user, **values)
    except RuleError as exc:
        form.add_error("rule", exc.message)
        form.rule_error_path = exc.path
    except ApplicationError as exc:
        form.add_error(None, exc.message)
    return None


@require_http_methods(["GET", "POST"])
@role_required(MANAGERS)
def segment_editor_view(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    """New rule segment (no pk) or edit one; saving goes to the segment's page."""
    segment = None
    if pk is not None:
        segment = get_object_or_404(Segment, pk=pk, kind=SegmentKind.RULE)
    if request.method == "POST":
        form = RuleSegmentForm(request.POST)
        if form.is_valid():
            saved = _save(form, request, segment)
            if saved is not None:
                if segment_members_request(segment=saved):
                    messages.success(
                        request,
                        ngettext(
                            "Segment saved: %(count)s member.",
                            "Segment saved: %(count)s members.",
                            saved.size,
                        )
                        % {"count": number_format(saved.size, force_grouping=True)},
                    )
                else:
                    messages.success(request, _("Segment saved. Its members are being computed."))
                return redirect("segment-detail", pk=saved.pk)
    elif segment is not None:
        form = RuleSegmentForm(
            initial={
                "name": segment.name,
                "description": segment.description,
                "rule": json.dumps(segment.rule, ensure_ascii=False),
                "capacity": segment.capacity,
                "priority_field": segment.priority_field,
                "priority_descending": segment.priority_descending,
            }
        )
    else:
        form = RuleSegmentForm(
            initial={
                "rule": json.dumps(EMPTY_RULE),
                "priority_field": PriorityField.MONETARY,
                "priority_descending": True,
            }
        )
    error_path = getattr(form, "rule_error_path", None)
    context = {
        "form": form,
        "segment": segment,
        # A refusal that names a node is shown beside it by the builder, others below it.
        "rule_error_path": error_path,
        "rule_error_message": form.errors["rule"][0] if error_path is not None else "",
    }
    return render(request, "segments/segment_form.html", context)
