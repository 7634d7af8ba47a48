"""What a pretrained backbone sees before transfer learning: its own ImageNet classifier's top guesses.

The 1000 class names are ImageNet-1k's, in the index order of every ImageNet classifier here
(``helpers/resources/imagenet_classes.txt``: torchvision's list, BSD-3-Clause; Keras downloads its own
at run time, which cannot work offline).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy as np
import pandas as pd

from helpers import checks

CLASSES_FILE = "imagenet_classes.txt"
N_CLASSES = 1000


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k class names, index 0 ("tench") to 999 ("toilet tissue")."""
    with resources.files("helpers.resources").joinpath(CLASSES_FILE).open(encoding="utf-8") as fh:
        names = [line.rstrip("\n") for line in fh if line.strip()]
    if len(names) != N_CLASSES:
        raise RuntimeError(f"{CLASSES_FILE} holds {len(names)} names, not {N_CLASSES}: the file is damaged")
    return names


def top_k(logits, k: int = 3, classes: Sequence[str] | None = None) -> pd.DataFrame:
    """The ``k`` most probable classes of each row of ``logits`` (``(n, n_classes)``, before softmax).

    Returns one row per image and rank: ``image`` (row of ``logits``), ``rank`` (1 = most probable),
    ``class`` (its name in ``classes``, default :func:`imagenet_classes`) and ``probability``
    (softmax over all classes).
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(f"logits must be a non-empty (n_images, n_classes) array, got shape {logits.shape}")
    classes = list(classes) if classes is not None else imagenet_classes()
    if len(classes) != logits.shape[1]:
        raise ValueError(f"logits have {logits.shape[1]} classes but {len(classes)} names were given")
    k = checks.positive_int("k", k)
    if k > len(classes):
        raise ValueError(f"k must be at most the number of classes ({len(classes)}), got {k}")
    shifted = logits - logits.max(axis=1, keepdims=True)  # a stable softmax
    proba = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    rows = [{"image": i, "rank": r + 1, "class": classes[c], "probability": float(proba[i, c])}
            for i in range(len(proba)) for r, c in enumerate(order[i])]
    return pd.DataFrame(rows, columns=["image", "rank", "class", "probability"])


def guesses(table: pd.DataFrame) -> pd.Series:
    """:func:`top_k`'s table as one line per image: ``"suit 0.41, Windsor tie 0.12, ..."``."""
    missing = {"image", "rank", "class", "probability"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {sorted(missing)}: pass the output of top_k")
    ordered = table.sort_values(["image", "rank"])
    return ordered.groupby("image").apply(
        lambda rows: ", ".join(f"{c} {p:.2f}" for c, p in zip(rows["class"], rows["probability"], strict=True)),
        include_groups=False)
