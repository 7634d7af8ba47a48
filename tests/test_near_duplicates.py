"""helpers.near_duplicates: synthetic descriptors (clusters, exact and near copies) against brute
force, blocks and the union-find fallback, bad inputs, accuracy without flagged rows, and 60 real
photos (skipped without the shared data or dlib)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import near_duplicates as nd
from tests.realdata_descriptors import CLOSE_PAIRS, needs_vgg, real_sample  # noqa: F401 - fixture


def clusters(n_per_class=10, n_classes=4, spread=0.03, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Well separated clusters in 128-D: distances about 0.4 within a class, above 1 between."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, 128)) * 0.2
    labels = np.repeat(np.arange(n_classes), n_per_class)
    return centres[labels] + rng.normal(scale=spread, size=(len(labels), 128)), labels


def brute_distances(X: np.ndarray) -> np.ndarray:
    return np.linalg.norm(X[:, None, :] - X[None, :, :], axis=-1)


def brute_components(X: np.ndarray, threshold: float) -> list[set[int]]:
    close = brute_distances(X) < threshold
    seen, parts = set(), []
    for start in range(len(X)):
        if start in seen:
            continue
        part, todo = set(), [start]
        while todo:
            i = todo.pop()
            if i not in part:
                part.add(i)
                todo.extend(np.flatnonzero(close[i]).tolist())
        seen |= part
        parts.append(part)
    return parts


def as_parts(labels: np.ndarray) -> list[set[int]]:
    return [set(np.flatnonzero(labels == k).tolist()) for k in np.unique(labels)]


@pytest.fixture
def data():
    """40 descriptors in 4 classes; the test rows include an exact copy and a near copy of
    training rows. The split's index starts at 100 (it is the split's own index, not positions)."""
    X, labels = clusters()
    split = pd.DataFrame({"relpath": [f"c{c}/{i:02d}.jpg" for i, c in enumerate(labels)],
                          "label": labels, "split": "train"}, index=np.arange(100, 140))
    test_rows = [9, 19, 29, 39]
    split.iloc[test_rows, split.columns.get_loc("split")] = "test"
    split.iloc[[8, 18], split.columns.get_loc("split")] = "val"
    X[9] = X[0]  # exact copy of training row 0
    X[19] = X[10] + 0.001  # near copy of training row 10 (distance 0.001 * sqrt(128))
    return X, split


# --- Nearest distances and pairs -------------------------------------------------------------------


def test_nearest_distances_match_brute_force(data):
    X, split = data
    d = nd.nearest_distances(X, split)
    test = np.flatnonzero(split["split"] == "test")
    train = np.flatnonzero(split["split"] == "train")
    expected = brute_distances(X)[np.ix_(test, train)].min(axis=1)
    assert d.name == "distance" and d.index.tolist() == split.index[test].tolist()
    np.testing.assert_allclose(d.to_numpy(), expected, rtol=0, atol=1e-12)
    assert d.iloc[0] == 0.0  # the exact copy: exactly 0, not the shortcut's rounding
    val = nd.nearest_distances(X, split, a="val", b="test")
    assert val.index.tolist() == [108, 118]


def test_cross_split_pairs_finds_the_copies(data):
    X, split = data
    pairs = nd.cross_split_pairs(X, split, threshold=0.1)
    assert pairs.columns.tolist() == nd.PAIR_COLUMNS
    assert pairs[["index_a", "index_b"]].values.tolist() == [[109, 100], [119, 110]]  # closest first
    assert pairs["distance"].tolist() == pytest.approx([0.0, 0.001 * np.sqrt(128)])
    assert pairs["relpath_a"].tolist() == ["c0/09.jpg", "c1/19.jpg"]
    assert pairs["relpath_b"].tolist() == ["c0/00.jpg", "c1/10.jpg"]
    assert pairs["same_label"].all() and (pairs["label_a"] == pairs["label_b"]).all()
    assert nd.cross_split_pairs(X, split, threshold=0.0).empty  # strictly below
    assert nd.cross_split_pairs(X, split, threshold=0.0).columns.tolist() == nd.PAIR_COLUMNS
    everything = nd.cross_split_pairs(X, split, threshold=np.inf)
    assert sorted(everything["index_a"]) == [109, 119, 129, 139]
    assert everything["distance"].is_monotonic_increasing


def test_blocks_do_not_change_the_results(data, monkeypatch):
    X, split = data
    pairs, d, labels = (nd.cross_split_pairs(X, split, 0.5), nd.nearest_distances(X, split),
                        nd.groups(X, 0.5))
    monkeypatch.setattr(nd, "BLOCK_ROWS", 3)
    pd.testing.assert_frame_equal(nd.cross_split_pairs(X, split, 0.5), pairs)
    pd.testing.assert_series_equal(nd.nearest_distances(X, split), d)
    np.testing.assert_array_equal(nd.groups(X, 0.5), labels)


# --- Groups -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.0, 0.05, 0.3, 0.45, 0.6, 2.0, np.inf])
def test_groups_are_the_components_of_the_close_graph(data, threshold):
    X, _ = data
    labels = nd.groups(X, threshold)
    assert labels.dtype == np.int64 and labels.shape == (len(X),)
    assert sorted(map(sorted, as_parts(labels))) == sorted(map(sorted, brute_components(X, threshold)))
    # Numbered in order of first appearance: 0, then each new group the next number.
    firsts = [labels[: i + 1].max() for i in range(len(labels))]
    assert labels[0] == 0 and all(b - a in (0, 1) for a, b in zip(firsts, firsts[1:]))


def test_groups_link_chains_and_copies():
    X = np.zeros((5, 128))
    X[1, 0], X[2, 0], X[3, 0], X[4, 0] = 0.25, 0.5, 3.0, 3.0  # 0-1-2 a chain, 3 = 4 a copy
    labels = nd.groups(X, 0.3)
    assert labels.tolist() == [0, 0, 0, 1, 1]  # 0 and 2 are 0.5 apart, linked through 1
    assert nd.groups(X, 0.0).tolist() == [0, 1, 2, 3, 4]
    assert nd.groups(X, 0.25).tolist() == [0, 1, 2, 3, 3]  # strictly below


def test_groups_without_scipy_use_union_find(data, monkeypatch):
    X, _ = data
    with_scipy = nd.groups(X, 0.45)
    monkeypatch.setattr(nd, "_scipy_csgraph", lambda: None)
    monkeypatch.setattr(nd, "BLOCK_ROWS", 7)
    np.testing.assert_array_equal(nd.groups(X, 0.45), with_scipy)


def test_groups_of_a_few_thousand_images():
    X, _ = clusters(n_per_class=500, n_classes=6, spread=0.05, seed=1)  # 3000 images
    X[1:10] = X[0] + 1e-4  # a clump of 10 near-copies
    labels = nd.groups(X, 0.05)
    assert np.bincount(labels).max() == 10 and (labels[:10] == labels[0]).all()
    assert len(np.unique(labels)) == len(X) - 9


# --- Bad inputs ----------------------------------------------------------------------------------------


def test_bad_descriptors(data):
    X, split = data
    with pytest.raises(ValueError, match="descriptors has 39 rows but split 40"):
        nd.nearest_distances(X[:-1], split)
    with pytest.raises(ValueError, match="descriptors has 40 rows but split 39"):
        nd.cross_split_pairs(X, split.iloc[:-1], 0.3)
    nan = X.copy()
    nan[5, 3] = np.nan
    for call in (lambda: nd.nearest_distances(nan, split), lambda: nd.cross_split_pairs(nan, split, 0.3),
                 lambda: nd.groups(nan, 0.3)):
        with pytest.raises(ValueError, match="NaN or infinite values in 1 row.*row 5.*failed"):
            call()
    for bad in (X[0], np.zeros((0, 128)), np.array([["a"] * 3] * 2)):
        with pytest.raises(ValueError, match="descriptors must be"):
            nd.groups(bad, 0.3)


@pytest.mark.parametrize("threshold", [-0.1, float("nan"), "0.3", None, True])
def test_bad_threshold(data, threshold):
    X, split = data
    with pytest.raises(ValueError, match="threshold must be a distance >= 0"):
        nd.cross_split_pairs(X, split, threshold)
    with pytest.raises(ValueError, match="threshold must be a distance >= 0"):
        nd.groups(X, threshold)


def test_bad_split(data):
    X, split = data
    missing = split.copy()
    missing.iloc[3, missing.columns.get_loc("split")] = None
    with pytest.raises(ValueError, match="1 row.* have no split value"):
        nd.nearest_distances(X, missing)
    with pytest.raises(ValueError, match="lacks column.*label"):
        nd.cross_split_pairs(X, split.drop(columns="label"), 0.3)
    with pytest.raises(ValueError, match="no 'holdout' rows"):
        nd.nearest_distances(X, split, a="holdout")
    with pytest.raises(ValueError, match="different splits"):
        nd.nearest_distances(X, split, a="train", b="train")
    with pytest.raises(ValueError, match="DataFrame"):
        nd.nearest_distances(X, split["split"])


# --- Accuracy without flagged rows ----------------------------------------------------------------------


@pytest.fixture
def predictions():
    return pd.DataFrame({"relpath": [f"t/{i}.jpg" for i in range(10)],
                         "correct": [True] * 8 + [False] * 2}, index=np.arange(50, 60))


def test_accuracy_without(predictions):
    out = nd.accuracy_without(predictions, [50, 51, 58, 51])  # a repeated value counts once
    assert out == {"right": 8, "n": 10, "accuracy": 0.8, "dropped": 3, "dropped_right": 2,
                   "right_without": 6, "n_without": 7, "accuracy_without": 6 / 7}
    by_path = nd.accuracy_without(predictions, pd.Series(["t/0.jpg", "t/1.jpg", "t/8.jpg"]), on="relpath")
    assert by_path == out
    nothing = nd.accuracy_without(predictions, [])
    assert nothing["accuracy_without"] == nothing["accuracy"] == 0.8 and nothing["dropped"] == 0


def test_accuracy_without_bad_input(predictions):
    with pytest.raises(ValueError, match="1 value.* not in the table's index.*99"):
        nd.accuracy_without(predictions, [50, 99])
    with pytest.raises(ValueError, match=r"not in table\['relpath'\]"):
        nd.accuracy_without(predictions, [50], on="relpath")
    with pytest.raises(ValueError, match="no column 'path'"):
        nd.accuracy_without(predictions, [], on="path")
    with pytest.raises(ValueError, match="leaves no row"):
        nd.accuracy_without(predictions, predictions.index)
    with pytest.raises(ValueError, match="boolean 'correct' column"):
        nd.accuracy_without(predictions.drop(columns="correct"), [])
    with pytest.raises(ValueError, match="must be boolean"):
        nd.accuracy_without(predictions.assign(correct=1), [])
    with pytest.raises(ValueError, match="empty"):
        nd.accuracy_without(predictions.iloc[:0], [])


# --- Real photos ------------------------------------------------------------------------------------------


@pytest.mark.realdata
@needs_vgg
def test_real_close_pairs_are_same_identity_and_groups_respect_the_threshold(real_sample):  # noqa: F811
    """60 real photos (MTCNN boxes, dlib descriptors): with one photo of each identity's close pair
    and two others per identity as the 'test' rows, every test photo closer than 0.2 to a training
    photo is the same identity, the close pairs are found, and groups() at 0.2 links exactly the
    photos joined by chains of distances below 0.2 (and no two identities)."""
    sample, X = real_sample
    assert X.shape == (60, 128) and sample["identity"].value_counts().tolist() == [12] * 5
    split = sample.assign(split="train")
    firsts = [pair[0] for pair in CLOSE_PAIRS.values()]
    others = sample[~sample["relpath"].isin(firsts)].groupby("identity").head(2)["relpath"].tolist()
    split.loc[split["relpath"].isin(firsts + others), "split"] = "test"
    threshold = 0.2
    pairs = nd.cross_split_pairs(X, split, threshold)
    assert len(pairs) >= 1 and pairs["same_label"].all(), pairs
    found = set(zip(pairs["relpath_a"], pairs["relpath_b"]))
    assert found & set(CLOSE_PAIRS.values()), pairs
    d = nd.nearest_distances(X, split)
    assert (d < threshold).sum() == len(pairs)

    labels = nd.groups(X, threshold)
    distances = brute_distances(X.astype(np.float64))
    close = distances < threshold
    i, j = np.nonzero(np.triu(close, 1))
    assert (labels[i] == labels[j]).all()  # every close pair in one group
    assert sorted(map(sorted, as_parts(labels))) == sorted(map(sorted, brute_components(X, threshold)))
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        assert sample.loc[members, "label"].nunique() == 1
        if len(members) > 1:  # each member has a neighbour below the threshold in its group
            sub = distances[np.ix_(members, members)] + np.eye(len(members)) * 9
            assert (sub.min(axis=1) < threshold).all()
