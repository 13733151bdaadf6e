"""The vectorised buying habits (segments.services.habits.habits_compute) on hand-built order
rows: local hours and weekdays, ties, exact rounding, medians, names that need escaping,
customers without spend."""

import datetime as dt
import json
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from segments.services.habits import HABIT_COLUMNS, habits_compute

UTC = dt.UTC
START = dt.datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, 00:00 UTC


def _at(days: float, hours: float = 0) -> dt.datetime:
    return START + dt.timedelta(days=days, hours=hours)


def _rows(*orders: tuple) -> pd.DataFrame:
    """Rows of (customer, moment, cents, category, channel[, zone])."""
    frame = pd.DataFrame(
        [
            (customer, moment.timestamp(), (rest or ("UTC",))[0], cents / 100, category, channel)
            for customer, moment, cents, category, channel, *rest in orders
        ],
        columns=["customer_id", "epoch", "zone", "amount", "category", "channel"],
    )
    return frame.astype({"zone": "category", "category": "category", "channel": "category"})


def _by_customer(rows: pd.DataFrame) -> dict[int, dict]:
    habits = habits_compute(rows)
    assert list(habits.columns) == list(HABIT_COLUMNS)
    return {int(row["customer_id"]): row for row in habits.to_dict("records")}


def test_figures_of_one_customer_in_any_row_order() -> None:
    rows = _rows(
        (7, _at(0, 20.5), 10000, "shoes", "app"),  # Monday 20:30
        (7, _at(7, 20), 20000, "shoes", "app"),  # Monday 20:00
        (7, _at(17, 9), 5000, "books", "web"),  # Thursday 09:00
        (7, _at(27, 20.75), 15000, "toys", "app"),  # Sunday 20:45
    )

    for frame in (rows, rows.iloc[::-1].reset_index(drop=True)):
        habits = _by_customer(frame)[7]
        assert habits["top_category"] == "shoes"
        assert habits["top_category_share"] == 0.6
        assert json.loads(habits["category_shares"]) == {"shoes": 0.6, "toys": 0.3, "books": 0.1}
        assert habits["categories_count"] == 3
        assert habits["repeat_category_share"] == 0.25
        assert (habits["preferred_channel"], habits["preferred_channel_share"]) == ("app", 0.75)
        assert (habits["usual_hour"], habits["usual_weekday"]) == (20, 1)
        # gaps of 6.98, 9.54 and 10.49 days: the middle one
        assert habits["median_gap_days"] == 9.54


def test_hours_and_weekdays_are_those_of_the_buyers_own_zone() -> None:
    # 02:00 UTC on Sunday 10 May is 22:00 on Saturday in New York, 10:00 on Sunday in Shanghai
    moment = dt.datetime(2026, 5, 10, 2, 0, tzinfo=UTC)
    rows = _rows(
        (1, moment, 100, "", "", "America/New_York"),
        (2, moment, 100, "", "", "Asia/Shanghai"),
        # an account's rows from members in two zones: each moment in its own member's zone
        (3, moment, 100, "", "", "America/New_York"),
        (3, moment + dt.timedelta(hours=23), 100, "", "", "Asia/Shanghai"),
        (3, moment + dt.timedelta(days=1, hours=20), 100, "", "", "America/New_York"),
    )

    habits = _by_customer(rows)

    assert (habits[1]["usual_hour"], habits[1]["usual_weekday"]) == (22, 6)
    assert (habits[2]["usual_hour"], habits[2]["usual_weekday"]) == (10, 7)
    local = (moment + dt.timedelta(days=1, hours=20)).astimezone(ZoneInfo("America/New_York"))
    assert local.hour == 18
    # hours 22, 9 and 18: a tie, the smallest; weekdays Saturday, Monday, Monday
    assert (habits[3]["usual_hour"], habits[3]["usual_weekday"]) == (9, 1)


def test_ties_go_to_the_smallest_hour_weekday_and_the_first_name() -> None:
    rows = _rows(
        (1, _at(5, 22), 500, "b", "web"),  # Saturday 22:00
        (1, _at(8, 8), 500, "a", "app"),  # Tuesday 08:00
    )

    habits = _by_customer(rows)[1]

    assert (habits["usual_hour"], habits["usual_weekday"]) == (8, 2)
    # same spend and orders: the first category and channel by name
    assert (habits["top_category"], habits["preferred_channel"]) == ("a", "app")
    assert habits["repeat_category_share"] == 0


def test_median_of_an_even_count_and_rounding_half_away_from_zero() -> None:
    rows = _rows(
        # gaps of 1 day and 1.01 days: the median is 1.005 days, exactly, which rounds up (a
        # float computation lands just below it and rounds down)
        (1, _at(0), 100, "", ""),
        (1, _at(1), 100, "", ""),
        (1, _at(2.01), 100, "", ""),
        # one in three orders: 0.33333 -> 0.3333; two in three 0.66667 -> 0.6667
        (2, _at(0), 100, "x", "web"),
        (2, _at(1), 100, "y", "web"),
        (2, _at(2), 100, "y", "app"),
    )

    habits = _by_customer(rows)

    assert habits[1]["median_gap_days"] == 1.01
    assert habits[2]["preferred_channel_share"] == 0.6667
    assert habits[2]["repeat_category_share"] == 0.3333
    assert json.loads(habits[2]["category_shares"]) == {"y": 0.6667, "x": 0.3333}


def test_unnamed_orders_count_in_the_spend_but_are_never_a_category() -> None:
    rows = _rows(
        (3, _at(0), 9000, "", ""),
        (3, _at(1), 1000, "tea", ""),
        # only unnamed orders, or none with money
        (4, _at(0), 700, "", ""),
        (5, _at(0), 0, "free", "store"),
    )

    habits = _by_customer(rows)

    assert (habits[3]["top_category"], habits[3]["top_category_share"]) == ("tea", 0.1)
    assert json.loads(habits[3]["category_shares"]) == {"tea": 0.1}
    assert habits[3]["preferred_channel"] == ""
    assert np.isnan(habits[3]["preferred_channel_share"])
    assert habits[4]["top_category"] == ""
    assert np.isnan(habits[4]["top_category_share"])
    assert pd.isna(habits[4]["category_shares"])
    assert habits[4]["categories_count"] == 0
    assert np.isnan(habits[4]["repeat_category_share"])
    assert np.isnan(habits[4]["median_gap_days"])
    # a named category without spend is the top one, with no share of nothing
    assert habits[5]["top_category"] == "free"
    assert np.isnan(habits[5]["top_category_share"])
    assert pd.isna(habits[5]["category_shares"])


def test_only_the_largest_categories_are_listed_and_names_are_escaped() -> None:
    names = ['say "hi"', "back\\slash", "茶叶", "d", "e", "f"]
    rows = _rows(*[(9, _at(day), 1000 * (10 - day), name, "web") for day, name in enumerate(names)])

    habits = _by_customer(rows)[9]
    shares = json.loads(habits["category_shares"])

    assert list(shares) == names[:5]
    assert shares['say "hi"'] == pytest.approx(10 / 45, abs=1e-4)
    assert habits["categories_count"] == 6


def test_plain_text_columns_are_read_as_well_as_categorical_ones() -> None:
    rows = _rows((1, _at(0), 100, "tea", "web"), (1, _at(1), 300, "", "app"))

    plain = habits_compute(rows.astype({"category": "string", "channel": object}))

    pd.testing.assert_frame_equal(plain, habits_compute(rows))
