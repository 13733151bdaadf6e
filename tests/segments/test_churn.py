"""The churn model: trained on synthetic customer histories in PostgreSQL, skipped when the
history is too short, and scoring every customer of a metrics frame."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from callcenter.choices import OrderStatus
from callcenter.models import Customer, Order
from segments.choices import ChurnModelStatus
from segments.models import ChurnModel
from segments.services import churn
from segments.services.churn import (
    CHURN_FEATURES,
    ChurnModelUnusable,
    churn_feature_matrix,
    churn_model_current,
    churn_model_train,
    churn_probabilities,
)
from segments.services.metrics import metrics_frame

AS_OF = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
HORIZON = 90
CUTOFF = AS_OF - dt.timedelta(days=HORIZON)
WINDOW = 365

pytestmark = pytest.mark.django_db


def _history(*, loyal: int, stopped: int, prospects: int = 0, seed: int = 0) -> dict[str, list]:
    """Customers in bulk: `loyal` ones order about monthly up to AS_OF; `stopped` ones ordered
    just as regularly and then stopped, 40-200 days before the cut-off; prospects never order.

    Returns the customer ids of each group."""
    rng = np.random.default_rng(seed)
    groups = {"loyal": loyal, "stopped": stopped, "prospect": prospects}
    customers = Customer.objects.bulk_create(
        Customer(external_id=f"{group}-{seed}-{n}", name=f"{group} {n}")
        for group, count in groups.items()
        for n in range(count)
    )
    ids: dict[str, list] = {group: [] for group in groups}
    orders = []
    for customer in customers:
        group = customer.external_id.split("-")[0]
        ids[group].append(customer.pk)
        if group == "prospect":
            continue
        gap = rng.uniform(20, 40)
        end = AS_OF if group == "loyal" else CUTOFF - dt.timedelta(days=rng.uniform(40, 200))
        moment = end - dt.timedelta(days=rng.uniform(0, gap))
        start = end - dt.timedelta(days=rng.uniform(200, 400))
        while moment > start:
            orders.append(
                Order(
                    external_id=f"o-{customer.pk}-{len(orders)}",
                    customer=customer,
                    placed_at=moment,
                    amount=Decimal(str(round(rng.uniform(50, 500), 2))),
                    status=OrderStatus.PAID,
                )
            )
            moment -= dt.timedelta(days=rng.normal(gap, gap / 5))
    Order.objects.bulk_create(orders, batch_size=5000)
    return ids


def _current_model(version: int = 1) -> ChurnModel:
    return ChurnModel.objects.create(
        status=ChurnModelStatus.TRAINED,
        version=version,
        cutoff=CUTOFF,
        horizon_days=HORIZON,
        features=list(CHURN_FEATURES),
        model_blob=b"not used",
        is_current=True,
    )


def test_no_orders_before_the_cutoff_skips_with_a_reason() -> None:
    # given a base whose only orders came after the cut-off
    ids = _history(loyal=0, stopped=0, prospects=3)
    customer = Customer.objects.get(pk=ids["prospect"][0])
    Order.objects.create(
        external_id="late", customer=customer, placed_at=AS_OF - dt.timedelta(days=5), amount=10
    )
    previous = _current_model()

    # when
    model = churn_model_train(as_of=AS_OF, horizon_days=HORIZON, window_days=WINDOW)

    # then a skipped row says why, and the current model stays
    assert model.status == ChurnModelStatus.SKIPPED
    assert "no paid orders before the cut-off 2026-03-03" in model.message
    assert model.version == previous.version + 1
    assert not model.is_current
    assert churn_model_current() == previous
    assert model.model_blob is None


def test_too_few_customers_skips_and_keeps_the_current_model() -> None:
    _history(loyal=60, stopped=60)
    previous = _current_model()

    model = churn_model_train(as_of=AS_OF, horizon_days=HORIZON, window_days=WINDOW)

    assert model.status == ChurnModelStatus.SKIPPED
    assert "120 customers had bought" in model.message
    assert "at least 200" in model.message
    assert model.training_rows == 120
    assert model.holdout_auc is None
    assert churn_model_current() == previous


def test_one_sided_history_skips() -> None:
    # everybody kept buying: nothing to learn about churn
    _history(loyal=230, stopped=5)

    model = churn_model_train(as_of=AS_OF, horizon_days=HORIZON, window_days=WINDOW)

    assert model.status == ChurnModelStatus.SKIPPED
    assert "5 customers stopped buying and 230 bought again" in model.message
    assert churn_model_current() is None


def test_training_learns_who_stops_and_becomes_current() -> None:
    # given loyal customers and customers who stopped, plus prospects who never ordered
    ids = _history(loyal=300, stopped=300, prospects=20)
    previous = _current_model(version=4)

    # when
    model = churn_model_train(as_of=AS_OF, horizon_days=HORIZON, window_days=WINDOW)

    # then it trained well, took the next version and the current flag
    assert model.status == ChurnModelStatus.TRAINED, model.message
    assert model.holdout_auc > 0.75
    assert model.version == 5
    assert model.is_current
    assert churn_model_current() == model
    previous.refresh_from_db()
    assert not previous.is_current
    assert model.training_rows == 600
    assert model.positive_share == pytest.approx(0.5)
    assert model.cutoff == CUTOFF
    assert model.horizon_days == HORIZON
    assert model.features == CHURN_FEATURES
    assert model.model_blob
    assert model.trained_at is not None
    assert "holdout AUC" in model.message

    # and scoring today's frame: probabilities in [0, 1], NaN for prospects, and customers who
    # stopped buying score higher than loyal ones
    frame = metrics_frame(as_of=AS_OF, window_days=WINDOW)
    stored = ChurnModel.objects.get(pk=model.pk)
    probabilities = churn_probabilities(model=stored, frame=frame)
    assert probabilities.index.equals(frame.index)
    assert probabilities.loc[ids["prospect"]].isna().all()
    scored = probabilities.drop(ids["prospect"])
    assert scored.notna().all()
    assert scored.between(0, 1).all()
    assert scored.loc[ids["stopped"]].mean() > scored.loc[ids["loyal"]].mean() + 0.5


def test_retraining_moves_the_current_flag() -> None:
    _history(loyal=150, stopped=150)

    first = churn_model_train(as_of=AS_OF, horizon_days=HORIZON, window_days=WINDOW)
    second = churn_model_train(as_of=AS_OF, horizon_days=HORIZON, window_days=WINDOW)

    assert (first.version, second.version) == (1, 2)
    assert list(ChurnModel.objects.filter(is_current=True)) == [second]
    assert churn_model_current() == second


def test_labels_from_the_refresh_frame_match_the_query() -> None:
    _history(loyal=140, stopped=110)
    current = metrics_frame(as_of=AS_OF, window_days=WINDOW)

    by_query = churn_model_train(as_of=AS_OF, horizon_days=HORIZON, window_days=WINDOW)
    by_frame = churn_model_train(
        as_of=AS_OF, horizon_days=HORIZON, window_days=WINDOW, current_frame=current
    )

    assert by_query.positive_share == by_frame.positive_share == pytest.approx(110 / 250)
    assert by_query.training_rows == by_frame.training_rows == 250


def test_a_fitting_error_is_recorded_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    _history(loyal=150, stopped=150)
    previous = _current_model()

    def broken_fit(**kwargs: object) -> None:
        raise ValueError("Input contains infinity")

    monkeypatch.setattr(churn, "churn_estimator_fit", broken_fit)

    model = churn_model_train(as_of=AS_OF, horizon_days=HORIZON, window_days=WINDOW)

    assert model.status == ChurnModelStatus.FAILED
    assert "ValueError: Input contains infinity" in model.message
    assert churn_model_current() == previous


def test_scoring_runs_no_queries_and_refuses_an_unusable_model(
    django_assert_num_queries: object,
) -> None:
    _history(loyal=150, stopped=150, prospects=5)
    model = churn_model_train(as_of=AS_OF, horizon_days=HORIZON, window_days=WINDOW)
    frame = metrics_frame(as_of=AS_OF, window_days=WINDOW)
    model = ChurnModel.objects.get(pk=model.pk)

    with django_assert_num_queries(0):
        probabilities = churn_probabilities(model=model, frame=frame)
    assert probabilities.notna().sum() == 300

    broken = ChurnModel(version=9, features=list(CHURN_FEATURES), model_blob=b"garbage")
    with pytest.raises(ChurnModelUnusable):
        churn_probabilities(model=broken, frame=frame)
    stale = ChurnModel(version=10, features=["shoe_size"], model_blob=model.model_blob)
    with pytest.raises(ChurnModelUnusable, match="shoe_size"):
        churn_probabilities(model=stale, frame=frame)


def test_scoring_in_chunks_matches_scoring_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _history(loyal=150, stopped=150, prospects=7)
    model = ChurnModel.objects.get(
        pk=churn_model_train(as_of=AS_OF, horizon_days=HORIZON, window_days=WINDOW).pk
    )
    frame = metrics_frame(as_of=AS_OF, window_days=WINDOW)
    at_once = churn_probabilities(model=model, frame=frame)

    monkeypatch.setattr(churn, "PREDICT_CHUNK_ROWS", 7)
    chunked = churn_probabilities(model=model, frame=frame)

    assert np.allclose(at_once.to_numpy(), chunked.to_numpy(), equal_nan=True)


def test_feature_matrix_is_float32_with_nan_for_unknowns() -> None:
    ids = _history(loyal=3, stopped=0, prospects=2)
    frame = metrics_frame(as_of=AS_OF, window_days=WINDOW)

    features = churn_feature_matrix(frame)

    assert list(features.columns) == CHURN_FEATURES
    assert (features.dtypes == "float32").all()
    assert features.loc[ids["prospect"], "recency_days"].isna().all()
    assert features.loc[ids["prospect"], "avg_order_value"].isna().all()
    loyal = features.loc[ids["loyal"]]
    assert loyal["order_gap_days"].between(10, 60).all()
    assert np.isfinite(loyal["recency_over_gap"]).all()
    assert loyal["avg_order_value"].between(50, 500).all()
    assert not np.isinf(features.to_numpy()).any()
