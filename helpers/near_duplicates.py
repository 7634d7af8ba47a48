"""Near-identical photos across splits, found by the distance between their face descriptors.

:mod:`helpers.splitting` keeps byte-identical files on one side of the split; a photo saved
twice at another size, crop or compression has other bytes but nearly the same face
descriptor (:func:`helpers.embeddings.descriptors_table`, dlib's 128-D descriptor, compared by
Euclidean distance). A test image with such a twin in training is partly a training image.

- :func:`nearest_distances`: for each row of one split (``a``, default the test split), the
  distance to its nearest row of another (``b``, default training): the histogram to choose a
  threshold from.
- :func:`cross_split_pairs`: the ``a`` rows whose nearest ``b`` row is closer than the
  threshold, with both paths and labels.
- :func:`groups`: connected components of the "closer than the threshold" graph over all
  images, to give :func:`helpers.splitting.split_dataset` (``groups=``) so that a photo and its
  near-copies land on one side.
- :func:`accuracy_without`: a test accuracy with and without the flagged test rows.

Choosing the threshold: dlib documents 0.6 as its same-person threshold (two photos of one
person are usually closer than that), so near-duplicates -- the same photo, not merely the same
person -- sit far below it. Where exactly to draw the line is a choice, not a fact: look at the
histogram of :func:`nearest_distances` and at the images of the closest pairs on both sides of
the value you pick before trusting it.

Distances are computed in blocks of rows (float64), so memory grows with the number of images,
not with its square. :func:`groups` uses SciPy's ``connected_components`` (installed with
scikit-learn), else a small union-find.
"""

from __future__ import annotations

import importlib
import math
import numbers
from collections.abc import Iterable

import numpy as np
import pandas as pd

#: Columns of :func:`cross_split_pairs`.
PAIR_COLUMNS: list[str] = ["index_a", "index_b", "distance", "relpath_a", "relpath_b",
                           "label_a", "label_b", "same_label"]
#: Rows of one block of the distance computations.
BLOCK_ROWS: int = 512
#: Squared distances within this slack of the threshold are recomputed exactly (the
#: ``|x|² + |y|² - 2x·y`` shortcut loses a little precision).
_SLACK = 1e-6


def _scipy_csgraph():
    """``scipy.sparse.csgraph`` and ``scipy.sparse``, or ``None`` without SciPy (tests replace it)."""
    try:
        return importlib.import_module("scipy.sparse.csgraph"), importlib.import_module("scipy.sparse")
    except ImportError:
        return None


# --- Checks -----------------------------------------------------------------------------------


def _check_descriptors(descriptors) -> np.ndarray:
    X = np.asarray(descriptors)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"descriptors must be a non-empty 2-D array (images, features), got shape "
                         f"{X.shape}: pass the X of helpers.embeddings.descriptors_table")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"descriptors must be real numbers, got dtype {X.dtype}")
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
        raise ValueError(f"descriptors hold NaN or infinite values in {len(bad)} row(s) (e.g. row "
                         f"{bad[0]}): leave out the images whose descriptors status is 'failed' "
                         "(helpers.embeddings.FAILED), from the descriptors and the split alike")
    return X


def _check_threshold(threshold) -> float:
    if (isinstance(threshold, bool) or not isinstance(threshold, numbers.Real)
            or math.isnan(threshold) or threshold < 0):
        raise ValueError(f"threshold must be a distance >= 0 (e.g. 0.3; dlib's same-person value is "
                         f"0.6; inf keeps every pair), got {threshold!r}")
    return float(threshold)


def _check_split(X: np.ndarray, split: pd.DataFrame, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the ``a`` rows and of the ``b`` rows of ``split``."""
    if not isinstance(split, pd.DataFrame):
        raise ValueError(f"split must be a DataFrame with a 'split' column, got {type(split).__name__}")
    missing = sorted({"split", "relpath", "label"} - set(split.columns))
    if missing:
        raise ValueError(f"split lacks column(s) {missing}: pass helpers.splitting.split_dataset's table")
    if len(split) != len(X):
        raise ValueError(f"descriptors has {len(X)} rows but split {len(split)}: row i of the descriptors "
                         "must be row i of the split (compute them from the same table)")
    if split["split"].isna().any():
        raise ValueError(f"{int(split['split'].isna().sum())} row(s) of split have no split value: "
                         "assign every image (helpers.splitting.split_dataset) or leave those rows out")
    if a == b:
        raise ValueError(f"a and b must be different splits, got {a!r} twice: for near-copies within "
                         "one split use groups()")
    values = split["split"].to_numpy()
    positions = []
    for name in (a, b):
        where = np.flatnonzero(values == name)
        if where.size == 0:
            raise ValueError(f"split has no {name!r} rows (its splits: {sorted(map(str, set(values)))})")
        positions.append(where)
    return positions[0], positions[1]


# --- Distances --------------------------------------------------------------------------------


def _squared(rows: np.ndarray, others: np.ndarray, others_sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances of ``rows`` to ``others`` (``others_sq``: their squared norms)."""
    d2 = (rows * rows).sum(axis=1)[:, None] + others_sq[None, :] - 2.0 * rows @ others.T
    return np.maximum(d2, 0.0)


def _nearest(X: np.ndarray, pos_a: np.ndarray, pos_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each ``a`` position, the position of its nearest ``b`` row and the exact distance."""
    B = X[pos_b]
    B_sq = (B * B).sum(axis=1)
    nearest = np.empty(len(pos_a), dtype=np.int64)
    for start in range(0, len(pos_a), BLOCK_ROWS):
        block = X[pos_a[start:start + BLOCK_ROWS]]
        nearest[start:start + len(block)] = _squared(block, B, B_sq).argmin(axis=1)
    distance = np.linalg.norm(X[pos_a] - B[nearest], axis=1)  # exact, not the shortcut's
    return pos_b[nearest], distance


def nearest_distances(
    descriptors: np.ndarray,
    split: pd.DataFrame,
    *,
    a: str = "test",
    b: str = "train",
) -> pd.Series:
    """The distance from each ``a`` row to its nearest ``b`` row (Euclidean, between descriptors).

    Parameters
    ----------
    descriptors : ``(images, 128)``, row ``i`` the descriptor of ``split``'s row ``i``
        (:func:`helpers.embeddings.descriptors_table` of the same table); no NaN.
    split : a table with ``split``, ``relpath`` and ``label`` columns
        (:func:`helpers.splitting.split_dataset`'s).
    a, b : the splits compared (default: each test image against the training images).

    Returns
    -------
    Series
        Named ``distance``, indexed by ``split``'s index of the ``a`` rows, in their order.

    Raises
    ------
    ValueError
        Descriptors and split of different lengths, NaN descriptors, a row without a split,
        missing columns, ``a == b``, or no ``a`` or no ``b`` rows.
    """
    X = _check_descriptors(descriptors)
    pos_a, pos_b = _check_split(X, split, a, b)
    _, distance = _nearest(X, pos_a, pos_b)
    return pd.Series(distance, index=split.index[pos_a], name="distance")


def cross_split_pairs(
    descriptors: np.ndarray,
    split: pd.DataFrame,
    threshold: float,
    *,
    a: str = "test",
    b: str = "train",
) -> pd.DataFrame:
    """The ``a`` rows whose nearest ``b`` row is closer than ``threshold``, closest first.

    Parameters
    ----------
    descriptors, split, a, b : as :func:`nearest_distances`.
    threshold : a distance (>= 0); a pair counts when its distance is strictly below it
        (``inf``: every ``a`` row with its nearest ``b`` row). See the module's docstring on
        choosing it.

    Returns
    -------
    DataFrame
        Columns :data:`PAIR_COLUMNS`: ``index_a`` and ``index_b`` (``split``'s index of the
        ``a`` row and of its nearest ``b`` row), ``distance``, both ``relpath`` and ``label``,
        and ``same_label``. One row per flagged ``a`` row, sorted by distance; empty when none.

    Raises
    ------
    ValueError
        As :func:`nearest_distances`, or a negative or NaN threshold.
    """
    threshold = _check_threshold(threshold)
    X = _check_descriptors(descriptors)
    pos_a, pos_b = _check_split(X, split, a, b)
    nearest, distance = _nearest(X, pos_a, pos_b)
    keep = distance < threshold
    pos_a, nearest, distance = pos_a[keep], nearest[keep], distance[keep]
    relpath, label = split["relpath"].to_numpy(), split["label"].to_numpy()
    pairs = pd.DataFrame({
        "index_a": split.index[pos_a], "index_b": split.index[nearest], "distance": distance,
        "relpath_a": relpath[pos_a], "relpath_b": relpath[nearest],
        "label_a": label[pos_a], "label_b": label[nearest],
        "same_label": label[pos_a] == label[nearest],
    }, columns=PAIR_COLUMNS)
    return pairs.sort_values("distance", kind="stable").reset_index(drop=True)


# --- Groups -----------------------------------------------------------------------------------


def _union_find(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving
            i = parent[i]
        return i

    for i, j in zip(rows.tolist(), cols.tolist()):
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def _components(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """For each node of the undirected graph with edges ``rows[k] -- cols[k]``, the smallest
    node of its connected component."""
    scipy = _scipy_csgraph()
    if scipy is None:
        return _union_find(n, rows, cols)  # its roots are the smallest nodes already
    csgraph, sparse = scipy
    graph = sparse.coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, component = csgraph.connected_components(graph, directed=False)
    smallest = np.full(component.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, component, np.arange(n))
    return smallest[component]


def _first_appearance(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0, 1, 2... in the order in which they first appear."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(np.int64)


def groups(descriptors: np.ndarray, threshold: float) -> np.ndarray:
    """Connected components of the graph linking every two images closer than ``threshold``.

    Two images are in one group when a chain of images, each closer than ``threshold`` to the
    next, joins them (so a group's extremes may be further apart than the threshold). An image
    with no neighbour is a group of its own.

    Parameters
    ----------
    descriptors : ``(images, 128)`` descriptors (no NaN), in the order of the manifest or split
        they will be used with.
    threshold : a distance (>= 0); pairs strictly closer are linked.

    Returns
    -------
    ndarray
        ``int64`` of length ``images``: group ids ``0, 1, 2...`` numbered in order of first
        appearance (row 0 is in group 0). Pass it to
        :func:`helpers.splitting.split_dataset` as ``groups``.

    Raises
    ------
    ValueError
        Bad or non-finite descriptors, or a negative or NaN threshold.

    Notes
    -----
    Distances are computed ``BLOCK_ROWS`` rows at a time and the links found so far are
    reduced to one link per image after each block, so memory stays about ``BLOCK_ROWS x
    images`` floats whatever the threshold.
    """
    threshold = _check_threshold(threshold)
    X = _check_descriptors(descriptors)
    n = len(X)
    squared = (X * X).sum(axis=1)
    limit = threshold * threshold
    labels = np.arange(n, dtype=np.int64)
    for start in range(0, n, BLOCK_ROWS):
        block = np.arange(start, min(start + BLOCK_ROWS, n))
        # Each pair once: a block row against itself and the rows after it.
        d2 = _squared(X[block], X[start:], squared[start:])
        i, j = np.nonzero(d2 < limit + _SLACK * max(1.0, limit))
        i, j = block[i], j + start
        keep = i < j
        i, j = i[keep], j[keep]
        if i.size:  # confirm the candidates with exact distances
            exact = np.linalg.norm(X[i] - X[j], axis=1) < threshold
            i, j = i[exact], j[exact]
        # Links so far (each node to its component's smallest node) plus the new ones.
        nodes = np.arange(n)
        rows = np.concatenate([nodes, i])
        cols = np.concatenate([labels, j])
        labels = _components(n, rows, cols)
    return _first_appearance(labels)


# --- Accuracy ---------------------------------------------------------------------------------


def accuracy_without(table: pd.DataFrame, drop_index: Iterable, *, on: str | None = None) -> dict:
    """A test accuracy on all rows of ``table`` and without the flagged ones.

    Parameters
    ----------
    table : predictions of the test split with a boolean ``correct`` column (e.g.
        :func:`helpers.evaluation.predictions_table`).
    drop_index : the rows to leave out: values of ``table``'s index, or of its column ``on``.
    on : ``None`` to match ``drop_index`` against ``table.index``; a column name (e.g.
        ``"relpath"``, with ``cross_split_pairs(...)["relpath_a"]``) to match against that
        column. Matching by path is safer when the predictions table was built from a test
        manifest with another index than the split's (``index_a`` is the split's index).

    Returns
    -------
    dict
        ``right``, ``n``, ``accuracy`` (all rows); ``dropped``, ``dropped_right`` (the rows left
        out, and how many of them were right); ``right_without``, ``n_without``,
        ``accuracy_without`` (the rest).

    Raises
    ------
    ValueError
        No boolean ``correct`` column, an empty table, an unknown ``on`` column, values of
        ``drop_index`` not found in the table, or every row dropped.
    """
    if not isinstance(table, pd.DataFrame) or "correct" not in table.columns:
        raise ValueError("table must be a DataFrame with a boolean 'correct' column "
                         "(helpers.evaluation.predictions_table)")
    if table.empty:
        raise ValueError("table is empty: pass the predictions of the test split")
    if table["correct"].dtype != np.bool_:
        raise ValueError(f"table['correct'] must be boolean, got dtype {table['correct'].dtype}")
    if on is not None and on not in table.columns:
        raise ValueError(f"table has no column {on!r} to match drop_index against "
                         f"(its columns: {list(table.columns)})")
    keys = table.index if on is None else pd.Index(table[on])
    drop = pd.Index(pd.unique(pd.Index(list(drop_index))))
    unknown = drop.difference(keys)
    if len(unknown):
        where = "the table's index" if on is None else f"table[{on!r}]"
        raise ValueError(f"{len(unknown)} value(s) of drop_index are not in {where} (e.g. "
                         f"{unknown[0]!r}): pass values of the same kind (split index with on=None, "
                         "or paths with on='relpath')")
    dropped = keys.isin(drop)
    if dropped.all():
        raise ValueError("drop_index leaves no row: nothing to compute an accuracy on")
    correct = table["correct"].to_numpy()
    right, n = int(correct.sum()), len(correct)
    right_without, n_without = int(correct[~dropped].sum()), int((~dropped).sum())
    return {"right": right, "n": n, "accuracy": right / n,
            "dropped": int(dropped.sum()), "dropped_right": int(correct[dropped].sum()),
            "right_without": right_without, "n_without": n_without,
            "accuracy_without": right_without / n_without}
