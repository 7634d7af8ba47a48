"""Does a run reproduce the committed reference run? The checks nbval compares.

A trained number printed as it is cannot be compared across machines: another CPU sums
floats in another order, training drifts a little, and a value next to a rounding edge
prints differently. So the notebooks show trained numbers in cells nbval does not
compare, and beside them a compared cell prints *verdicts*: each check below, its
tolerance in words, and ``True``/``False``. The table is the same whenever the run is
within tolerance, whatever the machine; a regression flips a ``True`` and nbval fails.

The reference run writes its *record* next to its figures (the committed ``figures/``):
the training histories and the test predictions (:func:`write_histories`,
:func:`write_predictions`). A run is compared with the record in
:func:`config.reference_dir <helpers.config.reference_dir>`.

The tolerances were measured, not guessed: the reference pipeline was run on one machine
under different floating-point paths (TensorFlow's oneDNN kernels switched on and off, one
core instead of two) and compared with a reference made on another machine; each tolerance
is about twice the largest difference seen (the constants' comments give them).
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import checks, config, files

#: Metrics of a training history that the history check compares, epoch by epoch.
HISTORY_METRICS: tuple[str, ...] = ("loss", "accuracy", "val_loss", "val_accuracy")
#: Largest absolute difference allowed, at any epoch, between a run's history and the
#: reference's, per metric (accuracies are fractions, losses cross-entropies). Measured on
#: the study's data with Lite0 (oneDNN on against off; one core against two): at most 0.0112
#: (2 of 179 validation images) in accuracies and 0.0105 in losses, over both phases.
HISTORY_TOLERANCE: float = 0.025
#: Test predictions that may differ from the reference's. Measured: 2 of 179 (oneDNN on
#: against off, and this machine against the earlier reference machine).
MAX_CHANGED_PREDICTIONS: int = 4
#: Correct test images: at most this many more or fewer than the reference's (measured: 1) ...
MAX_CORRECT_DIFFERENCE: int = 2
#: ... and, for every identity, at most this many more or fewer (measured: 1).
MAX_IDENTITY_DIFFERENCE: int = 2
#: Columns of a predictions record (:func:`write_predictions`).
PREDICTION_RECORD_COLUMNS: tuple[str, ...] = ("relpath", "name", "label", "predicted", "confidence")
#: Decimals kept in the record files: enough to see drift, not float noise in diffs.
RECORD_DECIMALS: int = 6


# --- The record: histories and predictions ---------------------------------------------


def write_histories(path: str | Path, histories: Mapping[str, pd.DataFrame]) -> Path:
    """Write training histories as one CSV with a ``run`` column, atomically.

    Parameters
    ----------
    path : the CSV file to write (parent folders are created).
    histories : ``{run name: history}``, each a DataFrame with ``phase_epoch`` and
        :data:`HISTORY_METRICS` (e.g. ``TrainResult.history``). Timings are left out.
    """
    if not histories:
        raise ValueError("histories is empty: give at least one {run name: history}")
    frames = []
    for run, history in histories.items():
        _check_history(history, f"history {run!r}")
        frame = history[["phase_epoch", *HISTORY_METRICS]].copy()
        frame.insert(0, "run", str(run))
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True).round(RECORD_DECIMALS)
    return files.write_text_atomically(path, table.to_csv(index=False))


def read_histories(path: str | Path) -> dict[str, pd.DataFrame]:
    """Read a file written by :func:`write_histories`: ``{run name: history}``."""
    table = pd.read_csv(path)
    missing = sorted({"run", "phase_epoch", *HISTORY_METRICS} - set(table.columns))
    if missing:
        raise ValueError(f"{path} is not a histories record (missing columns {missing})")
    return {run: part.drop(columns="run").reset_index(drop=True) for run, part in table.groupby("run", sort=False)}


def write_predictions(path: str | Path, table: pd.DataFrame) -> Path:
    """Write the test predictions (:func:`helpers.evaluation.predictions_table`) as a CSV
    with :data:`PREDICTION_RECORD_COLUMNS`, atomically."""
    _check_predictions(table, "table")
    record = table[list(PREDICTION_RECORD_COLUMNS)].round({"confidence": RECORD_DECIMALS})
    return files.write_text_atomically(path, record.to_csv(index=False))


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read a file written by :func:`write_predictions`."""
    table = pd.read_csv(path)
    _check_predictions(table, str(path))
    return table


# --- The checks ------------------------------------------------------------------------


def _check_history(history: pd.DataFrame, what: str) -> None:
    checks.require_columns(history, ("phase_epoch", *HISTORY_METRICS), what, " (a TrainResult.history has them)")


def _check_predictions(table: pd.DataFrame, what: str) -> None:
    checks.require_columns(table, PREDICTION_RECORD_COLUMNS, what, " (see evaluation.predictions_table)")
    if table["relpath"].duplicated().any():
        raise ValueError(f"{what} has duplicate relpath values: one row per test image is expected")


def _verdicts(rows: Sequence[tuple[str, str, bool]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["check", "policy", "passed"]).set_index("check")
    frame["passed"] = frame["passed"].astype(bool)
    return frame


def history_differences(history: pd.DataFrame, reference: pd.DataFrame) -> pd.Series:
    """Largest absolute difference, over the epochs, of each of :data:`HISTORY_METRICS`
    (``NaN`` when the two histories do not have the same epochs)."""
    _check_history(history, "history")
    _check_history(reference, "reference")
    if list(history["phase_epoch"]) != list(reference["phase_epoch"]):
        return pd.Series(np.nan, index=list(HISTORY_METRICS), name="max_abs_difference")
    diff = (history[list(HISTORY_METRICS)].to_numpy(float) - reference[list(HISTORY_METRICS)].to_numpy(float))
    return pd.Series(np.abs(diff).max(axis=0), index=list(HISTORY_METRICS), name="max_abs_difference")


def check_histories(
    histories: Mapping[str, pd.DataFrame],
    reference: Mapping[str, pd.DataFrame] | None,
    tolerance: float = HISTORY_TOLERANCE,
) -> pd.DataFrame:
    """One verdict per run: same epochs as the reference, and every metric of
    :data:`HISTORY_METRICS` within ``tolerance`` of the reference at every epoch.

    Parameters
    ----------
    histories : ``{run name: history}`` of this run.
    reference : the reference run's (:func:`read_histories`), or ``None`` when there is
        no reference for this setup (then the first row says so and is ``False``).
    tolerance : largest absolute difference allowed (:data:`HISTORY_TOLERANCE`).

    Returns
    -------
    DataFrame
        Index ``check``; columns ``policy`` (words) and ``passed`` (bool). The measured
        differences are left out, so the table is identical whenever the checks pass;
        :func:`history_differences` gives them.
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or not tolerance > 0:
        raise ValueError(f"tolerance must be a positive number, got {tolerance!r}")
    if not histories:
        raise ValueError("histories is empty: give at least one {run name: history}")
    rows = [("a reference exists for this setup", "the reference run recorded these runs",
             reference is not None and set(histories) <= set(reference))]
    if rows[0][2]:
        for run, history in histories.items():
            diff = history_differences(history, reference[run])
            rows.append((f"history '{run}'", f"every epoch within {tolerance:g} of the reference",
                         bool(diff.notna().all() and (diff <= tolerance).all())))
    return _verdicts(rows)


def prediction_differences(table: pd.DataFrame, reference: pd.DataFrame) -> dict[str, int]:
    """How far a run's test predictions are from the reference's, in images.

    Returns ``changed`` (images predicted differently), ``correct`` and
    ``reference_correct`` (correct images), and ``identity`` (the largest difference, over
    the identities, between the correct images of the two). Both tables must cover the
    same test images (by ``relpath``) with the same labels.
    """
    _check_predictions(table, "table")
    _check_predictions(reference, "reference")
    if set(table["relpath"]) != set(reference["relpath"]):
        raise ValueError("the run and the reference did not score the same test images")
    ref = reference.set_index("relpath").loc[table["relpath"]]
    if not np.array_equal(ref["label"].to_numpy(), table["label"].to_numpy()):
        raise ValueError("the run and the reference disagree on the true labels of the test images")
    ours = table["predicted"].to_numpy() == table["label"].to_numpy()
    theirs = ref["predicted"].to_numpy() == ref["label"].to_numpy()
    labels = table["label"].to_numpy()
    per_identity = [abs(int(ours[labels == k].sum()) - int(theirs[labels == k].sum())) for k in np.unique(labels)]
    return {
        "changed": int((table["predicted"].to_numpy() != ref["predicted"].to_numpy()).sum()),
        "correct": int(ours.sum()),
        "reference_correct": int(theirs.sum()),
        "identity": max(per_identity),
    }


def check_predictions(
    table: pd.DataFrame,
    reference: pd.DataFrame | None,
    max_changed: int = MAX_CHANGED_PREDICTIONS,
    max_correct_difference: int = MAX_CORRECT_DIFFERENCE,
    max_identity_difference: int = MAX_IDENTITY_DIFFERENCE,
) -> pd.DataFrame:
    """Verdicts on a run's test predictions against the reference's, in images.

    The tolerances are counts of test images, the unit in which a test result can move:
    at most ``max_changed`` images predicted differently, the number of correct images
    within ``max_correct_difference`` of the reference's, and for every identity the
    number of correct images within ``max_identity_difference`` (so a recall moves by at
    most that many images of its support).

    Parameters
    ----------
    table : this run's :func:`helpers.evaluation.predictions_table`.
    reference : the reference's (:func:`read_predictions`), or ``None`` when there is none
        for this setup; a reference over other test images counts as none.

    Returns
    -------
    DataFrame
        Index ``check``; columns ``policy`` (words) and ``passed`` (bool), without the
        measured counts (:func:`prediction_differences` gives them).
    """
    for name, value in (("max_changed", max_changed), ("max_correct_difference", max_correct_difference),
                        ("max_identity_difference", max_identity_difference)):
        checks.non_negative_int(name, value)
    _check_predictions(table, "table")
    comparable = reference is not None and set(reference["relpath"]) == set(table["relpath"])
    rows = [("a reference exists for this setup", "the reference scored the same test images", comparable)]
    if comparable:
        diff = prediction_differences(table, reference)
        n = len(table)
        rows += [
            ("test predictions", f"at most {max_changed} of {n} differ from the reference's",
             diff["changed"] <= max_changed),
            ("correct test images", f"within {max_correct_difference} of the reference's",
             abs(diff["correct"] - diff["reference_correct"]) <= max_correct_difference),
            ("correct images per identity", f"within {max_identity_difference} of the reference's, "
             "for every identity", diff["identity"] <= max_identity_difference),
        ]
    return _verdicts(rows)


# --- In the notebooks: record this run, check it against the reference ------------------


def reference_matches(backbone: str, class_names: Sequence[str], reference_dir: str | Path | None = None) -> bool:
    """Whether the reference run (its ``metrics.json``) used this backbone and these
    identities; only then are its records comparable with this run's."""
    path = Path(reference_dir or config.reference_dir()) / config.METRICS_FILE
    if not path.is_file():
        return False
    metrics = json.loads(path.read_text(encoding="utf-8"))
    identities = sorted(k for k in metrics.get("report", {}) if k not in ("macro avg", "weighted avg"))
    return metrics.get("backbone") == backbone and identities == sorted(map(str, class_names))


def _reference_file(name: str, backbone: str, class_names: Sequence[str], reference_dir) -> Path | None:
    folder = Path(reference_dir or config.reference_dir())
    if not reference_matches(backbone, class_names, folder) or not (folder / name).is_file():
        return None
    return folder / name


def record_and_check_histories(
    filename: str,
    histories: Mapping[str, pd.DataFrame],
    backbone: str,
    class_names: Sequence[str],
    figures_dir: str | Path | None = None,
    reference_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Write this run's histories to ``<figures_dir>/<filename>`` and check them, as
    written, against the reference's file of the same name (:func:`check_histories`).
    Folders default to :func:`config.figures_dir` and :func:`config.reference_dir`."""
    written = write_histories(Path(figures_dir or config.figures_dir()) / filename, histories)
    reference = _reference_file(filename, backbone, class_names, reference_dir)
    return check_histories(read_histories(written), read_histories(reference) if reference else None)


def record_and_check_predictions(
    table: pd.DataFrame,
    backbone: str,
    class_names: Sequence[str],
    figures_dir: str | Path | None = None,
    reference_dir: str | Path | None = None,
    filename: str = config.RECORD_TEST_PREDICTIONS,
) -> pd.DataFrame:
    """Write this run's test predictions (:func:`write_predictions`) next to its figures as
    ``filename`` and check them against the reference's file of that name
    (:func:`check_predictions`)."""
    written = write_predictions(Path(figures_dir or config.figures_dir()) / filename, table)
    reference = _reference_file(filename, backbone, class_names, reference_dir)
    return check_predictions(read_predictions(written), read_predictions(reference) if reference else None)
