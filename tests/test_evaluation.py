"""helpers.evaluation (predictions, scikit-learn's metrics, metrics file) and helpers.study's
comparisons (the study side by side, what its printed numbers imply).

Metrics are checked on a hand-made predictions table (11 images of the study's five
identities) against scikit-learn called directly; :func:`predict_proba` runs a tiny Keras
model on a few generated images.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from helpers import config, data, evaluation, files, pipeline, study
from tests.conftest import make_identity_tree

NAMES = list(config.STUDY_NAMES)
LABELS = [0, 0, 0, 1, 1, 2, 2, 2, 3, 4, 4]
PREDICTED = [0, 0, 1, 1, 1, 2, 2, 4, 3, 4, 4]
CONFIDENCE = [0.9, 0.8, 0.7, 0.95, 0.6, 0.99, 0.5, 0.85, 0.75, 0.65, 0.7]


def _manifest(labels=LABELS, names=NAMES) -> pd.DataFrame:
    rel = [f"{names[lab]}/{k:04d}.jpg" for k, lab in enumerate(labels)]
    return pd.DataFrame(
        {"path": [f"/data/{r}" for r in rel], "relpath": rel, "identity": [names[lab] for lab in labels],
         "name": [names[lab] for lab in labels], "label": labels},
        index=pd.RangeIndex(100, 100 + len(labels)),  # not 0..n-1: the index must be kept
    )


def _proba(predicted=PREDICTED, confidence=CONFIDENCE, n_classes=len(NAMES)) -> np.ndarray:
    """Rows with ``confidence`` on the predicted class, the rest spread evenly."""
    proba = np.empty((len(predicted), n_classes), dtype=np.float32)
    for row, (pred, conf) in enumerate(zip(predicted, confidence, strict=True)):
        proba[row] = (1.0 - conf) / (n_classes - 1)
        proba[row, pred] = conf
    return proba


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return evaluation.predictions_table(_manifest(), _proba(), NAMES)


# --- predictions_table ----------------------------------------------------------------------


def test_predictions_table_columns_and_values(table):
    assert list(table.columns) == ["relpath", "path", "name", "label", "predicted", "predicted_name",
                                   "confidence", "correct", *NAMES]
    assert list(table.index) == list(range(100, 111))
    assert table["predicted"].tolist() == PREDICTED
    assert table["predicted_name"].tolist() == [NAMES[p] for p in PREDICTED]
    assert table["correct"].tolist() == [a == b for a, b in zip(LABELS, PREDICTED, strict=True)]
    np.testing.assert_allclose(table["confidence"], CONFIDENCE, rtol=1e-6)
    np.testing.assert_allclose(table[NAMES].to_numpy(), _proba(), rtol=1e-6)
    assert table["correct"].dtype == bool and table["predicted"].dtype.kind == "i"


def test_predictions_table_without_name_or_paths_uses_class_names():
    manifest = _manifest()[["label"]]
    out = evaluation.predictions_table(manifest, _proba(), NAMES)
    assert "path" not in out.columns and "relpath" not in out.columns
    assert out["name"].tolist() == [NAMES[lab] for lab in LABELS]


@pytest.mark.parametrize(("manifest", "proba", "names", "message"), [
    (_manifest(), _proba()[:-1], NAMES, "10 rows but the manifest has 11"),
    (_manifest(), _proba()[:, :4], NAMES, "4 columns but there are 5 class names"),
    (_manifest(), _proba()[:, 0], NAMES, "2-D"),
    (_manifest(), _proba() * 10 - 5, NAMES, "logits"),
    (_manifest(), np.full((11, 5), np.nan), NAMES, r"\[0, 1\]"),
    (_manifest(labels=[0, 1, 4]).assign(label=[0, 1, 5]), _proba([0, 1, 1], [0.9] * 3), NAMES,
     "labels must be integers"),
    (_manifest(), _proba(), NAMES[::-1], "disagree with the manifest"),
    (_manifest(), _proba(), NAMES[:4] + [NAMES[0]], "duplicates"),
    (_manifest(), _proba(), [], "class_names is empty"),
    (_manifest().iloc[:0], _proba()[:0], NAMES, "manifest is empty"),
    (_manifest().drop(columns="label"), _proba(), NAMES, "'label' column"),
    (_manifest(names=["a", "b", "c", "d", "label"]), _proba(), ["a", "b", "c", "d", "label"], "clash"),
], ids=["rows", "columns", "1d", "logits", "nan", "label-range", "order", "duplicates",
        "no-names", "empty", "no-label", "clash"])
def test_predictions_table_bad_input(manifest, proba, names, message):
    with pytest.raises(ValueError, match=message):
        evaluation.predictions_table(manifest, proba, names)


# --- metrics ----------------------------------------------------------------------------------


def test_accuracy_is_sklearns(table):
    assert evaluation.accuracy(table) == pytest.approx(9 / 11)
    assert evaluation.accuracy(table) == skm.accuracy_score(LABELS, PREDICTED)


def test_classification_report_frame_equals_sklearn(table):
    frame = evaluation.classification_report_frame(table, NAMES)
    expected = skm.classification_report(LABELS, PREDICTED, target_names=NAMES, output_dict=True,
                                         zero_division=0)
    assert list(frame.index) == NAMES + ["macro avg", "weighted avg"]
    assert list(frame.columns) == ["precision", "recall", "f1-score", "support"]
    for row in frame.index:
        for column in frame.columns:
            assert frame.loc[row, column] == pytest.approx(expected[row][column]), (row, column)
    assert frame["support"].dtype.kind == "i"
    assert frame.loc[NAMES, "support"].tolist() == [3, 2, 3, 1, 2]
    assert frame.loc["macro avg", "support"] == 11
    rounded = evaluation.classification_report_frame(table, NAMES, digits=2)
    assert rounded.loc[NAMES[0], "recall"] == 0.67


def test_report_keeps_classes_never_seen(table):
    # Class 3 neither true nor predicted: still a row, all zeros (zero_division=0).
    sub = table[table["label"] != 3]
    frame = evaluation.classification_report_frame(sub, NAMES)
    assert frame.loc[NAMES[3]].tolist() == [0.0, 0.0, 0.0, 0]
    assert list(frame.index) == NAMES + ["macro avg", "weighted avg"]


def test_confusion_frame(table):
    conf = evaluation.confusion_frame(table, NAMES)
    assert conf.shape == (5, 5) and conf.index.name == "true" and conf.columns.name == "predicted"
    assert list(conf.index) == NAMES and list(conf.columns) == NAMES
    assert conf.to_numpy().sum() == len(table)
    assert np.trace(conf.to_numpy()) == table["correct"].sum()
    assert conf.sum(axis=1).tolist() == [3, 2, 3, 1, 2]
    assert conf.loc[NAMES[0], NAMES[1]] == 1 and conf.loc[NAMES[2], NAMES[4]] == 1
    np.testing.assert_array_equal(conf.to_numpy(), skm.confusion_matrix(LABELS, PREDICTED))


@pytest.mark.parametrize("func", [evaluation.classification_report_frame, evaluation.confusion_frame])
def test_metrics_bad_input(table, func):
    with pytest.raises(ValueError, match="must lie in 0..2"):
        func(table, NAMES[:3])
    with pytest.raises(ValueError, match="empty"):
        func(table.iloc[:0], NAMES)
    with pytest.raises(ValueError, match="lacks columns"):
        func(table.drop(columns="predicted"), NAMES)
    with pytest.raises(ValueError, match="duplicates"):
        func(table, NAMES[:4] + [NAMES[0]])


def test_accuracy_bad_input(table):
    with pytest.raises(ValueError, match="empty"):
        evaluation.accuracy(table.iloc[:0])
    with pytest.raises(ValueError, match="lacks columns"):
        evaluation.accuracy(table.drop(columns="label"))


def test_misclassified(table):
    wrong = evaluation.misclassified(table)
    assert list(wrong.columns) == ["relpath", "path", "name", "predicted_name", "confidence"]
    assert list(wrong.index) == [107, 102]  # confidence 0.85, then 0.7
    assert wrong["confidence"].is_monotonic_decreasing
    assert wrong.loc[102, ["name", "predicted_name"]].tolist() == [NAMES[0], NAMES[1]]
    assert evaluation.misclassified(table[table["correct"]]).empty
    with pytest.raises(ValueError, match="lacks columns"):
        evaluation.misclassified(table.drop(columns="confidence"))


# --- the study side by side ---------------------------------------------------------------------


def test_compare_with_study(table):
    report = evaluation.classification_report_frame(table, NAMES)
    shuffled = report.iloc[[4, 2, 0, 1, 3, 5, 6]]  # identity order does not matter
    out = study.compare_with_study(shuffled, 9 / 11, 11)
    theirs = study.study_report().set_index("identity")
    assert list(out.index) == list(theirs.index) + ["accuracy"]
    assert out.columns.names == ["metric", "source"]
    assert list(out.columns.get_level_values(0).unique()) == ["precision", "recall", "f1-score", "support"]
    for metric in ("precision", "recall", "f1-score", "support"):
        assert out.loc[NAMES, (metric, "study")].tolist() == theirs.loc[NAMES, metric].tolist()
        np.testing.assert_allclose(out.loc[NAMES, (metric, "ours")], report.loc[NAMES, metric])
    acc = out.loc["accuracy"]
    assert acc[("f1-score", "study")] == study.STUDY_TEST_ACCURACY
    assert acc[("f1-score", "ours")] == pytest.approx(9 / 11)
    assert acc[("support", "study")] == study.STUDY_TEST_IMAGES and acc[("support", "ours")] == 11
    assert np.isnan(acc[("precision", "ours")]) and np.isnan(acc[("recall", "study")])
    assert out[("support", "ours")].dtype.kind == "i"


def test_compare_with_study_bad_input(table):
    report = evaluation.classification_report_frame(table, NAMES)
    other = report.rename(index={NAMES[0]: "Ann_Other"})
    with pytest.raises(ValueError, match="not the study's"):
        study.compare_with_study(other, 0.9, 11)
    with pytest.raises(ValueError, match="not the study's"):
        study.compare_with_study(report.drop(index=NAMES[4]), 0.9, 9)
    with pytest.raises(ValueError, match="add up to 11"):
        study.compare_with_study(report, 0.9, 12)
    for bad in (1.5, -0.1, True, "0.9"):
        with pytest.raises(ValueError, match="accuracy_value"):
            study.compare_with_study(report, bad, 11)
    with pytest.raises(ValueError, match="n_test"):
        study.compare_with_study(report, 0.9, 0)
    with pytest.raises(ValueError, match="lacks columns"):
        study.compare_with_study(report.drop(columns="support"), 0.9, 11)


@pytest.mark.parametrize(("n", "batch", "steps", "images"), [
    (179, 32, 32, 959), (64, 32, 2, 64), (179, 32, 6, 179), (179, 32, 7, 211),
    (179, 32, 5, 160), (10, 32, 3, 30), (19, 5, 1, 5),
])
def test_cycled_images(n, batch, steps, images):
    assert study.cycled_images(n, batch, steps) == images


@pytest.mark.parametrize("args", [(0, 32, 1), (10, 0, 1), (10, 32, 0), (10.0, 32, 1), (True, 32, 1)])
def test_cycled_images_bad_input(args):
    with pytest.raises(ValueError, match="positive integer"):
        study.cycled_images(*args)


def test_consistent_counts():
    assert study.consistent_counts(0.982, 959) == [942]
    assert study.consistent_counts(0.982, 179) == []  # no count of 179 prints as 0.982
    assert study.consistent_counts(0.983, 179) == [176]
    assert study.consistent_counts(0.5, 4, decimals=1) == [2]
    with pytest.raises(ValueError, match="n_images"):
        study.consistent_counts(0.5, 0)
    with pytest.raises(ValueError, match="printed_accuracy"):
        study.consistent_counts(1.2, 10)


def test_study_implied_correct_and_quirk():
    implied = study.study_implied_correct()
    assert implied["correct"].tolist() == [30, 21, 38, 42, 45]
    assert implied["support"].sum() == study.STUDY_TEST_IMAGES == 179
    quirk = study.study_evaluation_quirk()
    assert quirk.index.name == "source"
    report_row, cycled_row = quirk.iloc[0], quirk.iloc[1]
    assert (report_row["images"], report_row["correct"]) == (179, 176)
    assert report_row["printed"] == 0.983 and not report_row["matches_published"]
    assert (cycled_row["images"], cycled_row["correct"]) == (959, 942)
    assert cycled_row["accuracy"] == pytest.approx(0.98227, abs=1e-5)
    assert cycled_row["printed"] == study.STUDY_TEST_ACCURACY and cycled_row["matches_published"]
    # Five whole passes at 176 correct, plus 62 of the 64 images of the two extra batches.
    assert cycled_row["correct"] - 5 * report_row["correct"] == 62


# --- the metrics file ----------------------------------------------------------------------------


def _write(path, table, **kwargs):
    report = evaluation.classification_report_frame(table, NAMES)
    args = {"accuracy": evaluation.accuracy(table), "report": report, "backbone": "efficientnet_lite0",
            "split_sizes": {"train": 80, "val": 10, "test": 11}}
    return evaluation.write_metrics(path, **{**args, **kwargs})


def test_metrics_round_trip(table, tmp_path):
    path = _write(tmp_path / "new" / "deeper" / "metrics.json", table,
                  extra={"epochs": np.int64(3), "note": "demo"})
    assert path == tmp_path / "new" / "deeper" / "metrics.json"
    assert os.listdir(path.parent) == ["metrics.json"]  # no temporary file left
    if os.name == "posix":  # readable by others, not mkstemp's private 0600
        assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    metrics = evaluation.read_metrics(path)
    assert metrics["test_accuracy"] == round(9 / 11, 4) and metrics["n_test"] == 11
    assert metrics["backbone"] == "efficientnet_lite0" and metrics["epochs"] == 3
    assert metrics["split_sizes"] == {"train": 80, "val": 10, "test": 11}
    assert set(metrics["report"]) == set(NAMES) | {"macro avg", "weighted avg"}
    back = pd.DataFrame.from_dict(metrics["report"], orient="index").loc[NAMES + ["macro avg", "weighted avg"]]
    report = evaluation.classification_report_frame(table, NAMES)
    np.testing.assert_allclose(back[["precision", "recall", "f1-score"]], report.iloc[:, :3], atol=5e-5)
    assert back["support"].tolist() == report["support"].tolist()
    text = path.read_text()
    assert text.endswith("}\n") and json.loads(text) == metrics
    assert list(json.loads(text)) == sorted(json.loads(text))  # sorted keys


def test_metrics_write_is_atomic(table, tmp_path, monkeypatch):
    path = _write(tmp_path / "metrics.json", table)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)  # the rename helpers.files does
    with pytest.raises(OSError, match="disk full"):
        _write(path, table, backbone="inception_v3")
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_metrics_bad_input(table, tmp_path):
    path = tmp_path / "m.json"
    for kwargs, message in [
        ({"accuracy": 1.2}, "accuracy must be"), ({"backbone": ""}, "backbone"),
        ({"split_sizes": {"train": -1}}, r"split_sizes\['train'\]"),
        ({"extra": {"n_test": 3}}, "clash"),
        ({"report": evaluation.classification_report_frame(table, NAMES).drop(columns="recall")}, "lacks"),
    ]:
        with pytest.raises(ValueError, match=message):
            _write(path, table, **kwargs)
    with pytest.raises(TypeError, match="not JSON serialisable"):
        _write(path, table, extra={"x": object()})
    assert not path.exists() and os.listdir(tmp_path) == []
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a metrics file"):
        evaluation.read_metrics(tmp_path / "other.json")


# --- predict_proba with a tiny Keras model -------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from helpers.tf_quiet import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(config.SEED)
    inputs = keras.Input((16, 16, 3), name="tiny_input")
    x = keras.layers.GlobalAveragePooling2D(name="tiny_pool")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="tiny_head")(x)
    model = keras.Model(inputs, outputs, name="tiny")
    root = make_identity_tree(tmp_path_factory.mktemp("eval"), {"a": 2, "b": 2, "c": 1}, size=(20, 18))
    return model, data.load_folder(root).manifest


def test_predict_proba_runs_in_manifest_order(tiny):
    model, manifest = tiny
    scale = lambda x: x / 255.0  # noqa: E731
    proba = evaluation.predict_proba(model, manifest, 16, scale, batch_size=2)
    assert proba.shape == (5, 3) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    images = np.concatenate(list(pipeline.make_dataset(manifest, 16, 5, with_labels=False)))
    np.testing.assert_allclose(proba, np.asarray(model(images / 255.0)), rtol=1e-5, atol=1e-6)
    backwards = evaluation.predict_proba(model, manifest.iloc[::-1], 16, scale, batch_size=3)
    np.testing.assert_allclose(backwards, proba[::-1], rtol=1e-5, atol=1e-6)
    table = evaluation.predictions_table(manifest, proba, ["a", "b", "c"])
    assert len(table) == 5 and table["confidence"].between(1 / 3, 1).all()


def test_flip_averaging_is_the_mean_over_the_image_and_its_mirror(tiny):
    from helpers.tf_quiet import import_keras

    keras = import_keras()
    _, manifest = tiny
    keras.utils.set_random_seed(config.SEED)
    inputs = keras.Input((16, 16, 3))  # Flatten: not mirror-invariant, unlike global pooling
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    scale = lambda x: x / 255.0  # noqa: E731
    images = np.concatenate(list(pipeline.make_dataset(manifest, 16, 5, with_labels=False))) / 255.0
    plain = np.asarray(model(images))
    mirrored = np.asarray(model(images[:, :, ::-1, :]))
    assert not np.allclose(plain, mirrored, atol=1e-4)
    flipped = evaluation.predict_proba(model, manifest, 16, scale, batch_size=2, flip=True)
    np.testing.assert_allclose(flipped, (plain + mirrored) / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(evaluation.predict_proba(model, manifest, 16, scale), plain, rtol=1e-5, atol=1e-6)


def test_predict_proba_bad_input(tiny):
    model, manifest = tiny
    with pytest.raises(ValueError, match="manifest is empty"):
        evaluation.predict_proba(model, manifest.iloc[:0], 16, None)
    with pytest.raises(ValueError, match="'path' column"):
        evaluation.predict_proba(model, manifest.drop(columns="path"), 16, None)


def test_add_chosen_recipe_moves_the_study_recipe_aside(table, tmp_path):
    path = _write(tmp_path / "metrics.json", table, extra={"phase2_optimizer": "SGD", "model": "phase2/best.keras",
                                                            "seed": 42})
    better = table.assign(predicted=table["label"])  # every image right
    report = evaluation.classification_report_frame(better, NAMES)
    evaluation.add_chosen_recipe(path, accuracy=1.0, report=report, recipe={"views": 8}, extra={"flip": False})
    metrics = evaluation.read_metrics(path)
    assert metrics["test_accuracy"] == 1.0 and metrics["report"]["macro avg"]["recall"] == 1.0
    assert metrics["study_recipe"]["test_accuracy"] == round(9 / 11, 4)
    assert metrics["study_recipe"]["phase2_optimizer"] == "SGD" and "phase2_optimizer" not in metrics
    assert metrics["chosen_recipe"] == {"views": 8, "flip": False}
    assert metrics["seed"] == 42 and metrics["backbone"] == "efficientnet_lite0" and metrics["n_test"] == 11
    # Again (a second run of notebook 07): the study's numbers stay the study's.
    evaluation.add_chosen_recipe(path, accuracy=0.5, report=report, recipe={"views": 4})
    again = evaluation.read_metrics(path)
    assert again["study_recipe"] == metrics["study_recipe"] and again["test_accuracy"] == 0.5
    assert again["chosen_recipe"] == {"views": 4}
    assert os.listdir(tmp_path) == ["metrics.json"]
    with pytest.raises(ValueError, match="accuracy must be"):
        evaluation.add_chosen_recipe(path, accuracy=2.0, report=report, recipe={})
    with pytest.raises(ValueError, match="lacks columns"):
        evaluation.add_chosen_recipe(path, accuracy=1.0, report=report.drop(columns="recall"), recipe={})


def test_add_metrics_adds_keys_and_keeps_the_owned_ones(table, tmp_path):
    path = _write(tmp_path / "metrics.json", table)
    before = evaluation.read_metrics(path)
    evaluation.add_metrics(path, {"embedding_test_accuracy": 0.977654,
                                  "seed_spread": {"embedding": {"mean": 0.97123456, "std": 0.01, "n": 5}}})
    metrics = evaluation.read_metrics(path)
    assert metrics["embedding_test_accuracy"] == 0.9777
    assert metrics["seed_spread"] == {"embedding": {"mean": 0.9712, "std": 0.01, "n": 5}}
    assert {k: metrics[k] for k in before} == before
    evaluation.add_metrics(path, {"embedding_test_accuracy": 0.5, "seed_spread": {"x": {"std": float("nan")}}})
    again = evaluation.read_metrics(path)  # run again: replaced; NaN written as null, valid JSON
    assert again["embedding_test_accuracy"] == 0.5 and again["seed_spread"] == {"x": {"std": None}}
    assert "NaN" not in path.read_text()
    with pytest.raises(ValueError, match="belong to notebooks 06-07"):
        evaluation.add_metrics(path, {"test_accuracy": 1.0})
    with pytest.raises(ValueError, match="entries is empty"):
        evaluation.add_metrics(path, {})
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_log_loss_is_sklearns_on_the_probability_columns(table):
    from sklearn.metrics import log_loss

    proba = table[NAMES].to_numpy()
    expected = log_loss(table["label"], proba / proba.sum(axis=1, keepdims=True), labels=range(len(NAMES)))
    assert evaluation.log_loss(table) == pytest.approx(expected)
    with pytest.raises(ValueError, match="no probability columns"):
        evaluation.log_loss(table.drop(columns=NAMES))


def test_headline_table_counts_images(table):
    head = study.headline_table(0.9218, {"mine": table}, n_test=len(table))
    assert list(head.columns) == ["test accuracy", "test images right"]
    assert head["test images right"].tolist() == [176, round(0.9218 * len(table)), int(table["correct"].sum())]
    assert head.loc["mine", "test accuracy"] == round(evaluation.accuracy(table), 3)
    with pytest.raises(ValueError, match="expected 12"):
        study.headline_table(0.9, {"mine": table}, n_test=12)
    with pytest.raises(ValueError, match="accuracy must be"):
        study.headline_table(1.5, {}, n_test=len(table))
