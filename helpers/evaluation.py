"""Evaluation on the test split: predictions, scikit-learn's metrics, the metrics file.

Policy (stated once, used by notebook 06 and the tests):

- pure functions, data in and data out: a model and a manifest give class probabilities
  (:func:`predict_proba`); probabilities and the manifest give one *predictions table*
  (:func:`predictions_table`); every metric and figure is computed from that table;
- a prediction is the class with the highest probability (``argmax``; ties go to the
  lower label, as NumPy breaks them); its probability is the *confidence*;
- every metric comes from :mod:`sklearn.metrics` (``accuracy_score``,
  ``classification_report``, ``confusion_matrix``), always over *all* the classes
  (``labels=range(n_classes)``) so a class that is never predicted still gets its row,
  and with ``zero_division=0``;
- tables keep our figures unrounded (round them for display); the metrics file rounds
  them to :data:`METRICS_DECIMALS` decimals (:func:`write_metrics`).

The study's published report beside ours is :mod:`helpers.study`. TensorFlow and Keras are
imported lazily, only inside :func:`predict_proba`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import checks, files, pipeline
from helpers.config import BATCH_SIZE

#: Rows of :func:`classification_report_frame` after the identities.
AVERAGE_ROWS: tuple[str, str] = ("macro avg", "weighted avg")
#: Columns of :func:`classification_report_frame` (scikit-learn's names).
REPORT_COLUMNS: tuple[str, ...] = ("precision", "recall", "f1-score", "support")
#: Fixed columns of :func:`predictions_table`; one probability column per class follows.
PREDICTION_COLUMNS: tuple[str, ...] = (
    "relpath", "path", "name", "label", "predicted", "predicted_name", "confidence", "correct",
)
#: Decimals of the floats in the metrics file.
METRICS_DECIMALS: int = 4


# --- Predictions ------------------------------------------------------------------------


def predict_proba(
    model,
    manifest: pd.DataFrame,
    image_size: int,
    preprocess: Callable | None,
    batch_size: int = BATCH_SIZE,
    flip: bool = False,
) -> np.ndarray:
    """Class probabilities of every image of ``manifest``, in the manifest's order.

    Parameters
    ----------
    model : a Keras model whose output is ``(batch, n_classes)`` probabilities (softmax).
    manifest : DataFrame with a ``path`` column (one row per image).
    image_size : the model's input height and width in pixels.
    preprocess : the backbone's preprocessing (see :mod:`helpers.backbones`), or ``None``
        when the model takes ``[0, 255]`` pixels itself.
    batch_size : images per forward pass (does not change the result).
    flip : test-time flip averaging: the mean of the probabilities of each image and of its
        left-right mirror (a mirrored face is the same person). ``False``: the image alone.

    Returns
    -------
    ndarray
        float32, shape ``(len(manifest), n_classes)``; row ``i`` belongs to the manifest's
        ``i``-th row. Images are read by :func:`helpers.pipeline.make_dataset` without
        shuffling.
    """
    if "path" not in manifest.columns:
        raise ValueError("manifest needs a 'path' column")
    if len(manifest) == 0:
        raise ValueError("manifest is empty: nothing to predict")
    ds = pipeline.make_dataset(manifest, image_size, batch_size, shuffle=False,
                               preprocess=preprocess, with_labels=False)
    proba = np.asarray(model.predict(ds, verbose=0), dtype=np.float32)
    if flip:
        mirrored = pipeline.make_dataset(manifest, image_size, batch_size, shuffle=False,
                                         preprocess=_mirrored(preprocess), with_labels=False)
        proba = (proba + np.asarray(model.predict(mirrored, verbose=0), dtype=np.float32)) / 2
    if proba.ndim != 2 or proba.shape[0] != len(manifest):
        raise ValueError(f"the model returned shape {proba.shape}, expected ({len(manifest)}, n_classes)")
    return proba


def _mirrored(preprocess: Callable | None) -> Callable:
    """``preprocess`` applied to left-right mirrored batches ``(batch, height, width, 3)``."""
    def mirror_then_preprocess(images):
        images = images[:, :, ::-1, :]
        return preprocess(images) if preprocess is not None else images

    return mirror_then_preprocess


def _check_class_names(class_names: Sequence[str]) -> list[str]:
    names = [str(name) for name in class_names]
    if not names:
        raise ValueError("class_names is empty")
    if len(set(names)) != len(names):
        raise ValueError(f"class_names has duplicates: {names}")
    return names


def predictions_table(
    manifest: pd.DataFrame, proba: np.ndarray, class_names: Sequence[str]
) -> pd.DataFrame:
    """One row per image: the true identity, the prediction and its probabilities.

    Parameters
    ----------
    manifest : DataFrame with ``label`` (0..n_classes-1) and usually ``relpath``, ``path``
        and ``name``; when ``name`` is present it must agree with ``class_names[label]``
        (this catches a class order that differs from training).
    proba : shape ``(len(manifest), n_classes)``, probabilities in ``[0, 1]``
        (:func:`predict_proba`).
    class_names : the identity of each label, in label order.

    Returns
    -------
    DataFrame
        Same index as ``manifest``. Columns: ``relpath`` and ``path`` (those present in the
        manifest), ``name`` (true identity), ``label``, ``predicted`` (int label),
        ``predicted_name``, ``confidence`` (the highest probability), ``correct`` (bool),
        then one float column per class, named by the class, holding its probability.
    """
    names = _check_class_names(class_names)
    clash = sorted(set(names) & set(PREDICTION_COLUMNS))
    if clash:
        raise ValueError(f"class names {clash} clash with the table's own columns")
    if "label" not in manifest.columns:
        raise ValueError("manifest needs a 'label' column")
    if len(manifest) == 0:
        raise ValueError("manifest is empty: nothing to tabulate")
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2:
        raise ValueError(f"proba must be 2-D (images, classes), got shape {proba.shape}")
    if proba.shape[0] != len(manifest):
        raise ValueError(f"proba has {proba.shape[0]} rows but the manifest has {len(manifest)} images")
    if proba.shape[1] != len(names):
        raise ValueError(f"proba has {proba.shape[1]} columns but there are {len(names)} class names")
    if not np.all(np.isfinite(proba)) or proba.min(initial=0.0) < 0.0 or proba.max(initial=0.0) > 1.0 + 1e-6:
        raise ValueError("proba must hold probabilities in [0, 1] (were logits passed?)")
    labels = manifest["label"].to_numpy()
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= len(names):
        raise ValueError(f"manifest labels must be integers in 0..{len(names) - 1}, got {sorted(set(labels))}")
    true_names = np.array(names, dtype=object)[labels.astype(int)]
    if "name" in manifest.columns:
        wrong = manifest["name"].to_numpy() != true_names
        if wrong.any():
            first = manifest[wrong].iloc[0]
            raise ValueError(
                f"class_names disagree with the manifest: label {first['label']} is "
                f"{first['name']!r} there but {names[int(first['label'])]!r} in class_names"
            )

    predicted = proba.argmax(axis=1)
    out = manifest[[c for c in ("relpath", "path") if c in manifest.columns]].copy()
    out["name"] = true_names
    out["label"] = labels.astype(int)
    out["predicted"] = predicted.astype(int)
    out["predicted_name"] = np.array(names, dtype=object)[predicted]
    out["confidence"] = proba.max(axis=1)
    out["correct"] = out["label"] == out["predicted"]
    for k, name in enumerate(names):
        out[name] = proba[:, k]
    return out


def _check_table(table: pd.DataFrame, n_classes: int | None = None) -> None:
    checks.require_columns(table, ["label", "predicted"], "predictions table", " (see predictions_table)")
    if len(table) == 0:
        raise ValueError("predictions table is empty")
    if n_classes is not None:
        values = np.concatenate([table["label"].to_numpy(), table["predicted"].to_numpy()])
        if values.min() < 0 or values.max() >= n_classes:
            raise ValueError(f"labels and predictions must lie in 0..{n_classes - 1} "
                             f"(one per class name), got {sorted(set(values.tolist()))}")


# --- Metrics (scikit-learn) ----------------------------------------------------------------


def accuracy(table: pd.DataFrame) -> float:
    """Fraction of correctly classified images, ``sklearn.metrics.accuracy_score``."""
    from sklearn.metrics import accuracy_score  # noqa: PLC0415 - scikit-learn is slow to import

    _check_table(table)
    return float(accuracy_score(table["label"], table["predicted"]))


def log_loss(table: pd.DataFrame) -> float:
    """Mean cross-entropy of the true identities' probabilities, ``sklearn.metrics.log_loss``
    over all the classes (the table's probability columns, in label order). Each row is
    divided by its sum first: float32 softmax outputs sum to 1 only to about 1e-7, which
    scikit-learn warns about."""
    from sklearn.metrics import log_loss as sk_log_loss  # noqa: PLC0415 - scikit-learn is slow to import

    _check_table(table)
    columns = list(table.columns[table.columns.get_loc("correct") + 1:])
    if not columns:
        raise ValueError("predictions table has no probability columns (see predictions_table)")
    proba = table[columns].to_numpy(dtype=np.float64)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return float(sk_log_loss(table["label"], proba, labels=range(len(columns))))


def classification_report_frame(
    table: pd.DataFrame, class_names: Sequence[str], digits: int | None = None
) -> pd.DataFrame:
    """scikit-learn's ``classification_report`` as a DataFrame.

    Parameters
    ----------
    table : :func:`predictions_table` (``label`` and ``predicted`` are used).
    class_names : identity of each label, in label order.
    digits : round the three scores to this many decimals (``None``: unrounded).

    Returns
    -------
    DataFrame
        Rows: each identity in label order, then ``macro avg`` and ``weighted avg``.
        Columns: ``precision``, ``recall``, ``f1-score`` (floats in [0, 1]) and
        ``support`` (int, true images of the identity; the total for the averages).
        The accuracy is not a row: see :func:`accuracy`.
    """
    from sklearn.metrics import classification_report  # noqa: PLC0415

    names = _check_class_names(class_names)
    _check_table(table, len(names))
    report = classification_report(
        table["label"], table["predicted"], labels=list(range(len(names))), target_names=names,
        output_dict=True, zero_division=0,
    )
    rows = names + list(AVERAGE_ROWS)  # "accuracy" (a bare float) is left out
    frame = pd.DataFrame.from_dict({row: report[row] for row in rows}, orient="index")
    frame = frame[list(REPORT_COLUMNS)]
    frame["support"] = frame["support"].round().astype(int)
    if digits is not None:
        frame[list(REPORT_COLUMNS[:3])] = frame[list(REPORT_COLUMNS[:3])].round(digits)
    return frame


def confusion_frame(table: pd.DataFrame, class_names: Sequence[str]) -> pd.DataFrame:
    """scikit-learn's confusion matrix: counts of images, rows ``true``, columns ``predicted``.

    Shape ``(n_classes, n_classes)``; both axes are ``class_names`` in label order (index
    named ``true``, columns named ``predicted``); the diagonal holds the correct images and
    the total is the number of images.
    """
    from sklearn.metrics import confusion_matrix  # noqa: PLC0415

    names = _check_class_names(class_names)
    _check_table(table, len(names))
    matrix = confusion_matrix(table["label"], table["predicted"], labels=list(range(len(names))))
    return pd.DataFrame(matrix, index=pd.Index(names, name="true"),
                        columns=pd.Index(names, name="predicted"))


def misclassified(table: pd.DataFrame) -> pd.DataFrame:
    """The wrongly classified rows of a predictions table, most confident first.

    Columns ``relpath`` and ``path`` (those present), ``name``, ``predicted_name``,
    ``confidence``; the table's index is kept. Ties in confidence keep the table's order.
    """
    checks.require_columns(table, sorted({"correct", "name", "predicted_name", "confidence"}),
                           "predictions table", " (see predictions_table)")
    columns = [c for c in ("relpath", "path") if c in table.columns] + ["name", "predicted_name", "confidence"]
    wrong = table.loc[~table["correct"].astype(bool), columns]
    return wrong.sort_values("confidence", ascending=False, kind="stable")


# --- The metrics file ----------------------------------------------------------------------


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _report_rows(report: pd.DataFrame) -> dict[str, dict]:
    """A classification report as ``{row: {precision, recall, f1-score, support}}``, rounded."""
    checks.require_columns(report, sorted(REPORT_COLUMNS), "report", " (see classification_report_frame)")
    rows = {}
    for row, values in report.iterrows():
        entry = {m: round(float(values[m]), METRICS_DECIMALS) for m in REPORT_COLUMNS[:3]}
        entry["support"] = int(values["support"])
        rows[str(row)] = entry
    return rows


def write_metrics(
    path: str | Path,
    *,
    accuracy: float,
    report: pd.DataFrame,
    backbone: str,
    split_sizes: Mapping[str, int],
    extra: Mapping | None = None,
) -> Path:
    """Write the test metrics as JSON (indent 2, sorted keys) and return the path.

    Keys: ``test_accuracy`` (float), ``n_test`` (int, the report's total support),
    ``backbone``, ``split_sizes`` (``{split: images}``), ``report`` (``{row: {precision,
    recall, f1-score, support}}`` for each identity, ``macro avg`` and ``weighted avg``),
    plus the keys of ``extra`` (which must not clash). Floats are rounded to
    :data:`METRICS_DECIMALS` decimals, so small run-to-run noise does not show in diffs.
    The file is written to a temporary file in the same folder and moved into place
    (``os.replace``): a reader never sees half a file. Parent folders are created.
    """
    rows = _report_rows(report)
    checks.fraction("accuracy", accuracy)
    if not isinstance(backbone, str) or not backbone:
        raise ValueError(f"backbone must be a non-empty string, got {backbone!r}")
    for split, size in split_sizes.items():
        checks.non_negative_int(f"split_sizes[{split!r}]", size)
    identities = report.drop(index=list(AVERAGE_ROWS), errors="ignore")
    payload = {
        "test_accuracy": round(float(accuracy), METRICS_DECIMALS),
        "n_test": int(identities["support"].sum()),
        "backbone": backbone,
        "split_sizes": {str(k): int(v) for k, v in split_sizes.items()},
        "report": rows,
    }
    clash = sorted(set(extra or {}) & set(payload))
    if clash:
        raise ValueError(f"extra keys {clash} clash with the metrics' own keys")
    payload.update(extra or {})
    text = json.dumps(payload, indent=2, sort_keys=True, default=_json_default) + "\n"
    return files.write_text_atomically(path, text)


def read_metrics(path: str | Path) -> dict:
    """Read a file written by :func:`write_metrics`; ``ValueError`` if it is not one.

    ``pd.DataFrame.from_dict(metrics["report"], orient="index")`` gives the report back.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        metrics = json.load(fh)
    if not isinstance(metrics, dict) or not {"test_accuracy", "n_test", "report"} <= set(metrics):
        raise ValueError(f"{path} is not a metrics file (needs test_accuracy, n_test and report)")
    return metrics


def add_chosen_recipe(
    path: str | Path,
    *,
    accuracy: float,
    report: pd.DataFrame,
    recipe: Mapping,
    extra: Mapping | None = None,
) -> Path:
    """Put a chosen recipe's test results at the top of a metrics file written by notebook 06.

    The file's own ``test_accuracy`` and ``report`` (the study's recipe) move under
    ``study_recipe``, with its recipe keys (``phase1_optimizer``, ``phase2_optimizer``,
    ``epochs``, ``model``); ``test_accuracy`` and ``report`` become the chosen recipe's, and
    ``chosen_recipe`` holds ``recipe`` (its settings) plus ``extra``. Run again, it keeps the
    ``study_recipe`` already there, so the study's numbers are never replaced by the chosen
    recipe's. Written atomically, floats rounded as in :func:`write_metrics`.
    """
    rows = _report_rows(report)
    checks.fraction("accuracy", accuracy)
    path = Path(path)
    metrics = read_metrics(path)
    fresh = {k: v for k, v in metrics.items() if k not in ("study_recipe", "chosen_recipe")}
    study_keys = ("test_accuracy", "report", "phase1_optimizer", "phase2_optimizer", "epochs", "model")
    study_recipe = metrics.get("study_recipe") or {k: fresh[k] for k in study_keys if k in fresh}
    payload = {k: v for k, v in fresh.items() if k not in study_keys}
    payload.update({"test_accuracy": round(float(accuracy), METRICS_DECIMALS), "report": rows,
                    "study_recipe": study_recipe, "chosen_recipe": {**dict(recipe), **dict(extra or {})}})
    text = json.dumps(payload, indent=2, sort_keys=True, default=_json_default) + "\n"
    return files.write_text_atomically(path, text)


def _rounded(value):
    if isinstance(value, Mapping):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if isinstance(value, (float, np.floating)):  # NaN (e.g. the std of one seed) is not JSON: null
        return None if math.isnan(value) else round(float(value), METRICS_DECIMALS)
    return value


def add_metrics(path: str | Path, entries: Mapping) -> Path:
    """Add (or replace) top-level keys of a metrics file written by notebook 06, e.g. notebook
    08's ``embedding_test_accuracy`` and ``seed_spread``. The keys that notebooks 06 and 07 own
    (``test_accuracy``, ``n_test``, ``report``, ``study_recipe``, ``chosen_recipe``, ...) cannot
    be replaced here. Floats are rounded as in :func:`write_metrics`, NaN becomes ``null``;
    written atomically."""
    path = Path(path)
    metrics = read_metrics(path)
    owned = {"test_accuracy", "n_test", "report", "backbone", "split_sizes", "study_recipe", "chosen_recipe",
             "data", "seed"}
    clash = sorted(set(entries) & owned)
    if clash:
        raise ValueError(f"keys {clash} belong to notebooks 06-07's metrics; give other names")
    if not entries:
        raise ValueError("entries is empty: give at least one key to add")
    metrics.update(_rounded(dict(entries)))
    text = json.dumps(metrics, indent=2, sort_keys=True, default=_json_default) + "\n"
    return files.write_text_atomically(path, text)
