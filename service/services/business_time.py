"""Business-time arithmetic of a business calendar: add N business minutes to a moment, and
count the business minutes between two moments. No calendar (None) means calendar time (24x7).

Which days are open, for a calendar:
1. a date of the calendar's own (`BusinessCalendarDate`) decides: closed, or open with its
   hours (open with no hours given: the hours of a normal weekday, see 3);
2. otherwise, when the calendar follows public holidays, a `callcenter.CalendarDay` holiday is
   closed, and a make-up working day (a weekend day worked instead of a holiday) is open with
   the hours of a normal weekday (see 3);
3. otherwise the weekday's hours (`BusinessCalendar.hours`). "A normal weekday" is the first of
   Monday to Friday that has hours (Monday in the usual calendar), as a make-up day stands in
   for a working day of the week, not for the weekend day it falls on.

Wall-clock hours are read in the calendar's time zone (zoneinfo), so a day with a daylight
saving change counts the hours it really has; the arithmetic itself is done on aware moments.
The days a computation needs are loaded in one query per call (`BusinessClock.load`), or once
for many computations (the sweep's chunks share a clock per calendar).
"""

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils.translation import gettext as _

from callcenter.choices import CalendarDayKind
from callcenter.errors import ApplicationError
from service.models import BusinessCalendar

# How far a computation may look for open hours before giving up (a calendar with no hours
# at all would otherwise loop forever): three years.
MAX_DAYS = 3 * 366
# Extra days loaded beyond the estimate, for holidays (Spring Festival is up to 9 days off).
LOAD_SLACK_DAYS = 21

Interval = tuple[int, int]  # minutes from midnight, end exclusive (1440 = midnight after)

# One query for the days of a window: the shared holidays (when followed) and the calendar's
# own dates, the latter first in each day so they win.
_DAYS_SQL = """
SELECT day, 0 AS rank, is_open, hours FROM service_businesscalendardate
WHERE calendar_id = %s AND day BETWEEN %s AND %s
UNION ALL
SELECT day, 1 AS rank, kind = %s AS is_open, NULL::jsonb FROM callcenter_calendarday
WHERE %s AND day BETWEEN %s AND %s
ORDER BY day, rank
"""


def parse_clock(value: str) -> int:
    """Minutes from midnight of "HH:MM" ("24:00" is the end of the day)."""
    try:
        hours_text, minutes_text = value.split(":")
        hours, minutes = int(hours_text), int(minutes_text)
    except (AttributeError, ValueError):
        raise ApplicationError(
            _("%(value)s is not a time of day (HH:MM).") % {"value": value}
        ) from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ApplicationError(_("%(value)s is not a time of day (HH:MM).") % {"value": value})
    return hours * 60 + minutes


def parse_intervals(raw: object) -> list[Interval]:
    """[["09:00", "12:00"], ["13:00", "18:00"]] as sorted, non-overlapping minute intervals;
    bad input raises ApplicationError."""
    if not isinstance(raw, list):
        raise ApplicationError(_("Hours are a list of [start, end] pairs."))
    intervals: list[Interval] = []
    for pair in raw:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ApplicationError(_("Hours are a list of [start, end] pairs."))
        start, end = parse_clock(pair[0]), parse_clock(pair[1])
        if start >= end:
            raise ApplicationError(
                _("%(start)s-%(end)s ends before it starts.") % {"start": pair[0], "end": pair[1]}
            )
        intervals.append((start, end))
    intervals.sort()
    for (_s1, end1), (start2, _e2) in zip(intervals, intervals[1:], strict=False):
        if start2 < end1:
            raise ApplicationError(_("Business hours of a day overlap."))
    return intervals


def parse_week(raw: object) -> dict[int, list[Interval]]:
    """The weekday hours of a calendar ({"0": [...], .. "6": [...]}) by weekday number."""
    if not isinstance(raw, dict):
        raise ApplicationError(_("Business hours map weekdays to hours."))
    week: dict[int, list[Interval]] = {}
    for key, value in raw.items():
        if str(key) not in {str(day) for day in range(7)}:
            raise ApplicationError(_("Weekdays are 0 (Monday) to 6 (Sunday)."))
        intervals = parse_intervals(value)
        if intervals:
            week[int(key)] = intervals
    return week


@dataclass
class BusinessClock:
    """A calendar's open hours for a window of days, ready for many computations.

    `overrides` holds the days that differ from the weekday rule (closed: an empty list);
    days outside [first, last] are loaded on demand (one query per further window)."""

    calendar: BusinessCalendar | None
    zone: ZoneInfo = field(init=False)
    week: dict[int, list[Interval]] = field(init=False)
    normal_day: list[Interval] = field(init=False)
    overrides: dict[dt.date, list[Interval]] = field(default_factory=dict)
    first: dt.date | None = None
    last: dt.date | None = None

    def __post_init__(self) -> None:
        if self.calendar is None:
            self.zone, self.week, self.normal_day = ZoneInfo("UTC"), {}, []
            return
        self.zone = ZoneInfo(self.calendar.timezone)
        self.week = parse_week(self.calendar.hours)
        self.normal_day = next(
            (self.week[day] for day in range(5) if self.week.get(day)),
            next(iter(self.week.values()), []),
        )

    @classmethod
    def load(
        cls, calendar: BusinessCalendar | None, start: dt.datetime, end: dt.datetime
    ) -> "BusinessClock":
        """A clock with the days from `start` to `end` (plus slack) loaded in one query."""
        clock = cls(calendar)
        if calendar is not None:
            clock._load(
                start.astimezone(clock.zone).date() - dt.timedelta(days=1),
                end.astimezone(clock.zone).date() + dt.timedelta(days=LOAD_SLACK_DAYS),
            )
        return clock

    def _load(self, first: dt.date, last: dt.date) -> None:
        assert self.calendar is not None
        with connection.cursor() as cursor:
            cursor.execute(
                _DAYS_SQL,
                [
                    self.calendar.pk,
                    first,
                    last,
                    CalendarDayKind.WORKDAY.value,
                    self.calendar.follows_public_holidays,
                    first,
                    last,
                ],
            )
            rows = cursor.fetchall()
        decided: set[dt.date] = set()
        for day, _rank, is_open, hours in rows:
            if day in decided:
                continue
            decided.add(day)
            if not is_open:
                self.overrides[day] = []
            else:
                # Django's cursor hands jsonb over as text.
                hours = json.loads(hours) if isinstance(hours, str) else hours
                self.overrides[day] = parse_intervals(hours) if hours else self.normal_day
        self.first = first if self.first is None else min(first, self.first)
        self.last = last if self.last is None else max(last, self.last)

    def _ensure(self, day: dt.date) -> None:
        if self.first is not None and self.last is not None and self.first <= day <= self.last:
            return
        if self.last is not None and day > self.last:
            self._load(self.last + dt.timedelta(days=1), day + dt.timedelta(days=90))
        elif self.first is not None and day < self.first:
            self._load(day - dt.timedelta(days=90), self.first - dt.timedelta(days=1))
        else:
            self._load(day - dt.timedelta(days=1), day + dt.timedelta(days=90))

    def hours_of(self, day: dt.date) -> list[Interval]:
        """The open intervals of a local date."""
        self._ensure(day)
        if day in self.overrides:
            return self.overrides[day]
        return self.week.get(day.weekday(), [])

    def _spans(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The open spans of a local date as aware moments (DST-correct)."""
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=self.zone)
        spans = []
        for start, end in self.hours_of(day):
            spans.append((self._at(midnight, day, start), self._at(midnight, day, end)))
        return spans

    def _at(self, midnight: dt.datetime, day: dt.date, minutes: int) -> dt.datetime:
        if minutes >= 1440:
            return dt.datetime.combine(
                day + dt.timedelta(days=1), dt.time(), tzinfo=self.zone
            ).astimezone(dt.UTC)
        wall = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=self.zone)
        return wall.astimezone(dt.UTC)

    def add(self, moment: dt.datetime, minutes: float) -> dt.datetime:
        """The moment `minutes` business minutes after `moment` (a moment outside business
        hours starts counting at the next opening)."""
        if self.calendar is None:
            return moment + dt.timedelta(minutes=minutes)
        left = dt.timedelta(minutes=minutes)
        moment = moment.astimezone(dt.UTC)
        day = moment.astimezone(self.zone).date()
        for _step in range(MAX_DAYS):
            for start, end in self._spans(day):
                if end <= moment:
                    continue
                begin = max(start, moment)
                if begin + left <= end:
                    return (begin + left).astimezone(moment.tzinfo)
                left -= end - begin
            day += dt.timedelta(days=1)
        raise ApplicationError(
            _("The calendar %(name)s has no business hours.") % {"name": self.calendar.name}
        )

    def between(self, start: dt.datetime, end: dt.datetime) -> int:
        """Whole business minutes from `start` to `end` (0 when end is not after start)."""
        if end <= start:
            return 0
        if self.calendar is None:
            return int((end - start).total_seconds() // 60)
        total = dt.timedelta()
        day = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            for span_start, span_end in self._spans(day):
                low, high = max(span_start, start), min(span_end, end)
                if high > low:
                    total += high - low
            day += dt.timedelta(days=1)
        return int(total.total_seconds() // 60)


def _estimate_days(clock: BusinessClock, minutes: float) -> int:
    """Calendar days that surely hold `minutes` business minutes in a normal week."""
    weekly = sum(end - start for day in clock.week.values() for start, end in day)
    if weekly <= 0:
        return LOAD_SLACK_DAYS
    return math.ceil(minutes / weekly) * 7 + 7


def business_add(
    calendar: BusinessCalendar | None, moment: dt.datetime, minutes: float
) -> dt.datetime:
    """`moment` plus `minutes` business minutes of `calendar` (None: 24x7)."""
    clock = BusinessClock(calendar)
    if calendar is None:
        return clock.add(moment, minutes)
    clock._load(
        moment.astimezone(clock.zone).date() - dt.timedelta(days=1),
        moment.astimezone(clock.zone).date()
        + dt.timedelta(days=_estimate_days(clock, minutes) + LOAD_SLACK_DAYS),
    )
    return clock.add(moment, minutes)


def business_minutes_between(
    calendar: BusinessCalendar | None, start: dt.datetime, end: dt.datetime
) -> int:
    """Whole business minutes of `calendar` (None: 24x7) from `start` to `end`."""
    if end <= start:
        return 0
    return BusinessClock.load(calendar, start, end).between(start, end)
