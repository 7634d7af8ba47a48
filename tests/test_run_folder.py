"""helpers.run_folder: the layout, opening a run without reading images, the phase-1 selection."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers import config, data, run_folder, splitting
from tests.conftest import make_identity_tree


@pytest.fixture
def run(tmp_path):
    """A data root with six tiny files and a run folder whose split.csv names them."""
    root = tmp_path / "data"
    rows = []
    for label, name in enumerate(["Bea", "Al"]):  # label order is not name order
        for k, part in enumerate(["train", "train", "val"]):
            rel = f"{name}/{k}.jpg"
            (root / name).mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(b"not decoded")
            rows.append({"relpath": rel, "identity": name, "name": name, "label": label,
                         "sha256": f"{label}{k}" * 8, "split": part})
    folder = tmp_path / "run"
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / run_folder.SPLIT, index=False)
    return folder, root


def _history(val_losses):
    n = len(val_losses)
    return pd.DataFrame({"epoch": range(1, n + 1), "phase_epoch": range(1, n + 1), "val_loss": val_losses})


def test_open_run_reads_split_class_names_and_backbone(run):
    folder, root = run
    opened = run_folder.open_run(folder, root=root, backbone="efficientnet_lite0")
    assert opened.class_names == ["Bea", "Al"]
    assert opened.spec.name == "efficientnet_lite0"
    assert opened.split["path"].tolist()[0] == str(root / "Bea/0.jpg")
    assert opened.rows("val")["relpath"].tolist() == ["Bea/2.jpg", "Al/2.jpg"]
    assert opened.path(run_folder.PHASE2) == folder / "phase2"


def test_open_run_never_decodes_images(run, monkeypatch):
    folder, root = run

    def refuse(*args, **kwargs):
        raise AssertionError("open_run decoded an image")

    monkeypatch.setattr(data, "inspect_image", refuse)
    monkeypatch.setattr(data, "read_rgb", refuse)
    run_folder.open_run(folder, root=root)  # the files hold no image at all


def test_open_run_default_root_is_celeb_data_dir(run, monkeypatch):
    folder, root = run
    monkeypatch.setenv(config.ENV_DATA_DIR, str(root))
    assert run_folder.open_run(folder).data_root == root


@pytest.mark.parametrize(("problem", "expected"), [
    ("no split", ["split.csv", "02_splitting"]),
    ("image missing", ["not under"]),
    ("two names for a label", ["several names", "02_splitting"]),
])
def test_open_run_bad_folders(run, problem, expected):
    folder, root = run
    split = pd.read_csv(folder / run_folder.SPLIT)
    if problem == "no split":
        (folder / run_folder.SPLIT).unlink()
    elif problem == "image missing":
        (root / "Al/0.jpg").unlink()
    else:
        split.loc[0, "name"] = "Other"
        split.to_csv(folder / run_folder.SPLIT, index=False)
    with pytest.raises((run_folder.RunFolderError, FileNotFoundError)) as err:
        run_folder.open_run(folder, root=root)
    for text in expected:
        assert text in str(err.value)


def test_open_run_check_files_off_tolerates_missing_images(run):
    folder, root = run
    (root / "Al/0.jpg").unlink()
    assert len(run_folder.open_run(folder, root=root, check_files=False).split) == 6


def test_data_root_without_any_data_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv(config.ENV_DATA_DIR, raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "empty"))
    with pytest.raises(data.DataNotFoundError, match="CELEB_DATA_DIR"):
        run_folder.data_root()
    monkeypatch.setenv(config.ENV_DATA_DIR, str(tmp_path / "absent"))
    with pytest.raises(data.DataNotFoundError, match="not a folder"):
        run_folder.data_root()


def test_data_root_finds_lfw(tmp_path, monkeypatch):
    monkeypatch.delenv(config.ENV_DATA_DIR, raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))
    (tmp_path / "lfw_home" / "lfw_funneled").mkdir(parents=True)
    assert run_folder.data_root() == tmp_path / "lfw_home" / "lfw_funneled"


def test_select_phase1_takes_the_lowest_validation_loss_and_its_epoch():
    histories = {"study": _history([0.9, 0.8, 0.7]), "adam": _history([0.6, 0.4, 0.5])}
    selection = run_folder.select_phase1(histories, {"study": "SGD", "adam": "Adam(lr=0.001)"})
    assert selection == {"phase1_folder": "phase1_adam", "optimizer": "Adam(lr=0.001)", "best_epoch": 2}


def test_select_phase1_bad_input():
    with pytest.raises(ValueError, match="optimizers lacks"):
        run_folder.select_phase1({"adam": _history([0.5])}, {"study": "SGD"})
    with pytest.raises(ValueError, match="phase_epoch"):
        run_folder.select_phase1({"adam": pd.DataFrame({"val_loss": [0.5]})}, {"adam": "Adam"})
    with pytest.raises(ValueError, match="empty"):
        run_folder.select_phase1({}, {})


def test_selection_round_trip_is_atomic_and_checked(tmp_path):
    selection = {"phase1_folder": "phase1_adam", "optimizer": "Adam", "best_epoch": 6}
    path = run_folder.write_phase1_selection(tmp_path, selection)
    assert path.name == run_folder.PHASE1_SELECTION and not list(tmp_path.glob("*.tmp"))
    assert run_folder.read_phase1_selection(tmp_path) == selection
    # The file notebook 04 wrote before this module (pandas' to_json) still reads.
    pd.Series(selection).to_json(path)
    assert run_folder.read_phase1_selection(tmp_path) == selection


@pytest.mark.parametrize(("content", "expected"), [
    (None, "04_phase1_head"),
    ("{not json", "not readable JSON"),
    ("[1, 2]", "no JSON object"),
    (json.dumps({"phase1_folder": "phase1_adam"}), "lacks"),
    (json.dumps({"phase1_folder": "p", "optimizer": "o", "best_epoch": 0}), "positive integer"),
])
def test_read_phase1_selection_bad_files(tmp_path, content, expected):
    if content is not None:
        (tmp_path / run_folder.PHASE1_SELECTION).write_text(content)
    with pytest.raises(run_folder.RunFolderError, match=expected):
        run_folder.read_phase1_selection(tmp_path)


def test_write_phase1_selection_refuses_bad_selections(tmp_path):
    with pytest.raises(run_folder.RunFolderError, match="best_epoch"):
        run_folder.write_phase1_selection(tmp_path, {"phase1_folder": "p", "optimizer": "o", "best_epoch": True})
    assert not (tmp_path / run_folder.PHASE1_SELECTION).exists()


def test_run_paths_name_the_notebook_that_makes_them(run, tmp_path):
    folder, root = run
    opened = run_folder.open_run(folder, root=root)
    with pytest.raises(run_folder.RunFolderError, match="05_phase2_finetune"):
        opened.model_path()
    with pytest.raises(run_folder.RunFolderError, match="04_phase1_head"):
        opened.phase1_checkpoint()
    run_folder.write_phase1_selection(folder, {"phase1_folder": "phase1_adam", "optimizer": "o", "best_epoch": 3})
    with pytest.raises(run_folder.RunFolderError, match="checkpoint"):
        opened.phase1_checkpoint()
    (folder / "phase1_adam").mkdir()
    (folder / "phase1_adam" / run_folder.BEST_MODEL).write_bytes(b"x")
    assert opened.phase1_checkpoint() == folder / "phase1_adam" / "best.keras"


@pytest.mark.parametrize("label", ["", "a/b", ".hidden", 3])
def test_phase1_folder_refuses_bad_labels(label):
    with pytest.raises(ValueError, match="label"):
        run_folder.phase1_folder(label)


def test_split_written_by_splitting_opens(tmp_path):
    """The split notebook 02 writes (splitting.save_split) is what open_run reads."""
    root = make_identity_tree(tmp_path / "faces", {"ann": 10, "bob": 12})
    manifest = data.load_folder(root).manifest
    split = splitting.split_dataset(manifest, seed=0)
    folder = tmp_path / "run"
    splitting.save_split(split, folder / run_folder.SPLIT)
    opened = run_folder.open_run(folder, root=root)
    assert len(opened.split) == len(manifest)
    assert opened.class_names == run_folder.class_names_of(split)
