"""The holiday calendar: a year's public holidays and make-up working days, and the dates an
admin adds or removes (with a reason, audited). Supervisors see it; admins change it."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from callcenter.choices import CalendarDaySource, Role
from callcenter.errors import ApplicationError
from callcenter.forms_manage import CalendarDayForm
from callcenter.http import AuthenticatedHttpRequest
from callcenter.models import CalendarDay
from callcenter.numbers import whole_number
from callcenter.roles import MANAGER_ROLES, has_role
from callcenter.selectors.calendar import (
    CALENDAR_YEARS,
    calendar_day_label,
    calendar_days_of_year,
)
from callcenter.services.calendar import calendar_day_add, calendar_day_remove, package_years
from callcenter.views import role_required
from callcenter.views.manage.settings import _add_error


def _year(value: str | None) -> int:
    """The year asked for, or this year for a missing or unusable one."""
    year = whole_number(value or "")
    if year is None or year not in CALENDAR_YEARS:
        return timezone.localdate().year
    return year


def _page(request: AuthenticatedHttpRequest, *, year: int, form: CalendarDayForm) -> HttpResponse:
    covered = package_years()
    rows = [
        {"entry": entry, "label": calendar_day_label(entry.name)}
        for entry in calendar_days_of_year(year)
    ]
    context = {
        "year": year,
        "rows": rows,
        "covered": year in covered,
        "first_year": covered.start,
        "last_year": covered.stop - 1,
        "form": form,
        "can_edit": has_role(request.user, (Role.ADMIN,)),
        "admin_source": CalendarDaySource.ADMIN,
    }
    return render(request, "manage/holidays.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@role_required(MANAGER_ROLES)
def holidays_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A year's calendar (`?year=`); admins add a date with the form (POST)."""
    if request.method != "POST":
        return _page(request, year=_year(request.GET.get("year")), form=CalendarDayForm())
    if not has_role(request.user, (Role.ADMIN,)):
        raise PermissionDenied
    form = CalendarDayForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            calendar_day_add(
                day=data["day"],
                kind=data["kind"],
                name=data["name"],
                reason=data["reason"],
                added_by=request.user,
            )
        except ApplicationError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, _("%(day)s is added.") % {"day": data["day"].isoformat()})
            return redirect(f"{reverse('manage-holidays')}?year={data['day'].year}")
    year = form.cleaned_data["day"].year if "day" in form.cleaned_data else None
    return _page(request, year=year or _year(None), form=form)


@require_POST
@role_required((Role.ADMIN,))
def holiday_remove_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Remove a date an admin added; the public calendar's entry for it comes back."""
    entry = get_object_or_404(CalendarDay, pk=pk)
    try:
        calendar_day_remove(entry=entry, removed_by=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(day)s is removed.") % {"day": entry.day.isoformat()})
    return redirect(f"{reverse('manage-holidays')}?year={entry.day.year}")
