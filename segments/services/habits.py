"""Buying habits from paid order rows, vectorised (numpy and Arrow; no loop over customers).

`habits_compute` takes one row per paid order counted for a customer (a business account's
rows include its contacts' orders) and returns one row per customer: the top category and its
share of spend, the largest categories' shares as a JSON object, how many categories, the share
of orders in a category bought before, the preferred channel and its share of orders, the usual
hour and ISO weekday (in the time zone of whoever placed the order) and the median days between
consecutive orders.

Why here and not in SQL: these figures need ordered-set aggregates (modes, a median), a window
over each customer's timeline and a ranking of each customer's categories; PostgreSQL computes
them in about ten passes over every order, with a small sort per customer, which made the first
fill of a million customers cost minutes (docs/performance.md). Here every figure is one sort or
one counting pass over arrays.

Ratios are exact: money is in cents and moments in microseconds (integers), and every ratio is
rounded half away from zero from the integers themselves, so the same history always gives the
same stored value whichever run computed it (a later run writes only rows that differ).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# How many categories `category_shares` keeps (the largest by spend).
TOP_CATEGORIES = 5
# The input: one row per paid order counted for a customer: the moment (seconds since the Unix
# epoch, to the microsecond), the time zone of whoever placed it, the amount (to the cent).
ORDER_ROW_COLUMNS = {
    "customer_id": "int64",
    "epoch": "float64",
    "zone": "category",
    "amount": "float64",
    "category": "category",
    "channel": "category",
}
# The output, in the order the staging table takes them.
HABIT_COLUMNS = (
    "customer_id",
    "top_category",
    "top_category_share",
    "category_shares",
    "categories_count",
    "repeat_category_share",
    "preferred_channel",
    "preferred_channel_share",
    "usual_hour",
    "usual_weekday",
    "median_gap_days",
)
_US_PER_DAY = 86_400_000_000
_HOURS = 24
_WEEKDAYS = 7


def _rounded(numerator: np.ndarray, denominator: np.ndarray, decimals: int) -> np.ndarray:
    """numerator / denominator rounded half away from zero to `decimals`, as floats, from the
    integers (no float error before the rounding); the denominators must be positive."""
    scaled = np.abs(numerator).astype(np.int64) * (10**decimals)
    whole = (2 * scaled + denominator) // (2 * denominator)
    return np.sign(numerator) * whole / 10**decimals


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes of the texts `values` (missing read as the empty text) and the distinct texts they
    index, in sorted order, so comparing codes compares the texts."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return pd.factorize(values.astype("string").fillna(""), sort=True)
    named = values.cat.categories.astype(str)
    texts = pd.Index(sorted({*named, ""}))
    recode = np.append(texts.get_indexer(named), texts.get_indexer([""]))
    # A missing value's code (-1) takes the last entry: the empty text's.
    return recode[values.cat.codes.to_numpy()], texts


def _first_of_groups(group: np.ndarray) -> np.ndarray:
    """Positions where a new value starts in the sorted array `group`."""
    starts = np.ones(len(group), dtype=bool)
    starts[1:] = group[1:] != group[:-1]
    return np.flatnonzero(starts)


def _modes(index: np.ndarray, values: np.ndarray, size: int, customers: int) -> np.ndarray:
    """Per customer (`index` 0..customers-1), the most frequent of `values` (0..size-1); a tie
    goes to the smallest value."""
    counts = np.bincount(index * size + values, minlength=customers * size)
    return counts.reshape(customers, size).argmax(axis=1)


def _local_hours_and_weekdays(
    at_us: np.ndarray, zone_code: np.ndarray, zones: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """The hour (0-23) and ISO weekday (1-7) of each moment in its own time zone (one
    vectorised conversion per zone)."""
    hours = np.empty(len(at_us), dtype=np.int64)
    weekdays = np.empty(len(at_us), dtype=np.int64)
    for code, zone in enumerate(zones):
        rows = np.flatnonzero(zone_code == code)
        if not len(rows):
            continue
        local = pd.DatetimeIndex(at_us[rows].astype("datetime64[us]"), tz="UTC").tz_convert(
            str(zone)
        )
        hours[rows] = local.hour
        weekdays[rows] = local.day_of_week + 1
    return hours, weekdays


def _median_gaps(index: np.ndarray, at_us: np.ndarray, customers: int) -> np.ndarray:
    """Per customer, the median days between consecutive orders (rows sorted by customer and
    moment), the mean of the two middle gaps for an even count, to two decimals; NaN below two
    orders."""
    follows = np.flatnonzero(index[1:] == index[:-1]) + 1
    gap_index = index[follows]
    gaps = at_us[follows] - at_us[follows - 1]
    # Sorted by customer, then gap: one sort of a packed key when both fit in 63 bits.
    gap_bits = max(int(gaps.max(initial=0)).bit_length(), 1)
    if int(customers).bit_length() + gap_bits <= 63:
        packed = np.sort((gap_index << gap_bits) | gaps)
        gaps = packed & ((1 << gap_bits) - 1)
    else:
        gaps = gaps[np.lexsort((gaps, gap_index))]
    count = np.bincount(gap_index, minlength=customers)
    start = np.cumsum(count) - count
    has = count > 0
    middle_sum = (
        gaps[(start + (count - 1) // 2)[has]] + gaps[(start + count // 2)[has]]
    )  # twice the median, in microseconds
    median = np.full(customers, np.nan)
    median[has] = _rounded(middle_sum, np.full(len(middle_sum), 2 * _US_PER_DAY), 2)
    return median


def _shares_json(
    index: np.ndarray, category: np.ndarray, share: np.ndarray, names: pd.Index, customers: int
) -> pa.Array:
    """Per customer, a JSON object of category to share (entries grouped by customer, in
    order); null where a customer has none."""
    keys = pa.array([json.dumps(str(name), ensure_ascii=False) + ": " for name in names])
    entries = pc.binary_join_element_wise(
        pc.take(keys, pa.array(category)), pc.cast(pa.array(share), pa.string()), ""
    )
    grouped = (
        pa.table({"customer": pa.array(index), "entry": entries})
        .group_by("customer", use_threads=False)
        .aggregate([("entry", "list")])
    )
    objects = pc.binary_join_element_wise("{", pc.binary_join(grouped["entry_list"], ", "), "}", "")
    taken = np.full(customers, -1, dtype=np.int64)
    taken[grouped["customer"].to_numpy()] = np.arange(len(grouped))
    return pc.take(objects, pa.array(taken, mask=taken < 0))


def habits_compute(rows: pd.DataFrame) -> pd.DataFrame:
    """One row of habits per customer in `rows` (ORDER_ROW_COLUMNS, any order), columns
    HABIT_COLUMNS; `category_shares` is JSON text, missing figures are null (NaN or <NA>)."""
    at_us = np.rint(rows["epoch"].to_numpy(dtype=np.float64) * 1e6).astype(np.int64)
    order = np.lexsort((at_us, rows["customer_id"].to_numpy()))
    ids = rows["customer_id"].to_numpy()[order]
    at_us = at_us[order]
    cents = np.rint(rows["amount"].to_numpy(dtype=np.float64)[order] * 100).astype(np.int64)
    category_code, categories = _codes(rows["category"])
    channel_code, channels = _codes(rows["channel"])
    zone_code, zones = _codes(rows["zone"])
    category_code = category_code[order]
    channel_code = channel_code[order]
    starts = _first_of_groups(ids)
    customers = len(starts)
    orders = np.diff(np.append(starts, len(ids)))
    index = np.repeat(np.arange(customers), orders)

    hours, weekdays = _local_hours_and_weekdays(at_us, zone_code[order], zones)
    usual_hour = _modes(index, hours, _HOURS, customers)
    usual_weekday = _modes(index, weekdays - 1, _WEEKDAYS, customers) + 1
    median_gap = _median_gaps(index, at_us, customers)

    # Categories: spend and orders per (customer, category), ranked within each customer:
    # named categories first, then by spend, orders and name.
    width = max(len(categories), 1)
    keys, inverse = np.unique(index * width + category_code, return_inverse=True)
    spend = np.bincount(inverse, weights=cents).astype(np.int64)
    bought = np.bincount(inverse)
    owner = keys // width
    category = keys % width
    empty = categories.get_indexer([""])[0]
    named = category != empty
    total = np.bincount(owner, weights=spend, minlength=customers).astype(np.int64)
    ranking = np.lexsort((category, -bought, -spend, ~named, owner))
    owner, category, spend, bought, named = (
        owner[ranking],
        category[ranking],
        spend[ranking],
        bought[ranking],
        named[ranking],
    )
    group_start = _first_of_groups(owner)
    rank = np.arange(len(owner)) - np.repeat(
        group_start, np.diff(np.append(group_start, len(owner)))
    )
    top = group_start[named[group_start]]
    top_category = np.full(customers, "", dtype=object)
    top_category[owner[top]] = np.asarray(categories, dtype=object)[category[top]]
    top_share = np.full(customers, np.nan)
    with_spend = total[owner[top]] > 0
    top_share[owner[top][with_spend]] = _rounded(
        spend[top][with_spend], total[owner[top]][with_spend], 4
    )
    categories_count = np.bincount(owner[named], minlength=customers)
    named_orders = np.bincount(owner[named], weights=bought[named], minlength=customers).astype(
        np.int64
    )
    repeat_share = np.full(customers, np.nan)
    repeat = named_orders > 0
    repeat_share[repeat] = _rounded(
        (named_orders - categories_count)[repeat], named_orders[repeat], 4
    )
    listed = named & (rank < TOP_CATEGORIES) & (total[owner] > 0)
    shares = _shares_json(
        owner[listed],
        category[listed],
        _rounded(spend[listed], total[owner[listed]], 4),
        categories,
        customers,
    )

    # Channels: the named channel with the most orders (a tie goes to the first by name).
    channel_named = channel_code != channels.get_indexer([""])[0]
    channel_width = max(len(channels), 1)
    channel_keys, channel_orders = np.unique(
        index[channel_named] * channel_width + channel_code[channel_named], return_counts=True
    )
    channel_owner = channel_keys // channel_width
    channel = channel_keys % channel_width
    best = np.lexsort((channel, -channel_orders, channel_owner))
    best = best[_first_of_groups(channel_owner[best])]
    preferred_channel = np.full(customers, "", dtype=object)
    preferred_channel[channel_owner[best]] = np.asarray(channels, dtype=object)[channel[best]]
    channel_share = np.full(customers, np.nan)
    channel_share[channel_owner[best]] = _rounded(
        channel_orders[best], orders[channel_owner[best]], 4
    )

    return pd.DataFrame(
        {
            "customer_id": ids[starts],
            "top_category": top_category,
            "top_category_share": top_share,
            "category_shares": pd.array(shares.to_pandas(), dtype="string"),
            "categories_count": categories_count,
            "repeat_category_share": repeat_share,
            "preferred_channel": preferred_channel,
            "preferred_channel_share": channel_share,
            "usual_hour": usual_hour,
            "usual_weekday": usual_weekday,
            "median_gap_days": median_gap,
        },
        columns=list(HABIT_COLUMNS),
    )
