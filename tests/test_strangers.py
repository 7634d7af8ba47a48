"""helpers.strangers: the strangers' manifest on generated folders (people split by person,
per_person, seeded, order-free), scores of both kinds of model, the rates above 0.5/0.9/0.99,
the threshold against a brute force, the report by hand, every bad input, and the real LFW
folder (skipped when absent)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from helpers import config, data, strangers
from tests.conftest import make_identity_tree, real_lfw, write_image

PEOPLE = {"Ann": 5, "Bob": 8, "Cy": 3, "Di": 6, "Ed": 4, "Flo": 7}


@pytest.fixture
def people_root(tmp_path):
    return make_identity_tree(tmp_path / "people", PEOPLE)


def proba_of(top, k: int = 3) -> np.ndarray:
    """Rows whose first column holds ``top`` and the rest share what is left."""
    top = np.asarray(top, dtype=np.float64)
    rest = np.repeat(((1.0 - top) / (k - 1))[:, None], k - 1, axis=1)
    return np.hstack([top[:, None], rest])


# --- The strangers' manifest ---------------------------------------------------------------------


def test_manifest_keeps_per_person_and_splits_the_people(people_root):
    manifest = strangers.stranger_manifest(people_root, per_person=4)
    assert list(manifest.columns) == strangers.STRANGER_COLUMNS
    counts = manifest.groupby("identity").size().to_dict()
    assert counts == {name: min(n, 4) for name, n in PEOPLE.items()}
    assert (manifest["label"] == strangers.NONE_OF_THESE).all()
    groups = manifest.groupby("identity")["group"].unique()
    assert all(len(g) == 1 for g in groups)  # a person is never in both groups
    assert sorted(g[0] for g in groups).count("tune") == 3 and set(manifest["group"]) == set(strangers.GROUPS)
    assert manifest[["identity", "relpath"]].equals(
        manifest[["identity", "relpath"]].sort_values(["identity", "relpath"]).reset_index(drop=True))
    assert manifest["sha256"].is_unique


def test_manifest_leaves_out_the_known_people(people_root):
    first, second = sorted(PEOPLE)[:2]
    manifest = strangers.stranger_manifest(people_root, exclude=[first.upper(), second.replace("_", " ")])
    assert set(manifest["identity"]) == set(PEOPLE) - {first, second}


def test_manifest_per_person_none_or_large_keeps_everything(people_root):
    for per_person in (None, 100):
        manifest = strangers.stranger_manifest(people_root, per_person=per_person)
        assert len(manifest) == sum(PEOPLE.values())


def chosen(manifest: pd.DataFrame) -> dict:
    """Each person's chosen pictures, by content."""
    return manifest.groupby("identity")["sha256"].apply(frozenset).to_dict()


def test_manifest_is_seeded_and_free_of_file_order(people_root, tmp_path):
    # The same pictures under other file names (listed in reverse order) are chosen alike.
    renamed, seed = tmp_path / "renamed", 0
    for name, n in PEOPLE.items():
        for k in range(n):
            write_image(renamed / name / f"z{99 - k:03d}.jpg", seed=seed)
            seed += 1
    a = strangers.stranger_manifest(people_root, per_person=3, seed=7)
    b = strangers.stranger_manifest(renamed, per_person=3, seed=7)
    assert chosen(a) == chosen(b)
    assert a.groupby("identity")["group"].first().equals(b.groupby("identity")["group"].first())
    assert strangers.stranger_manifest(people_root, per_person=3, seed=7).equals(a)
    others = [strangers.stranger_manifest(people_root, per_person=3, seed=s) for s in range(8, 12)]
    assert any(chosen(o) != chosen(a) for o in others)
    assert any(not o.groupby("identity")["group"].first().equals(a.groupby("identity")["group"].first())
               for o in others)


def test_manifest_reads_scikit_learn_data_by_default(lfw_home, isolated_env, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(lfw_home))
    assert strangers.lfw_folder() == lfw_home / "lfw_home" / "lfw_funneled"
    manifest = strangers.stranger_manifest(per_person=2)
    assert manifest.groupby("identity").size().tolist() == [2, 2, 2, 2, 2]
    people = manifest.groupby("group")["identity"].nunique().to_dict()
    assert people == {"tune": 2, "eval": 3}  # five people: the half rounded down tunes


def test_manifest_errors_say_what_to_do(tmp_path, isolated_env, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(data.DataNotFoundError, match="set SCIKIT_LEARN_DATA to the folder that holds lfw_home/"):
        strangers.stranger_manifest()
    with pytest.raises(data.DataNotFoundError, match="strangers folder not found"):
        strangers.stranger_manifest(tmp_path / "missing")
    (tmp_path / "empty" / "Ann").mkdir(parents=True)
    with pytest.raises(data.DataNotFoundError, match="holds no people"):
        strangers.stranger_manifest(tmp_path / "empty")
    empty_lfw = tmp_path / "home" / "lfw_home" / "lfw_funneled"
    empty_lfw.mkdir(parents=True)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "home"))
    with pytest.raises(data.DataNotFoundError, match="holds no people.*SCIKIT_LEARN_DATA"):
        strangers.stranger_manifest()
    make_identity_tree(tmp_path / "one", {"Ann": 3})
    with pytest.raises(ValueError, match="at least two people"):
        strangers.stranger_manifest(tmp_path / "one")
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="per_person must be an integer"):
            strangers.stranger_manifest(tmp_path / "one", per_person=bad)
    for bad in ("1", True, 1.0):
        with pytest.raises(ValueError, match="seed must be an integer"):
            strangers.stranger_manifest(tmp_path / "one", seed=bad)


# --- Scores ------------------------------------------------------------------------------------------


def test_top_scores_takes_the_highest_probability():
    proba = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]], dtype=np.float32)
    scores = strangers.top_scores(proba)
    assert scores.dtype == np.float64 and scores == pytest.approx([0.7, 0.5])
    overshoot = np.array([[1.0 + 5e-7, 0.0]])  # float rounding of a softmax
    assert strangers.top_scores(overshoot).tolist() == [1.0]


@pytest.mark.parametrize("bad, message", [
    (np.array([0.5, 0.5]), "must be 2-D"),
    (np.zeros((0, 3)), "must be 2-D"),
    (np.ones((2, 1)), "must be 2-D"),
    (np.array([[2.0, -1.0]]), r"in \[0, 1\].*logits"),
    (np.array([[np.nan, 0.5]]), r"in \[0, 1\]"),
    (np.array([[0.5, 0.2]]), "must sum to 1"),
    (np.array([[True, False]]), "must hold numbers"),
    (np.array([["a", "b"]]), "must hold numbers"),
])
def test_top_scores_refuses_what_is_not_probabilities(bad, message):
    with pytest.raises(ValueError, match=message):
        strangers.top_scores(bad)


def blobs(seed: int = 0, labels=(0, 1, 2)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.asarray(labels), 10)
    X = rng.normal(size=(len(y), 4)) + 3.0 * np.eye(4)[y % 4]
    return X, y


def test_every_embedding_candidate_gives_probabilities():
    from helpers.embeddings import default_candidates

    X, y = blobs()
    for name, estimator in default_candidates().items():
        proba = strangers.classifier_proba(estimator.fit(X, y), X)
        assert proba.shape == (len(X), 3), name
        np.testing.assert_allclose(proba, estimator.predict_proba(X), err_msg=name)
        assert (proba.argmax(axis=1) == estimator.predict(X)).mean() > 0.9, name


def test_classifier_proba_errors():
    from sklearn.linear_model import LogisticRegression

    X, y = blobs()

    class NoProba:
        classes_ = np.arange(3)

        def predict(self, X):
            return np.zeros(len(X), dtype=int)

    with pytest.raises(ValueError, match="NoProba has no predict_proba.*scikit-learn>=1.6"):
        strangers.classifier_proba(NoProba(), X)
    with pytest.raises(ValueError, match="labels 0..k-1"):
        strangers.classifier_proba(LogisticRegression().fit(*blobs(labels=(1, 2, 3))), X)
    with pytest.raises(ValueError, match="labels 0..k-1"):
        strangers.classifier_proba(LogisticRegression().fit(X, np.array(list("abc"))[y]), X)
    fitted = LogisticRegression().fit(X, y)
    bad_x = X.copy()
    bad_x[0, 0] = np.nan
    with pytest.raises(ValueError, match="failed"):
        strangers.classifier_proba(fitted, bad_x)
    for shape in [(4,), (0, 4)]:
        with pytest.raises(ValueError, match="non-empty 2-D"):
            strangers.classifier_proba(fitted, np.zeros(shape))


# --- Rates ---------------------------------------------------------------------------------------


def test_named_rates_counts_scores_strictly_above():
    scores = np.array([0.4, 0.5, 0.6, 0.95, 0.995], dtype=np.float32)
    table = strangers.named_rates(scores)
    assert list(table.columns) == strangers.RATE_COLUMNS and table.index.name == "threshold"
    assert table.index.tolist() == [0.5, 0.9, 0.99]
    assert table["named"].tolist() == [3, 2, 1]  # 0.5 itself is not above 0.5
    assert table["strangers"].tolist() == [5, 5, 5]
    assert table["share named"].tolist() == pytest.approx([0.6, 0.4, 0.2])
    assert table["named"].dtype.kind == "i"
    assert strangers.named_rates(scores, [0.7]).loc[0.7, "named"] == 2


@pytest.mark.parametrize("thresholds, message", [
    ((), "non-empty sequence"), ("0.5", "non-empty sequence"), (0.5, "non-empty sequence"),
    ((0.0,), "strictly between 0 and 1"), ((1.0,), "strictly between"), ((1.5,), "strictly between"),
    ((True,), "strictly between"), ((math.nan,), "strictly between"), ((0.5, 0.5), "repeats"),
])
def test_named_rates_bad_thresholds(thresholds, message):
    with pytest.raises(ValueError, match=message):
        strangers.named_rates([0.5, 0.6], thresholds)


@pytest.mark.parametrize("scores, message", [
    ([], "is empty"), ([[0.5]], "one-dimensional"), ([1.2], r"in \[0, 1\]"), ([-0.1], r"in \[0, 1\]"),
    ([math.inf], "finite"), ([True], "must hold numbers"),
])
def test_named_rates_bad_scores(scores, message):
    with pytest.raises(ValueError, match=message):
        strangers.named_rates(scores)


# --- The threshold --------------------------------------------------------------------------------


def objective_by_hand(known, correct, others, t) -> float:
    known, correct, others = map(np.asarray, (known, correct, others))
    return (((known > t) & correct).mean() + (others <= t).mean()) / 2


def test_candidates_cover_every_threshold_and_the_choice_is_their_best():
    rng = np.random.default_rng(3)
    known = np.round(rng.uniform(0.3, 1.0, 40), 2)  # rounded: repeated scores too
    correct = rng.uniform(size=40) < 0.8
    others = np.round(rng.uniform(0.3, 1.0, 25), 2)
    table = strangers.threshold_candidates(known, correct, others)
    assert list(table.columns) == strangers.CANDIDATE_COLUMNS
    assert table["threshold"].is_monotonic_increasing and table["threshold"].iloc[[0, -1]].tolist() == [0.0, 1.0]
    for row in table.itertuples(index=False):
        assert row.objective == pytest.approx(objective_by_hand(known, correct, others, row.threshold))
    grid = np.linspace(0, 1, 2001)
    best = max(objective_by_hand(known, correct, others, t) for t in grid)
    chosen = strangers.choose_threshold(known, correct, others)
    assert objective_by_hand(known, correct, others, chosen) == pytest.approx(best)
    assert table["objective"].max() == pytest.approx(best)
    # The same data in another order, and float32 scores, give the same threshold.
    order = rng.permutation(40)
    assert strangers.choose_threshold(known[order], correct[order], others[::-1]) == chosen
    assert strangers.choose_threshold(known.astype(np.float32), correct, others.astype(np.float32)) \
        == strangers.choose_threshold(known.astype(np.float32).astype(np.float64), correct,
                                      others.astype(np.float32).astype(np.float64))


def test_separable_scores_get_a_threshold_between_them():
    known, correct, others = [0.9, 0.95, 0.99], np.array([True, True, True]), [0.4, 0.6]
    t = strangers.choose_threshold(known, correct, others)
    assert t == pytest.approx(0.75)
    report = strangers.rejection_report(known, correct, others, t)
    assert report["cost"] == 0 and report["share rejected"] == 1.0


def test_equal_objectives_go_to_the_lower_threshold():
    # Rejecting the wrong known image (0.6) changes nothing: 0.45 and 0.75 tie, 0.45 wins.
    known, correct, others = [0.9, 0.6], np.array([True, False]), [0.3]
    table = strangers.threshold_candidates(known, correct, others)
    assert table["threshold"].tolist() == pytest.approx([0.0, 0.45, 0.75, 1.0])
    assert table["objective"].tolist() == pytest.approx([0.25, 0.75, 0.75, 0.5])
    assert strangers.choose_threshold(known, correct, others) == pytest.approx(0.45)


@pytest.mark.parametrize("function", [strangers.threshold_candidates, strangers.choose_threshold])
def test_threshold_bad_inputs(function):
    good = ([0.9, 0.8], np.array([True, False]), [0.5])
    with pytest.raises(ValueError, match="must be boolean"):
        function(good[0], np.array([1, 0]), good[2])
    with pytest.raises(ValueError, match="one boolean per known score"):
        function(good[0], np.array([True]), good[2])
    with pytest.raises(ValueError, match="stranger_scores is empty"):
        function(good[0], good[1], [])
    with pytest.raises(ValueError, match="known_scores must be probabilities"):
        function([0.9, np.nan], good[1], good[2])
    with pytest.raises(ValueError, match="known_scores must be one-dimensional"):
        function(np.array([[0.9, 0.8]]), good[1], good[2])


# --- Report and answers ---------------------------------------------------------------------------


def test_rejection_report_by_hand():
    known = [0.95, 0.9, 0.7, 0.6, 0.3]
    correct = np.array([True, True, False, True, False])
    others = [0.99, 0.8, 0.5, 0.2]
    report = strangers.rejection_report(known, correct, others, 0.65)
    assert tuple(report) == strangers.REPORT_KEYS
    assert report == {
        "threshold": 0.65, "known images": 5, "known right": 3, "accuracy": pytest.approx(0.6),
        "known accepted": 3, "share accepted": pytest.approx(0.6), "accepted right": 2,
        "accuracy with rejection": pytest.approx(0.4), "cost": pytest.approx(0.2),
        "accuracy on accepted": pytest.approx(2 / 3), "strangers": 4, "strangers rejected": 2,
        "share rejected": pytest.approx(0.5),
    }
    assert all(isinstance(report[k], int) for k in ("known images", "known right", "known accepted",
                                                     "accepted right", "strangers", "strangers rejected"))
    never = strangers.rejection_report(known, correct, others, 0.0)
    assert never["cost"] == 0 and never["share accepted"] == 1 and never["strangers rejected"] == 0
    always = strangers.rejection_report(known, correct, others, 1.0)
    assert math.isnan(always["accuracy on accepted"]) and always["share rejected"] == 1
    # The strangers a threshold names are those named_rates counts above it.
    rates = strangers.named_rates(others, [0.65])
    assert rates.loc[0.65, "named"] == report["strangers"] - report["strangers rejected"]
    assert len(pd.DataFrame([report, never])) == 2


@pytest.mark.parametrize("threshold", [-0.1, 1.1, math.nan, True, "0.5", None])
def test_rejection_report_bad_threshold(threshold):
    with pytest.raises(ValueError, match="threshold must be a number between 0 and 1"):
        strangers.rejection_report([0.9], np.array([True]), [0.5], threshold)


def test_apply_rejection_rejects_at_or_below_the_threshold():
    proba = np.array([[0.1, 0.8, 0.1], [0.6, 0.2, 0.2], [0.4, 0.4, 0.2]])
    assert strangers.apply_rejection(proba, 0.5).tolist() == [1, 0, -1]
    assert strangers.apply_rejection(proba, 0.6).tolist() == [1, -1, -1]  # 0.6 is not above 0.6
    assert strangers.apply_rejection(proba, 0.0).tolist() == [1, 0, 0]  # a tie goes to the lower label
    assert strangers.apply_rejection(proba, 1.0).tolist() == [-1, -1, -1]
    assert strangers.apply_rejection(proba, 0.5).dtype == np.int64
    with pytest.raises(ValueError, match="threshold"):
        strangers.apply_rejection(proba, 2)


def test_a_midpoint_between_float32_scores_separates_them():
    # NumPy would compare float32 with a float threshold in float32, where the midpoint of two
    # neighbouring float32 values rounds onto one of them: scores are compared as float64.
    a = np.float32(0.7)
    b = np.nextafter(a, np.float32(1))
    proba = np.array([[a, 1 - a], [b, 1 - b]], dtype=np.float32)
    t = strangers.choose_threshold(proba[1:, 0], np.array([True]), proba[:1, 0])  # b known, a a stranger
    assert float(a) < t < float(b)
    assert strangers.apply_rejection(proba, t).tolist() == [-1, 0]


def test_answers_table_names_or_none():
    manifest = pd.DataFrame({"relpath": ["x/1.jpg", "y/2.jpg"], "path": ["/a", "/b"],
                             "name": ["X", "Y"], "other": [1, 2]}, index=[5, 9])
    table = strangers.answers_table(manifest, proba_of([0.95, 0.5]), ["Ann", "Bob", "Cy"], 0.9)
    assert list(table.columns) == ["relpath", "path", "name", "called", "score", "answer"]
    assert table.index.tolist() == [5, 9]
    assert table["called"].tolist() == ["Ann", "Ann"]
    assert table["answer"].tolist() == ["Ann", strangers.NONE_NAME]
    assert table["score"].tolist() == pytest.approx([0.95, 0.5])
    with pytest.raises(ValueError, match="3 distinct names"):
        strangers.answers_table(manifest, proba_of([0.9, 0.5]), ["Ann", "Bob"], 0.5)
    with pytest.raises(ValueError, match="3 distinct names"):
        strangers.answers_table(manifest, proba_of([0.9, 0.5]), ["Ann", "Ann", "Cy"], 0.5)
    with pytest.raises(ValueError, match="proba has 3 rows but the manifest 2"):
        strangers.answers_table(manifest, proba_of([0.9, 0.5, 0.4]), ["Ann", "Bob", "Cy"], 0.5)


def test_importing_strangers_does_not_import_tensorflow():
    code = "import sys, helpers.strangers; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=config.PROJECT_ROOT)
    assert done.stdout.split() == ["False"]


# --- The real LFW folder ----------------------------------------------------------------------------

LFW = real_lfw()


@pytest.mark.realdata
@pytest.mark.skipif(not (LFW / "lfw_home" / "lfw_funneled").is_dir(),
                    reason=f"LFW not found at {LFW} (set SCIKIT_LEARN_DATA to the folder that holds lfw_home/)")
def test_real_lfw_strangers(monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(LFW))
    manifest = strangers.stranger_manifest(per_person=10)
    assert manifest["identity"].nunique() == 62
    assert (manifest.groupby("identity").size() == 10).all()  # every LFW person here has >= 20 images
    assert manifest.groupby("group")["identity"].nunique().to_dict() == {"tune": 31, "eval": 31}
    assert manifest.groupby("group").size().to_dict() == {"tune": 310, "eval": 310}
    assert not set(manifest["name"]) & set(config.STUDY_NAMES)
