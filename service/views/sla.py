"""SLA pages: the policy list in match order (supervisors read; admins move), the policy
editor (admins), a policy's version history with a readable diff and its audit entries
(supervisors read), and business calendars (supervisors read; admins edit hours and dates)."""

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from callcenter.choices import Role
from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.models import AuditLog
from callcenter.roles import MANAGER_ROLES
from callcenter.views import role_required
from service.forms_sla import (
    WEEKDAY_LABELS,
    BusinessCalendarForm,
    CalendarDateForm,
    SlaPolicyForm,
    service_error_attach,
)
from service.models import BusinessCalendar, BusinessCalendarDate, SlaPolicy
from service.selectors.sla_admin import calendar_list, policy_list
from service.services.sla_admin import (
    CONDITION_CHOICES,
    FIELD_LABELS,
    business_calendar_create,
    business_calendar_date_add,
    business_calendar_date_remove,
    business_calendar_update,
    minutes_label,
    policy_versions_diff,
    sla_policy_create,
    sla_policy_move,
    sla_policy_update,
)
from service.services.sla_defaults import sla_defaults_install

ADMIN_ONLY = (Role.ADMIN,)
POLICY_ALIASES = {
    "segment_ids": "segments",
    "calendar_id": "calendar",
    "first_response_minutes": "first_response_hours",
    "next_response_minutes": "next_response_hours",
    "resolution_minutes": "resolution_hours",
}
# Audit entries shown on a policy's history page.
AUDIT_ROWS = 50


def _conditions_summary(policy: SlaPolicy) -> list[tuple[str, str]]:
    """(what, which) of each non-empty condition, in the user's language."""
    rows = []
    for field, choices in CONDITION_CHOICES.items():
        values = getattr(policy, field)
        if values:
            labels = dict(choices.choices)
            rows.append(
                (str(FIELD_LABELS[field]), ", ".join(str(labels.get(v, v)) for v in values))
            )
    segments = list(policy.segments.all())
    if segments:
        rows.append((str(FIELD_LABELS["segments"]), ", ".join(s.display_name for s in segments)))
    return rows


@require_GET
@role_required(MANAGER_ROLES)
def policy_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Policies in the order they are tried, with conditions and targets."""
    rows = [
        {
            "policy": policy,
            "conditions": _conditions_summary(policy),
            "first": minutes_label(policy.first_response_minutes),
            "next": minutes_label(policy.next_response_minutes),
            "resolution": minutes_label(policy.resolution_minutes),
        }
        for policy in policy_list()
    ]
    return render(request, "service/policy_list.html", {"rows": rows})


@require_POST
@role_required(ADMIN_ONLY)
def policy_defaults_install_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Install the default policies and calendar from the empty list (as
    `manage.py install_sla_defaults`); running it again adds nothing."""
    result = sla_defaults_install(installed_by=request.user)
    messages.success(
        request,
        _("Default SLA policies installed: %(policies)s policies, %(calendars)s calendars.")
        % {
            "policies": result["sla_policies_created"],
            "calendars": result["sla_calendars_created"],
        },
    )
    return redirect("service-sla-policies")


@require_POST
@role_required(ADMIN_ONLY)
def policy_move_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Move a policy up or down the order."""
    policy = get_object_or_404(SlaPolicy, pk=pk)
    try:
        sla_policy_move(
            policy=policy, direction=request.POST.get("direction", ""), moved_by=request.user
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("service-sla-policies")


@require_http_methods(["GET", "POST"])
@role_required(ADMIN_ONLY)
def policy_edit_view(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    """Create or change a policy; nothing is saved unless everything is valid."""
    policy = get_object_or_404(SlaPolicy, pk=pk) if pk is not None else None
    if request.method == "POST":
        form = SlaPolicyForm(request.POST)
        if form.is_valid():
            try:
                if policy is None:
                    policy = sla_policy_create(created_by=request.user, **form.service_fields())
                    messages.success(request, _("Policy “%(name)s” created.") % {"name": policy})
                else:
                    sla_policy_update(
                        policy=policy, updated_by=request.user, **form.service_fields()
                    )
                    messages.success(request, _("Policy “%(name)s” saved.") % {"name": policy})
                return redirect("service-sla-policies")
            except ApplicationError as exc:
                service_error_attach(exc, form, POLICY_ALIASES)
    else:
        form = SlaPolicyForm(initial=SlaPolicyForm.initial_of(policy) if policy else None)
    return render(request, "service/policy_form.html", {"policy": policy, "form": form})


@require_GET
@role_required(MANAGER_ROLES)
def policy_history_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Every version of a policy with what changed from the one before, and its audit log."""
    policy = get_object_or_404(SlaPolicy, pk=pk)
    versions = list(policy.versions.select_related("changed_by").order_by("version"))
    rows: list[dict[str, Any]] = []
    previous = None
    for version in versions:
        rows.append(
            {
                "version": version,
                "changes": policy_versions_diff(previous, version.snapshot),
            }
        )
        previous = version.snapshot
    rows.reverse()
    audit = (
        AuditLog.objects.filter(object_type="sla_policy", object_id=str(policy.pk))
        .select_related("actor")
        .order_by("-at")[:AUDIT_ROWS]
    )
    return render(
        request, "service/policy_history.html", {"policy": policy, "rows": rows, "audit": audit}
    )


def _hours_text(intervals: list[list[str]]) -> str:
    return ", ".join(f"{start}–{end}" for start, end in intervals)


@require_GET
@role_required(MANAGER_ROLES)
def calendar_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Business calendars with their weekday hours."""
    rows = [
        {
            "calendar": calendar,
            "week": [
                (WEEKDAY_LABELS[day], _hours_text(calendar.hours.get(str(day), [])))
                for day in range(7)
            ],
        }
        for calendar in calendar_list()
    ]
    return render(request, "service/calendar_list.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
@role_required(ADMIN_ONLY)
def calendar_edit_view(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    """Create or change a calendar (hours grid, time zone, holidays) and list its dates."""
    calendar = get_object_or_404(BusinessCalendar, pk=pk) if pk is not None else None
    if request.method == "POST":
        form = BusinessCalendarForm(request.POST)
        if form.is_valid():
            try:
                if calendar is None:
                    calendar = business_calendar_create(
                        created_by=request.user, **form.service_fields()
                    )
                else:
                    business_calendar_update(
                        calendar=calendar, updated_by=request.user, **form.service_fields()
                    )
                messages.success(request, _("Calendar “%(name)s” saved.") % {"name": calendar})
                return redirect("service-calendar-edit", pk=calendar.pk)
            except ApplicationError as exc:
                service_error_attach(exc, form, {"hours": "d0_start1"})
    else:
        form = BusinessCalendarForm(
            initial=BusinessCalendarForm.initial_of(calendar)
            if calendar
            else {"timezone": "Asia/Shanghai"}
        )
    context = {
        "calendar": calendar,
        "form": form,
        "dates": calendar.dates.order_by("day") if calendar else [],
        "date_form": CalendarDateForm(),
    }
    return render(request, "service/calendar_form.html", context)


@require_POST
@role_required(ADMIN_ONLY)
def calendar_date_add_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Add a closed or open date to a calendar."""
    calendar = get_object_or_404(BusinessCalendar, pk=pk)
    date_form = CalendarDateForm(request.POST)
    if date_form.is_valid():
        try:
            business_calendar_date_add(
                calendar=calendar, added_by=request.user, **date_form.service_fields()
            )
            messages.success(request, _("Date added."))
            return redirect("service-calendar-edit", pk=calendar.pk)
        except ApplicationError as exc:
            service_error_attach(exc, date_form, {"hours": "start"})
    context = {
        "calendar": calendar,
        "form": BusinessCalendarForm(initial=BusinessCalendarForm.initial_of(calendar)),
        "dates": calendar.dates.order_by("day"),
        "date_form": date_form,
    }
    return render(request, "service/calendar_form.html", context, status=400)


@require_POST
@role_required(ADMIN_ONLY)
def calendar_date_remove_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Remove a date from its calendar."""
    entry = get_object_or_404(BusinessCalendarDate, pk=pk)
    business_calendar_date_remove(entry=entry, removed_by=request.user)
    messages.success(request, _("Date removed."))
    return redirect("service-calendar-edit", pk=entry.calendar_id)
