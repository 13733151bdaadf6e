"""The vectorised buying habits (segments.services.habits.habits_compute) on hand-built order
rows: ties, exact rounding, medians, names that need escaping, customers without spend."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from segments.services.habits import HABIT_COLUMNS, habits_compute

DAY_US = 86_400_000_000
START = int(dt.datetime(2026, 1, 5, tzinfo=dt.UTC).timestamp()) * 1_000_000


def _rows(*orders: tuple) -> pd.DataFrame:
    """Rows of (customer, day offset (float), hour, weekday, cents, category, channel)."""
    frame = pd.DataFrame(
        [
            (customer, START + round(days * DAY_US), hour, weekday, cents, category, channel)
            for customer, days, hour, weekday, cents, category, channel in orders
        ],
        columns=["customer_id", "at_us", "hour", "weekday", "cents", "category", "channel"],
    )
    return frame.astype({"category": "string", "channel": "string"})


def _by_customer(rows: pd.DataFrame) -> dict[int, dict]:
    habits = habits_compute(rows)
    assert list(habits.columns) == list(HABIT_COLUMNS)
    return {int(row["customer_id"]): row for row in habits.to_dict("records")}


def test_figures_of_one_customer_in_any_row_order() -> None:
    orders = [
        (7, 0, 20, 1, 10000, "shoes", "app"),
        (7, 7, 20, 1, 20000, "shoes", "app"),
        (7, 17, 9, 4, 5000, "books", "web"),
        (7, 27, 20, 7, 15000, "toys", "app"),
    ]
    rows = _rows(*orders)

    for frame in (rows, rows.iloc[::-1].reset_index(drop=True)):
        habits = _by_customer(frame)[7]
        assert habits["top_category"] == "shoes"
        assert habits["top_category_share"] == 0.6
        assert json.loads(habits["category_shares"]) == {"shoes": 0.6, "toys": 0.3, "books": 0.1}
        assert habits["categories_count"] == 3
        assert habits["repeat_category_share"] == 0.25
        assert (habits["preferred_channel"], habits["preferred_channel_share"]) == ("app", 0.75)
        assert (habits["usual_hour"], habits["usual_weekday"]) == (20, 1)
        # gaps 7, 10 and 10 days: the middle one
        assert habits["median_gap_days"] == 10


def test_ties_go_to_the_smallest_hour_weekday_and_the_first_name() -> None:
    rows = _rows(
        (1, 0, 22, 6, 500, "b", "web"),
        (1, 1, 8, 2, 500, "a", "app"),
    )

    habits = _by_customer(rows)[1]

    assert (habits["usual_hour"], habits["usual_weekday"]) == (8, 2)
    # same spend and orders: the first category and channel by name
    assert (habits["top_category"], habits["preferred_channel"]) == ("a", "app")
    assert habits["repeat_category_share"] == 0


def test_median_of_an_even_count_and_rounding_half_away_from_zero() -> None:
    # gaps of 1 day and 1 day + 0.01 day: the median is 1.005 days, exactly, which rounds up
    # (a float computation lands just below it and rounds down)
    rows = _rows(
        (1, 0, 0, 1, 100, "", ""),
        (1, 1, 0, 1, 100, "", ""),
        (1, 2.01, 0, 1, 100, "", ""),
        # one in three orders: 0.33333 -> 0.3333; two in three 0.66667 -> 0.6667
        (2, 0, 0, 1, 100, "x", "web"),
        (2, 1, 0, 1, 100, "y", "web"),
        (2, 2, 0, 1, 100, "y", "app"),
    )

    habits = _by_customer(rows)

    assert habits[1]["median_gap_days"] == 1.01
    assert habits[2]["preferred_channel_share"] == 0.6667
    assert habits[2]["repeat_category_share"] == 0.3333
    assert json.loads(habits[2]["category_shares"]) == {"y": 0.6667, "x": 0.3333}


def test_unnamed_orders_count_in_the_spend_but_are_never_a_category() -> None:
    rows = _rows(
        (3, 0, 10, 3, 9000, "", ""),
        (3, 1, 10, 3, 1000, "tea", ""),
        # only unnamed orders, or none with money
        (4, 0, 10, 3, 700, "", ""),
        (5, 0, 10, 3, 0, "free", "store"),
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
    rows = _rows(
        *[(9, day, 12, 5, 1000 * (10 - day), name, "web") for day, name in enumerate(names)]
    )

    shares = json.loads(_by_customer(rows)[9]["category_shares"])

    assert list(shares) == names[:5]
    assert shares['say "hi"'] == pytest.approx(10 / 45, abs=1e-4)
    assert _by_customer(rows)[9]["categories_count"] == 6
