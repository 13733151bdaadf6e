"""Decisions for SLA policies and business calendars (pages and API).

Supervisors read policies, their history and calendars; only admins create, edit or reorder
policies and edit calendars and their dates (the editors themselves are admin-only, reads
included, as the care rule editor)."""

import datetime as dt
from typing import Any

from service.models import BusinessCalendarDate
from service.services.sla_admin import business_calendar_create, sla_policy_create
from tests.matrix import ADMINS, MANAGERS, Entry, _e, _page

EXPECTATIONS: dict[str, Entry] = {
    "service-sla-policies": _page(get=MANAGERS),
    "service-sla-policy-create": _page(get=ADMINS, post=ADMINS),
    "service-sla-defaults-install": _page(post=ADMINS),
    "service-sla-policy-edit": _page("sla_policy", get=ADMINS, post=ADMINS),
    "service-sla-policy-move": _page("sla_policy", post=ADMINS),
    "service-sla-policy-history": _page("sla_policy", get=MANAGERS),
    "service-calendars": _page(get=MANAGERS),
    "service-calendar-create": _page(get=ADMINS, post=ADMINS),
    "service-calendar-edit": _page("business_calendar", get=ADMINS, post=ADMINS),
    "service-calendar-date-add": _page("business_calendar", post=ADMINS),
    "service-calendar-date-remove": _page("calendar_date", post=ADMINS),
    "api-sla-policies": _e(get=MANAGERS, post=ADMINS),
    "api-sla-policy": _e("sla_policy", get=MANAGERS, patch=ADMINS),
    "api-sla-policy-move": _e("sla_policy", post=ADMINS),
    "api-sla-policy-versions": _e("sla_policy", get=MANAGERS),
    "api-calendars": _e(get=MANAGERS, post=ADMINS),
    "api-calendar": _e("business_calendar", get=MANAGERS, patch=ADMINS),
    "api-calendar-dates": _e("business_calendar", get=MANAGERS, post=ADMINS),
    "api-calendar-date": _e("calendar_date", delete=ADMINS),
}


def extra_objects(context: dict[str, Any]) -> dict[str, int]:
    """A calendar with one date, and a policy counting in it."""
    calendar = business_calendar_create(
        created_by=None, name="Matrix hours", hours={"0": [["09:00", "18:00"]]}
    )
    entry = BusinessCalendarDate.objects.create(
        calendar=calendar, day=dt.date(2026, 6, 1), reason="Matrix"
    )
    policy = sla_policy_create(created_by=None, name="Matrix policy", calendar_id=calendar.pk)
    return {"sla_policy": policy.pk, "business_calendar": calendar.pk, "calendar_date": entry.pk}
