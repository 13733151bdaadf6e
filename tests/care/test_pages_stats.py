"""The statistics of the effectiveness report: Wilson intervals, Newcombe's interval of a
difference of proportions, and the verdict drawn from it."""

import pytest

from care.selectors_reports import uplift_interval, wilson_interval


def test_wilson_interval_matches_published_values() -> None:
    # Newcombe (1998), table I: 81/263 and 0/10.
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = wilson_interval(0, 10)
    assert (round(low, 4), round(high, 4)) == (0.0, 0.2775)


def test_wilson_interval_without_observations_is_everything() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_newcombe_interval_matches_the_published_example() -> None:
    # Newcombe (1998), method 10, example (a): 56/70 - 48/80.
    uplift = uplift_interval(
        treated_successes=56, treated_total=70, control_successes=48, control_total=80
    )

    assert uplift.difference == pytest.approx(0.2)
    assert round(uplift.low, 4) == 0.0524
    assert round(uplift.high, 4) == 0.3339
    assert uplift.verdict == "works"


def test_a_rule_converting_fewer_than_its_control_hurts() -> None:
    uplift = uplift_interval(
        treated_successes=48, treated_total=80, control_successes=56, control_total=70
    )

    assert uplift.high < 0
    assert uplift.verdict == "hurts"


def test_an_interval_spanning_zero_is_no_evidence() -> None:
    uplift = uplift_interval(
        treated_successes=30, treated_total=100, control_successes=27, control_total=100
    )

    assert uplift.low < 0 < uplift.high
    assert uplift.verdict == "no_evidence"


def test_too_few_customers_give_no_verdict_even_with_a_clear_difference() -> None:
    uplift = uplift_interval(
        treated_successes=10, treated_total=10, control_successes=0, control_total=10
    )

    assert uplift.low > 0
    assert uplift.verdict == "no_evidence"


def test_without_a_control_group_there_is_no_uplift() -> None:
    uplift = uplift_interval(
        treated_successes=5, treated_total=50, control_successes=0, control_total=0
    )

    assert uplift.treated_rate == pytest.approx(0.1)
    assert uplift.control_rate is None
    assert uplift.difference is None
    assert uplift.verdict == "no_evidence"


def test_the_interval_stays_within_minus_one_and_one() -> None:
    uplift = uplift_interval(
        treated_successes=40, treated_total=40, control_successes=0, control_total=40
    )

    assert -1 <= uplift.low <= uplift.difference <= uplift.high <= 1
