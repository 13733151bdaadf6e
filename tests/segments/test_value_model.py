"""The customer value model: the likelihoods against the published CDNOW fits, the closed forms
against an independent implementation, training with its hold-out check on a synthetic base in
PostgreSQL, and the refresh scoring every customer and filling the potential-value layer."""

import datetime as dt
import importlib.util
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.db.models import Count
from django.utils import translation

from callcenter import celery_app
from callcenter.choices import CustomerKind, OrderStatus
from callcenter.jobs import task_by_name
from callcenter.models import Customer, Order
from segments.choices import ChurnModelStatus, RunStatus, SegmentKind, ValuePotential, ValueTier
from segments.models import CustomerMetrics, Segment, SegmentMembership, ValueModel
from segments.services import value_model as value_module
from segments.services.refresh import as_of_from_date, segment_refresh
from segments.services.scoring import value_potentials
from segments.services.value_model import (
    HOLDOUT_DAYS,
    BgNbdParams,
    GammaGammaParams,
    expected_purchases,
    expected_spend,
    fit_bgnbd,
    fit_gamma_gamma,
    p_alive,
    predicted_values,
    value_clock,
    value_model_current,
    value_model_train,
)
from tests.segments.factories import ValueModelFactory
from tests.workers import WORKER_TIMEOUT, celery_worker, purge

AS_OF = as_of_from_date(dt.date(2026, 6, 1))

# Fader, Hardie and Lee (2005), CDNOW 1/10 sample, 39-week calibration, time in weeks.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
# Fader and Hardie (2013), the same customers' mean repeat spend.
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _cdnow(name: str) -> pd.DataFrame:
    """A CSV shipped inside the Lifetimes package, read without importing it."""
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None
    assert spec.submodule_search_locations
    folder = Path(spec.submodule_search_locations[0]) / "datasets"
    return pd.read_csv(folder / name)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return _cdnow("cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_bgnbd(cdnow: pd.DataFrame) -> BgNbdParams:
    fit = fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert isinstance(fit.params, BgNbdParams)
    return fit.params


def test_bgnbd_fit_on_cdnow_matches_the_published_parameters(
    cdnow: pd.DataFrame, cdnow_bgnbd: BgNbdParams
) -> None:
    assert len(cdnow) == 2357
    for name, published in PUBLISHED_BGNBD.items():
        assert getattr(cdnow_bgnbd, name) == pytest.approx(published, rel=0.01), name


def test_gamma_gamma_fit_on_cdnow_matches_the_published_parameters() -> None:
    summary = _cdnow("cdnow_customers_summary_with_transactions.csv")
    repeat = summary[summary["x"] > 0]

    fit = fit_gamma_gamma(repeat["x"], repeat["zbar"])

    assert len(repeat) == 946
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert getattr(fit.params, name) == pytest.approx(published, rel=0.01), name


def test_time_in_days_scales_alpha_by_seven_only(
    cdnow: pd.DataFrame, cdnow_bgnbd: BgNbdParams
) -> None:
    days = fit_bgnbd(cdnow["frequency"], cdnow["recency"] * 7, cdnow["T"] * 7).params

    assert days.alpha == pytest.approx(cdnow_bgnbd.alpha * 7, rel=1e-4)
    for name in ("r", "a", "b"):
        assert getattr(days, name) == pytest.approx(getattr(cdnow_bgnbd, name), rel=1e-4)


# Customers 1-10 of the CDNOW summary under the published parameters, from Lifetimes'
# BetaGeoFitter (an independent implementation), rounded to 6 places: P(alive), and the
# expected purchases in the 39 weeks after calibration.
CDNOW_REFERENCE = {
    "p_alive": [0.726609, 0.212227, 1.0, 1.0, 1.0, 0.641801, 0.314918, 1.0, 0.784808, 1.0],
    "expected_39": [1.225910, 0.203251, 0.194781, 0.194781, 0.194781, 3.337240, 0.301598,
                    0.194781, 1.324101, 0.194781],
}  # fmt: skip


def test_p_alive_and_expected_purchases_match_an_independent_implementation(
    cdnow: pd.DataFrame,
) -> None:
    params = BgNbdParams(r=0.242593, alpha=4.413532, a=0.792886, b=2.425752)
    first = cdnow.head(10)
    x, t_x, T = (first[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))

    assert p_alive(params, x, t_x, T) == pytest.approx(CDNOW_REFERENCE["p_alive"], abs=2e-6)
    assert expected_purchases(params, 39.0, x, t_x, T) == pytest.approx(
        CDNOW_REFERENCE["expected_39"], abs=2e-6
    )


def test_closed_forms_without_repeat_purchases_and_for_spend() -> None:
    params = BgNbdParams(r=1.0, alpha=30.0, a=0.5, b=2.0)
    # No repeat purchase: certainly alive (BG/NBD drops out only after a purchase).
    assert p_alive(params, np.array([0.0]), np.array([0.0]), np.array([100.0])) == [1.0]
    # A customer seen for T = 0 days: the unconditional E[X(t)] of eq. 9.
    t = 90.0
    unconditional = (params.a + params.b - 1) / (params.a - 1)
    unconditional *= 1 - (params.alpha / (params.alpha + t)) ** params.r * _hyp2f1(
        params.r, params.b, params.a + params.b - 1, t / (params.alpha + t)
    )
    assert expected_purchases(params, t, np.zeros(1), np.zeros(1), np.zeros(1)) == pytest.approx(
        [unconditional]
    )
    spend = GammaGammaParams(p=6.0, q=4.0, gamma=100.0)
    # Nothing known: the population mean p gamma / (q - 1); many purchases: close to their mean.
    assert expected_spend(spend, np.array([0.0]), np.array([0.0])) == pytest.approx([200.0])
    assert expected_spend(spend, np.array([1000.0]), np.array([50.0])) == pytest.approx(
        [50.0], rel=0.01
    )


def test_accounts_with_thousands_of_orders_get_finite_figures() -> None:
    bgnbd = BgNbdParams(r=0.79, alpha=39.3, a=0.59, b=2.92)
    x = np.array([1.0, 500.0, 2000.0, 5000.0])
    T = np.array([10.0, 600.0, 800.0, 1000.0])

    ninety = expected_purchases(bgnbd, 90.0, x, T, T)
    year = expected_purchases(bgnbd, 365.0, x, T, T)

    assert np.all(np.isfinite(year))
    assert np.all((ninety > 0) & (ninety < year))
    # Buying every few days while alive: about 365 / (T / x) more in a year, a little less.
    assert year[-1] == pytest.approx(365 * x[-1] / T[-1], rel=0.15)


def _hyp2f1(a: float, b: float, c: float, z: float) -> float:
    """The Gauss series, summed independently of scipy."""
    total, term, n = 1.0, 1.0, 0
    while abs(term) > 1e-15 * abs(total):
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        total += term
        n += 1
    return total


def test_predicted_value_is_spend_times_purchases_discounted_by_quarter() -> None:
    bgnbd = BgNbdParams(r=1.0, alpha=30.0, a=0.5, b=2.0)
    spend = GammaGammaParams(p=6.0, q=4.0, gamma=100.0)
    columns = {
        "x": np.array([0.0, 3.0, 8.0]),
        "t_x": np.array([0.0, 100.0, 300.0]),
        "T": np.array([50.0, 200.0, 320.0]),
        "n": np.array([1.0, 4.0, 9.0]),
        "mean_spend": np.array([80.0, 150.0, 300.0]),
    }

    plain = predicted_values(bgnbd, spend, **columns, yearly_rate=0.0)
    discounted = predicted_values(bgnbd, spend, **columns, yearly_rate=0.1)

    assert plain["predicted_value_365d"] == pytest.approx(
        plain["expected_orders_365d"] * plain["expected_order_value"]
    )
    ratio = discounted["predicted_value_365d"] / plain["predicted_value_365d"]
    # Discounted from the quarters' middles: between a year's discount and none.
    assert np.all((ratio > 1 / 1.1) & (ratio < 1))
    assert np.all(plain["expected_orders_90d"] < plain["expected_orders_365d"])


def test_potential_layer_compares_predicted_with_past_value_per_kind() -> None:
    person, business = str(CustomerKind.PERSON), str(CustomerKind.BUSINESS)
    frame = pd.DataFrame(
        {
            "kind": [person] * 5 + [business] * 2,
            "predicted_value_365d": [900.0, 800.0, 10.0, 20.0, np.nan, 5000.0, 100.0],
            "value_tier": ["low", "high", "high", "low", "low", "high", "low"],
        }
    )

    layer = value_potentials(frame, percentile=0.5)

    assert layer.tolist() == [
        ValuePotential.GROW,
        ValuePotential.KEEP,
        ValuePotential.SLIPPING,
        ValuePotential.STEADY,
        "",
        ValuePotential.KEEP,  # ranked among businesses only
        ValuePotential.STEADY,
    ]


def _buyers(count: int, *, seed: int = 0) -> list[int]:
    """Customers buying as BG/NBD assumes over two years up to AS_OF: a purchase every 20-90
    days while active, dropping out after each with probability 0.1-0.4, ~150 per order."""
    rng = np.random.default_rng(seed)
    customers = Customer.objects.bulk_create(
        Customer(external_id=f"v-{seed}-{n}", name=f"Buyer {n}") for n in range(count)
    )
    orders = []
    for customer in customers:
        moment = AS_OF - dt.timedelta(days=float(rng.uniform(30, 730)))
        gap, dropout, mean = rng.uniform(20, 90), rng.uniform(0.1, 0.4), rng.gamma(6, 25)
        while moment <= AS_OF:
            orders.append(
                Order(
                    external_id=f"vo-{customer.pk}-{len(orders)}",
                    customer=customer,
                    placed_at=moment,
                    amount=Decimal(str(round(float(rng.gamma(8, mean / 8)), 2))),
                    status=OrderStatus.PAID,
                )
            )
            if rng.random() < dropout:
                break
            moment += dt.timedelta(days=float(rng.exponential(gap)))
    Order.objects.bulk_create(orders, batch_size=5000)
    return [c.pk for c in customers]


@pytest.mark.django_db
def test_training_fits_checks_the_holdout_and_the_refresh_scores_every_buyer() -> None:
    # given a base of buyers and a prospect
    ids = _buyers(400)
    prospect = Customer.objects.create(external_id="v-prospect", name="Prospect")

    # when the value model is trained
    model = value_model_train(as_of=AS_OF)

    # then it is the current fit, with parameters in days and a hold-out check by repeat count
    assert model.status == ChurnModelStatus.TRAINED, model.message
    assert value_model_current() == model
    assert (model.version, model.sample_customers) == (1, 400)
    assert model.cutoff == AS_OF - dt.timedelta(days=HOLDOUT_DAYS)
    assert set(model.params) == {"r", "alpha", "a", "b", "p", "q", "gamma"}
    buckets = model.holdout["buckets"]
    assert [b["repeat"] for b in buckets] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(b["customers"] for b in buckets) == model.holdout["customers"]
    assert model.holdout["actual"] == sum(b["actual"] for b in buckets) > 0
    assert model.holdout_error == pytest.approx(
        (model.holdout["predicted"] - model.holdout["actual"]) / model.holdout["actual"], abs=1e-3
    )
    # a model of the process that made the data predicts the hold-out totals closely
    assert abs(model.holdout_error) < 0.25

    # when the refresh runs with it
    run = segment_refresh(as_of=AS_OF, window_days=365)

    # then every buyer has the figures, the prospect none, and the layer has members
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.counts["value_model_version"] == model.version
    metrics = CustomerMetrics.objects.in_bulk([*ids, prospect.pk])
    for pk in ids:
        row = metrics[pk]
        assert 0 <= row.p_alive <= 1
        assert 0 <= row.expected_orders_90d <= row.expected_orders_365d
        assert row.expected_order_value > 0
        assert row.predicted_value_365d >= 0
        assert row.value_potential in ValuePotential.values
    assert metrics[prospect.pk].p_alive is None
    assert metrics[prospect.pk].predicted_value_365d is None
    assert metrics[prospect.pk].value_potential == ""
    members = dict(
        SegmentMembership.objects.filter(
            segment__kind=SegmentKind.POTENTIAL, exited_at__isnull=True
        )
        .values_list("segment__key")
        .annotate(count=Count("id"))
    )
    assert members.get(ValuePotential.GROW, 0) + members.get(ValuePotential.KEEP, 0) > 0
    assert sum(members.values()) == len(ids)
    grow = CustomerMetrics.objects.filter(value_potential=ValuePotential.GROW)
    assert not grow.filter(value_tier=ValueTier.HIGH).exists()

    # and a second refresh of the same moment with nothing changed writes nothing
    again = segment_refresh(as_of=AS_OF, window_days=365)
    assert again.counts["metrics_written"] == 0
    assert (again.counts["entered"], again.counts["exited"]) == (0, 0)


@pytest.mark.django_db
def test_the_potential_segments_are_installed_and_translated() -> None:
    segments = Segment.objects.filter(kind=SegmentKind.POTENTIAL)

    assert sorted(segments.values_list("key", flat=True)) == sorted(ValuePotential.values)
    grow = segments.get(key=ValuePotential.GROW)
    with translation.override("zh-hans"):
        assert grow.display_name != grow.name


@pytest.mark.django_db
def test_too_little_history_skips_with_a_reason_and_keeps_the_current_fit() -> None:
    _buyers(30)
    previous = ValueModelFactory()

    model = value_model_train(as_of=AS_OF)

    assert model.status == ChurnModelStatus.SKIPPED
    assert "Too little history" in model.message
    assert (model.sample_customers, model.version) == (30, previous.version + 1)
    assert value_model_current() == previous


@pytest.mark.django_db
def test_a_failed_fit_is_recorded_and_the_current_fit_stays(monkeypatch: Any) -> None:
    _buyers(250)
    previous = ValueModelFactory()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise FloatingPointError("no optimum")

    monkeypatch.setattr(value_module, "fit_bgnbd", broken)
    model = value_model_train(as_of=AS_OF)

    assert model.status == ChurnModelStatus.FAILED
    assert "FloatingPointError: no optimum" in model.message
    assert value_model_current() == previous


@pytest.mark.django_db
def test_the_sample_is_capped_and_seeded(monkeypatch: Any) -> None:
    _buyers(260)
    monkeypatch.setattr(value_module, "TRAINING_SAMPLE_CUSTOMERS", 220)

    first = value_model_train(as_of=AS_OF)
    second = value_model_train(as_of=AS_OF)

    assert first.sample_customers == second.sample_customers == 220
    assert first.params == second.params
    assert (first.is_current, ValueModel.objects.get(pk=second.pk).is_current) == (True, True)
    first.refresh_from_db()
    assert not first.is_current


@pytest.mark.django_db
def test_a_refresh_without_a_fit_leaves_the_figures_empty_and_queues_training(
    django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    ids = _buyers(5)
    queued: list[str] = []
    monkeypatch.setattr(
        "segments.services.refresh.enqueue_on_commit", lambda name, *a, **k: queued.append(name)
    )

    run = segment_refresh(as_of=AS_OF, window_days=365)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.counts["value_model_version"] is None
    assert not CustomerMetrics.objects.filter(customer_id__in=ids, p_alive__isnull=False).exists()
    assert set(CustomerMetrics.objects.values_list("value_potential", flat=True)) == {""}
    assert "segments.tasks.value_model_train_task" in queued


def test_refreshes_score_at_the_start_of_their_week() -> None:
    wednesday = AS_OF + dt.timedelta(days=2, hours=15)

    assert AS_OF.weekday() == 0
    assert value_clock(wednesday) == value_clock(AS_OF) == AS_OF
    assert value_clock(AS_OF + dt.timedelta(days=7)) == AS_OF + dt.timedelta(days=7)


@pytest.mark.django_db
def test_a_day_later_in_the_week_rewrites_only_customers_with_new_orders(
    monkeypatch: Any,
) -> None:
    # given a base scored with a fit on Monday
    ids = _buyers(300, seed=3)
    ValueModelFactory()
    segment_refresh(as_of=AS_OF, window_days=365)
    before = dict(CustomerMetrics.objects.values_list("customer_id", "predicted_value_365d"))
    buyer = Customer.objects.get(pk=ids[0])
    Order.objects.create(
        external_id="tuesday",
        customer=buyer,
        placed_at=AS_OF + dt.timedelta(hours=20),
        amount=Decimal("500.00"),
        status=OrderStatus.PAID,
    )

    # when Tuesday's refresh runs
    segment_refresh(as_of=AS_OF + dt.timedelta(days=1), window_days=365)

    # then only the new buyer's prediction moved
    after = dict(CustomerMetrics.objects.values_list("customer_id", "predicted_value_365d"))
    assert {pk for pk in ids if after[pk] != before[pk]} == {buyer.pk}


def test_a_worker_fits_the_model_when_the_task_is_sent_by_name(
    committed_rows: None, tmp_path: Path
) -> None:
    # given committed history and a real worker on the segments queue
    _buyers(250, seed=9)
    purge("segments")
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        with celery_worker(
            f"value-{id(tmp_path)}@localhost", queues="segments", log_path=tmp_path / "w.log"
        ):
            # when the task is sent by the name the pages use
            task_by_name("segments.tasks.value_model_train_task").delay()

            # then the worker stores a trained, current fit
            deadline = time.monotonic() + WORKER_TIMEOUT
            while not ValueModel.objects.exists():
                assert time.monotonic() < deadline, (tmp_path / "w.log").read_text()
                time.sleep(0.2)
    finally:
        celery_app.conf.task_always_eager = eager

    model = ValueModel.objects.get()
    assert model.status == ChurnModelStatus.TRAINED, model.message
    assert model.is_current
    assert model.sample_customers == 250


@pytest.mark.django_db
def test_a_fit_that_cannot_score_leaves_the_figures_empty_and_the_refresh_succeeds() -> None:
    ids = _buyers(5, seed=4)
    ValueModelFactory(params={"r": 1.0})

    run = segment_refresh(as_of=AS_OF, window_days=365)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.counts["value_model_version"] is None
    assert not CustomerMetrics.objects.filter(customer_id__in=ids, p_alive__isnull=False).exists()
