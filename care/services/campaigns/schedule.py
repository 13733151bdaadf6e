"""When a campaign's occurrences fall: once at `starts_at`, or recurring at the time of day of
`starts_at` (the call center's clock) on given weekdays, a day of the month, or listed dates,
from `starts_at` until `ends_at`."""

import datetime as dt
import zoneinfo
from typing import Any

from django.conf import settings

from care.choices import CampaignRecurrence

# How far ahead the next occurrence is looked for (a month day or a listed date).
LOOKAHEAD_DAYS = 400


def center_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _day_matches(
    day: dt.date, *, recurrence: str, weekdays: Any, month_day: Any, dates: Any
) -> bool:
    if recurrence == CampaignRecurrence.WEEKLY:
        return day.isoweekday() in set(weekdays or [])
    if recurrence == CampaignRecurrence.MONTHLY:
        return day.day == month_day
    if recurrence == CampaignRecurrence.DATES:
        return day.isoformat() in set(dates or [])
    return False


def occurrence_next(
    *,
    recurrence: str,
    starts_at: dt.datetime,
    after: dt.datetime | None,
    weekdays: Any = None,
    month_day: Any = None,
    dates: Any = None,
    ends_at: dt.datetime | None = None,
) -> dt.datetime | None:
    """The first occurrence at or after `starts_at` and strictly after `after` (when given), or
    None when the schedule has none left."""
    if recurrence == CampaignRecurrence.ONCE:
        found: dt.datetime | None = starts_at if after is None or starts_at > after else None
        return found
    zone = center_zone()
    local_start = starts_at.astimezone(zone)
    clock = local_start.timetz().replace(tzinfo=None)
    floor = max(starts_at, after + dt.timedelta(microseconds=1)) if after else starts_at
    day = floor.astimezone(zone).date()
    for offset in range(LOOKAHEAD_DAYS):
        candidate_day = day + dt.timedelta(days=offset)
        if not _day_matches(
            candidate_day,
            recurrence=recurrence,
            weekdays=weekdays,
            month_day=month_day,
            dates=dates,
        ):
            continue
        moment = dt.datetime.combine(candidate_day, clock, tzinfo=zone)
        if moment < floor:
            continue
        if ends_at is not None and moment > ends_at:
            return None
        return moment
    return None
