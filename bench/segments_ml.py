"""Benchmark of the segmentation engine's machine-learning steps on a synthetic metrics frame.

    python bench/segments_ml.py --rows 1000000

Builds a frame shaped like segments.services.metrics.metrics_frame's output directly in numpy
(no database), with a churn label drawn from a simple buying-rhythm simulation, then times:
training the churn model (fit on its capped sample), scoring every customer
(churn_probabilities), the refresh's score phase (RFM scores and segment, value tier,
lifecycle, potential value), clustering (cluster_customers) and the nightly's assignment of
every customer to the fitted centres. Prints one JSON object. Run at two sizes (`--rows
1000000`, `--rows 3000000`) it shows how each step grows (docs/performance.md, beyond one
machine).
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callcenter.settings.dev")
# Django is set up only to import the services; this benchmark never opens a connection.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unused")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

django.setup()

from segments.defaults import DEFAULT_RFM_GRID  # noqa: E402
from segments.models import ChurnModel  # noqa: E402
from segments.services.churn import (  # noqa: E402
    CHURN_FEATURES,
    _estimator_dump,
    churn_estimator_fit,
    churn_feature_matrix,
    churn_probabilities,
)
from segments.services.clusters import FittedClusters, cluster_customers  # noqa: E402
from segments.services.refresh import score_frame  # noqa: E402
from segments.services.scoring import (  # noqa: E402
    RfmCell,
    ScoringSettings,
    lifecycle_stages,
    value_potentials,
)

AS_OF = pd.Timestamp("2026-06-01", tz="UTC")
HORIZON_DAYS = 90
WINDOW_DAYS = 365
PROSPECT_SHARE = 0.15


def synthetic_frame(rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A metrics frame of `rows` customers and each buyer's churn label (1 = no order within
    HORIZON_DAYS after the frame's as-of).

    Each buyer has a usual gap between orders and is either still buying or gone; a living
    customer's next order comes after an exponential wait with that gap, a gone one never.
    """
    rng = np.random.default_rng(seed)
    buyer = rng.random(rows) >= PROSPECT_SHARE
    tenure = rng.uniform(1, 540, rows)
    gap = np.exp(rng.normal(np.log(45), 0.7, rows)).clip(3, 400)
    alive = rng.random(rows) < 0.65
    orders = np.maximum(1, rng.poisson(tenure / gap)).astype("int64")
    recency = np.where(
        alive,
        np.minimum(rng.exponential(gap), tenure),
        tenure * rng.uniform(0.05, 1.0, rows),
    ).round()
    recency = np.minimum(recency, tenure.round())
    in_window = np.minimum(1.0, WINDOW_DAYS / np.maximum(tenure, 1))
    frequency = np.where(recency <= WINDOW_DAYS, np.maximum(1, (orders * in_window).round()), 0)
    aov = np.exp(rng.normal(np.log(200), 0.8, rows))
    monetary = (frequency * aov).round(2)
    orders_90d = np.where(recency <= 90, np.minimum(frequency, rng.poisson(90 / gap) + 1), 0)
    complaints = rng.poisson(np.where(alive, 0.08, 0.3))
    interactions = rng.poisson(np.where(alive, 0.6, 0.2)) + complaints
    nps = np.where(rng.random(rows) < 0.3, rng.integers(0, 11, rows), -1).astype("float64")
    nps[nps < 0] = np.nan
    sentiment = np.where(interactions > 0, rng.uniform(-1, 1, rows), np.nan)
    contact = np.where(interactions > 0, rng.integers(0, 30, rows), np.nan)

    # Churned in the next horizon: gone, or alive but the next order comes too late.
    label = np.where(alive, rng.random(rows) < np.exp(-HORIZON_DAYS / gap), 1).astype("int8")

    def buyers_only(values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        return np.where(buyer, values, fill)

    def days_before(values: np.ndarray) -> pd.Series:
        return AS_OF - pd.Series(pd.to_timedelta(values, unit="D"))

    recency_b = buyers_only(recency)
    tenure_b = buyers_only(tenure.round())
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1, dtype="int64"),
            "kind": pd.array(
                np.where(rng.random(rows) < 0.1, "business", "person"), dtype="string"
            ),
            "first_order_at": days_before(tenure_b),
            "last_order_at": days_before(recency_b),
            "orders_lifetime": buyers_only(orders, 0).astype("int64"),
            "frequency": buyers_only(frequency, 0).astype("int64"),
            "monetary": buyers_only(monetary, 0.0),
            "orders_90d": buyers_only(orders_90d, 0).astype("int64"),
            "spend_90d": buyers_only(orders_90d * aov, 0.0).round(2),
            "interactions_30d": interactions.astype("int64"),
            "avg_sentiment_30d": sentiment,
            "complaints_90d": complaints.astype("int64"),
            "last_nps": nps,
            "recency_days": recency_b,
            "days_since_contact": contact,
            "tenure_days": tenure_b,
        }
    ).set_index("customer_id", drop=False)
    return frame, label


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _timed(results: dict, name: str, func, *args, **kwargs):  # noqa: ANN001, ANN202
    started, cpu_started = time.perf_counter(), time.process_time()
    value = func(*args, **kwargs)
    results[f"{name}_seconds"] = round(time.perf_counter() - started, 3)
    # CPU seconds next to wall seconds show how much a busy machine slowed the step down.
    results[f"{name}_cpu_seconds"] = round(time.process_time() - cpu_started, 3)
    results[f"{name}_peak_rss_mb"] = _peak_rss_mb()
    return value


def _score(frame: pd.DataFrame) -> None:
    """The refresh's score phase and what follows the churn scores (segments.services.refresh
    `_compute`), with the default RFM grid and settings."""
    scoring = ScoringSettings()
    score_frame(frame, grid=[RfmCell(*row) for row in DEFAULT_RFM_GRID], scoring=scoring)
    frame["lifecycle_stage"] = lifecycle_stages(frame, scoring)
    frame["value_potential"] = value_potentials(frame, percentile=0.8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--k-min", type=int, default=3)
    parser.add_argument("--k-max", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="SEGMENTS_ML_THREADS (default: the setting)"
    )
    args = parser.parse_args()
    if args.threads is not None:
        settings.SEGMENTS_ML_THREADS = args.threads

    results: dict[str, object] = {
        "rows": args.rows,
        "start_rss_mb": _peak_rss_mb(),
        "ml_threads": getattr(settings, "SEGMENTS_ML_THREADS", 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    frame, label = _timed(results, "build_frame", synthetic_frame, args.rows, args.seed)
    results["frame_mb"] = round(frame.memory_usage(deep=True).sum() / 2**20, 1)
    buyers = frame["orders_lifetime"].to_numpy() > 0
    results["buyers"] = int(buyers.sum())

    features = _timed(results, "churn_features", churn_feature_matrix, frame.loc[buyers])
    fit = _timed(results, "churn_fit", churn_estimator_fit, features=features, labels=label[buyers])
    del features
    results["churn_holdout_auc"] = round(fit.holdout_auc, 4)
    results["churn_training_rows"] = fit.training_rows
    model = ChurnModel(version=1, features=list(CHURN_FEATURES))
    model.model_blob = _estimator_dump(fit.estimator)
    results["churn_model_kb"] = round(len(model.model_blob) / 1024, 1)
    probabilities = _timed(
        results, "churn_probabilities", churn_probabilities, model=model, frame=frame
    )
    results["churn_probability_mean"] = round(float(probabilities.mean()), 4)

    frame["churn_probability"] = probabilities
    # Predictions shaped like the value model's (a year's spend at the customer's pace).
    frame["predicted_value_365d"] = (
        frame["monetary"] * np.random.default_rng(args.seed).lognormal(0, 0.5, len(frame))
    ).round(2)
    _timed(results, "score", _score, frame)
    clustering = _timed(
        results,
        "cluster_customers",
        cluster_customers,
        frame=frame,
        k_min=args.k_min,
        k_max=args.k_max,
        random_state=args.seed,
    )
    results["cluster_k"] = clustering.k
    results["cluster_silhouette"] = clustering.silhouette
    results["clusters"] = [
        {"number": p["number"], "label": p["label"], "size": p["size"]} for p in clustering.profiles
    ]
    fitted = FittedClusters(
        mean=clustering.profiles[0]["scaling"]["mean"],
        scale=clustering.profiles[0]["scaling"]["scale"],
        centers={p["number"]: p["center"] for p in clustering.profiles},
    )
    _timed(
        results,
        "cluster_assign",
        cluster_customers,
        frame=frame,
        k_min=args.k_min,
        k_max=args.k_max,
        fitted=fitted,
    )
    results["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
