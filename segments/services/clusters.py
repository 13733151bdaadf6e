"""Behaviour clusters: k-means over standardized log features of customers who have bought.

Features are log1p of days since the last order, orders and spend in the window, interactions
in 30 days and complaints in 90 days, standardized. For each k in the allowed range a k-means
is fitted on a random sample (MiniBatchKMeans for large bases, full KMeans for small ones) and
judged by its silhouette on a smaller sample (silhouette is O(n^2)); the best k then labels every
customer in one vectorized predict. Clusters are numbered 1..k by mean spend, highest first, so
numbers stay fairly stable across refreshes, and described by traits relative to the whole base
("recent", "lapsed", "frequent", "high spend", "complaint-prone", ...) that make their label.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.conf import settings
from django.utils import translation
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from segments.cluster_names import cluster_label

CLUSTER_FEATURES = ["recency_days", "frequency", "monetary", "interactions_30d", "complaints_90d"]
# k-means is fitted on at most this many customers: centres are stable long before 50k points,
# and fitting every k of the range on 50k x 5 floats is quick.
FIT_SAMPLE_ROWS = 50_000
# Silhouette needs all pairwise distances (n^2): 5k points are 25M float32 distances (100 MB),
# computed once and reused for every k.
SILHOUETTE_SAMPLE_ROWS = 5_000
# Up to this many customers the exact KMeans (several initialisations) is cheap enough.
FULL_KMEANS_MAX_ROWS = 10_000
MINIBATCH_SIZE = 4096
# A clustering needs at least this many customers per cluster asked for (k_min).
MIN_CUSTOMERS_PER_CLUSTER = 10
# A cluster's mean standardized feature beyond +-TRAIT_Z (in base standard deviations) is a trait.
TRAIT_Z = 0.5

# (feature, trait when clearly above the base, trait when clearly below the base)
_TRAIT_RULES = [
    ("recency_days", "lapsed", "recent"),
    ("frequency", "frequent", "occasional"),
    ("monetary", "high_spend", "low_spend"),
    ("interactions_30d", "in_touch", None),
    ("complaints_90d", "complaint_prone", None),
]


# A previous k stays while its silhouette is within this of the best k's.
K_STICKINESS = 0.03


def ml_thread_limit() -> threadpool_limits:
    """Cap OpenMP/BLAS threads of scikit-learn while fitting and scoring.

    From the setting SEGMENTS_ML_THREADS (default 1). One thread is the safe default: when the
    worker shares its cores (PostgreSQL, other workers), OpenMP's per-tree and per-batch
    barriers wait for descheduled threads and the same work takes several times longer with 2
    threads than with 1, while on an idle machine 2 threads gain well under twice the speed.
    """
    return threadpool_limits(limits=int(getattr(settings, "SEGMENTS_ML_THREADS", 1)))


@dataclass(frozen=True)
class FittedClusters:
    """A fitted clustering: the standardization of the features and each cluster's centre,
    by cluster number. Between refits, a refresh assigns every customer to the nearest centre,
    so cluster numbers and memberships move only when customers' behaviour does."""

    mean: list[float]
    scale: list[float]
    centers: dict[int, list[float]]
    silhouette: float | None = None


@dataclass
class ClusteringResult:
    """Cluster number per customer (NA without orders), a profile per cluster (with its centre
    and the scaling, to be stored) and whether the centres were fitted now."""

    labels: pd.Series
    profiles: list[dict] = field(default_factory=list)
    silhouette: float | None = None
    k: int = 0
    refitted: bool = True


def _feature_block(frame: pd.DataFrame) -> np.ndarray:
    """log1p of the clustering features as a float32 matrix (missing counts as 0)."""
    columns = [
        np.log1p(pd.to_numeric(frame[name]).to_numpy(dtype="float32", na_value=np.nan).clip(min=0))
        for name in CLUSTER_FEATURES
    ]
    block = np.column_stack(columns)
    return np.nan_to_num(block, nan=0.0, copy=False)


def _sample(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return np.sort(rng.choice(n, size=size, replace=False)) if n > size else np.arange(n)


def _pairwise_distances(points: np.ndarray) -> np.ndarray:
    """Euclidean distances between all rows, float32, built in place in one n x n block
    (5k rows: 100 MB) from |a|^2 + |b|^2 - 2ab with one matrix product."""
    squared = np.einsum("ij,ij->i", points, points)
    distances = points @ points.T
    distances *= -2
    distances += squared[:, None]
    distances += squared[None, :]
    np.maximum(distances, 0, out=distances)
    np.sqrt(distances, out=distances)
    np.fill_diagonal(distances, 0)
    return distances


def _fit(sample: np.ndarray, k: int, random_state: int) -> KMeans | MiniBatchKMeans:
    if len(sample) <= FULL_KMEANS_MAX_ROWS:
        model = KMeans(n_clusters=k, n_init=4, random_state=random_state)
    else:
        model = MiniBatchKMeans(
            n_clusters=k, batch_size=MINIBATCH_SIZE, n_init=3, random_state=random_state
        )
    with warnings.catch_warnings():
        # Fewer distinct points than k: k-means warns and we simply judge that k worse.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(sample)


def _traits(z: np.ndarray, complaints: float, base_complaints: float) -> list[str]:
    traits = []
    for position, (_name, above, below) in enumerate(_TRAIT_RULES):
        if above and z[position] > TRAIT_Z:
            traits.append(above)
        elif below and z[position] < -TRAIT_Z:
            traits.append(below)
    if "complaint_prone" in traits and complaints <= base_complaints:
        traits.remove("complaint_prone")
    return traits


_PROFILE_MEANS = {
    "mean_recency_days": "recency_days",
    "mean_frequency": "frequency",
    "mean_monetary": "monetary",
    "mean_r": "r_score",
    "mean_f": "f_score",
    "mean_m": "m_score",
    "mean_complaints": "complaints_90d",
}


def _rounded(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 3)


def _profiles(buyers: pd.DataFrame, numbers: np.ndarray, scaled: np.ndarray) -> list[dict]:
    """Describe each cluster: size, means (one groupby) and traits against the whole base."""
    values = pd.DataFrame(
        {
            key: pd.to_numeric(buyers[column]).to_numpy(dtype="float64", na_value=np.nan)
            if column in buyers
            else np.nan
            for key, column in _PROFILE_MEANS.items()
        }
    )
    means = values.groupby(numbers, sort=True).mean()
    sizes = np.bincount(numbers)
    z_means = pd.DataFrame(scaled).groupby(numbers, sort=True).mean().to_numpy()
    base_complaints = float(values["mean_complaints"].mean())
    profiles: list[dict] = []
    seen: dict[str, int] = {}
    for row, number in enumerate(means.index):
        described = {key: _rounded(means.at[number, key]) for key in _PROFILE_MEANS}
        traits = _traits(z_means[row], described["mean_complaints"] or 0.0, base_complaints)
        with translation.override("en"):  # stored in English, shown translated
            label = cluster_label(traits)
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label} ({seen[label]})"
        described["mean_frequency"] = described["mean_frequency"] or 0.0
        described["mean_monetary"] = described["mean_monetary"] or 0.0
        described["mean_complaints"] = described["mean_complaints"] or 0.0
        profiles.append(
            {
                "number": int(number),
                "label": label,
                "traits": traits,
                "size": int(sizes[number]),
                **described,
            }
        )
    return profiles


def cluster_customers(
    *,
    frame: pd.DataFrame,
    k_min: int,
    k_max: int,
    random_state: int = 0,
    prefer_k: int | None = None,
    fitted: FittedClusters | None = None,
) -> ClusteringResult | None:
    """Cluster the customers of a metrics frame who have bought; None when they are too few.

    `frame` is the refresh's metrics frame (r_score/f_score/m_score are used for the profiles
    when present). Labels are indexed like the frame, NA for customers without orders.
    With `fitted` (an earlier fit), customers are assigned to its centres and nothing is
    fitted. Otherwise `prefer_k` (the previous refresh's k) is kept while its silhouette is
    within K_STICKINESS of the best, so cluster segments do not reshuffle over small changes.
    """
    with ml_thread_limit():
        if fitted is not None:
            return _assign(frame, fitted)
        return _cluster(frame, max(2, k_min), max(2, k_min, k_max), random_state, prefer_k)


def _buyers(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Which rows of the frame have bought, and those rows with the columns clustering reads
    (the features, the profiles' means). Only those columns are copied: the refresh's frame
    is several times wider, and copying all of it grew faster than the rows did (3M rows:
    docs/performance.md, beyond one machine)."""
    has_orders = (pd.to_numeric(frame["orders_lifetime"]).fillna(0) > 0).to_numpy(dtype=bool)
    columns = list(dict.fromkeys([*CLUSTER_FEATURES, *_PROFILE_MEANS.values()]))
    return has_orders, frame.loc[has_orders, [c for c in columns if c in frame.columns]]


def _assign(frame: pd.DataFrame, fitted: FittedClusters) -> ClusteringResult | None:
    has_orders, buyers = _buyers(frame)
    if not len(buyers):
        return None
    features = _feature_block(buyers)
    scale = np.asarray(fitted.scale, dtype="float32")
    scaled = (features - np.asarray(fitted.mean, dtype="float32")) / np.where(scale, scale, 1)
    numbers_by_row = np.asarray(sorted(fitted.centers), dtype="int16")
    centers = np.asarray([fitted.centers[n] for n in numbers_by_row], dtype="float32")
    distances = (
        np.einsum("ij,ij->i", scaled, scaled)[:, None]
        - 2 * scaled @ centers.T
        + np.einsum("ij,ij->i", centers, centers)[None, :]
    )
    numbers = numbers_by_row[np.argmin(distances, axis=1)]
    labels = pd.Series(pd.NA, index=frame.index, dtype="Int16")
    labels.iloc[np.flatnonzero(has_orders)] = numbers
    profiles = [
        {**profile, "center": fitted.centers[profile["number"]]}
        for profile in _profiles(buyers, numbers, scaled)
    ]
    for profile in profiles:
        profile["scaling"] = {"mean": fitted.mean, "scale": fitted.scale}
    return ClusteringResult(
        labels=labels,
        profiles=profiles,
        silhouette=fitted.silhouette,
        k=len(fitted.centers),
        refitted=False,
    )


def _cluster(
    frame: pd.DataFrame, k_min: int, k_max: int, random_state: int, prefer_k: int | None
) -> ClusteringResult | None:
    has_orders, buyers = _buyers(frame)
    if len(buyers) < k_min * MIN_CUSTOMERS_PER_CLUSTER:
        return None
    features = _feature_block(buyers)
    rng = np.random.default_rng(random_state)
    fit_rows = _sample(rng, len(features), FIT_SAMPLE_ROWS)
    scaler = StandardScaler().fit(features[fit_rows])
    scaled = scaler.transform(features).astype("float32", copy=False)
    fit_sample = scaled[fit_rows]
    judge_sample = scaled[_sample(rng, len(scaled), SILHOUETTE_SAMPLE_ROWS)]
    distinct = len(np.unique(judge_sample, axis=0))
    # The judge sample's distances do not depend on k: computed once, reused for every k.
    distances = _pairwise_distances(judge_sample)

    best_model, best_score, best_k = None, None, k_min
    scored: dict[int, tuple[float, KMeans | MiniBatchKMeans]] = {}
    for k in range(k_min, min(k_max, len(fit_sample) - 1) + 1):
        model = _fit(fit_sample, k, random_state)
        judged = model.predict(judge_sample)
        if len(np.unique(judged)) < 2 or distinct <= k:
            continue
        score = float(silhouette_score(distances, judged, metric="precomputed"))
        scored[k] = (score, model)
        if best_score is None or score > best_score:
            best_model, best_score, best_k = model, score, k
    del distances
    if prefer_k in scored and best_score is not None:
        prefer_score, prefer_model = scored[prefer_k]
        if prefer_score >= best_score - K_STICKINESS:
            best_model, best_score, best_k = prefer_model, prefer_score, prefer_k
    if best_model is None:
        # Too few distinct behaviours to judge any k: keep the smallest clustering, unscored.
        best_model = _fit(fit_sample, k_min, random_state)

    raw = best_model.predict(scaled)
    # Renumber by mean spend, highest first: cluster 1 is always the most valuable one.
    monetary = pd.to_numeric(buyers["monetary"]).to_numpy(dtype="float64", na_value=0.0)
    spend = np.bincount(raw, weights=monetary, minlength=best_k) / np.maximum(
        np.bincount(raw, minlength=best_k), 1
    )
    present = np.flatnonzero(np.bincount(raw, minlength=best_k))
    ordered = present[np.argsort(-spend[present], kind="stable")]
    renumber = np.zeros(best_k, dtype="int16")
    renumber[ordered] = np.arange(1, len(ordered) + 1, dtype="int16")
    numbers = renumber[raw]

    labels = pd.Series(pd.NA, index=frame.index, dtype="Int16")
    labels.iloc[np.flatnonzero(has_orders)] = numbers
    scaling = {
        "mean": [float(v) for v in scaler.mean_],
        "scale": [float(v) for v in scaler.scale_],
    }
    centers = {
        int(renumber[raw_number]): [float(v) for v in best_model.cluster_centers_[raw_number]]
        for raw_number in present
    }
    profiles = [
        {**profile, "center": centers[profile["number"]], "scaling": scaling}
        for profile in _profiles(buyers, numbers, scaled)
    ]
    return ClusteringResult(
        labels=labels,
        profiles=profiles,
        silhouette=None if best_score is None else round(best_score, 4),
        k=len(ordered),
    )
