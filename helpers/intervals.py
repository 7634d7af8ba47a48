"""How uncertain an accuracy measured on ``n`` images is: confidence intervals and a comparison.

An accuracy of ``right`` out of ``n`` test images is an estimate; with ``n`` in the hundreds
one image more or less moves it by a fraction of a percent, and a second test set of the same
size would give a somewhat different number.

- :func:`wilson_interval`: the Wilson score interval of a proportion. Unlike the textbook
  ``p ± z·sqrt(p(1-p)/n)`` it stays inside ``[0, 1]`` and does not shrink to a point when all
  (or none) of the images are right.
- :func:`bootstrap_interval`: the percentile bootstrap of the mean of a boolean ``correct``
  column (resampled images), seeded.
- :func:`compare_accuracies`: two accuracies measured on *independent* test sets (e.g. the
  study's and ours): both intervals, the difference and Fisher's exact test.
- :func:`interval_table`: several methods' ``(right, n)`` as one table for a notebook.

The quantiles and Fisher's test come from SciPy (installed with scikit-learn); without it the
normal quantile falls back to :class:`statistics.NormalDist` and the comparison reports no
p-value and says why.
"""

from __future__ import annotations

import importlib
import math
import numbers
import statistics
from collections.abc import Mapping

import numpy as np
import pandas as pd

from helpers import checks

#: Significance level of :func:`compare_accuracies`' verdict.
DEFAULT_LEVEL: float = 0.05
#: Columns of :func:`interval_table`.
INTERVAL_COLUMNS: list[str] = ["right", "n", "accuracy", "low", "high"]
#: Most resampled indices held in memory at once by :func:`bootstrap_interval`.
_BOOTSTRAP_CHUNK = 4_000_000


def _scipy_stats():
    """``scipy.stats``, or ``None`` when SciPy is not installed (tests replace this)."""
    try:
        return importlib.import_module("scipy.stats")
    except ImportError:
        return None


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer (a number of images), got {value!r}: "
                         f"pass counts, e.g. int(table['correct'].sum()) and len(table)")
    return int(value)


def _check_counts(right, n, suffix: str = "") -> tuple[int, int]:
    right, n = _check_count(f"right{suffix}", right), _check_count(f"n{suffix}", n)
    if n < 1:
        raise ValueError(f"n{suffix} must be at least 1 image, got {n}")
    if not 0 <= right <= n:
        raise ValueError(f"right{suffix} must lie between 0 and n{suffix} = {n}, got {right}")
    return right, n


def _check_probability(name: str, value) -> float:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or not 0.0 < value < 1.0):
        raise ValueError(f"{name} must be a number strictly between 0 and 1 (e.g. 0.95), got {value!r}")
    return float(value)


def _normal_quantile(probability: float) -> float:
    """The standard normal quantile (``1.959963...`` for 0.975): SciPy's, else the stdlib's."""
    probability = _check_probability("probability", probability)
    stats = _scipy_stats()
    if stats is not None:
        return float(stats.norm.ppf(probability))
    return statistics.NormalDist().inv_cdf(probability)


def wilson_interval(right: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of the proportion ``right / n``.

    With ``p = right / n`` and ``z`` the normal quantile of ``(1 + confidence) / 2``::

        centre = (p + z²/(2n)) / (1 + z²/n)
        half   = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/(4n²))

    and the interval is ``(centre - half, centre + half)``; its low end is exactly 0 when
    ``right = 0`` and its high end exactly 1 when ``right = n``.

    Parameters
    ----------
    right : images right (an integer, ``0 <= right <= n``).
    n : images in all (an integer, at least 1).
    confidence : the interval's coverage, strictly between 0 and 1.

    Returns
    -------
    (low, high) : floats in ``[0, 1]`` with ``low <= right / n <= high``.

    Raises
    ------
    ValueError
        Counts that are not integers, ``n < 1``, ``right`` outside ``[0, n]``, or a confidence
        outside ``(0, 1)``; the message says what to pass.
    """
    right, n = _check_counts(right, n)
    confidence = _check_probability("confidence", confidence)
    z = _normal_quantile((1.0 + confidence) / 2.0)
    p = right / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n))
    low = 0.0 if right == 0 else max(0.0, centre - half)
    high = 1.0 if right == n else min(1.0, centre + half)
    return low, high


def _check_correct(correct) -> np.ndarray:
    values = np.asarray(correct)
    if values.ndim != 1:
        raise ValueError(f"correct must be one-dimensional (one value per image), got shape {values.shape}")
    if values.size == 0:
        raise ValueError("correct is empty: pass one boolean per test image, e.g. table['correct']")
    if values.dtype != np.bool_:
        raise ValueError(f"correct must be boolean (True: image right), got dtype {values.dtype}: pass "
                         "a predictions table's 'correct' column, or (predicted == label)")
    return values


def bootstrap_interval(
    correct,
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """The percentile bootstrap interval of the accuracy ``mean(correct)``.

    ``n_boot`` times, ``len(correct)`` images are drawn with replacement (NumPy's
    ``default_rng(seed)``, in blocks of whole resamples so memory stays bounded) and their
    accuracy computed; the interval holds the middle ``confidence`` of these accuracies
    (``np.quantile``, linear interpolation). Same input and seed, same interval.

    Parameters
    ----------
    correct : boolean array-like, one value per image (``True``: right).
    n_boot : number of resamples (an integer, at least 1).
    confidence : the interval's coverage, strictly between 0 and 1.
    seed : seed of the resampling (an integer).

    Returns
    -------
    (low, high) : floats with ``low <= mean(correct) <= high`` for any reasonable ``n_boot``.

    Raises
    ------
    ValueError
        An empty, non-boolean or multi-dimensional ``correct``, or a bad ``n_boot``,
        ``confidence`` or ``seed``.

    Notes
    -----
    With all images right (or none) every resample gives the same accuracy and the interval is
    a single point: :func:`wilson_interval` is the better summary then.
    """
    values = _check_correct(correct)
    checks.positive_int("n_boot", n_boot, " (e.g. 10_000)")
    confidence = _check_probability("confidence", confidence)
    checks.integer("seed", seed)
    rng = np.random.default_rng(int(seed))
    n = values.size
    per_block = max(1, _BOOTSTRAP_CHUNK // n)
    means = np.empty(int(n_boot))
    for start in range(0, int(n_boot), per_block):
        stop = min(start + per_block, int(n_boot))
        means[start:stop] = values[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2, 1.0 - alpha / 2])
    return float(low), float(high)


def compare_accuracies(
    right_a: int,
    n_a: int,
    right_b: int,
    n_b: int,
    *,
    confidence: float = 0.95,
    level: float = DEFAULT_LEVEL,
) -> dict:
    """Two accuracies measured on independent test sets: intervals, difference, Fisher's test.

    The rule of the verdict: the two accuracies *differ beyond chance* when the two-sided
    p-value of Fisher's exact test on the 2x2 table ``[[right_a, n_a - right_a], [right_b,
    n_b - right_b]]`` is below ``level`` (5% by default); otherwise they *do not differ beyond
    chance*, which is not the same as being equal. Overlapping intervals are shown, not used:
    they are a cruder criterion than the test.

    Parameters
    ----------
    right_a, n_a : images right and images in all of the first result (e.g. the study's 176/179).
    right_b, n_b : the same for the second result (e.g. ours).
    confidence : coverage of the two Wilson intervals.
    level : significance level of the verdict, strictly between 0 and 1.

    Returns
    -------
    dict
        ``accuracy_a``, ``interval_a`` (Wilson, a tuple), ``accuracy_b``, ``interval_b``,
        ``difference`` (``accuracy_a - accuracy_b``), ``test`` (the test's name), ``p_value``
        (NaN without SciPy), ``differ`` (bool, or ``None`` without SciPy) and ``verdict`` (one
        sentence).

    Raises
    ------
    ValueError
        Bad counts (as :func:`wilson_interval`), confidence or level.
    """
    right_a, n_a = _check_counts(right_a, n_a, "_a")
    right_b, n_b = _check_counts(right_b, n_b, "_b")
    level = _check_probability("level", level)
    acc_a, acc_b = right_a / n_a, right_b / n_b
    out = {"accuracy_a": acc_a, "interval_a": wilson_interval(right_a, n_a, confidence),
           "accuracy_b": acc_b, "interval_b": wilson_interval(right_b, n_b, confidence),
           "difference": acc_a - acc_b, "test": "Fisher's exact test, two-sided"}
    which = f"{right_a}/{n_a} ({acc_a:.1%}) and {right_b}/{n_b} ({acc_b:.1%})"
    stats = _scipy_stats()
    if stats is None:
        out |= {"p_value": math.nan, "differ": None,
                "verdict": f"{which}: no p-value, because Fisher's exact test needs SciPy, which is "
                           "not installed (pip install scipy)."}
        return out
    table = [[right_a, n_a - right_a], [right_b, n_b - right_b]]
    p_value = float(stats.fisher_exact(table, alternative="two-sided")[1])
    differ = p_value < level
    verdict = "differ beyond chance" if differ else "do not differ beyond chance"
    out |= {"p_value": p_value, "differ": differ,
            "verdict": f"{which} {verdict} at the {level * 100:g}% level "
                       f"(Fisher's exact test, two-sided p = {p_value:.3g})."}
    return out


def interval_table(results: Mapping[str, tuple[int, int]], confidence: float = 0.95) -> pd.DataFrame:
    """Accuracies with their Wilson intervals, one row per method.

    Parameters
    ----------
    results : ``{method: (right, n)}``, e.g. ``{"the study": (176, 179), "ours": (170, 179)}``.
    confidence : coverage of the intervals.

    Returns
    -------
    DataFrame
        Index ``method`` (in the mapping's order), columns :data:`INTERVAL_COLUMNS`:
        ``right``, ``n`` (ints), ``accuracy``, ``low``, ``high`` (floats, unrounded).

    Raises
    ------
    ValueError
        An empty mapping, a value that is not a ``(right, n)`` pair, or bad counts.
    """
    if not isinstance(results, Mapping) or not results:
        raise ValueError("results must be a non-empty mapping {method: (right, n)}")
    rows = {}
    for method, pair in results.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"results[{method!r}] must be a pair (right, n), got {pair!r}")
        right, n = _check_counts(*pair)
        rows[method] = (right, n, right / n, *wilson_interval(right, n, confidence))
    table = pd.DataFrame.from_dict(rows, orient="index", columns=INTERVAL_COLUMNS)
    table.index.name = "method"
    return table.astype({"right": int, "n": int})
