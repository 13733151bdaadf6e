"""Behaviour clusters on synthetic metrics frames with known, well-separated groups."""

import numpy as np
import pandas as pd
import pytest

from segments.cluster_names import TRAIT_LABELS, cluster_label
from segments.models import ClusterProfile
from segments.services import clusters
from segments.services.clusters import cluster_customers
from segments.services.scoring import rfm_scores

NOW = pd.Timestamp("2026-06-01", tz="UTC")

# name: (customers, recency days, orders in window, spend per order, interactions, complaints)
GROUPS = {
    "champions": (300, 5, 20, 1000.0, 1, 0),
    "complainers": (100, 40, 4, 200.0, 8, 3),
    "gone": (200, 300, 1, 60.0, 0, 0),
}


def _frame(groups: dict = GROUPS, prospects: int = 40, seed: int = 0) -> pd.DataFrame:
    """A metrics frame with one block of customers per group (with noise) and prospects."""
    rng = np.random.default_rng(seed)
    parts = []
    for name, (count, recency, orders, spend, touches, complaints) in groups.items():
        frequency = np.maximum(1, rng.poisson(orders, count))
        parts.append(
            pd.DataFrame(
                {
                    "group": name,
                    "orders_lifetime": frequency + 1,
                    "frequency": frequency,
                    "monetary": frequency * spend * rng.uniform(0.8, 1.25, count),
                    "recency_days": np.maximum(0, recency * rng.uniform(0.7, 1.3, count)).round(),
                    "interactions_30d": rng.poisson(touches, count),
                    "complaints_90d": rng.poisson(complaints, count),
                }
            )
        )
    parts.append(
        pd.DataFrame(
            {
                "group": "prospect",
                "orders_lifetime": np.zeros(prospects, dtype="int64"),
                "frequency": np.zeros(prospects, dtype="int64"),
                "monetary": np.zeros(prospects),
                "recency_days": np.full(prospects, np.nan),
                "interactions_30d": rng.poisson(1, prospects),
                "complaints_90d": np.zeros(prospects, dtype="int64"),
            }
        )
    )
    frame = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed)
    frame.index = pd.Index(np.arange(1000, 1000 + len(frame)), name="customer_id")
    frame["last_order_at"] = NOW - pd.to_timedelta(frame["recency_days"], unit="D")
    return rfm_scores(frame)


def test_separated_groups_are_found_and_numbered_by_spend() -> None:
    # given three clearly different behaviours and some prospects
    frame = _frame()

    # when
    result = cluster_customers(frame=frame, k_min=2, k_max=6)

    # then the three groups come back, whole, numbered by mean spend (highest first)
    assert result is not None
    assert result.k == 3
    assert result.silhouette > 0.5
    assert result.labels.dtype == "Int16"
    assert result.labels.index.equals(frame.index)
    assert result.labels[frame["group"] == "prospect"].isna().all()
    found = pd.crosstab(frame["group"], result.labels)
    assert found.loc["champions"].to_dict() == {1: 300, 2: 0, 3: 0}
    assert found.loc["complainers"].to_dict() == {1: 0, 2: 100, 3: 0}
    assert found.loc["gone"].to_dict() == {1: 0, 2: 0, 3: 200}
    assert [p["number"] for p in result.profiles] == [1, 2, 3]
    assert [p["size"] for p in result.profiles] == [300, 100, 200]
    spend = [p["mean_monetary"] for p in result.profiles]
    assert spend == sorted(spend, reverse=True)


def test_profiles_describe_each_cluster_with_traits_and_a_label() -> None:
    result = cluster_customers(frame=_frame(), k_min=3, k_max=3)

    champions, complainers, gone = result.profiles
    assert {"recent", "frequent", "high_spend"} <= set(champions["traits"])
    assert champions["label"] == "Recent frequent high spenders"
    assert {"complaint_prone", "in_touch"} <= set(complainers["traits"])
    assert "complaint-prone" in complainers["label"]
    assert {"lapsed", "occasional", "low_spend"} <= set(gone["traits"])
    assert gone["label"] == "Lapsed occasional low spenders"
    for profile in result.profiles:
        assert set(profile["traits"]) <= set(TRAIT_LABELS)
    # means are the group's own numbers
    assert champions["mean_recency_days"] == pytest.approx(5, abs=1.5)
    assert gone["mean_frequency"] == pytest.approx(1.4, abs=0.3)  # Poisson(1), at least 1
    assert complainers["mean_complaints"] == pytest.approx(3, abs=0.7)
    assert champions["mean_r"] > complainers["mean_r"] > gone["mean_r"]
    assert champions["mean_m"] > gone["mean_m"]
    assert 1 <= gone["mean_f"] <= champions["mean_f"] <= 5


def test_profiles_fit_the_cluster_profile_model() -> None:
    result = cluster_customers(frame=_frame(), k_min=2, k_max=4)

    for profile in result.profiles:
        row = ClusterProfile(silhouette=result.silhouette, **profile)
        row.full_clean(exclude=["run"])


def test_too_few_customers_with_orders_gives_none() -> None:
    small = {"only": (29, 10, 3, 100.0, 0, 0)}

    assert cluster_customers(frame=_frame(small, prospects=500), k_min=3, k_max=5) is None
    assert cluster_customers(frame=_frame(small, prospects=0), k_min=2, k_max=5) is not None


def test_identical_customers_do_not_break_clustering() -> None:
    frame = _frame({"same": (50, 10, 3, 100.0, 0, 0)}, prospects=3)
    buyers = frame["group"] == "same"
    frame.loc[buyers, ["frequency", "orders_lifetime", "monetary", "recency_days"]] = [
        3,
        4,
        300,
        10,
    ]
    frame["interactions_30d"] = 0
    frame["complaints_90d"] = 0

    result = cluster_customers(frame=frame, k_min=2, k_max=4)

    # one behaviour, one cluster, and no silhouette to speak of
    assert result is not None
    assert result.silhouette is None
    assert result.k == 1
    assert result.profiles[0]["label"] == "Average customers"
    assert result.labels.notna().sum() == 50
    assert sum(p["size"] for p in result.profiles) == 50


def test_same_input_same_clusters() -> None:
    frame = _frame(seed=3)

    first = cluster_customers(frame=frame, k_min=2, k_max=5, random_state=7)
    second = cluster_customers(frame=frame, k_min=2, k_max=5, random_state=7)

    assert first.labels.equals(second.labels)
    assert first.profiles == second.profiles


def test_large_bases_use_samples_and_still_label_everyone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given sample caps far below the base, as at a million customers
    monkeypatch.setattr(clusters, "FIT_SAMPLE_ROWS", 300)
    monkeypatch.setattr(clusters, "SILHOUETTE_SAMPLE_ROWS", 150)
    monkeypatch.setattr(clusters, "FULL_KMEANS_MAX_ROWS", 100)
    frame = _frame({name: (n * 10, *rest) for name, (n, *rest) in GROUPS.items()})

    result = cluster_customers(frame=frame, k_min=2, k_max=5)

    assert result.k == 3
    assert result.labels.notna().sum() == 6000
    # a handful of noisy customers sit between groups; the groups themselves come back
    assert [p["size"] for p in result.profiles] == pytest.approx([3000, 1000, 2000], abs=30)


@pytest.mark.parametrize(
    ("traits", "label"),
    [
        (["recent", "frequent", "high_spend"], "Recent frequent high spenders"),
        (["lapsed", "low_spend"], "Lapsed low spenders"),
        (["in_touch", "complaint_prone"], "Customers, often in touch, complaint-prone"),
        (["occasional"], "Occasional customers"),
        ([], "Average customers"),
    ],
)
def test_labels_read_as_phrases(traits: list[str], label: str) -> None:
    assert cluster_label(traits) == label


def test_previous_k_is_kept_only_while_it_is_nearly_as_good() -> None:
    frame = _frame()
    free = cluster_customers(frame=frame, k_min=2, k_max=6)
    assert free is not None
    assert free.k == 3
    # three clear groups: a previous k of 6 is far worse, so the best k wins
    assert cluster_customers(frame=frame, k_min=2, k_max=6, prefer_k=6).k == 3


def test_previous_k_is_kept_on_structureless_data() -> None:
    # one blob: every k scores about the same, so the previous k stays (no reshuffle)
    frame = _frame(groups={"all": (600, 30, 5, 100.0, 1, 0)})
    for prefer in (3, 4):
        result = cluster_customers(frame=frame, k_min=3, k_max=5, prefer_k=prefer)
        assert result is not None
        assert result.k == prefer
