"""The customer value model ("buy till you die"): BG/NBD for purchases, Gamma-Gamma for spend.

BG/NBD (Fader, Hardie and Lee 2005): while alive, a customer buys as a Poisson process whose
rate varies across customers as Gamma(r, alpha); after each purchase they drop out with a
probability that varies as Beta(a, b). Gamma-Gamma (Fader and Hardie 2013; Colombo and Jiang
1999): the amounts of a customer's purchases vary around their own mean, which varies across
customers; shape p and Gamma(q, gamma) for the scale. Both log-likelihoods are implemented here
with scipy (special functions, `scipy.optimize.minimize` on log-parameters) over whole numpy
arrays. We chose that over a library: Lifetimes is unmaintained since 2020 (it still imports
with our numpy, pandas and scipy, but nothing keeps it so; we install it only for its CDNOW
data), and pymc-marketing would bring PyMC and PyTensor, a compiler toolchain, for a few
closed-form likelihoods. tests/segments/test_value_model.py checks the fits against the
published CDNOW parameters and the predictions against values from Lifetimes.

Time is in days. Per customer with orders: x = repeat purchases (orders - 1), t_x = days from
the first to the last order, T = days from the first order to the moment of the fit, or for
scoring to the start of the refresh's week (`value_clock`), both in whole days (finer time
means nothing to the model, and whole days make identical rows collapse). Business
accounts use their rolled-up order figures, like every other order metric. The mean spend
per purchase is spend ever / orders ever: it includes the first order, a common approximation
when the first order's amount is not kept apart; Gamma-Gamma is told it is the mean of all
those orders (n = orders), so one-time buyers are shrunk toward the population mean.

Predicted value over 365 days: expected spend per order times the expected purchases of each
quarter (days 0-90, 90-180, 180-270, 270-365, so the 90- and 365-day figures are reused),
each discounted at the yearly rate from its middle. The hypergeometric term of the expected
purchases depends only on (x, T), so it is evaluated once per distinct pair (tens of thousands
for a million customers) and gathered, so scoring costs one evaluation per distinct pair, not
per customer (its measured cost: docs/performance.md, the value model).
"""

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop
from scipy.optimize import minimize
from scipy.special import digamma, gammaln, hyp2f1

from segments.choices import ChurnModelStatus
from segments.models import SegmentSettings, ValueModel
from segments.services.fits import versioned_fit_store
from segments.services.metrics import metrics_frame

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86400
# Fitting on more customers barely moves the four parameters but costs seconds; a seeded random
# sample of customers with orders is used.
TRAINING_SAMPLE_CUSTOMERS = 200_000
# Below these counts the fit would be noise: training is skipped.
MIN_CUSTOMERS = 200
MIN_REPEAT_CUSTOMERS = 20
# The hold-out check: a fit on the history up to as_of - HOLDOUT_DAYS (26 weeks, long enough
# for most customers to buy again, short enough to leave most history for calibration)
# predicts the purchases of the following 26 weeks.
HOLDOUT_DAYS = 182
# Buckets of the hold-out check: customers by repeat purchases in calibration, 0..6 and 7+.
HOLDOUT_TOP_BUCKET = 7
# Period ends (days) of the discounted 365-day value: quarters, ending on the 90-day horizon.
VALUE_PERIOD_ENDS = (90.0, 180.0, 270.0, 365.0)
HORIZON_DAYS = 365.0
# Iterations of one gradient search; a fit usually needs 30-100.
MAX_ITERATIONS = 500
# Advisory lock serialising "next version number + move the current flag" between trainings.
VALUE_VERSION_LOCK_KEY = 7_201_003
# The figures the model adds to a metrics frame (written rounded, segments.services.writeback).
VALUE_COLUMNS = (
    "p_alive",
    "expected_orders_90d",
    "expected_orders_365d",
    "expected_order_value",
    "predicted_value_365d",
)


@dataclass(frozen=True)
class BgNbdParams:
    """BG/NBD: purchase rate ~ Gamma(r, alpha) (alpha in the time unit), drop-out ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, gamma)."""

    p: float
    q: float
    gamma: float


@dataclass(frozen=True)
class Fit:
    """Fitted parameters and the maximised log-likelihood (sum over customers)."""

    params: BgNbdParams | GammaGammaParams
    log_likelihood: float
    customers: int


# Training messages, stored in English and shown translated (callcenter.generated;
# segments.parts.generated_formats registers them).
TOO_LITTLE_HISTORY = gettext_noop(
    "Too little history: %(customers)d customers with orders, %(repeat)d of them bought "
    "again; at least %(min_customers)d and %(min_repeat)d are needed."
)
TRAINING_FAILED = gettext_noop("Training failed: %(error)s")
FITTED_ON = gettext_noop(
    "Fitted on %(customers)d customers with orders, %(repeat)d of them repeat."
)
HOLDOUT_CHECK = gettext_noop(
    "Hold-out: %(predicted).0f purchases predicted in %(days)d days, %(actual)d made "
    "(%(error)+.1f%%)."
)
VALUE_MODEL_MESSAGES = (
    TOO_LITTLE_HISTORY,
    TRAINING_FAILED,
    FITTED_ON,
    HOLDOUT_CHECK,
)


def _distinct(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of the columns and, per input row, the position of its distinct row.

    Whole non-negative numbers (days, counts) are combined into one integer key and hashed
    (pandas' factorize, linear in the rows); anything else is sorted."""
    arrays = [np.asarray(c, dtype="float64") for c in columns]
    tops = [float(a.max()) + 1 if len(a) else 1.0 for a in arrays]
    whole = all(len(a) == 0 or (a.min() >= 0 and np.array_equal(a, np.floor(a))) for a in arrays)
    if whole and float(np.prod(tops)) < 2.0**62:
        key = np.zeros(len(arrays[0]), dtype="int64")
        for array, top in zip(arrays, tops, strict=True):
            key = key * int(top) + array.astype("int64")
        codes, _keys = pd.factorize(key)
        first = np.zeros(int(codes.max()) + 1 if len(codes) else 0, dtype="int64")
        first[codes[::-1]] = np.arange(len(codes))[::-1]
        return [a[first] for a in arrays], codes
    rows, codes = np.unique(np.column_stack(arrays), axis=0, return_inverse=True)
    return [rows[:, i] for i in range(rows.shape[1])], codes.ravel()


def _collapsed(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the columns and how often each occurs (the likelihood's weights)."""
    distinct, codes = _distinct(*columns)
    return distinct, np.bincount(codes, minlength=len(distinct[0])).astype("float64")


def bgnbd_log_likelihood(
    params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Each customer's BG/NBD log-likelihood (Fader, Hardie and Lee 2005, eq. 6)."""
    return _bgnbd_terms(params, np.asarray(x, float), np.asarray(t_x, float), np.asarray(T, float))[
        0
    ]


def _bgnbd_terms(
    params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log-likelihood and its gradient in the log-parameters (rows: r, alpha, a, b)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    # Functions of x alone are evaluated once per distinct count.
    ux, back = np.unique(x, return_inverse=True)
    back = back.ravel()
    common = (
        gammaln(r + ux)
        - gammaln(r)
        + gammaln(a + b)
        + gammaln(b + ux)
        - gammaln(b)
        - gammaln(a + b + ux)
    )[back] + r * np.log(alpha)
    log_t = np.log(alpha + T)
    still = -(r + x) * log_t
    repeat = x > 0
    log_tx = np.log(alpha + t_x)
    bx1 = np.where(repeat, b + x - 1, 1.0)
    dropped = np.where(repeat, np.log(a) - np.log(bx1) - (r + x) * log_tx, -np.inf)
    total = np.logaddexp(still, dropped)
    w_still, w_dropped = np.exp(still - total), np.exp(dropped - total)
    d_r = (
        (digamma(r + ux) - digamma(r))[back] + np.log(alpha) - w_still * log_t - w_dropped * log_tx
    )
    d_alpha = r / alpha - (r + x) * (w_still / (alpha + T) + w_dropped / (alpha + t_x))
    d_a = (digamma(a + b) - digamma(a + b + ux))[back] + w_dropped / a
    d_b = (digamma(a + b) + digamma(b + ux) - digamma(b) - digamma(a + b + ux))[back] - np.where(
        repeat, w_dropped / bx1, 0.0
    )
    gradient = np.vstack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return common + total, gradient


def _maximise(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]], start: np.ndarray
) -> np.ndarray:
    """Log-parameters minimising `objective` (value and gradient): L-BFGS-B with the analytic
    gradient, restarted once from where it stopped when its line search gave up.

    The line search gives up near the optimum (the mean log-likelihood changes below float
    precision there) and on flat ridges, where the data do not pin a parameter down: spend
    per order that hardly varies between customers sends Gamma-Gamma's q and gamma off to
    infinity together, with the same predictions. A derivative-free search (Nelder-Mead)
    would then run thousands of evaluations, a minute on a 200,000-customer sample, for no
    better likelihood."""
    options = {"ftol": 1e-13, "gtol": 1e-9, "maxiter": MAX_ITERATIONS}
    result = minimize(objective, start, jac=True, method="L-BFGS-B", options=options)
    if not result.success:
        again = minimize(objective, result.x, jac=True, method="L-BFGS-B", options=options)
        if again.fun <= result.fun:
            result = again
    if not np.isfinite(result.fun) or not np.all(np.isfinite(result.x)):
        raise ValueError("the likelihood did not converge")
    return np.asarray(result.x)


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> Fit:
    """Maximum-likelihood BG/NBD parameters for customers with x repeat purchases, the last at
    t_x, observed for T (one time unit throughout; the refresh uses days)."""
    (ux, ut, uT), weights = _collapsed(x, t_x, T)
    total = weights.sum()

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = BgNbdParams(*np.exp(log_params))
        values, gradient = _bgnbd_terms(params, ux, ut, uT)
        value = -(weights @ values) / total
        if not np.isfinite(value):
            return np.inf, np.zeros(4)
        return float(value), -(gradient @ weights) / total

    start = np.log([1.0, max(float(np.mean(T)), 1e-3) / 10, 1.0, 1.0])
    best = _maximise(objective, start)
    log_likelihood = -objective(best)[0] * total
    return Fit(BgNbdParams(*map(float, np.exp(best))), float(log_likelihood), int(total))


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, x: np.ndarray, mean_spend: np.ndarray
) -> np.ndarray:
    """Each customer's Gamma-Gamma log-likelihood of the mean of x purchases (x > 0)."""
    return _gamma_gamma_terms(params, np.asarray(x, float), np.asarray(mean_spend, float))[0]


def _gamma_gamma_terms(
    params: GammaGammaParams, x: np.ndarray, mean_spend: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log-likelihood and its gradient in the log-parameters (rows: p, q, gamma)."""
    p, q, gamma = params.p, params.q, params.gamma
    px = p * x
    # Functions of the count alone are evaluated once per distinct count.
    ux, back = np.unique(x, return_inverse=True)
    back = back.ravel()
    upx = p * ux
    psi_sum, psi_px = digamma(upx + q)[back], digamma(upx)[back]
    log_m, log_total, log_x = np.log(mean_spend), np.log(x * mean_spend + gamma), np.log(x)
    values = (
        (gammaln(upx + q) - gammaln(upx))[back]
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * log_m
        + px * log_x
        - (px + q) * log_total
    )
    d_p = x * (psi_sum - psi_px + log_m + log_x - log_total)
    d_q = psi_sum - digamma(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (px + q) / (x * mean_spend + gamma)
    return values, np.vstack([d_p * p, d_q * q, d_gamma * gamma])


def fit_gamma_gamma(x: np.ndarray, mean_spend: np.ndarray) -> Fit:
    """Maximum-likelihood Gamma-Gamma parameters from customers' purchase counts (x > 0) and the
    mean amount of those purchases (> 0)."""
    (ux, um), weights = _collapsed(x, mean_spend)
    total = weights.sum()

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = GammaGammaParams(*np.exp(log_params))
        values, gradient = _gamma_gamma_terms(params, ux, um)
        value = -(weights @ values) / total
        if not np.isfinite(value):
            return np.inf, np.zeros(3)
        return float(value), -(gradient @ weights) / total

    start = np.log([1.0, 2.0, max(float(np.mean(mean_spend)), 1e-3)])
    best = _maximise(objective, start)
    log_likelihood = -objective(best)[0] * total
    return Fit(GammaGammaParams(*map(float, np.exp(best))), float(log_likelihood), int(total))


def _dropout_odds(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x) for repeat buyers, else 0: the
    odds of having dropped out after the last purchase against being alive."""
    x = np.asarray(x, dtype="float64")
    odds = np.zeros(x.shape)
    repeat = x > 0
    xr = x[repeat]
    log_odds = (
        np.log(params.a)
        - np.log(params.b + xr - 1)
        + (params.r + xr) * (np.log(params.alpha + T[repeat]) - np.log(params.alpha + t_x[repeat]))
    )
    odds[repeat] = np.exp(np.minimum(log_odds, 700.0))
    return odds


def p_alive(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(still alive at T | x, t_x, T) (Fader, Hardie and Lee 2005, eq. 11)."""
    return 1.0 / (1.0 + _dropout_odds(params, x, np.asarray(t_x, float), np.asarray(T, float)))


def _purchases_if_alive(
    params: BgNbdParams, horizons: tuple[float, ...], x: np.ndarray, T: np.ndarray
) -> list[np.ndarray]:
    """(a + b + x - 1) / (a - 1) * [1 - (1 - z)^(r + x) * 2F1(r + x, b + x; a + b + x - 1; z)]
    with z = t / (alpha + T + t), for each horizon t: the numerator of eq. 10.

    Where that overflows (accounts with thousands of orders) it is evaluated through Euler's
    transformation 2F1(A, B; C; z) = (1 - z)^(C - A - B) 2F1(C - A, C - B; C; z): the bracket
    is then 1 - (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z), whose parameters
    stay small whatever x (it overflows in turn for a very large a, where the direct form does
    not). It depends on (x, T) only, so it is evaluated once per distinct pair and gathered."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    (ux, uT), back = _distinct(x, T)
    out = []
    for t in horizons:
        z = t / (alpha + uT + t)
        with np.errstate(all="ignore"):
            bracket = 1 - np.exp((r + ux) * np.log1p(-z)) * hyp2f1(
                r + ux, b + ux, a + b + ux - 1, z
            )
            bad = ~np.isfinite(bracket)
            if bad.any():
                zb = z[bad]
                bracket[bad] = 1 - (1 - zb) ** (a - 1) * hyp2f1(
                    a + b - 1 - r, a - 1, a + b + ux[bad] - 1, zb
                )
        out.append(((a + b + ux - 1) / (a - 1) * bracket)[back])
    return out


def expected_purchases(
    params: BgNbdParams, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] (Fader, Hardie and Lee 2005, eq. 10)."""
    t_x, T = np.asarray(t_x, float), np.asarray(T, float)
    (alive,) = _purchases_if_alive(params, (t,), x, T)
    return alive / (1.0 + _dropout_odds(params, x, t_x, T))


def expected_spend(params: GammaGammaParams, n: np.ndarray, mean_spend: np.ndarray) -> np.ndarray:
    """E[spend per purchase | n purchases averaging mean_spend] (Fader and Hardie 2013): a
    weighted mean of the population mean p gamma / (q - 1) and the customer's own mean. With
    q <= 1 the population mean is infinite and a customer with few purchases has no finite
    expectation: their own mean is used."""
    p, q, gamma = params.p, params.q, params.gamma
    n, mean_spend = np.asarray(n, float), np.asarray(mean_spend, float)
    denominator = p * n + q - 1
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, (gamma + n * mean_spend) * p / safe, mean_spend)


def predicted_values(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    *,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    n: np.ndarray,
    mean_spend: np.ndarray,
    yearly_rate: float,
) -> dict[str, np.ndarray]:
    """Every value-model figure for the given customers (VALUE_COLUMNS)."""
    t_x, T = np.asarray(t_x, float), np.asarray(T, float)
    alive = 1.0 / (1.0 + _dropout_odds(bgnbd, x, t_x, T))
    cumulative = [v * alive for v in _purchases_if_alive(bgnbd, VALUE_PERIOD_ENDS, x, T)]
    spend = expected_spend(gamma_gamma, np.asarray(n, float), np.asarray(mean_spend, float))
    discounted = np.zeros(len(alive))
    previous_end, previous = 0.0, np.zeros(len(alive))
    for end, purchases in zip(VALUE_PERIOD_ENDS, cumulative, strict=True):
        middle = (previous_end + end) / 2
        discounted += (purchases - previous) * (1 + yearly_rate) ** (-middle / HORIZON_DAYS)
        previous_end, previous = end, purchases
    return {
        "p_alive": alive,
        "expected_orders_90d": cumulative[0],
        "expected_orders_365d": cumulative[-1],
        "expected_order_value": spend,
        "predicted_value_365d": discounted * spend,
    }


@dataclass(frozen=True)
class Inputs:
    """The model's inputs for the customers with orders of a metrics frame."""

    index: pd.Index
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    n: np.ndarray
    mean_spend: np.ndarray


def value_clock(as_of: datetime) -> datetime:
    """The moment a refresh as of `as_of` scores at: the start of its week (Monday 00:00 in
    TIME_ZONE), when the weekly fit runs.

    Scored at the refresh's own moment, every buyer's figures would drift a little each day
    and a third of their rows or more would be rewritten every night (docs/performance.md, the
    value model). At the week's start they move once a week, with the weekly refit that
    changes them all anyway; a customer who orders during the week is scored at once with the
    new order (T is then at least t_x: observed up to that order)."""
    local = timezone.localtime(as_of)
    monday = local.date() - timedelta(days=local.weekday())
    return timezone.make_aware(datetime.combine(monday, time.min))


def value_inputs(frame: pd.DataFrame, *, clock: datetime) -> Inputs:
    """x, t_x, T (whole days, T up to `clock`), orders and mean spend of the frame's customers
    with orders (needs orders_lifetime, spend_lifetime, first_order_at, last_order_at)."""
    orders = pd.to_numeric(frame["orders_lifetime"]).fillna(0).to_numpy(dtype="float64")
    has = orders > 0
    rows = frame.loc[has]
    n = orders[has]
    first = rows["first_order_at"]
    span = (rows["last_order_at"] - first).dt.total_seconds() // SECONDS_PER_DAY
    observed = (pd.Timestamp(clock).tz_convert("UTC") - first).dt.total_seconds() // SECONDS_PER_DAY
    t_x = span.to_numpy(dtype="float64")
    spend = pd.to_numeric(rows["spend_lifetime"]).fillna(0).to_numpy(dtype="float64")
    return Inputs(
        index=rows.index,
        x=n - 1,
        t_x=t_x,
        T=np.maximum(observed.to_numpy(dtype="float64"), t_x),
        n=n,
        mean_spend=spend / n,
    )


def value_scores(
    *, model: ValueModel, frame: pd.DataFrame, as_of: datetime, yearly_rate: float
) -> pd.DataFrame:
    """The value-model figures (VALUE_COLUMNS) of every customer of a metrics frame as of
    `as_of` (scored at `value_clock(as_of)`): NaN for those without orders. Vectorised over
    the whole frame."""
    out = pd.DataFrame(np.nan, index=frame.index, columns=list(VALUE_COLUMNS))
    inputs = value_inputs(frame, clock=value_clock(as_of))
    if len(inputs.index) == 0:
        return out
    params = model.params
    values = predicted_values(
        BgNbdParams(params["r"], params["alpha"], params["a"], params["b"]),
        GammaGammaParams(params["p"], params["q"], params["gamma"]),
        x=inputs.x,
        t_x=inputs.t_x,
        T=inputs.T,
        n=inputs.n,
        mean_spend=inputs.mean_spend,
        yearly_rate=yearly_rate,
    )
    positions = frame.index.get_indexer(inputs.index)
    for name in VALUE_COLUMNS:
        column = np.full(len(frame), np.nan)
        column[positions] = values[name]
        out[name] = column
    return out


def value_model_current() -> ValueModel | None:
    """The fit the refresh scores with: the last trained one, or None before any training."""
    return ValueModel.objects.filter(is_current=True, status=ChurnModelStatus.TRAINED).first()


def _fit_both(inputs: Inputs) -> tuple[Fit, Fit, BgNbdParams]:
    """Both fits, and the BG/NBD parameters (typed) for predictions."""
    bgnbd = fit_bgnbd(inputs.x, inputs.t_x, inputs.T)
    repeat = (inputs.n > 1) & (inputs.mean_spend > 0)
    gamma_gamma = fit_gamma_gamma(inputs.n[repeat], inputs.mean_spend[repeat])
    assert isinstance(bgnbd.params, BgNbdParams)
    return bgnbd, gamma_gamma, bgnbd.params


def _holdout_check(
    calibration: Inputs, bgnbd: BgNbdParams, actual: np.ndarray
) -> tuple[dict, float | None]:
    """Predicted against actual purchases in the hold-out period, per number of repeat purchases
    in calibration (0..6, 7+), and the relative error of the totals."""
    predicted = expected_purchases(
        bgnbd, float(HOLDOUT_DAYS), calibration.x, calibration.t_x, calibration.T
    )
    if not np.isfinite(predicted).all():
        raise ValueError("the hold-out fit gives no finite prediction for some customers")
    bucket = np.minimum(calibration.x, HOLDOUT_TOP_BUCKET).astype(int)
    buckets = []
    for number in range(HOLDOUT_TOP_BUCKET + 1):
        mask = bucket == number
        buckets.append(
            {
                "repeat": f"{number}+" if number == HOLDOUT_TOP_BUCKET else str(number),
                "customers": int(mask.sum()),
                "predicted": round(float(predicted[mask].sum()), 2),
                "actual": int(actual[mask].sum()),
            }
        )
    predicted_total, actual_total = float(predicted.sum()), int(actual.sum())
    error = (predicted_total - actual_total) / actual_total if actual_total else None
    return (
        {
            "days": HOLDOUT_DAYS,
            "buckets": buckets,
            "customers": len(predicted),
            "predicted": round(predicted_total, 2),
            "actual": actual_total,
        },
        error,
    )


def _too_little_history(inputs: Inputs) -> str | None:
    repeat = int((inputs.n > 1).sum())
    if len(inputs.index) < MIN_CUSTOMERS or repeat < MIN_REPEAT_CUSTOMERS:
        return TOO_LITTLE_HISTORY % {
            "customers": len(inputs.index),
            "repeat": repeat,
            "min_customers": MIN_CUSTOMERS,
            "min_repeat": MIN_REPEAT_CUSTOMERS,
        }
    return None


def _sample(frame: pd.DataFrame, random_state: int) -> pd.DataFrame:
    """A seeded random sample of at most TRAINING_SAMPLE_CUSTOMERS customers with orders."""
    buyers = frame.loc[pd.to_numeric(frame["orders_lifetime"]).fillna(0) > 0]
    if len(buyers) <= TRAINING_SAMPLE_CUSTOMERS:
        return buyers
    positions = np.random.default_rng(random_state).choice(
        len(buyers), TRAINING_SAMPLE_CUSTOMERS, replace=False
    )
    return buyers.iloc[np.sort(positions)]


def value_model_train(*, as_of: datetime | None = None, random_state: int = 0) -> ValueModel:
    """Fit the value model on a sample of the history up to `as_of` (default now); never raises.

    First a hold-out check: a fit on the sample's history up to as_of - HOLDOUT_DAYS predicts
    their purchases since, against what they bought. Then the fit on the whole history, which
    the refresh scores with. Returns the new ValueModel row: `trained` and current, `skipped`
    with the reason when the history is too short, or `failed` with the error; the current fit
    only changes when the new one trained.
    """
    as_of = as_of or timezone.now()
    cutoff = as_of - timedelta(days=HOLDOUT_DAYS)
    common = {"as_of": as_of, "cutoff": cutoff}
    try:
        window = SegmentSettings.load().window_days
        # A savepoint: if a query fails, the caller's transaction stays usable for the row below.
        with transaction.atomic():
            sample = _sample(metrics_frame(as_of=as_of, window_days=window), random_state)
            inputs = value_inputs(sample, clock=as_of)
            reason = _too_little_history(inputs)
            if reason is None:
                before = metrics_frame(as_of=cutoff, window_days=window)
        if reason is not None:
            return versioned_fit_store(
                ValueModel,
                VALUE_VERSION_LOCK_KEY,
                status=ChurnModelStatus.SKIPPED,
                make_current=False,
                sample_customers=len(inputs.index),
                repeat_customers=int((inputs.n > 1).sum()),
                message=reason,
                **common,
            )
        calibration = value_inputs(
            before.reindex(sample.index).dropna(subset=["orders_lifetime"]), clock=cutoff
        )
        holdout: dict = {}
        holdout_error = None
        if len(calibration.index) >= MIN_CUSTOMERS:
            _fit, _spend, calibration_params = _fit_both(calibration)
            later = pd.to_numeric(sample["orders_lifetime"]).reindex(calibration.index)
            actual = later.to_numpy(dtype="float64") - calibration.n
            holdout, holdout_error = _holdout_check(calibration, calibration_params, actual)
        bgnbd, gamma_gamma, _params = _fit_both(inputs)
    except Exception as exc:  # the refresh must go on without a new fit; the row says why
        logger.exception("value model training failed")
        return versioned_fit_store(
            ValueModel,
            VALUE_VERSION_LOCK_KEY,
            status=ChurnModelStatus.FAILED,
            make_current=False,
            message=TRAINING_FAILED % {"error": f"{type(exc).__name__}: {exc}"},
            **common,
        )
    message = FITTED_ON % {
        "customers": len(inputs.index),
        "repeat": int((inputs.n > 1).sum()),
    }
    if holdout_error is not None:
        message += " " + HOLDOUT_CHECK % {
            "predicted": holdout["predicted"],
            "days": HOLDOUT_DAYS,
            "actual": holdout["actual"],
            "error": holdout_error * 100,
        }
    return versioned_fit_store(
        ValueModel,
        VALUE_VERSION_LOCK_KEY,
        status=ChurnModelStatus.TRAINED,
        make_current=True,
        sample_customers=len(inputs.index),
        repeat_customers=int((inputs.n > 1).sum()),
        params={**asdict(bgnbd.params), **asdict(gamma_gamma.params)},
        log_likelihood={"bgnbd": bgnbd.log_likelihood, "gamma_gamma": gamma_gamma.log_likelihood},
        holdout=holdout,
        holdout_error=holdout_error,
        message=message,
        **common,
    )
