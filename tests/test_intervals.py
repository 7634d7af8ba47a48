"""helpers.intervals: Wilson intervals against the formula and its closed forms, the seeded
bootstrap, Fisher's test against the hypergeometric sum, bad inputs, the no-SciPy fallback, and
the reference run's recorded predictions (skipped when absent)."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from helpers import config, intervals, study

Z95 = statistics.NormalDist().inv_cdf(0.975)  # 1.959963984540054


def wilson_by_hand(right: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson interval written out independently of the module (stdlib quantile)."""
    p = right / n
    centre = (right + z * z / 2) / (n + z * z)
    half = z * math.sqrt(n) / (n + z * z) * math.sqrt(p * (1 - p) + z * z / (4 * n))
    return centre - half, centre + half


def fisher_two_sided(a: int, b: int, c: int, d: int) -> float:
    """Fisher's exact test on [[a, b], [c, d]]: the hypergeometric probabilities of all tables
    with the same margins that are no more likely than the observed one, summed."""
    row1, col1, n = a + b, a + c, a + b + c + d

    def prob(x: int) -> float:
        return math.comb(col1, x) * math.comb(n - col1, row1 - x) / math.comb(n, row1)

    observed = prob(a)
    xs = range(max(0, row1 + col1 - n), min(row1, col1) + 1)
    return sum(prob(x) for x in xs if prob(x) <= observed * (1 + 1e-7))


# --- Wilson ----------------------------------------------------------------------------------


@pytest.mark.parametrize("right, n", [(176, 179), (165, 179), (5, 10), (1, 2), (3, 1000)])
def test_wilson_matches_the_formula(right, n):
    low, high = intervals.wilson_interval(right, n)
    assert (low, high) == pytest.approx(wilson_by_hand(right, n), abs=1e-12)
    assert low < right / n < high


def test_wilson_closed_forms_at_the_ends():
    # right = 0: (0, z²/(n + z²)); right = n: (n/(n + z²), 1). For n = 10: 0.2775 and 0.7225.
    assert intervals.wilson_interval(0, 10) == (0.0, pytest.approx(Z95**2 / (10 + Z95**2), abs=1e-12))
    assert intervals.wilson_interval(10, 10) == (pytest.approx(10 / (10 + Z95**2), abs=1e-12), 1.0)
    assert round(intervals.wilson_interval(0, 10)[1], 4) == 0.2775
    assert round(intervals.wilson_interval(10, 10)[0], 4) == 0.7225


def test_wilson_176_of_179_and_other_confidences():
    low, high = intervals.wilson_interval(176, 179)
    assert (round(low, 4), round(high, 4)) == tuple(round(v, 4) for v in wilson_by_hand(176, 179))
    assert 0.95 < low < 0.96 and 0.99 < high < 1.0
    z90 = statistics.NormalDist().inv_cdf(0.95)
    narrow = intervals.wilson_interval(176, 179, confidence=0.90)
    assert narrow == pytest.approx(wilson_by_hand(176, 179, z90), abs=1e-12)
    assert low < narrow[0] and narrow[1] < high
    numpy_ints = intervals.wilson_interval(np.int64(176), np.int32(179))
    assert numpy_ints == (low, high)


@pytest.mark.parametrize("right, n, message", [
    (11, 10, "between 0 and n"), (-1, 10, "between 0 and n"), (0, 0, "at least 1"),
    (1.5, 10, "integer"), (5, 10.0, "integer"), ("3", 10, "integer"), (True, 10, "integer"),
    (None, 10, "integer"),
])
def test_wilson_bad_counts(right, n, message):
    with pytest.raises(ValueError, match=message):
        intervals.wilson_interval(right, n)


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1, float("nan"), True, "0.95", None])
def test_bad_confidence(confidence):
    with pytest.raises(ValueError, match="confidence must be a number strictly between 0 and 1"):
        intervals.wilson_interval(5, 10, confidence)
    with pytest.raises(ValueError, match="confidence"):
        intervals.bootstrap_interval([True, False], confidence=confidence)


# --- Bootstrap -------------------------------------------------------------------------------


def test_bootstrap_is_seeded_and_brackets_the_mean():
    correct = np.array([True] * 165 + [False] * 14)
    one = intervals.bootstrap_interval(correct, seed=3)
    assert one == intervals.bootstrap_interval(correct, seed=3)
    assert one != intervals.bootstrap_interval(correct, seed=4)
    low, high = one
    assert low < correct.mean() < high
    # Close to Wilson's at this size (both about ±0.04 around 0.92).
    assert (low, high) == pytest.approx(intervals.wilson_interval(165, 179), abs=0.02)
    assert intervals.bootstrap_interval(pd.Series(correct), seed=3) == one
    assert intervals.bootstrap_interval(correct.tolist(), seed=3) == one


def test_bootstrap_blocks_do_not_change_the_result(monkeypatch):
    correct = np.arange(50) % 3 != 0
    whole = intervals.bootstrap_interval(correct, n_boot=1000, seed=1)
    monkeypatch.setattr(intervals, "_BOOTSTRAP_CHUNK", 50 * 7)  # blocks of 7 resamples
    assert intervals.bootstrap_interval(correct, n_boot=1000, seed=1) == whole


def test_bootstrap_all_right_is_a_point_and_confidence_widens():
    assert intervals.bootstrap_interval(np.ones(20, dtype=bool)) == (1.0, 1.0)
    correct = np.arange(100) % 4 != 0
    low90, high90 = intervals.bootstrap_interval(correct, confidence=0.90)
    low99, high99 = intervals.bootstrap_interval(correct, confidence=0.99)
    assert low99 <= low90 < 0.75 < high90 <= high99


@pytest.mark.parametrize("correct, message", [
    ([], "empty"), (np.array([], dtype=bool), "empty"), ([1, 0, 1], "boolean"),
    (np.array([0.0, 1.0]), "boolean"), (["yes", "no"], "boolean"), ([True, None], "boolean"),
    (np.ones((3, 2), dtype=bool), "one-dimensional"),
])
def test_bootstrap_bad_correct(correct, message):
    with pytest.raises(ValueError, match=message):
        intervals.bootstrap_interval(correct)


def test_bootstrap_bad_settings():
    for n_boot in (0, -5, 10.5, True):
        with pytest.raises(ValueError, match="n_boot"):
            intervals.bootstrap_interval([True, False], n_boot=n_boot)
    for seed in (1.5, "0", None):
        with pytest.raises(ValueError, match="seed"):
            intervals.bootstrap_interval([True, False], seed=seed)


# --- Comparison ------------------------------------------------------------------------------


def test_compare_matches_the_hypergeometric_sum():
    out = intervals.compare_accuracies(176, 179, 165, 179)
    assert out["p_value"] == pytest.approx(fisher_two_sided(176, 3, 165, 14), rel=1e-9)
    assert out["difference"] == pytest.approx(11 / 179)
    assert out["interval_a"] == intervals.wilson_interval(176, 179)
    assert out["interval_b"] == intervals.wilson_interval(165, 179)
    assert out["differ"] is (out["p_value"] < 0.05)
    assert out["test"] == "Fisher's exact test, two-sided"


def test_compare_verdicts():
    same = intervals.compare_accuracies(176, 179, 174, 179)
    assert same["differ"] is False and same["p_value"] > 0.05
    assert "do not differ beyond chance at the 5% level" in same["verdict"]
    assert same["verdict"].startswith("176/179 (98.3%) and 174/179 (97.2%)")
    far = intervals.compare_accuracies(176, 179, 150, 179)
    assert far["differ"] is True and far["p_value"] < 0.05
    assert far["p_value"] == pytest.approx(fisher_two_sided(176, 3, 150, 29), rel=1e-9)
    assert "differ beyond chance at the 5% level" in far["verdict"]
    assert "do not" not in far["verdict"]
    strict = intervals.compare_accuracies(176, 179, 150, 179, level=1e-9)
    assert strict["differ"] is False and "at the 1e-07% level" in strict["verdict"]
    assert "at the 1% level" in intervals.compare_accuracies(176, 179, 150, 179, level=0.01)["verdict"]
    assert intervals.compare_accuracies(5, 10, 5, 10)["p_value"] == pytest.approx(1.0)


def test_compare_bad_input():
    with pytest.raises(ValueError, match="right_b must lie between 0 and n_b"):
        intervals.compare_accuracies(176, 179, 180, 179)
    with pytest.raises(ValueError, match="n_a must be at least 1"):
        intervals.compare_accuracies(0, 0, 1, 2)
    with pytest.raises(ValueError, match="level"):
        intervals.compare_accuracies(1, 2, 1, 2, level=0)


def test_without_scipy_the_quantile_falls_back_and_the_test_says_why(monkeypatch):
    with_scipy = intervals.wilson_interval(176, 179)
    monkeypatch.setattr(intervals, "_scipy_stats", lambda: None)
    assert intervals.wilson_interval(176, 179) == pytest.approx(with_scipy, abs=1e-12)
    out = intervals.compare_accuracies(176, 179, 150, 179)
    assert math.isnan(out["p_value"]) and out["differ"] is None
    assert "needs SciPy" in out["verdict"] and out["interval_a"] == pytest.approx(with_scipy)


# --- Table -----------------------------------------------------------------------------------


def test_interval_table():
    table = intervals.interval_table({"the study": (176, 179), "ours": (165, 179), "none": (0, 10)})
    assert table.index.name == "method"
    assert table.index.tolist() == ["the study", "ours", "none"]
    assert table.columns.tolist() == intervals.INTERVAL_COLUMNS
    assert table["right"].dtype == int and table["n"].dtype == int
    assert table.loc["ours", "accuracy"] == pytest.approx(165 / 179)
    assert tuple(table.loc["the study", ["low", "high"]]) == intervals.wilson_interval(176, 179)
    assert table.loc["none", "low"] == 0.0
    for bad, message in (({}, "non-empty mapping"), ([(1, 2)], "non-empty mapping"),
                         ({"x": (1, 2, 3)}, "pair"), ({"x": 5}, "pair"), ({"x": (3, 2)}, "between")):
        with pytest.raises(ValueError, match=message):
            intervals.interval_table(bad)


# --- Real results ------------------------------------------------------------------------------

REFERENCE = config.PROJECT_ROOT / "figures"


@pytest.mark.skipif(not (REFERENCE / config.RECORD_TEST_PREDICTIONS).is_file(),
                    reason=f"the reference run's record {REFERENCE / config.RECORD_TEST_PREDICTIONS} "
                           "is absent (run notebook 06, or `make reference`)")
def test_reference_run_against_the_study():
    """The reference run's recorded test predictions against the study's 176/179 (its report's
    implied count): the bootstrap and Wilson intervals agree, and the comparison is coherent."""
    table = pd.read_csv(REFERENCE / config.RECORD_TEST_PREDICTIONS)
    correct = (table["label"] == table["predicted"]).to_numpy()
    right, n = int(correct.sum()), len(correct)
    assert n == 179
    study_right = int(study.study_implied_correct()["correct"].sum())
    assert study_right == 176
    wilson = intervals.wilson_interval(right, n)
    boot = intervals.bootstrap_interval(correct)
    assert boot == pytest.approx(wilson, abs=0.025)
    out = intervals.compare_accuracies(study_right, 179, right, n)
    assert out["p_value"] == pytest.approx(fisher_two_sided(176, 3, right, n - right), rel=1e-9)
    assert out["differ"] is (out["p_value"] < 0.05)
