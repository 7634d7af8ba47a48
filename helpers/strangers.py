"""Strangers: what a classifier of five people does with faces of people it never saw.

A closed-set classifier gives every face one of its names. The rule here adds an answer:
*none of these* (:data:`NONE_OF_THESE`) when the top probability is not above a threshold.

- :func:`stranger_manifest`: people outside the five (by default the LFW people of
  scikit-learn's data home), at most ``per_person`` images each, the *people* split into a
  ``"tune"`` half (chooses the threshold, with the validation split of the five) and an
  ``"eval"`` half (only reported). Both choices are seeded hashes, not file order.
- :func:`top_scores` and :func:`classifier_proba`: the score of each image, the top class
  probability, from a network's softmax output or a scikit-learn classifier.
- :func:`named_rates`: how often strangers get a name with probability above 0.5, 0.9, 0.99.
- :func:`choose_threshold` (:func:`threshold_candidates` shows every candidate) and
  :func:`rejection_report`: the threshold and what it costs on the five.
- :func:`apply_rejection` and :func:`answers_table`: labels and names, or *none of these*.

The rule, stated once: an image is *named* (accepted) when its score is strictly above the
threshold ``t`` and answered *none of these* when it is at or below ``t``; ``t = 0`` never
rejects a top probability, ``t = 1`` rejects every image. Scores are compared as float64.

Only NumPy, pandas and :mod:`helpers.data` are imported: no TensorFlow.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import checks, config, data
from helpers.data import lfw_folder

#: The label :func:`apply_rejection` gives to a rejected image, and a stranger's ``label``.
NONE_OF_THESE: int = -1
#: The name :func:`answers_table` gives to a rejected image.
NONE_NAME: str = "none of these"
#: The two halves of the strangers' people, in the order :func:`stranger_manifest` fills them.
GROUPS: tuple[str, str] = ("tune", "eval")
#: Columns of :func:`stranger_manifest`: a loader's manifest and the group.
STRANGER_COLUMNS: list[str] = [*data.MANIFEST_COLUMNS, "group"]
#: The probabilities of the issue: a stranger named with probability above these.
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.5, 0.9, 0.99)
#: Columns of :func:`named_rates` (indexed by ``threshold``).
RATE_COLUMNS: list[str] = ["strangers", "named", "share named"]
#: Columns of :func:`threshold_candidates`.
CANDIDATE_COLUMNS: list[str] = ["threshold", "known accepted", "known accepted right", "strangers rejected",
                                "known share accepted right", "strangers share rejected", "objective"]
#: Keys of :func:`rejection_report`, in order.
REPORT_KEYS: tuple[str, ...] = (
    "threshold", "known images", "known right", "accuracy", "known accepted", "share accepted",
    "accepted right", "accuracy with rejection", "cost", "accuracy on accepted",
    "strangers", "strangers rejected", "share rejected",
)
#: Probabilities may overshoot 1 by float rounding (a float32 softmax) by up to this.
_TOLERANCE = 1e-6
_LFW_HINT = ("set SCIKIT_LEARN_DATA to the folder that holds lfw_home/ (scikit-learn's layout: "
             "lfw_home/lfw_funneled/<Person_Name>/*.jpg), or pass root= a folder of identity subfolders")


# --- The strangers ---------------------------------------------------------------------------


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def _name_key(name: str) -> str:
    return "".join(str(name).replace("_", " ").casefold().split())


def stranger_manifest(
    root: str | Path | None = None,
    *,
    per_person: int | None = 10,
    seed: int = config.SEED,
    exclude: Sequence[str] = (),
) -> pd.DataFrame:
    """Strangers: at most ``per_person`` images of each person, the people split in two groups.

    Parameters
    ----------
    root : a folder of identity subfolders, ``root/<person>/*.jpg`` (read by
        :func:`helpers.data.load_folder`, which decodes every file and lists the ones it
        skips). ``None``: LFW's people, :func:`helpers.data.lfw_folder` (``SCIKIT_LEARN_DATA``).
    per_person : the most images kept of one person (an integer >= 1); ``None`` keeps all.
    seed : an integer. Each person's images are ranked by ``sha256(f"{seed}:{file sha256}")``
        (ties, i.e. identical bytes, by ``relpath``) and the first ``per_person`` kept; the
        people are ranked by ``sha256(f"{seed}:person:{identity}")``, the first half (rounded
        down) is ``"tune"``, the rest ``"eval"``. Neither depends on the order files are listed.

    Returns
    -------
    DataFrame
        Columns :data:`STRANGER_COLUMNS`, ordered by ``(identity, relpath)``: a loader's
        manifest with ``label`` set to :data:`NONE_OF_THESE` (no stranger is one of the five:
        the right answer is *none of these*), and ``group`` in :data:`GROUPS`. A person's
        images are all in one group. Use the ``"tune"`` rows to choose the threshold and the
        ``"eval"`` rows only to report it.

    Raises
    ------
    helpers.data.DataNotFoundError
        The folder does not exist or holds no usable image; the message says what to set.
    ValueError
        Fewer than two people, or a bad ``per_person`` or ``seed``.

    Notes
    -----
    exclude : names of people who are not strangers (the classifier's own identities), left
        out; compared without case, spaces or underscores (``"George W Bush"`` is
        ``George_W_Bush``). With the study's VGGFace2 identities no LFW name matches; when the
        course runs on LFW's own top five, they must be excluded here.
    """
    if per_person is not None:
        checks.integer("per_person", per_person, minimum=1, note=" >= 1 (images kept per person) or None for all")
    checks.integer("seed", seed)
    folder = lfw_folder() if root is None else Path(root).expanduser()
    if not folder.is_dir():
        if root is None:
            raise data.DataNotFoundError(f"LFW's strangers not found (no folder {folder}): {_LFW_HINT}")
        raise data.DataNotFoundError(f"strangers folder not found: {folder}; pass a folder of identity "
                                     "subfolders (<root>/<person>/*.jpg), or root=None for LFW")
    try:
        manifest = data.load_folder(folder).manifest
    except data.DataNotFoundError as err:
        hint = _LFW_HINT if root is None else "pass a folder of identity subfolders (<root>/<person>/*.jpg)"
        raise data.DataNotFoundError(f"{folder} holds no people (no <person>/*.jpg with a usable image): "
                                     f"{hint}") from err
    known = {_name_key(name) for name in exclude}
    manifest = manifest[[_name_key(person) not in known for person in manifest["identity"]]]
    people = sorted(manifest["identity"].unique())
    if len(people) < 2:
        raise ValueError(f"{folder} holds {len(people)} person with usable images; strangers need at least "
                         "two people (one for the 'tune' group, one for 'eval')")
    seed = int(seed)
    ranked = manifest.assign(_rank=[_rank(seed, sha) for sha in manifest["sha256"]])
    ranked = ranked.sort_values(["identity", "_rank", "relpath"], kind="stable")
    if per_person is not None:
        ranked = ranked.groupby("identity", sort=False).head(int(per_person))
    order = sorted(people, key=lambda person: _rank(seed, f"person:{person}"))
    tune = set(order[: len(order) // 2])
    out = ranked.drop(columns="_rank").sort_values(["identity", "relpath"], kind="stable").reset_index(drop=True)
    out["label"] = NONE_OF_THESE
    out["group"] = [GROUPS[0] if person in tune else GROUPS[1] for person in out["identity"]]
    return out[STRANGER_COLUMNS]


# --- Scores ---------------------------------------------------------------------------------------


def _check_proba(proba: Any, name: str = "proba") -> np.ndarray:
    values = np.asarray(proba)
    if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number):
        raise ValueError(f"{name} must hold numbers (class probabilities), got dtype {values.dtype}")
    if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] < 2:
        raise ValueError(f"{name} must be 2-D (images, classes) with at least one image and two classes, got "
                         f"shape {values.shape}: pass helpers.evaluation.predict_proba's output or "
                         "classifier_proba(classifier, X)")
    values = values.astype(np.float64)
    if not np.isfinite(values).all() or values.min() < 0.0 or values.max() > 1.0 + _TOLERANCE:
        raise ValueError(f"{name} must hold probabilities in [0, 1] (were logits passed? apply a softmax)")
    sums = values.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-3):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"each row of {name} must sum to 1 (one probability per class), row {worst} sums to "
                         f"{sums[worst]:.4g}: pass softmax outputs or a classifier's predict_proba")
    return np.clip(values, 0.0, 1.0)


def _check_scores(scores: Any, name: str) -> np.ndarray:
    values = np.asarray(scores)
    if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number):
        raise ValueError(f"{name} must hold numbers (top probabilities), got dtype {values.dtype}")
    if values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one score per image), got shape {values.shape}: "
                         "pass top_scores(proba)")
    if values.size == 0:
        raise ValueError(f"{name} is empty: pass one score per image, top_scores(proba)")
    values = values.astype(np.float64)
    if not np.isfinite(values).all() or values.min() < 0.0 or values.max() > 1.0 + _TOLERANCE:
        raise ValueError(f"{name} must be probabilities in [0, 1], finite: pass top_scores(proba) of softmax "
                         "outputs or of classifier_proba, not logits or distances")
    return np.clip(values, 0.0, 1.0)


def _check_correct(correct: Any, n: int) -> np.ndarray:
    values = np.asarray(correct)
    if values.dtype != np.bool_:
        raise ValueError(f"known_correct must be boolean (True: the top class is the true label), got dtype "
                         f"{values.dtype}: pass a predictions table's 'correct' column, or (predicted == label)")
    if values.ndim != 1 or values.size != n:
        raise ValueError(f"known_correct must hold one boolean per known score ({n}), got shape {values.shape}")
    return values


def _check_threshold(value: Any, name: str = "threshold", *, ends: bool = True) -> float:
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
          and (0.0 <= value <= 1.0 if ends else 0.0 < value < 1.0))
    if not ok:
        where = ("between 0 and 1 (0: never reject, 1: reject every image), e.g. choose_threshold(...)" if ends
                 else "strictly between 0 and 1, e.g. 0.9")
        raise ValueError(f"{name} must be a number {where}, got {value!r}")
    return float(value)


def top_scores(proba: np.ndarray) -> np.ndarray:
    """Each image's score: its highest class probability.

    Parameters
    ----------
    proba : ``(images, classes)`` probabilities, each row summing to 1: the network's softmax
        output (:func:`helpers.evaluation.predict_proba`) or :func:`classifier_proba`.

    Returns
    -------
    ndarray
        float64 ``(images,)`` in ``[1 / classes, 1]``.

    Raises
    ------
    ValueError
        Not 2-D, empty, fewer than two classes, values outside ``[0, 1]`` or rows that do not
        sum to 1 (logits or distances were passed).
    """
    return _check_proba(proba).max(axis=1)


def classifier_proba(classifier: Any, X: np.ndarray) -> np.ndarray:
    """Class probabilities of a fitted scikit-learn classifier, column ``k`` for label ``k``.

    Every candidate of :func:`helpers.embeddings.default_candidates` has ``predict_proba``
    with scikit-learn >= 1.6: logistic regression (softmax of its linear scores), the linear
    SVC (calibrated by a sigmoid) and the nearest centroid (a softmax of minus the squared
    distances to the centroids, scaled by the within-class spread). These probabilities, like
    a softmax, depend on how much nearer one class is than the others, not on how near it is:
    a face far from all five can still get a top probability near 1. Older scikit-learn has no
    ``predict_proba`` for the nearest centroid; there is no fallback, since any other score
    would not be a probability comparable with the others: the error says what to do.

    Parameters
    ----------
    classifier : fitted, with ``predict_proba`` and ``classes_`` equal to ``0..k-1`` (as
        :func:`helpers.embeddings.fit_classifier` on a split's labels gives).
    X : ``(images, features)`` finite features, e.g. descriptors of
        :func:`helpers.embeddings.descriptors_table` (leave out rows whose status is
        ``"failed"``: they are NaN).

    Returns
    -------
    ndarray
        float64 ``(images, k)``, checked as :func:`top_scores` checks its input.

    Raises
    ------
    ValueError
        No ``predict_proba``, classes that are not ``0..k-1``, or bad ``X``.
    """
    if not hasattr(classifier, "predict_proba"):
        raise ValueError(f"{type(classifier).__name__} has no predict_proba, so it gives no probability to "
                         "threshold: NearestCentroid has one from scikit-learn 1.6 on (pip install "
                         "'scikit-learn>=1.6'); or choose a candidate that has one (logistic regression, the "
                         "calibrated linear SVC of helpers.embeddings.default_candidates)")
    classes = np.asarray(getattr(classifier, "classes_", []))
    if classes.size < 2 or not np.issubdtype(classes.dtype, np.integer) \
            or not np.array_equal(classes, np.arange(classes.size)):
        raise ValueError(f"the classifier's classes_ must be the labels 0..k-1 (k >= 2) so that column k is "
                         f"label k, got {classes.tolist()}: fit it on a split's labels "
                         "(helpers.embeddings.fit_classifier)")
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array (images, features), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or not np.isfinite(X).all():
        raise ValueError("X holds NaN, infinite or non-numeric values: leave out the rows whose descriptors "
                         "status is 'failed' (images that could not be read)")
    return _check_proba(classifier.predict_proba(X), "the classifier's predict_proba")


# --- How often strangers get a name -------------------------------------------------------------


def named_rates(scores: np.ndarray, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """How many strangers are given a name with probability above each threshold.

    Parameters
    ----------
    scores : each stranger's top probability (:func:`top_scores`), 1-D, in ``[0, 1]``.
    thresholds : probabilities strictly between 0 and 1, no repeats; "above" is strict.

    Returns
    -------
    DataFrame
        Index ``threshold`` (in the given order); columns :data:`RATE_COLUMNS`:
        ``strangers`` (int, all of them), ``named`` (int, score ``> threshold``) and
        ``share named`` (float).

    Raises
    ------
    ValueError
        Bad scores (see :func:`top_scores`), no threshold, a repeated one, or one outside
        ``(0, 1)``.
    """
    values = _check_scores(scores, "scores")
    if isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, (Sequence, np.ndarray)) \
            or len(thresholds) == 0:
        raise ValueError(f"thresholds must be a non-empty sequence of probabilities, e.g. (0.5, 0.9, 0.99), got "
                         f"{thresholds!r}")
    checked = [_check_threshold(t, "each threshold", ends=False) for t in thresholds]
    if len(set(checked)) != len(checked):
        raise ValueError(f"thresholds has repeats: {list(thresholds)}")
    named = [int((values > t).sum()) for t in checked]
    table = pd.DataFrame({"strangers": values.size, "named": named,
                          "share named": [k / values.size for k in named]},
                         index=pd.Index(checked, name="threshold"))
    return table[RATE_COLUMNS]


# --- The threshold ------------------------------------------------------------------------------


def _candidates(known_scores: Any, known_correct: Any, stranger_scores: Any) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`threshold_candidates`' table and each row's objective times ``2 n_known n_strangers``
    (an exact integer: equal objectives tie exactly, whatever the float rounding)."""
    known = _check_scores(known_scores, "known_scores")
    correct = _check_correct(known_correct, known.size)
    strangers = _check_scores(stranger_scores, "stranger_scores")
    values = np.unique(np.concatenate([known, strangers]))
    candidates = np.unique(np.concatenate([[0.0], (values[:-1] + values[1:]) / 2, [1.0]]))
    right_sorted = np.sort(known[correct])
    accepted = known.size - np.searchsorted(np.sort(known), candidates, side="right")
    accepted_right = right_sorted.size - np.searchsorted(right_sorted, candidates, side="right")
    rejected = np.searchsorted(np.sort(strangers), candidates, side="right")
    n_known, n_strangers = known.size, strangers.size
    numerator = accepted_right.astype(np.int64) * n_strangers + rejected.astype(np.int64) * n_known
    table = pd.DataFrame({
        "threshold": candidates,
        "known accepted": accepted.astype(int),
        "known accepted right": accepted_right.astype(int),
        "strangers rejected": rejected.astype(int),
        "known share accepted right": accepted_right / n_known,
        "strangers share rejected": rejected / n_strangers,
        "objective": numerator / (2 * n_known * n_strangers),
    })
    return table[CANDIDATE_COLUMNS], numerator


def threshold_candidates(known_scores: np.ndarray, known_correct: np.ndarray,
                         stranger_scores: np.ndarray) -> pd.DataFrame:
    """Every threshold worth trying, with what it keeps and what it rejects.

    Candidates: 0, the midpoints between consecutive distinct scores (known and strangers
    pooled) and 1, ascending. Every threshold between two consecutive scores accepts and
    rejects the same images, so their midpoint stands for all of them.
    For each, ``objective`` is the mean of the known images' share *accepted and right* and
    the strangers' share *rejected* (see :func:`choose_threshold`).

    Parameters
    ----------
    known_scores : top probabilities of images of the five (the validation split), 1-D.
    known_correct : booleans, one per known score: the top class is the true label.
    stranger_scores : top probabilities of strangers (the ``"tune"`` group), 1-D.

    Returns
    -------
    DataFrame
        One row per candidate, columns :data:`CANDIDATE_COLUMNS`; counts are ints.

    Raises
    ------
    ValueError
        Empty or non-1-D scores, scores outside ``[0, 1]``, or ``known_correct`` that is not
        boolean or not as long as ``known_scores``.
    """
    return _candidates(known_scores, known_correct, stranger_scores)[0]


def choose_threshold(known_scores: np.ndarray, known_correct: np.ndarray, stranger_scores: np.ndarray) -> float:
    """The threshold of the rejection rule, chosen on known images and held-apart strangers.

    The rule: among :func:`threshold_candidates`, the one with the highest mean of

    (a) the share of known images accepted *and* right (rejecting a right answer costs, rejecting
        a wrong one neither costs nor gains: this is the accuracy on the five counting every
        rejection as wrong), and
    (b) the share of strangers rejected;

    equal means go to the lower threshold (the smallest cost on the five). The mean weighs the
    two populations equally whatever their sizes: it is the balanced accuracy of the six
    answers (five names and *none of these*). Pure NumPy and deterministic.

    Parameters
    ----------
    known_scores, known_correct, stranger_scores : as :func:`threshold_candidates`: the
        validation split of the five and the ``"tune"`` strangers, never the test split or the
        ``"eval"`` strangers.

    Returns
    -------
    float
        ``t`` in ``[0, 1]``: answer *none of these* when the top probability is ``<= t``.

    Raises
    ------
    ValueError
        As :func:`threshold_candidates`.
    """
    table, numerator = _candidates(known_scores, known_correct, stranger_scores)
    best = int(np.argmax(numerator))  # the first maximum: the lowest threshold
    return float(table["threshold"].iloc[best])


def rejection_report(known_scores: np.ndarray, known_correct: np.ndarray, stranger_scores: np.ndarray,
                     threshold: float) -> dict[str, float | int]:
    """What a threshold does: its cost on the five and the strangers it rejects.

    Parameters
    ----------
    known_scores, known_correct : top probabilities of images of the five and whether their top
        class is right (e.g. the test split).
    stranger_scores : top probabilities of strangers (e.g. the ``"eval"`` group).
    threshold : ``t`` in ``[0, 1]``; an image is accepted when its score is ``> t``.

    Returns
    -------
    dict
        Keys :data:`REPORT_KEYS`: ``known images``, ``known right`` and ``accuracy`` (without
        rejection); ``known accepted`` and ``share accepted``; ``accepted right`` and
        ``accuracy with rejection`` (rejected images counted as wrong); ``cost`` (``accuracy``
        minus that); ``accuracy on accepted`` (NaN when nothing is accepted); ``strangers``,
        ``strangers rejected`` and ``share rejected``. Counts are ints, shares floats;
        ``pd.DataFrame([report_a, report_b])`` puts models side by side.

    Raises
    ------
    ValueError
        Bad scores (see :func:`threshold_candidates`) or a threshold outside ``[0, 1]``.
    """
    known = _check_scores(known_scores, "known_scores")
    correct = _check_correct(known_correct, known.size)
    strangers = _check_scores(stranger_scores, "stranger_scores")
    t = _check_threshold(threshold)
    accepted = known > t
    n_accepted, n_right = int(accepted.sum()), int(correct.sum())
    accepted_right = int((accepted & correct).sum())
    rejected = int((strangers <= t).sum())
    accuracy = n_right / known.size
    with_rejection = accepted_right / known.size
    report = {
        "threshold": t, "known images": int(known.size), "known right": n_right, "accuracy": accuracy,
        "known accepted": n_accepted, "share accepted": n_accepted / known.size,
        "accepted right": accepted_right, "accuracy with rejection": with_rejection,
        "cost": accuracy - with_rejection,
        "accuracy on accepted": accepted_right / n_accepted if n_accepted else math.nan,
        "strangers": int(strangers.size), "strangers rejected": rejected,
        "share rejected": rejected / strangers.size,
    }
    return {key: report[key] for key in REPORT_KEYS}


# --- Answers ----------------------------------------------------------------------------------------


def apply_rejection(proba: np.ndarray, threshold: float) -> np.ndarray:
    """Predicted labels, :data:`NONE_OF_THESE` where the top probability is ``<= threshold``.

    Parameters
    ----------
    proba : ``(images, classes)`` probabilities (see :func:`top_scores`), column ``k`` label ``k``.
    threshold : ``t`` in ``[0, 1]`` (0 never rejects, 1 rejects every image).

    Returns
    -------
    ndarray
        int64 ``(images,)``: the ``argmax`` label (ties to the lower label, as NumPy) or
        :data:`NONE_OF_THESE`.
    """
    values = _check_proba(proba)
    t = _check_threshold(threshold)
    labels = values.argmax(axis=1).astype(np.int64)
    labels[values.max(axis=1) <= t] = NONE_OF_THESE
    return labels


def answers_table(manifest: pd.DataFrame, proba: np.ndarray, class_names: Sequence[str],
                  threshold: float) -> pd.DataFrame:
    """What a model called each image, and the answer after rejection.

    Parameters
    ----------
    manifest : one row per image, in ``proba``'s order (e.g. :func:`stranger_manifest`'s rows).
    proba : ``(len(manifest), len(class_names))`` probabilities.
    class_names : the five names in label order.
    threshold : see :func:`apply_rejection`.

    Returns
    -------
    DataFrame
        The manifest's index; ``relpath``, ``path`` and ``name`` (those present), ``called``
        (the top class's name), ``score`` (its probability) and ``answer`` (``called``, or
        :data:`NONE_NAME` when rejected).

    Raises
    ------
    ValueError
        Sizes that disagree, duplicate or missing class names, bad ``proba`` or ``threshold``.
    """
    values = _check_proba(proba)
    names = [str(name) for name in class_names]
    if len(names) != values.shape[1] or len(set(names)) != len(names):
        raise ValueError(f"class_names must be {values.shape[1]} distinct names (one per column of proba), got "
                         f"{names}")
    if len(manifest) != values.shape[0]:
        raise ValueError(f"proba has {values.shape[0]} rows but the manifest {len(manifest)}: pass the "
                         "probabilities of these images, in the manifest's order")
    labels = apply_rejection(values, threshold)
    out = manifest[[c for c in ("relpath", "path", "name") if c in manifest.columns]].copy()
    called = np.array(names, dtype=object)[values.argmax(axis=1)]
    out["called"] = called
    out["score"] = values.max(axis=1)
    out["answer"] = np.where(labels == NONE_OF_THESE, NONE_NAME, called)
    return out
