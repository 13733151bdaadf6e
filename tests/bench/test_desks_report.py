"""The desk benchmark's verdict (bench/desks.py `summary`), without a benchmark run: the
screen-pop ratios are of the means of the A B B A pairs, and every with-desks condition must
deliver each call once with its ring p99 under the target."""

import copy
from typing import Any

from bench import desks as bench


def _condition(rate: float, paced_p99: float, ring_p99: float | None = None) -> dict[str, Any]:
    desks: dict[str, Any] = {"calls_posted": 100, "calls_received": 0, "duplicates": 0}
    if ring_p99 is not None:
        desks.update(calls_received=100, ring_to_event_ms={"count": 100, "p99": ring_p99})
    return {
        "screenpop": {"requests_per_second": rate},
        "screenpop_paced": {"p99_ms": paced_p99},
        "desks": desks,
    }


RESULTS = {
    "without_desks": _condition(500.0, 10.0),
    "with_desks": _condition(450.0, 14.0, ring_p99=120.0),
    "with_desks_again": _condition(530.0, 8.0, ring_p99=150.0),
    "without_desks_again": _condition(480.0, 12.0),
}


def test_ratios_are_of_the_means_of_each_pair() -> None:
    """Alone, the first pair would miss the paced target (14 ms over 10 ms, 1.40×); the means
    of A B B A weigh a drifting machine on both sides alike."""
    summary = bench.summary(RESULTS)

    assert summary["means"] == {
        "with_desks": {"screenpop_requests_per_second": 490.0, "screenpop_paced_p99_ms": 11.0},
        "without_desks": {"screenpop_requests_per_second": 490.0, "screenpop_paced_p99_ms": 11.0},
    }
    assert summary["with_over_without"] == {
        "screenpop_requests_per_second": 1.0,
        "screenpop_paced_p99": 1.0,
    }
    assert summary["targets"]["met"] is True


def test_every_with_desks_condition_must_meet_the_ring_and_delivery_targets() -> None:
    late = copy.deepcopy(RESULTS)
    late["with_desks_again"]["desks"]["ring_to_event_ms"]["p99"] = 200.0
    assert bench.summary(late)["targets"]["met"] is False

    lost = copy.deepcopy(RESULTS)
    lost["with_desks_again"]["desks"]["calls_received"] = 99
    assert bench.summary(lost)["targets"]["met"] is False

    twice = copy.deepcopy(RESULTS)
    twice["with_desks"]["desks"]["duplicates"] = 1
    assert bench.summary(twice)["targets"]["met"] is False

    slower = copy.deepcopy(RESULTS)
    slower["with_desks_again"]["screenpop_paced"]["p99_ms"] = 12.0
    assert bench.summary(slower)["with_over_without"]["screenpop_paced_p99"] == 1.182
    assert bench.summary(slower)["targets"]["met"] is False


def test_every_round_counts_and_the_spread_within_a_side_is_reported() -> None:
    """A second round (B A A B) joins the means; the spread says how far the run's own
    conditions of one side were apart, the noise the ratio is read against."""
    rounds = {
        **RESULTS,
        "with_desks_round2": _condition(470.0, 10.0, ring_p99=110.0),
        "without_desks_round2": _condition(520.0, 9.0),
        "without_desks_again_round2": _condition(500.0, 13.0),
        "with_desks_again_round2": _condition(490.0, 12.0, ring_p99=130.0),
    }

    summary = bench.summary(rounds)

    assert summary["conditions"] == {"with_desks": 4, "without_desks": 4}
    assert summary["means"]["with_desks"] == {
        "screenpop_requests_per_second": 485.0,
        "screenpop_paced_p99_ms": 11.0,
    }
    assert summary["means"]["without_desks"]["screenpop_paced_p99_ms"] == 11.0
    assert summary["paced_p99_spread"] == {"with_desks": 1.75, "without_desks": 1.444}
    assert summary["targets"]["met"] is True

    lost = copy.deepcopy(rounds)
    lost["with_desks_again_round2"]["desks"]["calls_received"] = 99
    assert bench.summary(lost)["targets"]["met"] is False
