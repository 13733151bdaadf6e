"""When a campaign's occurrences fall: once, weekly, monthly and on listed dates, at the time of
day of its start on the call center's clock, until its end."""

import datetime as dt

import pytest

from care.services.campaigns.schedule import occurrence_next
from tests.care.conftest import SHANGHAI

# A Wednesday, 10:00 in Shanghai.
START = dt.datetime(2025, 3, 5, 10, 0, tzinfo=SHANGHAI)


def _at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("recurrence", "extra", "after", "expected"),
    [
        ("once", {}, None, START),
        ("once", {}, START, None),
        # weekly on Mondays and Wednesdays: the start itself, then the Monday after
        ("weekly", {"weekdays": [1, 3]}, None, START),
        ("weekly", {"weekdays": [1, 3]}, START, _at("2025-03-10")),
        # monthly on the 1st: the next month's first, at the start's time of day
        ("monthly", {"month_day": 1}, None, _at("2025-04-01")),
        ("monthly", {"month_day": 5}, START, _at("2025-04-05")),
        # listed dates in any order; those before the start never run
        ("dates", {"dates": ["2025-03-20", "2025-03-01", "2025-03-07"]}, None, _at("2025-03-07")),
        ("dates", {"dates": ["2025-03-20", "2025-03-07"]}, _at("2025-03-07"), _at("2025-03-20")),
        ("dates", {"dates": ["2025-03-07"]}, _at("2025-03-07"), None),
    ],
)
def test_the_next_occurrence(
    recurrence: str, extra: dict, after: dt.datetime | None, expected: dt.datetime | None
) -> None:
    assert occurrence_next(recurrence=recurrence, starts_at=START, after=after, **extra) == expected


def test_no_occurrence_after_the_end() -> None:
    ends = _at("2025-03-12", hour=9)
    weekly = {"recurrence": "weekly", "starts_at": START, "weekdays": [3], "ends_at": ends}
    assert occurrence_next(after=None, **weekly) == START
    assert occurrence_next(after=START, **weekly) is None
