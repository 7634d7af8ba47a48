"""Test accuracy over several split seeds: the rows of ``benchmarks/seed_spread.py``, their summary
and their figure.

The benchmark splits the study's data once per seed (:func:`helpers.splitting.split_dataset`, the
split notebook 02 makes, with that seed), trains each method on it with the same seed and scores the
test split once. Each (method, seed) is one row of :data:`COLUMNS` (:func:`result_row`), appended to
a CSV as soon as it is done; :func:`completed` says which rows a CSV already holds (the benchmark
skips them). :func:`summarise` gives each method's mean, standard deviation, minimum and maximum over
the seeds, and :func:`spread_figure` draws every row. A notebook reads the CSV and calls the last
two; nothing here trains or reads images.
"""

from __future__ import annotations

import datetime as dt
import numbers
import os
import platform
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import checks, intervals

#: The methods of the benchmark, in the order of its tables: notebooks 04-06's recipe
#: (:data:`helpers.recipes.STUDY_RECIPE`), notebook 07's (:data:`helpers.recipes.CHOSEN_RECIPE`) and
#: the face-embedding baseline (``benchmarks/embedding_baseline.py``).
METHODS: tuple[str, ...] = ("study_recipe", "chosen_recipe", "embedding")
#: The settings a CSV is written under; one CSV holds one setting (see :func:`completed`).
SETTING_COLUMNS: tuple[str, ...] = ("epochs", "limit")
#: ``limit`` of a run on every image; ``epochs`` of a run with the recipes' own epochs.
ALL_IMAGES = "all"
RECIPE_EPOCHS = "recipe"
#: The columns of one row (:func:`result_row`), in order.
COLUMNS: tuple[str, ...] = (
    "method", "seed", "val images right", "val images", "test images right", "test images",
    "test accuracy", "wilson low", "wilson high", "minutes", "recipe", "best epoch phase 1",
    "best epoch phase 2", *SETTING_COLUMNS, "machine", "date",
)
#: The columns of :func:`summarise`.
SUMMARY_COLUMNS: tuple[str, ...] = ("seeds", "mean", "std", "min", "max", "mean test images right",
                                    "test images")


def _count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a whole number of images (>= 0), got {value!r}")
    return int(value)


def _epoch(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an epoch number (>= 1) or None, got {value!r}")
    return int(value)


def setting_values(epochs: tuple[int, int] | None, limit: int | None) -> dict[str, str]:
    """The :data:`SETTING_COLUMNS` of a run: ``epochs`` as ``"P1 P2"`` (``"recipe"`` without an
    override) and ``limit`` as a number (``"all"`` without one), both as strings."""
    return {"epochs": RECIPE_EPOCHS if epochs is None else " ".join(str(int(e)) for e in epochs),
            "limit": ALL_IMAGES if limit is None else str(int(limit))}


def machine_name() -> str:
    """The CPU model (``/proc/cpuinfo``'s ``model name``, else :func:`platform.processor`, else
    the architecture) and the cores this process may use, e.g. ``AMD EPYC 7B13 (2 cores)``."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model} ({cores} cores)"


def result_row(
    method: str,
    seed: int,
    *,
    val_right: int,
    n_val: int,
    test_right: int,
    n_test: int,
    minutes: float,
    recipe: str,
    best_epochs: tuple[int | None, int | None] = (None, None),
    epochs: tuple[int, int] | None = None,
    limit: int | None = None,
    machine: str | None = None,
    date: str | None = None,
) -> dict:
    """One row of :data:`COLUMNS`: the counts, the test accuracy and its Wilson 95% interval
    (:func:`helpers.intervals.wilson_interval`), the minutes, the recipe's label (for the embedding,
    the descriptor and the classifier chosen), the best epoch of each phase (``None`` where there is
    none), the run's settings (:func:`setting_values`), the machine (default :func:`machine_name`)
    and the date (default now, ISO 8601 to the second)."""
    if not isinstance(method, str) or not method:
        raise ValueError(f"method must be a non-empty name, e.g. {METHODS[0]!r}, got {method!r}")
    checks.integer("seed", seed)
    val_right, n_val = _count("val_right", val_right), _count("n_val", n_val)
    if val_right > n_val:
        raise ValueError(f"val_right ({val_right}) exceeds n_val ({n_val})")
    test_right, n_test = _count("test_right", test_right), _count("n_test", n_test)
    low, high = intervals.wilson_interval(test_right, n_test)  # checks n_test >= 1, right <= n
    if isinstance(minutes, bool) or not isinstance(minutes, numbers.Real) or not minutes >= 0:
        raise ValueError(f"minutes must be a number >= 0, got {minutes!r}")
    first, second = (_epoch(f"best_epochs[{i}]", e) for i, e in enumerate(best_epochs))
    return {"method": method, "seed": int(seed), "val images right": val_right, "val images": n_val,
            "test images right": test_right, "test images": n_test,
            "test accuracy": round(test_right / n_test, 4), "wilson low": round(low, 4),
            "wilson high": round(high, 4), "minutes": round(float(minutes), 2), "recipe": str(recipe),
            "best epoch phase 1": first, "best epoch phase 2": second, **setting_values(epochs, limit),
            "machine": machine if machine is not None else machine_name(),
            "date": date if date is not None else dt.datetime.now().isoformat(timespec="seconds")}


def read_rows(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The rows of a CSV written by the benchmark (empty with :data:`COLUMNS` when it does not exist).
    The setting columns are read as text, so ``"1 1"`` and ``"20"`` compare with
    :func:`setting_values`."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.read_csv(path, dtype={name: str for name in SETTING_COLUMNS})


def _check_columns(table: pd.DataFrame, needed: Iterable[str], what: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{what} needs a DataFrame of the benchmark's rows, got {type(table).__name__}")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"{what}: the table lacks column(s) {missing} (see helpers.seed_spread.COLUMNS: "
                         "the rows of benchmarks/seed_spread.py)")


def completed(table: pd.DataFrame, epochs: tuple[int, int] | None, limit: int | None) -> set[tuple[str, int]]:
    """The (method, seed) pairs ``table`` already holds, for a run with these settings.

    Raises ``ValueError`` when the table holds rows written under other settings (another
    ``--epochs`` or ``--limit``): one CSV holds one setting, so that a smoke run's rows never
    stand in for a full run's (use another ``--csv``)."""
    _check_columns(table, ("method", "seed", *SETTING_COLUMNS), "completed")
    if table.empty:
        return set()
    want = setting_values(epochs, limit)
    have = table[list(SETTING_COLUMNS)].astype(str)
    other = ~(have == pd.Series(want)).all(axis=1)
    if other.any():
        found = sorted({tuple(row) for row in have[other].itertuples(index=False)})
        raise ValueError(f"the CSV holds rows of other settings (epochs, limit) = {found}, this run is "
                         f"({want['epochs']!r}, {want['limit']!r}): write to another --csv")
    return {(str(m), int(s)) for m, s in zip(table["method"], table["seed"], strict=True)}


def _method_order(names: Iterable[str]) -> list[str]:
    names = set(names)
    return [m for m in METHODS if m in names] + sorted(names - set(METHODS))


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Each method's test accuracy over its seeds.

    Parameters
    ----------
    table : the benchmark's rows (:func:`read_rows`); columns ``method``, ``seed``,
        ``test accuracy``, ``test images right`` and ``test images`` are read. One row per
        (method, seed).

    Returns
    -------
    DataFrame
        Index ``method`` (:data:`METHODS` order, then any other name sorted); columns
        :data:`SUMMARY_COLUMNS`: ``seeds`` (rows), ``mean``, ``std`` (the sample standard
        deviation, ``ddof=1``: NaN with a single seed), ``min``, ``max`` of the test accuracy,
        the mean test images right and the test images of one seed (their mean when they differ,
        which they do not with the study's split: 179 for every seed).

    Raises
    ------
    ValueError
        Not a DataFrame, a missing column, no rows, a (method, seed) twice (it would count twice),
        or a test accuracy outside ``[0, 1]`` or missing.
    """
    needed = ("method", "seed", "test accuracy", "test images right", "test images")
    _check_columns(table, needed, "summarise")
    if table.empty:
        raise ValueError("summarise: the table has no rows (run benchmarks/seed_spread.py first)")
    twice = table.duplicated(["method", "seed"], keep=False)
    if twice.any():
        pairs = sorted({(str(m), int(s)) for m, s in table.loc[twice, ["method", "seed"]].itertuples(index=False)})
        raise ValueError(f"summarise: (method, seed) {pairs} appear more than once: keep one row each")
    accuracy = pd.to_numeric(table["test accuracy"], errors="coerce")
    if accuracy.isna().any() or not accuracy.between(0.0, 1.0).all():
        raise ValueError("summarise: every 'test accuracy' must be a number in [0, 1]")
    frame = table.assign(**{"test accuracy": accuracy})
    grouped = frame.groupby("method", sort=False)
    out = pd.DataFrame({
        "seeds": grouped["seed"].size(),
        "mean": grouped["test accuracy"].mean(),
        "std": grouped["test accuracy"].std(ddof=1),
        "min": grouped["test accuracy"].min(),
        "max": grouped["test accuracy"].max(),
        "mean test images right": grouped["test images right"].mean(),
        "test images": grouped["test images"].mean(),
    })
    out = out.loc[_method_order(out.index)]
    out.index.name = "method"
    return out[list(SUMMARY_COLUMNS)]


def spread_figure(table: pd.DataFrame, title: str | None = None):
    """Test accuracy per seed (x, in the table's order of first appearance) and method (one
    colour each, shifted sideways a little so equal values stay visible), with each row's Wilson
    95% interval as a bar when the table has ``wilson low`` and ``wilson high``, and each method's
    mean over the seeds as a dashed line. Returns the Matplotlib figure."""
    from helpers.plots import plt  # noqa: PLC0415 - Matplotlib only for the figure

    _check_columns(table, ("method", "seed", "test accuracy"), "spread_figure")
    if table.empty:
        raise ValueError("spread_figure: the table has no rows: nothing to plot")
    seeds = list(dict.fromkeys(int(s) for s in table["seed"]))
    methods = _method_order(table["method"].astype(str))
    x_of = {seed: k for k, seed in enumerate(seeds)}
    width = 0.5 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(seeds) + 3), 4.2))
    has_ci = {"wilson low", "wilson high"} <= set(table.columns)
    for k, method in enumerate(methods):
        rows = table[table["method"].astype(str) == method]
        x = np.array([x_of[int(s)] for s in rows["seed"]]) + (k - (len(methods) - 1) / 2) * width
        y = rows["test accuracy"].to_numpy(float)
        colour = f"C{k}"
        if has_ci:
            err = np.vstack([y - rows["wilson low"].to_numpy(float), rows["wilson high"].to_numpy(float) - y])
            ax.errorbar(x, y, yerr=err, fmt="o", color=colour, capsize=3, label=method.replace("_", " "))
        else:
            ax.plot(x, y, "o", color=colour, label=method.replace("_", " "))
        ax.axhline(float(y.mean()), color=colour, linestyle="--", linewidth=1, alpha=0.7)
    ax.set_xticks(range(len(seeds)), [str(s) for s in seeds])
    ax.set_xlabel("split seed (the same seed trains)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title or "Test accuracy per split seed (bars: Wilson 95%; dashed: mean over seeds)",
                 fontsize=11)
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig
