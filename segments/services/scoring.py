"""Scores computed in pandas/numpy over the whole metrics frame at once (no loop per customer).

- RFM: R, F and M are quintile scores 1..5 (5 = best) among customers with at least one paid
  order. A customer's score comes from the average rank of its value, so equal values always get
  equal scores: with ranks r (1..n, ties averaged) the score is floor((r - 0.5) * 5 / n) + 1.
  Customers without any paid order (prospects) get no RFM scores.
- RFM segment: the first definition (in position order) whose R range and FM range hold, where
  FM is the mean of F and M rounded half up.
- Lifecycle: prospect, lost, dormant, new, churn-risk, active, checked in that order.
- Value tier: by spend in the window, with fixed thresholds or percentiles; business customers
  have their own thresholds and are ranked among businesses.
- Potential value: predicted value (the value model's next 365 days) against past value (the
  value tier); "high predicted" is at or above a percentile of the predictions, among people
  and among businesses apart, as the value tiers rank them.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from callcenter.choices import CustomerKind
from segments.choices import LifecycleStage, TierMethod, ValuePotential, ValueTier

SCORE_BINS = 5
# The potential-value layer's values by code (value_potentials): blank, grow, keep, slipping,
# steady.
POTENTIAL_BY_CODE = (
    "",
    str(ValuePotential.GROW),
    str(ValuePotential.KEEP),
    str(ValuePotential.SLIPPING),
    str(ValuePotential.STEADY),
)


@dataclass(frozen=True)
class RfmCell:
    """One row of the RFM grid: a segment name and its inclusive R and FM ranges."""

    name: str
    r_min: int
    r_max: int
    fm_min: int
    fm_max: int


@dataclass(frozen=True)
class ScoringSettings:
    """The thresholds scoring needs, detached from the database row."""

    new_days: int = 30
    dormant_days: int = 60
    lost_days: int = 180
    churn_threshold: float = 0.6
    rhythm_factor: float = 3.0
    rhythm_min_orders: int = 3
    tier_method: str = TierMethod.PERCENTILES
    high_threshold: float = 5000.0
    medium_threshold: float = 1000.0
    business_high_threshold: float = 50000.0
    business_medium_threshold: float = 10000.0
    high_percentile: float = 0.2
    medium_percentile: float = 0.3


def _quintile_thresholds(values: np.ndarray) -> np.ndarray:
    """The smallest value reaching each score 2..5 (nondecreasing; +inf where none does).

    A value's score is floor((r - 0.5) * 5 / n) + 1 with r its average rank, so it reaches
    score j + 1 when 5 * (lt + le) >= 2 * j * n, lt and le counting the values below it and
    at most it. That first holds at the value w at sorted position k = floor(j * n / 5) or
    at the next distinct value above w: values below w have lt + le <= 2k - 1, the next one
    above it at least 2k + 3. So one selection (np.partition) and a few counting passes give
    the thresholds, linear in n, where ranking every value sorts them all: that grew faster
    than the customers did (docs/performance.md, beyond one machine)."""
    n = len(values)
    positions = [j * n // SCORE_BINS for j in range(1, SCORE_BINS)]
    selected = np.partition(values, positions)
    thresholds = np.full(SCORE_BINS - 1, np.inf)
    for j, position in enumerate(positions, start=1):
        candidate = selected[position]
        below = int(np.count_nonzero(values < candidate))
        at_most = int(np.count_nonzero(values <= candidate))
        if SCORE_BINS * (below + at_most) >= 2 * j * n:
            thresholds[j - 1] = candidate
        elif at_most < n:
            thresholds[j - 1] = values[values > candidate].min()
    return thresholds


def quintile_scores(values: pd.Series, *, higher_is_better: bool = True) -> pd.Series:
    """Scores 1..5 by average rank (see the module docstring); equal values get equal scores.
    NaN stays NaN."""
    array = pd.to_numeric(values).to_numpy(dtype="float64", na_value=np.nan)
    present = ~np.isnan(array)
    scores = np.full(len(array), np.nan)
    if present.any():
        known = array[present] if higher_is_better else -array[present]
        thresholds = _quintile_thresholds(known)
        scores[present] = np.searchsorted(thresholds, known, side="right") + 1
    return pd.Series(scores, index=values.index, dtype="float64")


# The RFM code by r * 100 + f * 10 + m ("111".."555"); 0, customers not scored: "".
RFM_CODE_BY_NUMBER = pa.array([str(number) if number >= 111 else "" for number in range(556)])


def _labels(table: Sequence[str] | pa.Array, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """A text column from codes into `table`: Arrow's take builds it far faster than pandas
    does from a numpy array of strings (the score phase's time: docs/performance.md)."""
    labels = (table if isinstance(table, pa.Array) else pa.array(table)).take(pa.array(codes))
    return pd.Series(pd.array(labels, dtype="string"), index=index)


def rfm_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """Add r_score, f_score, m_score and rfm_code to the frame (in place) and return it."""
    # Only customers with a paid order are ranked; each column is masked on its own rather
    # than copying the rows of the whole (wide) frame.
    has_orders = frame["last_order_at"].notna()
    number = np.zeros(len(frame))
    for column, source, higher_is_better, weight in (
        ("r_score", "recency_days", False, 100),
        ("f_score", "frequency", True, 10),
        ("m_score", "monetary", True, 1),
    ):
        scores = quintile_scores(frame[source].where(has_orders), higher_is_better=higher_is_better)
        frame[column] = scores.astype("Int16")
        number += weight * scores.to_numpy()
    # NaN where a score is missing: no code, as for customers without orders.
    codes = np.nan_to_num(number, nan=0.0).astype(np.int16)
    frame["rfm_code"] = _labels(RFM_CODE_BY_NUMBER, codes, frame.index)
    return frame


def rfm_segments(frame: pd.DataFrame, grid: Sequence[RfmCell]) -> pd.Series:
    """The named RFM segment of each scored customer ('' for customers without scores)."""
    r = frame["r_score"].astype("float64").to_numpy()
    fm = np.floor(
        (frame["f_score"].astype("float64") + frame["m_score"].astype("float64")) / 2 + 0.5
    ).to_numpy()
    conditions = [
        (r >= cell.r_min) & (r <= cell.r_max) & (fm >= cell.fm_min) & (fm <= cell.fm_max)
        for cell in grid
    ]
    codes = np.select(conditions, range(1, len(grid) + 1), default=0)
    return _labels(["", *(cell.name for cell in grid)], codes, frame.index)


def lifecycle_stages(frame: pd.DataFrame, settings: ScoringSettings) -> pd.Series:
    """Lifecycle stage per customer.

    Needs recency_days, tenure_days, first_order_at, last_order_at, orders_lifetime and
    churn_probability (NaN when there is no model) in the frame. Churn risk is a model
    probability over the threshold, or a sharp drop against the customer's own rhythm: more
    days since the last order than `rhythm_factor` times their usual gap between orders.
    """
    recency = frame["recency_days"]
    tenure = frame["tenure_days"]
    orders = frame["orders_lifetime"]
    span_days = (frame["last_order_at"] - frame["first_order_at"]).dt.total_seconds() / 86400
    usual_gap = span_days / (orders - 1).where(orders > 1)
    rhythm_broken = (
        (orders >= settings.rhythm_min_orders)
        & usual_gap.notna()
        & (recency > settings.rhythm_factor * usual_gap)
    )
    probability = frame["churn_probability"]
    model_says_churn = probability.notna() & (probability >= settings.churn_threshold)
    conditions = [
        frame["last_order_at"].isna(),
        recency >= settings.lost_days,
        recency >= settings.dormant_days,
        tenure < settings.new_days,
        model_says_churn | rhythm_broken,
    ]
    choices = [
        LifecycleStage.PROSPECT,
        LifecycleStage.LOST,
        LifecycleStage.DORMANT,
        LifecycleStage.NEW,
        LifecycleStage.CHURN_RISK,
    ]
    codes = np.select(
        [c.fillna(False).to_numpy(dtype=bool) for c in conditions],
        range(1, len(choices) + 1),
        default=0,
    )
    return _labels([str(LifecycleStage.ACTIVE), *map(str, choices)], codes, frame.index)


def _share_threshold(spend: np.ndarray, share: float) -> float:
    """The smallest spend in the top `share` of these (positive) spenders: a customer's share
    is the fraction of them spending at least as much (so equal spends share a tier); +inf
    when no one's is within `share`.

    The customers allowed are the most `allowed` with allowed / n <= share. The value w with
    `allowed - 1` larger values ahead of it in descending order qualifies unless its ties
    reach past `allowed`, and then the next larger value does: found by one selection and a
    couple of counting passes, not by ranking every customer (see `_quintile_thresholds`)."""
    n = len(spend)
    # A share of 1 or more (the high and medium shares together may pass it) allows everyone.
    allowed = min(int(share * n), n)
    while allowed < n and (allowed + 1) / n <= share:
        allowed += 1
    while allowed > 0 and allowed / n > share:
        allowed -= 1
    if allowed == 0:
        return np.inf
    candidate = np.partition(spend, n - allowed)[n - allowed]
    if np.count_nonzero(spend >= candidate) <= allowed:
        return float(candidate)
    above = spend[spend > candidate]
    return float(above.min()) if len(above) else np.inf


# The value tiers by code, as the percentile tiers assign them: low, medium, high.
TIER_BY_CODE = (str(ValueTier.LOW), str(ValueTier.MEDIUM), str(ValueTier.HIGH))


def _tier_codes_by_share(spend: np.ndarray, high_share: float, medium_share: float) -> np.ndarray:
    """0 (low), 1 (medium) or 2 (high) per customer: high for the top `high_share` of positive
    spenders, medium for the next `medium_share`, low for the rest and non-spenders."""
    codes = np.zeros(len(spend), dtype=np.int8)
    positive = spend > 0
    if not positive.any():
        return codes
    spenders = spend[positive]
    high = _share_threshold(spenders, high_share)
    medium = _share_threshold(spenders, high_share + medium_share)
    codes[positive] = np.where(spenders >= high, 2, np.where(spenders >= medium, 1, 0))
    return codes


def value_tiers(frame: pd.DataFrame, settings: ScoringSettings) -> pd.Series:
    """Value tier per customer from spend in the window."""
    spend = frame["monetary"].fillna(0.0)
    is_business = frame["kind"] == str(CustomerKind.BUSINESS)
    if settings.tier_method == TierMethod.THRESHOLDS:
        high = np.where(is_business, settings.business_high_threshold, settings.high_threshold)
        medium = np.where(
            is_business, settings.business_medium_threshold, settings.medium_threshold
        )
        tiers = np.select(
            [spend >= high, spend >= medium],
            [str(ValueTier.HIGH), str(ValueTier.MEDIUM)],
            default=str(ValueTier.LOW),
        )
        return pd.Series(tiers, index=frame.index, dtype="string")
    # Businesses are ranked among businesses, people among people.
    values = pd.to_numeric(spend).to_numpy(dtype="float64", na_value=0.0)
    codes = np.zeros(len(values), dtype=np.int8)
    for group in (is_business, ~is_business):
        mask = group.fillna(False).to_numpy(dtype=bool)
        codes[mask] = _tier_codes_by_share(
            values[mask], settings.high_percentile, settings.medium_percentile
        )
    return _labels(TIER_BY_CODE, codes, frame.index)


def value_potentials(frame: pd.DataFrame, *, percentile: float) -> pd.Series:
    """The potential-value layer per customer ('' without a predicted value).

    High predicted: predicted_value_365d at or above the `percentile` of the customers of the
    same kind with a prediction. Grow: high predicted, value tier not high; keep: both high;
    slipping: value tier high, predicted not; steady: the rest with a prediction."""
    predicted = pd.to_numeric(frame["predicted_value_365d"])
    known = predicted.notna().to_numpy(dtype=bool)
    is_business = (frame["kind"] == str(CustomerKind.BUSINESS)).fillna(False).to_numpy(dtype=bool)
    values = predicted.to_numpy(dtype="float64", na_value=np.nan)
    high_predicted = np.zeros(len(frame), dtype=bool)
    for mask in (is_business & known, ~is_business & known):
        if mask.any():
            high_predicted[mask] = values[mask] >= np.quantile(values[mask], percentile)
    high_past = (frame["value_tier"] == str(ValueTier.HIGH)).fillna(False).to_numpy(dtype=bool)
    codes = np.select(
        [~known, high_predicted & ~high_past, high_predicted & high_past, high_past],
        [0, 1, 2, 3],
        default=4,
    )
    return _labels(POTENTIAL_BY_CODE, codes, frame.index)
