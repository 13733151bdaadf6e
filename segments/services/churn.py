"""The churn model: trained on the customers' own history, scoring every customer at a refresh.

Training looks back from `as_of` by the churn horizon H to a cut-off C = as_of - H. Features
are every customer's metrics as of C (the same aggregation the refresh runs, so training and
scoring see identical definitions); the label says whether a customer who had bought by C then
bought nothing in (C, as_of]. The estimator is scikit-learn's HistGradientBoostingClassifier:
it handles missing values (no NPS answer, no contact yet) natively, needs no scaling and
captures the non-linear recency-against-rhythm effects that matter most. On the synthetic
benchmark (bench/segments_ml.py) it ranks better than a logistic regression on log features
with imputation and missing-value indicators, and fits and scores in seconds; the logistic
regression scores faster, but the better ranking and native NaN handling decide it
(docs/performance.md).

Every training writes a ChurnModel row: `trained` (then it becomes the current model),
`skipped` when there is too little history, or `failed` when fitting broke; training never
raises into the refresh.
"""

import io
import logging
import pickle
from dataclasses import dataclass
from datetime import datetime, timedelta

import joblib
import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from psycopg import sql
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from callcenter.choices import CustomerKind
from callcenter.errors import ApplicationError
from segments.choices import ChurnModelStatus
from segments.models import ChurnModel, SegmentSettings
from segments.services.clusters import ml_thread_limit
from segments.services.fits import versioned_fit_store
from segments.services.metrics import metrics_frame

logger = logging.getLogger(__name__)

# Metric columns used as they are; derived features are added by churn_feature_matrix.
RAW_FEATURES = [
    "recency_days",
    "frequency",
    "monetary",
    "orders_lifetime",
    "orders_90d",
    "spend_90d",
    "interactions_30d",
    "complaints_90d",
    "last_nps",
    "avg_sentiment_30d",
    "days_since_contact",
    "tenure_days",
]
DERIVED_FEATURES = [
    "avg_order_value",  # monetary / frequency
    "order_gap_days",  # the customer's usual days between orders
    "recency_over_gap",  # days since the last order in usual gaps: the rhythm is broken when high
    "orders_90d_share",  # recent orders / orders in the window: momentum
    "is_business",
]
CHURN_FEATURES = RAW_FEATURES + DERIVED_FEATURES

# Too little history below these counts: the model would be noise, so training is skipped.
MIN_TRAINING_CUSTOMERS = 200
MIN_CUSTOMERS_PER_CLASS = 20
# Fitting on more rows than this barely moves AUC but costs seconds; a stratified random sample
# of this size (incl. the holdout) is used. ~200k rows x 17 float32 features is ~14 MB.
TRAINING_SAMPLE_ROWS = 200_000
HOLDOUT_SHARE = 0.25
# Rows scored per predict_proba call: the float32 feature block of 100k rows is ~7 MB, so
# scoring 1M customers never holds more than a few chunks' worth of temporaries.
PREDICT_CHUNK_ROWS = 100_000
# Scoring costs trees x depth per customer: 60 trees of 15 leaves keep it small and rank on the
# synthetic benchmark as well as larger forests do (the churn phase's time: docs/performance.md).
ESTIMATOR_PARAMS = {
    "max_iter": 60,
    "learning_rate": 0.2,
    "max_leaf_nodes": 15,
    "early_stopping": True,
    "validation_fraction": 0.1,
    "n_iter_no_change": 5,
}
# Advisory lock serialising "next version number + move the current flag" between trainings.
CHURN_VERSION_LOCK_KEY = 7_201_002


class ChurnModelUnusable(ApplicationError):
    """The stored model cannot score this frame (blob missing or features not derivable)."""


@dataclass(frozen=True)
class ChurnFit:
    """A fitted estimator and how it did on the holdout."""

    estimator: HistGradientBoostingClassifier
    holdout_auc: float
    training_rows: int
    positive_share: float
    holdout_labels: np.ndarray
    holdout_scores: np.ndarray
    holdout_index: pd.Index


# Training messages, stored in English and shown translated (callcenter.generated;
# segments.parts.generated_formats registers them).
NO_PAID_ORDERS = gettext_noop(
    "Too little history: no paid orders before the cut-off %(cutoff)s, so there is "
    "nothing to learn from yet."
)
TOO_FEW_BUYERS = gettext_noop(
    "Too little history: %(count)d customers had bought by the cut-off %(cutoff)s; at "
    "least %(minimum)d are needed."
)
TOO_FEW_OF_EACH = gettext_noop(
    "Too little history: after the cut-off %(cutoff)s %(churned)d customers stopped "
    "buying and %(stayed)d bought again; at least %(minimum)d of each are needed."
)
TRAINING_FAILED = gettext_noop("Training failed: %(error)s")
TRAINED_ON = gettext_noop(
    "Trained on %(rows)d of %(customers)d customers (%(share).0f%% stopped buying); "
    "holdout AUC %(auc).3f."
)
ACTIVE_AUC = gettext_noop(
    "Among customers who had ordered within %(days)d days of the cut-off: %(auc).3f."
)
CHURN_MESSAGES = (
    NO_PAID_ORDERS,
    TOO_FEW_BUYERS,
    TOO_FEW_OF_EACH,
    TRAINING_FAILED,
    TRAINED_ON,
    ACTIVE_AUC,
)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as float32 with NaN for missing (accepts nullable integer dtypes)."""
    return pd.to_numeric(frame[name]).to_numpy(dtype="float32", na_value=np.nan)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 or missing (never inf)."""
    out = np.full(numerator.shape, np.nan, dtype="float32")
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def churn_feature_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's features for every row of a metrics frame (float32, NaN where unknown).

    NaN is left in place on purpose: HistGradientBoosting learns a direction for missing values
    (e.g. "never answered an NPS survey") instead of pretending an imputed value was observed.
    """
    columns = {name: _column(frame, name) for name in RAW_FEATURES}
    orders = columns["orders_lifetime"]
    span_days = columns["tenure_days"] - columns["recency_days"]
    gap = _ratio(span_days, np.where(orders > 1, orders - 1, 0).astype("float32"))
    columns["avg_order_value"] = _ratio(columns["monetary"], columns["frequency"])
    columns["order_gap_days"] = gap
    columns["recency_over_gap"] = _ratio(columns["recency_days"], gap)
    columns["orders_90d_share"] = _ratio(columns["orders_90d"], columns["frequency"])
    is_business = (frame["kind"] == str(CustomerKind.BUSINESS)).fillna(False)
    columns["is_business"] = is_business.to_numpy(dtype="float32")
    return pd.DataFrame(columns, index=frame.index, columns=CHURN_FEATURES)


def _has_orders(frame: pd.DataFrame) -> np.ndarray:
    return (pd.to_numeric(frame["orders_lifetime"]).fillna(0) > 0).to_numpy(dtype=bool)


def churn_estimator_fit(
    *, features: pd.DataFrame, labels: np.ndarray, random_state: int = 0
) -> ChurnFit:
    """Fit the estimator on (a stratified sample of) the rows; AUC on a stratified holdout."""
    labels = np.asarray(labels, dtype="int8")
    # A feature nobody has (e.g. no NPS survey yet in the whole base) breaks the binner; as a
    # constant it carries no information and the trees simply never split on it.
    unknown_everywhere = features.columns[features.isna().all()]
    features = features.fillna(dict.fromkeys(unknown_everywhere, 0.0))
    index = features.index
    if len(features) > TRAINING_SAMPLE_ROWS:
        positions, _rest = train_test_split(
            np.arange(len(features)),
            train_size=TRAINING_SAMPLE_ROWS,
            stratify=labels,
            random_state=random_state,
        )
        features, labels, index = features.iloc[positions], labels[positions], index[positions]
    train_x, test_x, train_y, test_y, _train_index, test_index = train_test_split(
        features,
        labels,
        index,
        test_size=HOLDOUT_SHARE,
        stratify=labels,
        random_state=random_state,
    )
    estimator = HistGradientBoostingClassifier(**ESTIMATOR_PARAMS, random_state=random_state)
    with ml_thread_limit():
        estimator.fit(train_x, train_y)
        scores = estimator.predict_proba(test_x)[:, 1]
    return ChurnFit(
        estimator=estimator,
        holdout_auc=float(roc_auc_score(test_y, scores)),
        training_rows=len(features),
        positive_share=float(labels.mean()),
        holdout_labels=test_y,
        holdout_scores=scores,
        holdout_index=test_index,
    )


def _paid_buyers_between(start: datetime, end: datetime) -> np.ndarray:
    """Ids of customers with a paid order in (start, end]: one DISTINCT query, streamed by COPY."""
    query = sql.SQL(
        "COPY (SELECT DISTINCT customer_id FROM callcenter_order "
        "WHERE status = 'paid' AND placed_at > {start} AND placed_at <= {end}) TO STDOUT"
    ).format(start=sql.Literal(start), end=sql.Literal(end))
    buffer = io.BytesIO()
    with connection.cursor() as cursor, cursor.cursor.copy(query) as copy:
        for chunk in copy:
            buffer.write(chunk)
    return np.array(buffer.getvalue().split(), dtype=np.int64)


def _labelled_history(
    *,
    as_of: datetime,
    cutoff: datetime,
    window_days: int,
    current_frame: pd.DataFrame | None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Metrics as of the cut-off of customers who had bought by then, and their churn labels."""
    frame = metrics_frame(as_of=cutoff, window_days=window_days)
    frame = frame.loc[_has_orders(frame)]
    if current_frame is not None:
        # The refresh already knows every last order as of `as_of`; bought after the cut-off
        # is exactly "last order later than the cut-off".
        last_order = current_frame["last_order_at"]
        bought_ids = current_frame.index[last_order.notna() & (last_order > cutoff)]
    else:
        bought_ids = _paid_buyers_between(cutoff, as_of)
    labels = (~frame.index.isin(bought_ids)).astype("int8")
    return frame, labels


def _too_little_history(frame: pd.DataFrame, labels: np.ndarray, cutoff: datetime) -> str | None:
    """Why this history cannot train a model, or None when it can."""
    when = timezone.localtime(cutoff).date().isoformat()
    if frame.empty:
        return NO_PAID_ORDERS % {"cutoff": when}
    churned = int(labels.sum())
    stayed = len(labels) - churned
    if len(labels) < MIN_TRAINING_CUSTOMERS:
        return TOO_FEW_BUYERS % {
            "count": len(labels),
            "cutoff": when,
            "minimum": MIN_TRAINING_CUSTOMERS,
        }
    if min(churned, stayed) < MIN_CUSTOMERS_PER_CLASS:
        return TOO_FEW_OF_EACH % {
            "cutoff": when,
            "churned": churned,
            "stayed": stayed,
            "minimum": MIN_CUSTOMERS_PER_CLASS,
        }
    return None


def _active_segment_auc(fit: ChurnFit, frame: pd.DataFrame, active_days: int) -> float | None:
    """Holdout AUC among customers who still looked active at the cut-off (recency below the
    dormant threshold): the customers the model's churn-risk flag is actually used for."""
    recency = frame["recency_days"].reindex(fit.holdout_index).to_numpy()
    mask = recency < active_days
    subset = fit.holdout_labels[mask]
    if subset.size == 0 or subset.min() == subset.max():
        return None
    return float(roc_auc_score(subset, fit.holdout_scores[mask]))


def _estimator_dump(estimator: HistGradientBoostingClassifier) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer, compress=3)
    return buffer.getvalue()


def churn_model_train(
    *,
    as_of: datetime,
    horizon_days: int | None = None,
    window_days: int | None = None,
    current_frame: pd.DataFrame | None = None,
    random_state: int = 0,
) -> ChurnModel:
    """Train a churn model on the history up to `as_of`; never raises for data reasons.

    `current_frame` is the metrics frame as of `as_of` when the caller already has it (the
    refresh does); it replaces the query for who bought after the cut-off.

    Returns the new ChurnModel row: `trained` and current, `skipped` with the reason when the
    history is too short, or `failed` with the error; the current model only changes when the
    new one trained.
    """
    settings = SegmentSettings.load()
    horizon = horizon_days or settings.churn_horizon_days
    window = window_days or settings.window_days
    cutoff = as_of - timedelta(days=horizon)
    common = {"cutoff": cutoff, "horizon_days": horizon, "features": list(CHURN_FEATURES)}
    reason = None
    try:
        # A savepoint: if a query fails, the caller's transaction stays usable for the row below.
        with transaction.atomic():
            frame, labels = _labelled_history(
                as_of=as_of, cutoff=cutoff, window_days=window, current_frame=current_frame
            )
        reason = _too_little_history(frame, labels, cutoff)
        if reason is None:
            fit = churn_estimator_fit(
                features=churn_feature_matrix(frame), labels=labels, random_state=random_state
            )
            blob = _estimator_dump(fit.estimator)
    except Exception as exc:  # the refresh must go on without a new model; the row says why
        logger.exception("churn model training failed")
        return versioned_fit_store(
            ChurnModel,
            CHURN_VERSION_LOCK_KEY,
            status=ChurnModelStatus.FAILED,
            make_current=False,
            message=TRAINING_FAILED % {"error": f"{type(exc).__name__}: {exc}"},
            **common,
        )
    if reason is not None:
        return versioned_fit_store(
            ChurnModel,
            CHURN_VERSION_LOCK_KEY,
            status=ChurnModelStatus.SKIPPED,
            make_current=False,
            training_rows=len(labels),
            positive_share=float(labels.mean()) if len(labels) else None,
            message=reason,
            **common,
        )
    active_auc = _active_segment_auc(fit, frame, settings.dormant_days)
    message = TRAINED_ON % {
        "rows": fit.training_rows,
        "customers": len(labels),
        "share": fit.positive_share * 100,
        "auc": fit.holdout_auc,
    }
    if active_auc is not None:
        message += " " + ACTIVE_AUC % {
            "days": settings.dormant_days,
            "auc": active_auc,
        }
    return versioned_fit_store(
        ChurnModel,
        CHURN_VERSION_LOCK_KEY,
        status=ChurnModelStatus.TRAINED,
        make_current=True,
        training_rows=fit.training_rows,
        positive_share=fit.positive_share,
        holdout_auc=fit.holdout_auc,
        model_blob=blob,
        message=message,
        **common,
    )


def churn_model_current() -> ChurnModel | None:
    """The model the refresh scores with: the last trained one, or None before any training."""
    return ChurnModel.objects.filter(is_current=True, status=ChurnModelStatus.TRAINED).first()


def _estimator_load(model: ChurnModel) -> HistGradientBoostingClassifier:
    cached = getattr(model, "_estimator", None)
    if cached is not None:
        return cached
    if not model.model_blob:
        raise ChurnModelUnusable(
            _("Churn model v%(version)s has no fitted model.") % {"version": model.version}
        )
    try:
        # Our own blob, written by _estimator_dump into our database; never user-supplied.
        estimator = joblib.load(io.BytesIO(bytes(model.model_blob)))  # noqa: S301
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as exc:
        raise ChurnModelUnusable(
            _("Churn model v%(version)s cannot be loaded: %(error)s")
            % {"version": model.version, "error": exc}
        ) from exc
    model._estimator = estimator
    return estimator


def churn_probabilities(*, model: ChurnModel, frame: pd.DataFrame) -> pd.Series:
    """Churn probability of every customer of a metrics frame (NaN for those without orders).

    Scored in chunks of PREDICT_CHUNK_ROWS so the feature block stays small. Raises
    ChurnModelUnusable when the stored model cannot be loaded or needs unknown features.
    """
    estimator = _estimator_load(model)
    features = list(model.features or CHURN_FEATURES)
    unknown = sorted(set(features) - set(CHURN_FEATURES))
    if unknown:
        raise ChurnModelUnusable(
            _("Churn model v%(version)s needs features this version cannot compute: %(names)s")
            % {"version": model.version, "names": ", ".join(unknown)}
        )
    result = np.full(len(frame), np.nan, dtype="float64")
    positions = np.flatnonzero(_has_orders(frame))
    with ml_thread_limit():
        for start in range(0, len(positions), PREDICT_CHUNK_ROWS):
            chunk = positions[start : start + PREDICT_CHUNK_ROWS]
            matrix = churn_feature_matrix(frame.iloc[chunk])[features]
            result[chunk] = estimator.predict_proba(matrix)[:, 1]
    return pd.Series(result, index=frame.index, name="churn_probability")
