"""The holiday calendar: sync the public days from the `chinesecalendar` package, and the
dates an admin adds or removes (audited).

The package ships the State Council's holidays and make-up working days year by year and
raises NotImplementedError for a year it does not know yet; such a year is reported in the
sync's result (`missing_years`), never written as a year without holidays.
"""

import datetime as dt
from dataclasses import dataclass, field

from chinese_calendar import constants as package_days
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils.translation import gettext as _

from callcenter.choices import CalendarDayKind, CalendarDaySource
from callcenter.errors import ApplicationError
from callcenter.models import CalendarDay
from callcenter.services.audit import audit_log_record

# One statement for a whole sync: insert the package's days, update the package's own rows
# whose kind or name changed, and leave the admins' rows as they are.
_UPSERT_SQL = """
INSERT INTO callcenter_calendarday
    (day, kind, name, source, reason, created_by_id, created_at, updated_at)
SELECT t.day, t.kind, t.name, %s, '', NULL, now(), now()
FROM unnest(%s::date[], %s::text[], %s::text[]) AS t(day, kind, name)
ON CONFLICT (day) DO UPDATE
SET kind = EXCLUDED.kind, name = EXCLUDED.name, updated_at = EXCLUDED.updated_at
WHERE callcenter_calendarday.source = %s
  AND (callcenter_calendarday.kind, callcenter_calendarday.name)
      IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.name)
"""


@dataclass
class CalendarSync:
    """What a sync did: the years written, the years the package does not cover, the rows
    inserted or changed and the package rows removed (the package dropped them)."""

    synced_years: list[int] = field(default_factory=list)
    missing_years: list[int] = field(default_factory=list)
    written: int = 0
    removed: int = 0


def package_years() -> range:
    """The years the installed package knows."""
    years = [day.year for day in package_days.holidays]
    return range(min(years), max(years) + 1)


def package_days_of(year: int) -> dict[dt.date, tuple[str, str]]:
    """The package's days of `year`: date -> (kind, English name)."""
    days = {
        day: (CalendarDayKind.HOLIDAY.value, str(name))
        for day, name in package_days.holidays.items()
        if day.year == year
    }
    days.update(
        (day, (CalendarDayKind.WORKDAY.value, str(name)))
        for day, name in package_days.workdays.items()
        if day.year == year
    )
    return days


@transaction.atomic
def calendar_days_sync(*, years: list[int]) -> CalendarSync:
    """Write the package's days of `years` into the calendar in one statement; admins' dates
    are kept. Safe to run twice (a second run writes nothing)."""
    covered = package_years()
    result = CalendarSync()
    days: dict[dt.date, tuple[str, str]] = {}
    for year in sorted(set(years)):
        if year in covered:
            result.synced_years.append(year)
            days.update(package_days_of(year))
        else:
            result.missing_years.append(year)
    if not result.synced_years:
        return result
    ordered = sorted(days)
    with connection.cursor() as cursor:
        cursor.execute(
            _UPSERT_SQL,
            [
                CalendarDaySource.PACKAGE.value,
                ordered,
                [days[day][0] for day in ordered],
                [days[day][1] for day in ordered],
                CalendarDaySource.PACKAGE.value,
            ],
        )
        result.written = cursor.rowcount
    result.removed, _counts = (
        CalendarDay.objects.filter(
            source=CalendarDaySource.PACKAGE, day__year__in=result.synced_years
        )
        .exclude(day__in=ordered)
        .delete()
    )
    return result


@transaction.atomic
def calendar_day_add(
    *, day: dt.date, kind: str, name: str, reason: str, added_by: User
) -> CalendarDay:
    """Add a company date (audited). It replaces the package's entry for that date, if any;
    a date an admin already added is refused."""
    if kind not in CalendarDayKind.values:
        raise ApplicationError(_("Unknown kind of day."), extra={"field": "kind"})
    name, reason = name.strip(), reason.strip()
    if not name:
        raise ApplicationError(_("Give the day a name."), extra={"field": "name"})
    existing = CalendarDay.objects.select_for_update().filter(day=day).first()
    if existing is not None and existing.source == CalendarDaySource.ADMIN:
        raise ApplicationError(
            _("%(day)s is already in the calendar; remove it first.") % {"day": day.isoformat()},
            extra={"field": "day"},
        )
    before = None if existing is None else {"kind": existing.kind, "name": existing.name}
    entry, _created = CalendarDay.objects.update_or_create(
        day=day,
        defaults={
            "kind": kind,
            "name": name,
            "source": CalendarDaySource.ADMIN,
            "reason": reason,
            "created_by": added_by,
        },
    )
    audit_log_record(
        actor=added_by,
        action="calendar_day.add",
        object_type="calendar_day",
        object_id=day.isoformat(),
        data={"before": before, "after": {"kind": kind, "name": name, "reason": reason}},
    )
    return entry


@transaction.atomic
def calendar_day_remove(*, entry: CalendarDay, removed_by: User) -> None:
    """Remove a date an admin added (audited); the package's entry for that date, if any, is
    put back. The package's own days are not removable."""
    if entry.source != CalendarDaySource.ADMIN:
        raise ApplicationError(_("Only dates an admin added can be removed."))
    audit_log_record(
        actor=removed_by,
        action="calendar_day.remove",
        object_type="calendar_day",
        object_id=entry.day.isoformat(),
        data={"before": {"kind": entry.kind, "name": entry.name, "reason": entry.reason}},
    )
    entry.delete()
    if entry.day.year in package_years():
        public = package_days_of(entry.day.year).get(entry.day)
        if public is not None:
            CalendarDay.objects.create(
                day=entry.day, kind=public[0], name=public[1], source=CalendarDaySource.PACKAGE
            )
