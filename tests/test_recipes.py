"""helpers.recipes: the recipes' descriptions, and train_recipe's two phases on a tiny model."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from training_support import IMAGE_SIZE, scale, tiny_classifier, tiny_data, weights_of

from helpers import config, recipes, training


def test_study_recipe_is_notebooks_04_to_06():
    r = recipes.STUDY_RECIPE
    assert (r.crop, r.backbone, r.views, r.n_unfreeze, r.patience, r.label_smoothing, r.flip) == \
        ("photo", config.DEFAULT_BACKBONE, 0, config.UNFREEZE_LAST, None, 0.0, False)
    assert r.phase2_optimizer == training.STUDY_OPTIMIZER
    assert r.phase1_optimizer == training.OptimizerSpec("adam", 1e-3)
    assert r.label() == ("photo | efficientnet_lite0 | no views | "
                         "SGD(lr=0.0001, momentum=0.9), 63 layers, 50 epochs")


def test_labels_describe_and_folders():
    r = recipes.Recipe(crop="face", margin=1.5, views=8, phase2_optimizer=training.OptimizerSpec("adam", 1e-5),
                       label_smoothing=0.1, patience=10, flip=True)
    assert r.label() == ("face 1.5 | efficientnet_lite0 | 8 views | Adam(lr=1e-05), 63 layers, 50 epochs, "
                         "smoothing 0.1, patience 10 | flip")
    assert recipes.folder_name(r) == "face1.5_efficientnet_lite0_views8"
    assert r.crop_policy().kind == "face" and r.crop_policy().margin == 1.5
    d = r.describe()
    assert d["crop"] == "face" and d["margin"] == 1.5 and d["phase2_optimizer"] == "Adam(lr=1e-05)"
    assert d["phase1_epochs"] == d["phase2_epochs"] == 50
    assert recipes.phase1_only(r) == recipes.Recipe(crop="face", margin=1.5, views=8, phase2=False)
    head = recipes.Recipe(phase2=False)
    assert head.label().endswith("| head only") and head.describe()["n_unfreeze"] is None
    assert recipes.Recipe().describe()["margin"] is None


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"backbone": "resnet"}, "backbone must be one of"),
    ({"views": -1}, "views must be an integer"),
    ({"views": True}, "views must be an integer"),
    ({"crop": "body"}, "kind must be 'photo'"),
    ({"crop": "face", "margin": 0.5}, "margin must be between"),
    ({"phase2_epochs": 0}, "phase2_epochs must be a positive integer"),
    ({"phase1_epochs": 2.5}, "phase1_epochs must be a positive integer"),
])
def test_recipe_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        recipes.Recipe(**kwargs)


def test_validation_summary_reads_the_best_epoch():
    h = pd.DataFrame({"phase_epoch": [1, 2, 3], "val_loss": [0.5, 0.3, 0.4], "val_accuracy": [0.8, 0.9, 0.95]})
    assert recipes.validation_summary(h, n_val=20) == {
        "best val loss": 0.3, "val accuracy at best": 0.9, "val images right": 18, "best epoch": 2,
        "epochs run": 3}
    with pytest.raises(ValueError, match="empty"):
        recipes.validation_summary(h.iloc[:0], n_val=20)


@pytest.fixture
def tiny_recipes(monkeypatch):
    """Recipes train the tiny classifier at 16 px instead of an ImageNet backbone."""
    monkeypatch.setattr(recipes.Recipe, "spec", property(lambda self: SimpleNamespace(
        input_size=IMAGE_SIZE, preprocess=scale)))
    monkeypatch.setattr(recipes, "fresh_classifier", lambda recipe, n, seed=0: tiny_classifier())


def test_train_recipe_fine_tunes_from_phase_1_s_best_checkpoint(tiny_recipes, tmp_path):
    split = tiny_data(tmp_path / "images")
    recipe = recipes.Recipe(views=2, phase2_optimizer=training.OptimizerSpec("adam", 1e-3), n_unfreeze=6,
                            patience=2, phase1_epochs=3, phase2_epochs=4)
    run = recipes.train_recipe(recipe, split, tmp_path / "run", progress=False)
    assert len(run.phase1.history) == 3 and len(run.phase2.history) <= 4
    assert run.phase1.settings["views"]["views"] == 2 and run.phase2.settings["patience"] == 2
    assert run.phase2.settings["start_weights"] == training.weights_fingerprint(
        _loaded(run.phase1.best_path))
    assert run.kept is run.phase2
    # Both phases' views were stored in one pass before phase 1: each phase only loaded them.
    assert run.phase1.view_cache.status == run.phase2.view_cache.status == "loaded"
    for a, b in zip(weights_of(run.model), weights_of(_loaded(run.phase2.best_path)), strict=True):
        np.testing.assert_array_equal(a, b)
    head_only = recipes.train_recipe(recipes.Recipe(views=2, phase2=False), split, tmp_path / "run",
                                     epochs=(3, 4), progress=False)
    assert head_only.phase2 is None and head_only.kept is head_only.phase1
    assert head_only.phase1.resumed_from == 3  # the same phase-1 run, found finished


def test_train_recipe_reads_phase_1_from_an_ablation_row_s_folder(tiny_recipes, tmp_path):
    split = tiny_data(tmp_path / "images")
    recipe = recipes.Recipe(views=2, phase2_optimizer=training.OptimizerSpec("adam", 1e-3), n_unfreeze=6)
    table = recipes.phase1_ablation([recipe], {"photo": split}, tmp_path / "levers", progress=False)
    row_folder = tmp_path / "levers" / recipes.folder_name(recipe) / "phase1"
    run = recipes.train_recipe(recipe, split, tmp_path / "chosen", epochs=(50, 2), progress=False,
                               phase1_folder=row_folder)
    assert run.phase1.folder == row_folder and run.phase1.resumed_from == 50  # read, not retrained
    assert not (tmp_path / "chosen" / "phase1").exists() and len(run.phase2.history) == 2
    assert table.iloc[0]["epochs run"] == 50


def test_store_views_needs_views_and_phase_2(tiny_recipes, tmp_path):
    split = tiny_data(tmp_path / "images")
    for recipe in (recipes.Recipe(), recipes.Recipe(views=2, phase2=False)):
        with pytest.raises(ValueError, match="recipe with views and phase 2"):
            recipes.store_views(recipe, split, cache_dir=tmp_path / "cache", progress=False)
    stored = recipes.store_views(recipes.Recipe(views=2, n_unfreeze=6), split, cache_dir=tmp_path / "cache",
                                 progress=False)
    assert [c.info.status for c in stored] == ["built", "built"]
    again = recipes.store_views(recipes.Recipe(views=2, n_unfreeze=6), split, cache_dir=tmp_path / "cache",
                                progress=False)
    assert [c.info.status for c in again] == ["loaded", "loaded"]


def _loaded(path):
    model = tiny_classifier()
    model.load_weights(path)
    return model


def test_phase1_ablation_one_row_per_candidate(tiny_recipes, tmp_path):
    split = tiny_data(tmp_path / "images")
    candidates = [recipes.Recipe(phase1_epochs=3), recipes.Recipe(views=2, phase1_epochs=3)]
    with pytest.raises(ValueError, match="no data for crop"):
        recipes.phase1_ablation(candidates, {}, tmp_path / "levers", progress=False)
    table = recipes.phase1_ablation(candidates, {"photo": split}, tmp_path / "levers", progress=False)
    assert list(table.index) == [recipes.phase1_only(c).label() for c in candidates]
    assert table.index[1] == "photo | efficientnet_lite0 | 2 views | head only"
    assert list(table.columns) == [*recipes.SUMMARY_COLUMNS, "minutes"]
    assert (table["epochs run"] == 3).all()
    assert sorted(p.name for p in (tmp_path / "levers").iterdir()) == [
        "photo_efficientnet_lite0_views0", "photo_efficientnet_lite0_views2"]


def test_train_val_split_is_notebook_02_s_split_without_test(tmp_path):
    from helpers import splitting

    manifest = tiny_data(tmp_path / "images", per_identity=20).drop(columns="split")  # 10 % is 2 images
    full = splitting.split_dataset(manifest, fractions=config.SPLIT_FRACTIONS, seed=config.SEED)
    train_val = recipes.train_val_split(manifest)
    assert set(train_val["split"]) == {"train", "val"}
    pd.testing.assert_frame_equal(train_val, full[full["split"] != "test"].reset_index(drop=True))
