"""Guardrails and settings: care guardrails, lifecycle and tier thresholds, the RFM grid and the
refresh schedule. One page, one form per section; a POST saves one section."""

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from callcenter.choices import Role
from callcenter.errors import ApplicationError
from callcenter.forms_manage import (
    CareSettingsForm,
    RefreshScheduleForm,
    RfmGridForm,
    SegmentSettingsForm,
)
from callcenter.roles import MANAGER_ROLES, has_role
from callcenter.views import role_required
from care.models import CareSettings
from care.services.settings import care_settings_update
from segments.choices import SegmentKind
from segments.models import RfmSegmentDefinition, Segment, SegmentSettings
from segments.services.settings_edit import (
    SCORES,
    refresh_schedule_iso_days,
    refresh_schedule_task,
    refresh_schedule_update,
    rfm_grid_cells,
    rfm_grid_update,
    segment_settings_update,
)

SECTIONS = ("guardrails", "thresholds", "rfm", "schedule")


def _add_error(form: Any, error: ValidationError | ApplicationError) -> None:
    """Put a service error next to its field when it names one of the form's fields."""
    if isinstance(error, ApplicationError):
        field = error.extra.get("field")
        form.add_error(field if field in form.fields else None, error.message)
    elif hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _rfm_names() -> dict[str, str]:
    return dict(Segment.objects.filter(kind=SegmentKind.RFM).values_list("key", "name"))


def _rfm_grid(definitions: list[RfmSegmentDefinition], names: dict[str, str]) -> list[Any]:
    """Rows of the R x FM grid (R 5 at the top), each cell naming its segment."""
    cells = rfm_grid_cells([(d.name, d.r_min, d.r_max, d.fm_min, d.fm_max) for d in definitions])
    return [
        {
            "r": r,
            "cells": [
                {"key": cells.get((r, fm), ""), "name": names.get(cells.get((r, fm), ""), "")}
                for fm in SCORES
            ],
        }
        for r in reversed(SCORES)
    ]


def _schedule_initial(task: Any) -> dict[str, Any]:
    crontab = task.crontab
    if crontab is None or not crontab.hour.isdigit() or not crontab.minute.isdigit():
        return {"run_at": None, "days": [], "enabled": task.enabled}
    return {
        "run_at": dt.time(int(crontab.hour), int(crontab.minute)),
        "days": [str(day) for day in refresh_schedule_iso_days(crontab.day_of_week)],
        "enabled": task.enabled,
    }


def _save(section: str, form: Any, request: HttpRequest, state: dict[str, Any]) -> bool:
    """Save one valid section through its service; False (errors on the form) when refused."""
    user = request.user
    try:
        if section == "guardrails":
            changes = form.changes(state["care"])
            if changes:
                care_settings_update(updated_by=user, **changes)
        elif section == "thresholds":
            segment_settings_update(updated_by=user, **form.cleaned_data)
        elif section == "rfm":
            rfm_grid_update(updated_by=user, ranges=form.ranges(), names=form.names())
        else:
            run_at: dt.time = form.cleaned_data["run_at"]
            refresh_schedule_update(
                updated_by=user,
                hour=run_at.hour,
                minute=run_at.minute,
                iso_days=form.cleaned_data["days"],
                enabled=form.cleaned_data["enabled"],
            )
    except (ValidationError, ApplicationError) as error:
        if section == "rfm" and isinstance(error, ValidationError):
            form.add_service_error(error)
        else:
            _add_error(form, error)
        return False
    return True


@require_http_methods(["GET", "POST"])
@role_required(MANAGER_ROLES)
def settings_view(request: HttpRequest) -> HttpResponse:
    """Show every section; admins save one section per POST (supervisors read only)."""
    can_edit = has_role(request.user, (Role.ADMIN,))
    if request.method == "POST" and not can_edit:
        raise PermissionDenied
    care = CareSettings.load()
    thresholds = SegmentSettings.load()
    definitions = list(RfmSegmentDefinition.objects.order_by("position"))
    names = _rfm_names()
    task = refresh_schedule_task()
    state = {"care": care}
    section = request.POST.get("section") if request.method == "POST" else None

    def bound(name: str) -> dict[str, Any]:
        return {"data": request.POST} if section == name else {}

    forms = {
        "guardrails": CareSettingsForm(
            initial=CareSettingsForm.initial_from(care), **bound("guardrails")
        ),
        "thresholds": SegmentSettingsForm(
            initial=SegmentSettingsForm.initial_from(thresholds), **bound("thresholds")
        ),
        "rfm": RfmGridForm(definitions=definitions, names=names, **bound("rfm")),
        "schedule": RefreshScheduleForm(initial=_schedule_initial(task), **bound("schedule")),
    }
    if section is not None:
        if section not in SECTIONS:
            return HttpResponse(_("Unknown settings section."), status=400)
        form = forms[section]
        if form.is_valid() and _save(section, form, request, state):
            messages.success(request, _("Settings saved."))
            return redirect(reverse("manage-settings") + f"#{section}")
    context = {
        "can_edit": can_edit,
        "forms": forms,
        "failed": section,
        "grid": _rfm_grid(definitions, names),
        "scores": list(SCORES),
        "task": task,
    }
    return render(request, "manage/settings.html", context, status=400 if section else 200)
