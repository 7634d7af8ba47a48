"""helpers.predict: a run folder's model on new photos, its errors, and its command line.

The unit tests build fake run folders with a tiny classifier that takes EfficientNet-Lite0's
224-pixel input (so the real backbone spec and preprocessing are used) and mostly a patched face
detector; one test runs the real MTCNN on a small photo, and one predicts real test photos with
a run folder made by the notebooks when there is one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import config, evaluation, faces, predict
from helpers.backbones import BACKBONES

#: Identities of the fake runs, by label; not in alphabetical order, to check the label order.
NAMES = ["Zoe_Zed", "Amy_Ash", "Max_Moe", "Bob_Bay"]
SPEC = BACKBONES["efficientnet_lite0"]
#: Sizes (width, height) of the generated photos that the patched detector answers for.
ONE_FACE_SIZE, NO_FACE_SIZE, TWO_FACES_SIZE = (100, 80), (90, 90), (120, 100)
BOX = (30.0, 20.0, 40.0, 44.0)


def write_photo(path: Path, size: tuple[int, int] = ONE_FACE_SIZE, seed: int = 0, fmt: str | None = None) -> Path:
    """A photo of coloured blocks (so the tiny model's pooled features differ between images)."""
    rng = np.random.default_rng(seed)
    blocks = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks.resize(size, Image.Resampling.NEAREST).save(
        path, format=fmt or ("PNG" if path.suffix.lower() == ".png" else "JPEG"))
    return path


def _tiny_model(seed: int):
    from helpers.tf_quiet import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SPEC.input_size, SPEC.input_size, 3))
    x = keras.layers.AveragePooling2D(pool_size=56)(inputs)  # 4 x 4 x 3: position-sensitive
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(len(NAMES), activation="softmax",
                                 kernel_initializer=keras.initializers.RandomNormal(stddev=2.0))(x)
    return keras.Model(inputs, outputs)


def _metrics(chosen: bool) -> dict:
    metrics = {"test_accuracy": 0.5, "n_test": 4, "report": {}, "backbone": SPEC.name}
    if chosen:
        metrics["study_recipe"] = {"model": predict.STUDY_MODEL, "test_accuracy": 0.4}
        metrics["chosen_recipe"] = {"crop": "face", "margin": 1.3, "backbone": SPEC.name, "flip": False,
                                    "label": "face 1.3 | tiny", "model": predict.CHOSEN_MODEL}
    else:
        metrics["model"] = predict.STUDY_MODEL
    return metrics


@pytest.fixture(scope="module")
def template_run(tmp_path_factory) -> Path:
    """A run folder: split.csv (rows shuffled), both models, metrics.json with the chosen recipe."""
    run = tmp_path_factory.mktemp("run")
    rows = [{"relpath": f"train/{k}/{i}.jpg", "identity": f"id{k}", "name": name, "label": k,
             "sha256": f"{k}{i}", "split": "train"} for k, name in enumerate(NAMES) for i in range(2)]
    pd.DataFrame(rows).sample(frac=1.0, random_state=0).to_csv(run / predict.SPLIT_FILE, index=False)
    for relpath, seed in ((predict.STUDY_MODEL, 1), (predict.CHOSEN_MODEL, 2)):
        (run / relpath).parent.mkdir(parents=True, exist_ok=True)
        _tiny_model(seed).save(run / relpath)
    (run / "figures").mkdir()
    (run / "figures" / config.METRICS_FILE).write_text(json.dumps(_metrics(chosen=True)))
    return run


@pytest.fixture
def run(template_run: Path, isolated_env: Path) -> Path:
    """A writable copy of the template run; caches in a temporary folder."""
    return Path(shutil.copytree(template_run, isolated_env / "run"))


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    return [write_photo(tmp_path / "photos" / f"p{k}.jpg", seed=10 + k) for k in range(3)]


@pytest.fixture
def fake_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    """MTCNN replaced by an answer per image size: one face, none, or two (the larger the subject)."""
    def detect(rgb: np.ndarray) -> list[faces.Face]:
        size = (rgb.shape[1], rgb.shape[0])
        face = faces.Face(BOX, 0.99, ((40, 35), (60, 35), (50, 45), (42, 55), (58, 55)))
        small = faces.Face((80.0, 5.0, 20.0, 22.0), 0.95, ((85, 12), (95, 12), (90, 16), (86, 20), (94, 20)))
        return {ONE_FACE_SIZE: [face], TWO_FACES_SIZE: [small, face]}.get(size, [])

    monkeypatch.setattr(faces, "_run_detector", detect)


def _load_keras_model(path: Path):
    from helpers.tf_quiet import import_keras

    return import_keras().models.load_model(path)


def _direct_proba(model_path: Path, paths: list[Path]) -> np.ndarray:
    """The project's own prediction of files, for comparison."""
    manifest = pd.DataFrame({"path": [str(p) for p in paths]})
    return evaluation.predict_proba(_load_keras_model(model_path), manifest, SPEC.input_size, SPEC.preprocess)


# --- Predictions ----------------------------------------------------------------------------


def test_class_names_come_from_split_in_label_order(run):
    assert predict.class_names(run) == NAMES


def test_top3_is_ordered_and_matches_predict_proba(run, photos):
    table = predict.predict_images(run, photos, model="study")
    assert list(table.columns) == [*predict.COLUMNS, "top1", "p1", "top2", "p2", "top3", "p3", "answer"]
    assert table["answer"].tolist() == table["top1"].tolist()  # no rejection threshold in this run
    assert table["file"].tolist() == [str(p) for p in photos]
    assert (table["status"] == "ok").all() and (table["message"] == "").all()
    p = table[["p1", "p2", "p3"]].to_numpy(dtype=float)
    assert (np.diff(p, axis=1) <= 0).all() and (p.sum(axis=1) <= 1 + 1e-6).all() and (p > 0).all()
    proba = _direct_proba(run / predict.STUDY_MODEL, photos)
    order = np.argsort(-proba, axis=1, kind="stable")[:, :3]
    np.testing.assert_allclose(p, np.take_along_axis(proba, order, axis=1), rtol=1e-5)
    assert table[["top1", "top2", "top3"]].to_numpy().tolist() == np.array(NAMES, dtype=object)[order].tolist()
    assert table[["n_faces", "box_x", "box_y", "box_w", "box_h"]].isna().all().all()  # whole photos
    assert table.attrs["model"] == "study" and table.attrs["class_names"] == NAMES


def test_top_can_be_every_class_and_then_sums_to_one(run, photos):
    table = predict.predict_images(run, photos[:1], model="study", top=len(NAMES))
    p = table[[f"p{k}" for k in range(1, len(NAMES) + 1)]].to_numpy(dtype=float)
    assert p.sum() == pytest.approx(1.0, abs=1e-5)
    assert sorted(table.loc[0, [f"top{k}" for k in range(1, len(NAMES) + 1)]]) == sorted(NAMES)


@pytest.mark.parametrize("top", [0, -1, len(NAMES) + 1, True, 2.0, "3"])
def test_top_out_of_range_is_an_error(run, photos, top):
    with pytest.raises(ValueError, match="top must be a whole number from 1"):
        predict.predict_images(run, photos[:1], model="study", top=top)


def test_a_folder_is_its_visible_files_sorted_by_name(run, tmp_path):
    folder = tmp_path / "album"
    for name, seed in (("b.jpg", 1), ("a.png", 2), ("c.jpeg", 3), (".hidden.jpg", 4), ("sub/d.jpg", 5)):
        write_photo(folder / name, seed=seed)
    expected = [str(folder / n) for n in ("a.png", "b.jpg", "c.jpeg")]
    assert predict.expand_inputs(folder) == [(f, "") for f in expected]
    single = write_photo(tmp_path / "single.jpg", seed=6)
    table = predict.predict_images(run, [single, folder], model="study")
    assert table["file"].tolist() == [str(single), *expected]
    assert (table["status"] == "ok").all()


def _missing(tmp: Path) -> Path:
    return tmp / "absent.jpg"


def _text_as_jpg(tmp: Path) -> Path:
    path = tmp / "notes.jpg"
    path.write_text("this is text, not a JPEG")
    return path


def _zero_bytes(tmp: Path) -> Path:
    path = tmp / "zero.jpg"
    path.write_bytes(b"")
    return path


def _empty_folder(tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _truncated(tmp: Path) -> Path:
    full = write_photo(tmp / "full.jpg", size=(200, 200), seed=3).read_bytes()
    (tmp / "truncated.jpg").write_bytes(full[: len(full) // 2])
    return tmp / "truncated.jpg"


def _gif(tmp: Path) -> Path:
    return write_photo(tmp / "anim.png", fmt="GIF", seed=4)


def _text_file(tmp: Path) -> Path:
    path = tmp / "readme.txt"
    path.write_text("hello")
    return path


BAD_INPUTS = [
    (_missing, "no such file or folder"),
    (_text_as_jpg, "not an image (content not recognised)"),
    (_zero_bytes, "empty file (0 bytes)"),
    (_empty_folder, "folder has no image files"),
    (_truncated, "corrupt or truncated image"),
    (_gif, "format GIF is not JPEG or PNG"),
    (_text_file, "extension '.txt' is not one of"),
]


@pytest.mark.parametrize("model", ["study", "chosen"])
@pytest.mark.parametrize(("make", "message"), BAD_INPUTS, ids=[m.__name__.strip("_") for m, _ in BAD_INPUTS])
def test_a_bad_input_gets_its_error_and_the_good_files_are_predicted(run, photos, tmp_path, fake_detector,
                                                                     make, message, model):
    bad = make(tmp_path)
    table = predict.predict_images(run, [photos[0], bad, photos[1]], model=model)
    assert table["file"].tolist() == [str(photos[0]), str(bad), str(photos[1])]
    assert table["status"].tolist() == ["ok", "error", "ok"]
    error = table.loc[1, "message"]
    assert message in error and "\n" not in error
    assert table.loc[1, ["top1", "top2", "top3"]].isna().all() and table.loc[1, ["p1", "p2", "p3"]].isna().all()
    assert table.loc[[0, 2], ["p1", "p2", "p3"]].notna().all().all()
    alone = predict.predict_images(run, [photos[0], photos[1]], model=model)  # the bad file changes nothing
    np.testing.assert_allclose(table.loc[[0, 2], "p1"].to_numpy(float), alone["p1"].to_numpy(float), rtol=1e-5)


def test_the_same_file_twice_gives_two_rows(run, photos, fake_detector):
    table = predict.predict_images(run, [photos[0], photos[0]])
    assert len(table) == 2 and table.loc[0, "p1"] == pytest.approx(table.loc[1, "p1"])


# --- The chosen recipe: face crops -------------------------------------------------------------


def test_default_is_the_chosen_recipe_on_the_subjects_face(run, tmp_path, fake_detector):
    one = write_photo(tmp_path / "one.jpg", ONE_FACE_SIZE, seed=1)
    none = write_photo(tmp_path / "none.jpg", NO_FACE_SIZE, seed=2)
    two = write_photo(tmp_path / "two.jpg", TWO_FACES_SIZE, seed=3)
    table = predict.predict_images(run, [one, none, two])
    assert table.attrs["model"] == "chosen" and table.attrs["note"] == ""
    assert table["status"].tolist() == ["ok", "no face", "ok"]
    assert table["n_faces"].tolist() == [1, 0, 2]
    assert tuple(table.loc[0, ["box_x", "box_y", "box_w", "box_h"]]) == pytest.approx(BOX)
    assert tuple(table.loc[2, ["box_x", "box_y", "box_w", "box_h"]]) == pytest.approx(BOX)  # the larger face
    assert table.loc[1, ["box_x", "box_y", "box_w", "box_h"]].isna().all()
    assert table.loc[0, "message"] == "" and "whole photo kept" in table.loc[1, "message"]
    assert table.loc[2, "message"].startswith("2 faces: kept face 2")
    # What the model saw: the face square with the recipe's margin (PNG, as in training), or the photo.
    seen = []
    for path, box in ((one, BOX), (none, None), (two, BOX)):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        seen.append(tmp_path / f"seen_{path.stem}.png")
        Image.fromarray(rgb if box is None else faces.face_crop(rgb, box, 1.3)).save(seen[-1])
    expected = _direct_proba(run / predict.CHOSEN_MODEL, seen)
    np.testing.assert_allclose(table["p1"].to_numpy(float), expected.max(axis=1), rtol=1e-5)
    whole = predict.predict_images(run, [one], model="study")
    assert whole.loc[0, "p1"] != pytest.approx(table.loc[0, "p1"])  # another model, another input


def test_manifest_proba_is_what_predict_files_ranks(run, tmp_path, fake_detector):
    files = [write_photo(tmp_path / "one.jpg", ONE_FACE_SIZE, seed=1),
             write_photo(tmp_path / "none.jpg", NO_FACE_SIZE, seed=2)]
    manifest = pd.DataFrame({"path": [str(f) for f in files], "relpath": ["one.jpg", "none.jpg"],
                             "sha256": [files_sha(f) for f in files]})
    for name in predict.MODEL_CHOICES:
        predictor = predict.load_predictor(run, name)
        proba = predict.manifest_proba(predictor, manifest)
        assert proba.shape == (2, len(NAMES))
        ranked = predict.predict_files(predictor, files, top=len(NAMES))
        np.testing.assert_allclose(ranked["p1"].to_numpy(float), proba.max(axis=1), rtol=1e-5)
        assert ranked["top1"].tolist() == [NAMES[k] for k in proba.argmax(axis=1)]


def files_sha(path: Path) -> str:
    from helpers import files as hf

    return hf.sha256_file(path)


def test_the_rejection_threshold_of_notebook_08_answers_none_of_these(run, photos, fake_detector, capsys):
    metrics_path = run / "figures" / config.METRICS_FILE
    metrics = json.loads(metrics_path.read_text())
    probabilities = predict.predict_images(run, photos, model="chosen")["p1"].to_numpy(float)
    cut = float(np.sort(probabilities)[0])  # at the lowest top probability: that photo is rejected
    metrics["rejection_thresholds"] = {"chosen": cut}
    metrics_path.write_text(json.dumps(metrics))
    table = predict.predict_images(run, photos, model="chosen")
    assert table.attrs["rejection_threshold"] == cut
    rejected = table["p1"].to_numpy(float) <= cut
    assert rejected.sum() >= 1 and not rejected.all()
    assert (table.loc[rejected, "answer"] == predict.NONE_OF_THESE).all()
    assert (table.loc[~rejected, "answer"] == table.loc[~rejected, "top1"]).all()
    assert predict.format_row(table[rejected].iloc[0]).split(": ", 1)[1].startswith("none of these (top: ")
    study = predict.predict_images(run, photos, model="study")  # no threshold stored for the study recipe
    assert study.attrs["rejection_threshold"] is None and (study["answer"] == study["top1"]).all()
    metrics["rejection_thresholds"] = {"chosen": 1.5}
    metrics_path.write_text(json.dumps(metrics))
    with pytest.raises(predict.RunFolderError, match=r"rejection_thresholds\['chosen'\] must be a number"):
        predict.load_predictor(run, "chosen")


def test_the_default_falls_back_to_the_study_recipe_and_says_why(run, photos):
    (run / "figures" / config.METRICS_FILE).write_text(json.dumps(_metrics(chosen=False)))
    table = predict.predict_images(run, photos[:1])
    assert table.attrs["model"] == "study" and "07_closing_the_gap" in table.attrs["note"]
    shutil.rmtree(run / "figures")  # no metrics at all: the study model still works
    assert predict.load_predictor(run).name == "study"


def test_the_default_falls_back_when_the_chosen_model_is_missing(run):
    (run / predict.CHOSEN_MODEL).unlink()
    predictor = predict.load_predictor(run)
    assert predictor.name == "study" and predict.CHOSEN_MODEL in predictor.note


def test_real_mtcnn_finds_the_astronauts_face_and_none_in_noise(run, tmp_path):
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (a dev dependency) gives a real face")
    pytest.importorskip("mtcnn", reason="face detection needs MTCNN: pip install mtcnn==1.0.0")
    face = tmp_path / "astronaut.jpg"
    Image.fromarray(skimage_data.astronaut()).resize((128, 128)).save(face)
    noise = tmp_path / "noise.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(noise)
    table = predict.predict_images(run, [face, noise])
    assert table["status"].tolist() == ["ok", "no face"] and table["n_faces"].tolist() == [1, 0]
    x, y, w, h = table.loc[0, ["box_x", "box_y", "box_w", "box_h"]]
    assert 0 <= x < 128 and 0 <= y < 128 and 10 < w < 64 and 10 < h < 64
    assert table[["p1", "p2", "p3"]].notna().all().all()


# --- The run folder ---------------------------------------------------------------------------


def _drop(relpath: str):
    def change(run: Path) -> None:
        target = run / relpath
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    return change


def _damage(relpath: str):
    def change(run: Path) -> None:
        (run / relpath).write_bytes(b"not a keras file")
    return change


def _no_chosen_recipe(run: Path) -> None:
    (run / "figures" / config.METRICS_FILE).write_text(json.dumps(_metrics(chosen=False)))


def _other_split(run: Path) -> None:
    split = pd.read_csv(run / predict.SPLIT_FILE)
    split[split["label"] < 2].to_csv(run / predict.SPLIT_FILE, index=False)


RUN_PROBLEMS = [
    ("no split", _drop(predict.SPLIT_FILE), None, ["split.csv", "02_splitting"]),
    ("no study model", _drop(predict.STUDY_MODEL), "study", ["phase2/best.keras", "05_phase2_finetune"]),
    ("no chosen recipe", _no_chosen_recipe, "chosen", ["chosen_recipe", "07_closing_the_gap"]),
    ("no chosen model", _drop(predict.CHOSEN_MODEL), "chosen", ["07_chosen/phase2/best.keras", "07_closing_the_gap"]),
    ("no model at all", lambda r: (_drop(predict.CHOSEN_MODEL)(r), _drop(predict.STUDY_MODEL)(r)), None,
     ["phase2/best.keras", "05_phase2_finetune"]),
    ("damaged model", _damage(predict.STUDY_MODEL), "study", ["could not load", "05_phase2_finetune"]),
    ("split of another run", _other_split, "study", ["predicts 4 classes", "has 2 identities"]),
    ("no run folder", lambda r: shutil.rmtree(r), None, ["does not exist", "helpers.runner"]),
]


@pytest.mark.parametrize(("change", "model", "words"), [p[1:] for p in RUN_PROBLEMS], ids=[p[0] for p in RUN_PROBLEMS])
def test_run_folder_problems_name_the_file_and_the_notebook(run, photos, change, model, words):
    change(run)
    with pytest.raises(predict.RunFolderError) as caught:
        predict.predict_images(run, photos[:1], model=model)
    message = str(caught.value)
    assert all(word in message for word in words), message
    assert "\n" not in message


def test_a_wrong_model_choice_is_an_error(run, photos):
    with pytest.raises(ValueError, match="model must be 'chosen', 'study' or None"):
        predict.predict_images(run, photos[:1], model="best")


def test_metrics_of_the_reference_run_are_the_committed_ones():
    reference = config.PROJECT_ROOT / "runs" / "reference"
    assert predict.metrics_candidates(reference) == [reference / "figures" / config.METRICS_FILE,
                                                     config.PROJECT_ROOT / "figures" / config.METRICS_FILE]
    assert predict.metrics_candidates(Path("/tmp/elsewhere")) == [Path("/tmp/elsewhere/figures/metrics.json")]


# --- Command line -----------------------------------------------------------------------------


def _cli(capsys, *argv) -> tuple[int, list[str], str]:
    code = predict.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_cli_prints_one_line_per_file_and_exits_0_when_one_is_predicted(run, photos, tmp_path, capsys, fake_detector):
    bad = _text_as_jpg(tmp_path)
    code, lines, err = _cli(capsys, run, photos[0], bad, tmp_path / "absent.jpg", "--model", "study")
    assert code == 0 and len(lines) == 3
    assert lines[0].startswith(f"{photos[0]}: ") and lines[0].count(", ") == 2
    first = lines[0].split(": ", 1)[1].split(", ")
    assert [part.rsplit(" ", 1)[0] for part in first][0] in NAMES
    assert lines[1] == f"{bad}: error: not an image (content not recognised): give a JPEG or PNG photo"
    assert lines[2] == f"{tmp_path / 'absent.jpg'}: error: no such file or folder"
    assert "Traceback" not in err and err.startswith("model: study recipe")


def test_cli_marks_photos_without_a_face(run, tmp_path, capsys, fake_detector):
    none = write_photo(tmp_path / "none.jpg", NO_FACE_SIZE)
    code, lines, _ = _cli(capsys, run, none, "--top", "2")
    assert code == 0 and lines[0].endswith("[no face found: whole photo used]") and lines[0].count(", ") == 1


def test_cli_exits_1_when_every_file_fails(run, tmp_path, capsys):
    code, lines, err = _cli(capsys, run, _zero_bytes(tmp_path), _empty_folder(tmp_path), "--model", "study")
    assert code == 1 and len(lines) == 2 and all(": error: " in line for line in lines)
    assert "Traceback" not in err


@pytest.mark.parametrize(("change", "words"), [
    (_drop(predict.SPLIT_FILE), ["split.csv", "02_splitting"]),
    (lambda r: shutil.rmtree(r), ["does not exist"]),
])
def test_cli_run_folder_problem_is_one_line_and_exit_1(run, photos, capsys, change, words):
    change(run)
    code, lines, err = _cli(capsys, run, photos[0])
    assert code == 1 and lines == []
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and all(w in err for w in words)


@pytest.mark.parametrize("argv", [[], ["RUN"], ["RUN", "x.jpg", "--top", "0"], ["RUN", "x.jpg", "--top", "two"],
                                  ["RUN", "x.jpg", "--model", "best"], ["RUN", "x.jpg", "--top", "5"]])
def test_cli_bad_arguments_exit_2(run, capsys, argv):
    with pytest.raises(SystemExit) as caught:
        predict.main([str(run) if a == "RUN" else a for a in argv])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err


# --- A real run folder ----------------------------------------------------------------------------


def _real_run() -> Path:
    value = os.environ.get(config.ENV_RUN_DIR, "").strip()
    return Path(value) if value else config.PROJECT_ROOT / "runs" / "reference"


def _real_data() -> Path:
    from conftest import real_vggface2

    return config.data_dir() or real_vggface2()


@pytest.mark.realdata
@pytest.mark.after_notebooks
def test_real_run_predicts_three_test_photos(tmp_path, monkeypatch):
    run, root = _real_run(), _real_data()
    if not ((run / predict.SPLIT_FILE).is_file() and (run / predict.STUDY_MODEL).is_file()):
        pytest.skip(f"needs a run folder where the notebooks trained a model ({run} has no split.csv and "
                    f"phase2/best.keras): set {config.ENV_RUN_DIR} or run python -m helpers.runner")
    split = pd.read_csv(run / predict.SPLIT_FILE)
    test = split[split["split"] == "test"].drop_duplicates("label").head(3)
    paths = [root / relpath for relpath in test["relpath"]]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"the run's test photos are not under {root}: set {config.ENV_DATA_DIR} to the data it used")
    monkeypatch.setenv(config.ENV_CACHE_DIR, str(tmp_path / "cache"))  # no writes into the user's caches
    table = predict.predict_images(run, paths)
    assert (table["status"] != "error").all(), table["message"].tolist()
    p = table[["p1", "p2", "p3"]].to_numpy(dtype=float)
    assert (np.diff(p, axis=1) <= 0).all() and (p.sum(axis=1) <= 1 + 1e-6).all()
    for (_, row), name in zip(table.iterrows(), test["name"]):
        assert name in {row["top1"], row["top2"], row["top3"]}
    # The same confidences as the run's own record of its test predictions, when there is one.
    record_name = config.RECORD_CHOSEN_PREDICTIONS if table.attrs["model"] == "chosen" else config.RECORD_TEST_PREDICTIONS
    record = run / "figures" / record_name  # the run's own record (notebooks 06 and 07)
    if record.is_file():
        recorded = pd.read_csv(record).set_index("relpath").loc[test["relpath"]]
        names = dict(enumerate(predict.class_names(run)))
        assert recorded["predicted"].map(names).tolist() == table["top1"].tolist()
        np.testing.assert_allclose(p[:, 0], recorded["confidence"].to_numpy(float), atol=2e-3)
