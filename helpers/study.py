"""The published study (source: ``../shared/study/README.md``): its results as data, what
its printed numbers imply, and our results beside them.

Kept apart from :mod:`helpers.config` (the constants this project *uses*) because these
are figures to *compare with*. The study's printed accuracy is not the accuracy of its
test images: its ``evaluate_generator(steps=32)`` cycled through a 6-batch iterator.
:func:`cycled_images` and :func:`study_evaluation_quirk` derive this from the published
numbers only; nothing is copied from our own results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources

import numpy as np
import pandas as pd

from helpers import checks
from helpers.evaluation import AVERAGE_ROWS, REPORT_COLUMNS, accuracy

#: The test accuracy the study printed (942/959 from a cycling test iterator; see notebook 06).
STUDY_TEST_ACCURACY: float = 0.982
#: Test images in the study's report (sum of its supports).
STUDY_TEST_IMAGES: int = 179
#: The study's ``evaluate_generator`` call: batch size and steps (see :func:`study_evaluation_quirk`).
STUDY_EVAL_BATCH_SIZE: int = 32
STUDY_EVAL_STEPS: int = 32


def study_report() -> pd.DataFrame:
    """The study's published test report: one row per identity, columns ``identity``,
    ``precision``, ``recall``, ``f1-score`` (rounded to 2 decimals as published), ``support``."""
    with resources.files("helpers.resources").joinpath("study_results.csv").open() as fh:
        return pd.read_csv(fh, comment="#")


# --- What the printed numbers imply, and ours beside them ------------------------------------


def compare_with_study(report: pd.DataFrame, accuracy_value: float, n_test: int) -> pd.DataFrame:
    """Our test report next to the study's published one.

    Parameters
    ----------
    report : :func:`helpers.evaluation.classification_report_frame` of our test split; its
        identities must be the study's five (VGGFace2 ids 51–55). With other data (LFW)
        there is nothing to compare and a ``ValueError`` says so.
    accuracy_value : our test accuracy, in [0, 1] (:func:`helpers.evaluation.accuracy`).
    n_test : our test images; must equal the sum of the report's supports.

    Returns
    -------
    DataFrame
        Rows: the study's identities in its order, then ``accuracy``. Columns: a MultiIndex
        ``(metric, source)`` with metric in ``precision``, ``recall``, ``f1-score``,
        ``support`` and source in ``study``, ``ours``. As in scikit-learn's printed report,
        the ``accuracy`` row holds the accuracy under ``f1-score`` and the number of test
        images under ``support`` (precision and recall are NaN there). The study's figures
        are its published 2-decimal ones (3 for accuracy); ours are unrounded.
    """
    checks.require_columns(report, sorted(REPORT_COLUMNS), "report", " (see classification_report_frame)")
    checks.fraction("accuracy_value", accuracy_value)
    checks.positive_int("n_test", n_test)
    theirs = study_report().set_index("identity")
    ours = report.drop(index=[*AVERAGE_ROWS, "micro avg", "accuracy"], errors="ignore")
    if set(ours.index) != set(theirs.index):
        raise ValueError(
            f"the report's identities {sorted(map(str, ours.index))} are not the study's "
            f"{sorted(theirs.index)}: a comparison needs the study's VGGFace2 identities"
        )
    if int(ours["support"].sum()) != int(n_test):
        raise ValueError(f"n_test={n_test} but the report's supports add up to {int(ours['support'].sum())}")
    ours = ours.loc[theirs.index]
    order = list(theirs.index) + ["accuracy"]
    columns = pd.MultiIndex.from_product([list(REPORT_COLUMNS), ["study", "ours"]],
                                         names=["metric", "source"])
    out = pd.DataFrame(index=pd.Index(order, name="identity"), columns=columns, dtype=float)
    for metric in REPORT_COLUMNS:
        out.loc[theirs.index, (metric, "study")] = theirs[metric].to_numpy(dtype=float)
        out.loc[theirs.index, (metric, "ours")] = ours[metric].to_numpy(dtype=float)
    out.loc["accuracy", ("f1-score", "study")] = STUDY_TEST_ACCURACY
    out.loc["accuracy", ("f1-score", "ours")] = float(accuracy_value)
    out.loc["accuracy", ("support", "study")] = STUDY_TEST_IMAGES
    out.loc["accuracy", ("support", "ours")] = int(n_test)
    for source in ("study", "ours"):
        out[("support", source)] = out[("support", source)].astype(int)
    return out


def cycled_images(n_images: int, batch_size: int, steps: int) -> int:
    """Images seen by ``steps`` batches drawn from an iterator that cycles over the data.

    Keras 2's ``evaluate_generator(generator, steps)`` draws exactly ``steps`` batches; a
    ``DirectoryIterator`` of ``n_images`` yields ``ceil(n_images / batch_size)`` batches per
    pass (all full but the last) and then starts again. So ``steps`` batches are
    ``steps // k`` whole passes (``n_images`` each) plus the first ``steps % k`` batches
    of another pass.

    Examples
    --------
    >>> cycled_images(179, 32, 32)  # 5 passes of 6 batches (895) + 2 batches of 32
    959
    >>> cycled_images(64, 32, 2)
    64
    """
    for arg, value in (("n_images", n_images), ("batch_size", batch_size), ("steps", steps)):
        checks.positive_int(arg, value)
    per_pass = math.ceil(n_images / batch_size)
    sizes = [batch_size] * (per_pass - 1) + [n_images - batch_size * (per_pass - 1)]
    passes, extra = divmod(steps, per_pass)
    return passes * n_images + sum(sizes[:extra])


def consistent_counts(printed_accuracy: float, n_images: int, decimals: int = 3) -> list[int]:
    """Every number of correct images out of ``n_images`` that prints as ``printed_accuracy``.

    A count ``c`` qualifies when ``round(c / n_images, decimals) == round(printed_accuracy,
    decimals)``. An empty list means no count of that many images gives the printed figure.
    """
    checks.positive_int("n_images", n_images)
    if not 0.0 <= printed_accuracy <= 1.0:
        raise ValueError(f"printed_accuracy must lie in [0, 1], got {printed_accuracy!r}")
    target = round(printed_accuracy, decimals)
    return [c for c in range(n_images + 1) if round(c / n_images, decimals) == target]


def study_implied_correct() -> pd.DataFrame:
    """Correct test images per identity implied by the study's report.

    ``correct = round(recall × support)``, checked to reproduce the published 2-decimal
    recall. Columns ``identity``, ``support``, ``recall``, ``correct``.
    """
    report = study_report()
    out = report[["identity", "support", "recall"]].copy()
    out["correct"] = (out["recall"] * out["support"]).round().astype(int)
    if not np.allclose((out["correct"] / out["support"]).round(2), out["recall"]):
        raise ValueError("the study's recall and support do not imply whole numbers of correct images")
    return out


def headline_table(study_recipe_accuracy: float, tables: Mapping[str, pd.DataFrame], n_test: int) -> pd.DataFrame:
    """The results side by side: the study (its report's implied count and its printed
    accuracy), the study's recipe on our backbone (notebook 06's accuracy) and each of
    ``tables`` (name -> :func:`helpers.evaluation.predictions_table` of the test split).

    Columns ``test accuracy`` and ``test images right`` (of ``n_test``).
    """
    checks.fraction("accuracy", study_recipe_accuracy)
    implied = int(study_implied_correct()["correct"].sum())
    rows = {f"the study (printed {STUDY_TEST_ACCURACY}; its report implies)":
            (implied / STUDY_TEST_IMAGES, implied),
            "the study's recipe, offline backbone (notebook 06)":
            (study_recipe_accuracy, int(round(study_recipe_accuracy * n_test)))}
    for name, table in tables.items():
        if len(table) != n_test:
            raise ValueError(f"{name!r} has {len(table)} predictions, expected {n_test} (the test split)")
        rows[name] = (accuracy(table), int(table["correct"].sum()))
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["test accuracy", "test images right"])
    out["test accuracy"] = out["test accuracy"].round(3)
    return out


def study_evaluation_quirk() -> pd.DataFrame:
    """Why the study printed 0.982 while its report implies 176 of 179 correct (0.983).

    Derived from the published numbers only:

    - the report's recall × support gives the correct images per identity; they add up
      to 176 of :data:`helpers.STUDY_TEST_IMAGES` = 179 (0.98324, printed 0.983),
      and no count out of 179 prints as 0.982 (:func:`consistent_counts` is empty);
    - the printed 0.982 (:data:`helpers.STUDY_TEST_ACCURACY`) came from
      ``evaluate_generator(test_set, steps=32)`` with batch 32: the 179-image iterator has
      6 batches (5 of 32, 1 of 19), so 32 steps cycle through it and count
      :func:`cycled_images` ``(179, 32, 32)`` = 959 images. The only count out of 959 that
      prints as 0.982 is 942 (942/959 = 0.98227), and 942 = 5 × 176 + 62: five whole
      passes at 176 each plus 62 of the 64 images of the two extra batches.

    Returns
    -------
    DataFrame
        Index ``source``, rows ``report (recall × support)`` and
        ``evaluate_generator, 32 steps``; columns ``images``, ``correct`` (the count implied;
        ``<NA>`` if none or several fit), ``accuracy`` (correct / images, unrounded),
        ``printed`` (the accuracy to 3 decimals) and ``matches_published`` (bool: ``printed``
        equals the study's 0.982).
    """
    implied = study_implied_correct()
    n_report, correct_report = int(implied["support"].sum()), int(implied["correct"].sum())
    n_cycled = cycled_images(n_report, STUDY_EVAL_BATCH_SIZE, STUDY_EVAL_STEPS)
    fits = consistent_counts(STUDY_TEST_ACCURACY, n_cycled)
    rows = {
        "report (recall × support)": (n_report, correct_report),
        f"evaluate_generator, {STUDY_EVAL_STEPS} steps": (n_cycled, fits[0] if len(fits) == 1 else None),
    }
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["images", "correct"])
    out.index.name = "source"
    out["correct"] = out["correct"].astype("Int64")
    out["accuracy"] = (out["correct"] / out["images"]).astype(float)
    out["printed"] = out["accuracy"].round(3)
    out["matches_published"] = out["printed"] == STUDY_TEST_ACCURACY
    return out

