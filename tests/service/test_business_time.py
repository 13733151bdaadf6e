"""Business-time arithmetic: weekday hours, public holidays and make-up working days from the
chinesecalendar package (synced into CalendarDay), a calendar's own dates, time zones with and
without daylight saving."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from callcenter.errors import ApplicationError
from callcenter.services.calendar import calendar_days_sync
from service.models import BusinessCalendarDate
from service.services.business_time import (
    BusinessClock,
    business_add,
    business_minutes_between,
    parse_intervals,
)
from tests.service.factories import BusinessCalendarFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def sh(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def holidays(db: None) -> None:
    calendar_days_sync(years=[2026])


def test_24x7_is_calendar_time() -> None:
    start = sh(2026, 9, 30, 20, 0)
    assert business_add(None, start, 90) == start + dt.timedelta(minutes=90)
    assert business_minutes_between(None, start, start + dt.timedelta(hours=25)) == 1500


@pytest.mark.django_db
def test_within_one_day_and_over_the_night() -> None:
    calendar = BusinessCalendarFactory()
    # Tuesday 17:00 + 2 h: one hour today, one tomorrow from 09:00.
    assert business_add(calendar, sh(2026, 3, 3, 17, 0), 120) == sh(2026, 3, 4, 10, 0)
    assert business_minutes_between(calendar, sh(2026, 3, 3, 17, 0), sh(2026, 3, 4, 10, 0)) == 120


@pytest.mark.django_db
def test_after_hours_starts_at_the_next_opening_and_skips_the_weekend() -> None:
    calendar = BusinessCalendarFactory()
    # Friday 20:00 + 30 min: Monday 09:30.
    assert business_add(calendar, sh(2026, 3, 6, 20, 0), 30) == sh(2026, 3, 9, 9, 30)
    assert business_minutes_between(calendar, sh(2026, 3, 6, 12, 0), sh(2026, 3, 9, 12, 0)) == (
        6 * 60 + 3 * 60
    )


def test_national_day_holiday_and_make_up_saturday(holidays: None) -> None:
    calendar = BusinessCalendarFactory()
    # Wednesday 30 Sept 2026, 20:00, the evening before National Day (1-7 Oct off; Saturday
    # 10 Oct a make-up working day with Monday's hours).
    opened = sh(2026, 9, 30, 20, 0)
    assert business_add(calendar, opened, 60) == sh(2026, 10, 8, 10, 0)
    # 24 business hours: Thu 8 (9 h), Fri 9 (9 h), Sat 10 (6 h of 9).
    assert business_add(calendar, opened, 24 * 60) == sh(2026, 10, 10, 15, 0)
    assert business_minutes_between(calendar, opened, sh(2026, 10, 10, 15, 0)) == 24 * 60


def test_a_calendar_that_ignores_public_holidays(holidays: None) -> None:
    calendar = BusinessCalendarFactory(follows_public_holidays=False)
    # 1 Oct is a Thursday like any other; Saturday 10 Oct stays closed.
    assert business_add(calendar, sh(2026, 9, 30, 20, 0), 60) == sh(2026, 10, 1, 10, 0)
    assert business_add(calendar, sh(2026, 10, 9, 17, 0), 120) == sh(2026, 10, 12, 10, 0)


def test_own_dates_override_public_days(holidays: None) -> None:
    calendar = BusinessCalendarFactory()
    # The company works 2 Oct (a public holiday) 10:00-12:00 and closes 8 Oct (a workday).
    BusinessCalendarDate.objects.create(
        calendar=calendar, day=dt.date(2026, 10, 2), is_open=True, hours=[["10:00", "12:00"]]
    )
    BusinessCalendarDate.objects.create(calendar=calendar, day=dt.date(2026, 10, 8))
    assert business_add(calendar, sh(2026, 9, 30, 20, 0), 150) == sh(2026, 10, 9, 9, 30)


@pytest.mark.django_db
def test_split_hours_skip_the_lunch_break() -> None:
    calendar = BusinessCalendarFactory(
        hours={str(day): [["09:00", "12:00"], ["13:00", "18:00"]] for day in range(5)}
    )
    assert business_add(calendar, sh(2026, 3, 3, 11, 30), 60) == sh(2026, 3, 3, 13, 30)
    assert business_minutes_between(calendar, sh(2026, 3, 3, 11, 0), sh(2026, 3, 3, 14, 0)) == 120


@pytest.mark.django_db
def test_a_day_with_daylight_saving_counts_its_real_hours() -> None:
    # New York springs forward on Sunday 8 March 2026: that day has 23 hours.
    calendar = BusinessCalendarFactory(
        timezone="America/New_York", hours={str(day): [["00:00", "24:00"]] for day in range(7)}
    )
    start = dt.datetime(2026, 3, 7, 12, 0, tzinfo=NEW_YORK)
    end = dt.datetime(2026, 3, 8, 12, 0, tzinfo=NEW_YORK)
    assert business_minutes_between(calendar, start, end) == 23 * 60
    assert business_add(calendar, start, 24 * 60) == dt.datetime(2026, 3, 8, 13, 0, tzinfo=NEW_YORK)


@pytest.mark.django_db
def test_business_hours_in_new_york_across_the_change() -> None:
    calendar = BusinessCalendarFactory(timezone="America/New_York", follows_public_holidays=False)
    # Friday 6 March 17:00 EST + 2 h: Monday 9 March 10:00 EDT (UTC 14:00, not 15:00).
    moment = business_add(calendar, dt.datetime(2026, 3, 6, 17, 0, tzinfo=NEW_YORK), 120)
    assert moment == dt.datetime(2026, 3, 9, 14, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_days_are_loaded_in_one_query(django_assert_num_queries) -> None:
    calendar = BusinessCalendarFactory()
    with django_assert_num_queries(1):
        business_add(calendar, sh(2026, 9, 30, 20, 0), 10 * 24 * 60)
    with django_assert_num_queries(1):
        business_minutes_between(calendar, sh(2026, 1, 1), sh(2026, 12, 31))


@pytest.mark.django_db
def test_a_calendar_without_hours_is_refused() -> None:
    calendar = BusinessCalendarFactory(hours={})
    with pytest.raises(ApplicationError):
        BusinessClock.load(calendar, sh(2026, 1, 1), sh(2026, 1, 1)).add(sh(2026, 1, 1), 60)


@pytest.mark.parametrize(
    "raw",
    [
        [["18:00", "09:00"]],
        [["09:00"]],
        [["9h", "10:00"]],
        [["09:00", "12:00"], ["11:00", "13:00"]],
    ],
)
def test_bad_hours_are_refused(raw: object) -> None:
    with pytest.raises(ApplicationError):
        parse_intervals(raw)


def test_spring_festival_with_make_up_days_on_both_sides(db: None) -> None:
    calendar_days_sync(years=[2026])
    calendar = BusinessCalendarFactory()
    # Friday 13 Feb 2026, 17:00: 1 h that day, Saturday 14 Feb worked (9 h), 15-23 Feb off,
    # Tuesday 24 Feb (9 h), then 5 h of Wednesday 25 Feb.
    assert business_add(calendar, sh(2026, 2, 13, 17, 0), 24 * 60) == sh(2026, 2, 25, 14, 0)
    assert business_minutes_between(calendar, sh(2026, 2, 13, 17), sh(2026, 2, 25, 14)) == 1440
