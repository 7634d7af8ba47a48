"""The reproduction checks: histories and test predictions against the reference run's.

The prediction tests flip real predictions (one, two, several images) and check that
the verdicts and the scikit-learn metrics move as the tolerances say.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers import config, evaluation, reproduction

CLASSES = ["A", "B", "C"]


def _history(n_epochs: int = 5, shift: float = 0.0) -> pd.DataFrame:
    epochs = np.arange(1, n_epochs + 1)
    return pd.DataFrame({
        "epoch": epochs, "phase": 1, "phase_epoch": epochs,
        "loss": 1.0 / epochs + shift, "accuracy": 0.5 + 0.05 * epochs,
        "val_loss": 1.2 / epochs, "val_accuracy": 0.4 + 0.05 * epochs, "seconds": 1.0,
    })


def _table(n_per_class: int = 10, wrong: int = 1) -> pd.DataFrame:
    """A predictions table: ``wrong`` mistakes per class, each one predicted as the next class."""
    labels = np.repeat(np.arange(len(CLASSES)), n_per_class)
    predicted = labels.copy()
    for k in range(len(CLASSES)):
        predicted[k * n_per_class: k * n_per_class + wrong] = (k + 1) % len(CLASSES)
    proba = np.full((len(labels), len(CLASSES)), 0.05)
    proba[np.arange(len(labels)), predicted] = 0.9
    manifest = pd.DataFrame({"relpath": [f"img{i:03d}.jpg" for i in range(len(labels))],
                             "name": np.array(CLASSES)[labels], "label": labels})
    return evaluation.predictions_table(manifest, proba, CLASSES)


def _flip(table: pd.DataFrame, rows: list[int], to_correct: bool) -> pd.DataFrame:
    """Change the prediction of ``rows``: to the true label, or away from it."""
    out = table.copy()
    for row in rows:
        label = int(out.loc[row, "label"])
        out.loc[row, "predicted"] = label if to_correct else (label + 2) % len(CLASSES)
    out["correct"] = out["label"] == out["predicted"]
    return out


# --- histories ------------------------------------------------------------------------


def test_histories_round_trip_without_timings(tmp_path):
    path = reproduction.write_histories(tmp_path / "h.csv", {"sgd": _history(), "adam": _history(3)})
    back = reproduction.read_histories(path)
    assert list(back) == ["sgd", "adam"]
    assert "seconds" not in back["sgd"].columns and len(back["adam"]) == 3
    assert np.allclose(back["sgd"]["loss"], _history()["loss"])


def test_check_histories_passes_within_the_tolerance_and_fails_beyond_it():
    reference = {"run": _history()}
    ok = reproduction.check_histories({"run": _history(shift=0.01)}, reference, tolerance=0.02)
    assert ok["passed"].all()
    bad = reproduction.check_histories({"run": _history(shift=0.03)}, reference, tolerance=0.02)
    assert not bad.loc["history 'run'", "passed"]
    assert bad.loc["history 'run'", "policy"] == "every epoch within 0.02 of the reference"


def test_check_histories_one_epoch_out_of_tolerance_fails():
    history = _history()
    history.loc[3, "val_accuracy"] += 0.06
    check = reproduction.check_histories({"run": history}, {"run": _history()}, tolerance=0.05)
    assert not check.loc["history 'run'", "passed"]
    assert reproduction.history_differences(history, _history())["val_accuracy"] == pytest.approx(0.06)


def test_check_histories_other_epochs_or_no_reference():
    short = reproduction.check_histories({"run": _history(4)}, {"run": _history(5)})
    assert not short.loc["history 'run'", "passed"]
    none = reproduction.check_histories({"run": _history()}, None)
    assert list(none.index) == ["a reference exists for this setup"] and not none["passed"].any()
    other = reproduction.check_histories({"run": _history()}, {"another": _history()})
    assert not other["passed"].any()


def test_check_histories_bad_input():
    with pytest.raises(ValueError, match="tolerance"):
        reproduction.check_histories({"run": _history()}, None, tolerance=0)
    with pytest.raises(ValueError, match="empty"):
        reproduction.check_histories({}, None)
    with pytest.raises(ValueError, match="lacks columns"):
        reproduction.history_differences(_history().drop(columns="val_loss"), _history())
    with pytest.raises(ValueError, match="empty"):
        reproduction.write_histories("unused.csv", {})


def test_read_histories_rejects_other_files(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a histories record"):
        reproduction.read_histories(path)


# --- predictions ----------------------------------------------------------------------


def test_predictions_round_trip(tmp_path):
    table = _table()
    back = reproduction.read_predictions(reproduction.write_predictions(tmp_path / "p.csv", table))
    assert list(back.columns) == list(reproduction.PREDICTION_RECORD_COLUMNS)
    assert back["predicted"].tolist() == table["predicted"].tolist()


def test_identical_predictions_pass():
    check = reproduction.check_predictions(_table(), _table())
    assert check["passed"].all() and len(check) == 4


@pytest.mark.parametrize("rows", [[0], [0, 10]])
def test_one_or_two_images_fixed_pass_and_move_the_metrics_by_that_much(rows):
    reference = _table()
    ours = _flip(reference, rows, to_correct=True)  # row 0 (class A) and row 10 (class B) were wrong
    diff = reproduction.prediction_differences(ours, reference)
    assert diff == {"changed": len(rows), "correct": 27 + len(rows), "reference_correct": 27, "identity": 1}
    assert evaluation.accuracy(ours) - evaluation.accuracy(reference) == pytest.approx(len(rows) / 30)
    recall = evaluation.classification_report_frame(ours, CLASSES)["recall"]
    assert recall["A"] - evaluation.classification_report_frame(reference, CLASSES)["recall"]["A"] \
        == pytest.approx(1 / 10)
    check = reproduction.check_predictions(ours, reference, max_changed=2, max_correct_difference=2,
                                           max_identity_difference=1)
    assert check["passed"].all()


def test_two_images_swapped_change_predictions_but_not_the_accuracy():
    reference = _table()
    ours = _flip(_flip(reference, [0], to_correct=True), [15], to_correct=False)  # A fixed, B broken
    diff = reproduction.prediction_differences(ours, reference)
    assert diff["changed"] == 2 and diff["correct"] == diff["reference_correct"]
    assert reproduction.check_predictions(ours, reference, max_changed=1).loc["test predictions", "passed"] \
        == False  # noqa: E712 - a numpy bool
    check = reproduction.check_predictions(ours, reference, max_changed=2)
    assert check["passed"].all()


def test_changes_beyond_each_tolerance_fail_their_check():
    reference = _table(n_per_class=10, wrong=3)
    ours = _flip(reference, [0, 1, 2], to_correct=True)  # three more correct, all of class A
    check = reproduction.check_predictions(ours, reference, max_changed=4, max_correct_difference=2,
                                           max_identity_difference=2)
    assert check.loc["test predictions", "passed"]
    assert not check.loc["correct test images", "passed"]
    assert not check.loc["correct images per identity", "passed"]
    assert check.loc["test predictions", "policy"] == "at most 4 of 30 differ from the reference's"


def test_predictions_without_a_comparable_reference():
    check = reproduction.check_predictions(_table(), None)
    assert list(check.index) == ["a reference exists for this setup"] and not check["passed"].any()
    other = _table().assign(relpath=lambda t: "other_" + t["relpath"])
    assert not reproduction.check_predictions(_table(), other)["passed"].any()


def test_predictions_bad_input():
    with pytest.raises(ValueError, match="max_changed"):
        reproduction.check_predictions(_table(), _table(), max_changed=-1)
    with pytest.raises(ValueError, match="lacks columns"):
        reproduction.check_predictions(_table().drop(columns="predicted"), None)
    duplicated = pd.concat([_table(), _table().head(1)], ignore_index=True)
    with pytest.raises(ValueError, match="duplicate relpath"):
        reproduction.check_predictions(duplicated, None)
    relabelled = _table().assign(label=lambda t: (t["label"] + 1) % 3)
    with pytest.raises(ValueError, match="true labels"):
        reproduction.prediction_differences(relabelled, _table())


# --- recording a run and checking it in one call (what the notebooks do) ----------------


def _reference_folder(folder, backbone="lite", classes=CLASSES):
    folder.mkdir(parents=True, exist_ok=True)
    report = {name: {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 10} for name in classes}
    report["macro avg"] = report[classes[0]]
    (folder / "metrics.json").write_text(json.dumps({"backbone": backbone, "report": report}))
    return folder


def test_record_and_check_predictions(tmp_path):
    reference = _reference_folder(tmp_path / "reference")
    reproduction.write_predictions(reference / config.RECORD_TEST_PREDICTIONS, _table())
    ours = _flip(_table(), [0], to_correct=True)
    check = reproduction.record_and_check_predictions(ours, "lite", CLASSES, tmp_path / "run", reference)
    assert check["passed"].all() and len(check) == 4
    assert (tmp_path / "run" / config.RECORD_TEST_PREDICTIONS).is_file()
    other_backbone = reproduction.record_and_check_predictions(ours, "inception", CLASSES, tmp_path / "run",
                                                               reference)
    assert list(other_backbone.index) == ["a reference exists for this setup"]
    assert not other_backbone["passed"].any()


def test_record_and_check_histories(tmp_path):
    reference = _reference_folder(tmp_path / "reference")
    reproduction.write_histories(reference / "h.csv", {"run": _history()})
    check = reproduction.record_and_check_histories("h.csv", {"run": _history(shift=0.01)}, "lite", CLASSES,
                                                    tmp_path / "run", reference)
    assert check["passed"].all()
    other_people = reproduction.record_and_check_histories("h.csv", {"run": _history()}, "lite", ["X", "Y"],
                                                           tmp_path / "run", reference)
    assert not other_people["passed"].any()
    missing = reproduction.record_and_check_histories("h.csv", {"run": _history()}, "lite", CLASSES,
                                                      tmp_path / "run", tmp_path / "nowhere")
    assert not missing["passed"].any()
