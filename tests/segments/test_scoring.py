"""RFM, lifecycle and value-tier scoring against hand-computed small cases."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segments.choices import LifecycleStage, TierMethod
from segments.defaults import DEFAULT_RFM_GRID
from segments.services.scoring import (
    RfmCell,
    ScoringSettings,
    lifecycle_stages,
    quintile_scores,
    rfm_scores,
    rfm_segments,
    value_tiers,
)

NOW = pd.Timestamp("2026-06-01", tz="UTC")
GRID = [RfmCell(*row) for row in DEFAULT_RFM_GRID]


def test_quintiles_of_ten_distinct_values() -> None:
    scores = quintile_scores(pd.Series(range(1, 11), dtype="float64"))
    assert scores.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_lower_is_better_reverses_the_scale() -> None:
    scores = quintile_scores(pd.Series([1.0, 2, 3, 4, 5]), higher_is_better=False)
    assert scores.tolist() == [5, 4, 3, 2, 1]


def test_equal_values_get_equal_scores() -> None:
    # ranks averaged: the three 1s share rank 2 -> floor(1.5 * 5 / 6) + 1 = 2;
    # ranks 4, 5, 6 -> floor(3.5 * 5 / 6) + 1 = 3, floor(4.5 * 5 / 6) + 1 = 4, 5
    scores = quintile_scores(pd.Series([1.0, 1, 1, 2, 3, 4]))
    assert scores.tolist() == [2, 2, 2, 3, 4, 5]
    assert quintile_scores(pd.Series([7.0] * 4)).tolist() == [3, 3, 3, 3]


def test_nan_stays_unscored() -> None:
    scores = quintile_scores(pd.Series([1.0, np.nan, 3.0]))
    assert np.isnan(scores.iloc[1])
    assert scores.iloc[0] < scores.iloc[2]


def _by_average_rank(values: pd.Series, *, higher_is_better: bool) -> pd.Series:
    """The definition, ranking every value (what quintile_scores computed before)."""
    present = values.dropna()
    ranks = present.rank(method="average", ascending=higher_is_better)
    scores = np.floor((ranks - 0.5) * 5 / len(present)) + 1
    return scores.clip(1, 5).reindex(values.index)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.integers(-3, 3).map(float), st.floats(-1e6, 1e6), st.just(float("nan"))),
        min_size=1,
        max_size=60,
    ),
    higher_is_better=st.booleans(),
)
def test_quintile_scores_follow_the_average_rank_without_sorting(
    values: list[float], higher_is_better: bool
) -> None:
    series = pd.Series(values, dtype="float64")
    if series.isna().all():
        return
    expected = _by_average_rank(series, higher_is_better=higher_is_better)
    got = quintile_scores(series, higher_is_better=higher_is_better)
    pd.testing.assert_series_equal(got, expected, check_names=False)


def test_quintile_scores_of_many_ties_at_scale() -> None:
    rng = np.random.default_rng(7)
    for values in (
        rng.integers(0, 4, 100_003).astype("float64"),
        rng.integers(0, 400, 99_999).astype("float64"),
        np.round(rng.lognormal(5, 1, 100_000), 2),
    ):
        series = pd.Series(values)
        for higher_is_better in (True, False):
            pd.testing.assert_series_equal(
                quintile_scores(series, higher_is_better=higher_is_better),
                _by_average_rank(series, higher_is_better=higher_is_better),
            )


def _tiers_by_rank(frame: pd.DataFrame, settings: ScoringSettings) -> list[str]:
    """The definition, ranking every spender (what value_tiers computed before)."""
    spend = frame["monetary"].fillna(0.0)
    is_business = frame["kind"] == "business"
    tiers = pd.Series("low", index=frame.index, dtype="string")
    for mask in (is_business, ~is_business):
        group = spend[mask.fillna(False)]
        positive = group[group > 0]
        if positive.empty:
            continue
        share = positive.rank(method="max", ascending=False) / len(positive)
        high = settings.high_percentile
        tiers.loc[share.index[share <= high]] = "high"
        medium = (share > high) & (share <= high + settings.medium_percentile)
        tiers.loc[share.index[medium]] = "medium"
    return tiers.tolist()


@settings(max_examples=300, deadline=None)
@given(
    spends=st.lists(
        st.tuples(
            st.one_of(st.integers(-2, 4).map(float), st.floats(-10, 1e5), st.just(float("nan"))),
            st.sampled_from(["person", "business"]),
        ),
        min_size=1,
        max_size=50,
    ),
    high=st.sampled_from([0.0, 0.1, 0.2, 1 / 3, 0.5, 1.0]),
    medium=st.sampled_from([0.0, 0.3, 0.25, 2 / 3]),
)
def test_value_tiers_by_share_follow_the_rank_without_sorting(
    spends: list[tuple[float, str]], high: float, medium: float
) -> None:
    frame = pd.DataFrame(spends, columns=["monetary", "kind"]).astype({"kind": "string"})
    scoring = ScoringSettings(high_percentile=high, medium_percentile=medium)
    assert value_tiers(frame, scoring).tolist() == _tiers_by_rank(frame, scoring)


def test_value_tiers_count_the_share_as_the_division_does() -> None:
    # 0.29 * 100 is 28.999...96 in floating point, yet 29 / 100 <= 0.29: 29 customers are
    # within the top 29%, as ranking them says.
    frame = pd.DataFrame({"monetary": np.arange(1.0, 101.0), "kind": ["person"] * 100})
    scoring = ScoringSettings(high_percentile=0.29, medium_percentile=0.3)
    tiers = value_tiers(frame, scoring).tolist()
    assert tiers == _tiers_by_rank(frame, scoring)
    assert tiers.count("high") == 29


def test_value_tiers_when_the_shares_together_pass_everyone() -> None:
    # 0.5 + 2/3: every spender outside the top half is medium, none is low.
    frame = pd.DataFrame({"monetary": np.arange(1.0, 11.0), "kind": ["person"] * 10})
    scoring = ScoringSettings(high_percentile=0.5, medium_percentile=2 / 3)
    tiers = value_tiers(frame, scoring).tolist()
    assert tiers == _tiers_by_rank(frame, scoring)
    assert tiers == ["medium"] * 5 + ["high"] * 5


def _frame(**columns: list) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_rfm_scores_skip_customers_without_orders() -> None:
    frame = _frame(
        last_order_at=[NOW, NOW - pd.Timedelta(days=10), pd.NaT],
        recency_days=[0.0, 10.0, np.nan],
        frequency=[5, 1, 0],
        monetary=[500.0, 20.0, 0.0],
    )
    rfm_scores(frame)
    assert frame["rfm_code"].tolist() == ["444", "222", ""]
    assert frame["r_score"].isna().tolist() == [False, False, True]


def test_every_rfm_cell_has_exactly_one_default_segment() -> None:
    cells = [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    frame = pd.DataFrame(cells, columns=["r_score", "f_score", "m_score"]).astype("Int16")
    names = rfm_segments(frame, GRID)
    assert (names != "").all()
    lookup = dict(zip(cells, names, strict=True))
    assert lookup[(5, 5, 5)] == "champions"
    assert lookup[(1, 1, 1)] == "lost"
    assert lookup[(1, 5, 5)] == "cannot_lose"
    assert lookup[(5, 1, 1)] == "new"
    assert lookup[(3, 2, 1)] == "need_attention"  # FM = round(1.5) = 2


def _lifecycle_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["last_order_at"] = NOW - pd.to_timedelta(frame["recency_days"], unit="D")
    frame["first_order_at"] = NOW - pd.to_timedelta(frame["tenure_days"], unit="D")
    return frame


@pytest.mark.parametrize(
    ("row", "stage"),
    [
        ({"recency_days": np.nan, "tenure_days": np.nan, "orders_lifetime": 0}, "prospect"),
        ({"recency_days": 180, "tenure_days": 400, "orders_lifetime": 5}, "lost"),
        ({"recency_days": 179, "tenure_days": 400, "orders_lifetime": 5}, "dormant"),
        ({"recency_days": 60, "tenure_days": 400, "orders_lifetime": 5}, "dormant"),
        ({"recency_days": 59, "tenure_days": 400, "orders_lifetime": 5}, "active"),
        ({"recency_days": 2, "tenure_days": 29, "orders_lifetime": 1}, "new"),
        ({"recency_days": 2, "tenure_days": 30, "orders_lifetime": 1}, "active"),
        # ordered every ~10 days for 200 days, now silent for 40: a sharp drop
        ({"recency_days": 40, "tenure_days": 240, "orders_lifetime": 21}, "churn_risk"),
        # same silence but the customer's rhythm is every 50 days: normal
        ({"recency_days": 40, "tenure_days": 240, "orders_lifetime": 5}, "active"),
    ],
)
def test_lifecycle_edges(row: dict, stage: str) -> None:
    frame = _lifecycle_frame([{**row, "churn_probability": np.nan}])
    assert lifecycle_stages(frame, ScoringSettings()).tolist() == [stage]


def test_model_probability_over_threshold_means_churn_risk() -> None:
    base = {"recency_days": 20, "tenure_days": 300, "orders_lifetime": 4}
    frame = _lifecycle_frame(
        [{**base, "churn_probability": 0.61}, {**base, "churn_probability": 0.59}]
    )
    stages = lifecycle_stages(frame, ScoringSettings(churn_threshold=0.6)).tolist()
    assert stages == [LifecycleStage.CHURN_RISK, LifecycleStage.ACTIVE]


def test_value_tiers_by_percentile_with_ties_and_businesses() -> None:
    frame = pd.DataFrame(
        {
            "monetary": [1000.0, 900, 900, 100, 50, 0, 50_000, 40_000, 30_000, 20_000, 10_000],
            "kind": ["person"] * 6 + ["business"] * 5,
        }
    )
    tiers = value_tiers(frame, ScoringSettings(high_percentile=0.2, medium_percentile=0.4))
    # persons with spend 1000, 900, 900, 100, 50: shares of spenders at least as high are
    # 0.2, 0.6, 0.6, 0.8, 1.0; zero spend is always low. Businesses rank among themselves.
    assert tiers.tolist() == [
        "high",
        "medium",
        "medium",
        "low",
        "low",
        "low",
        "high",
        "medium",
        "medium",
        "low",
        "low",
    ]


def test_value_tiers_by_thresholds_use_business_thresholds() -> None:
    frame = pd.DataFrame(
        {"monetary": [6000.0, 1500, 999, 6000, 60000], "kind": ["person"] * 3 + ["business"] * 2}
    )
    settings = ScoringSettings(tier_method=TierMethod.THRESHOLDS)
    assert value_tiers(frame, settings).tolist() == ["high", "medium", "low", "low", "high"]
