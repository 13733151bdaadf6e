"""Decisions for the admin area under /manage/: settings, users and roles, API tokens, audit
log.

Supervisors read the settings and the audit log (they run segments and care and need to see
the guardrails and who changed what); only admins change settings or touch user accounts.
"""

import datetime as dt
from typing import Any

from callcenter.choices import CalendarDayKind, CalendarDaySource
from callcenter.models import CalendarDay
from tests.matrix import ADMINS, MANAGERS, Entry, _page

EXPECTATIONS: dict[str, Entry] = {
    "manage-settings": _page(get=MANAGERS, post=ADMINS),
    "manage-users": _page(get=ADMINS),
    "manage-user-create": _page(get=ADMINS, post=ADMINS),
    "manage-user": _page("managed_user", get=ADMINS, post=ADMINS),
    "manage-tokens": _page(get=ADMINS),
    "manage-token-issue": _page(post=ADMINS),
    "manage-token-revoke": _page("managed_user", post=ADMINS),
    # The holiday calendar: supervisors see it (their plans follow it); admins change it.
    "manage-holidays": _page(get=MANAGERS, post=ADMINS),
    "manage-holiday-remove": _page("calendar_day", post=ADMINS),
    "manage-audit": _page(get=MANAGERS),
}


def extra_objects(base: dict[str, Any]) -> dict[str, int]:
    """The account the user and token pages act on (the matrix agent), and a date an admin
    added to the holiday calendar."""
    day = CalendarDay.objects.create(
        day=dt.date(2026, 12, 31),
        kind=CalendarDayKind.HOLIDAY,
        name="Company day",
        source=CalendarDaySource.ADMIN,
        reason="Matrix",
    )
    return {"managed_user": base["users"]["agent"].pk, "calendar_day": day.pk}
