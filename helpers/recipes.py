"""Training recipes: every lever of the course in one description, trained the same way.

A :class:`Recipe` names what the network sees (photo or face crop), the backbone, the
cached augmented views, both phases' settings and test-time flip averaging.
:data:`STUDY_RECIPE` is notebooks 04-06 (the study's recipe, with the phase-1 optimizer notebook 04
chose); :data:`CHOSEN_RECIPE` is the configuration notebook 07 chose on the validation split.
:func:`train_recipe` trains a recipe (phase 1, then phase 2 from phase 1's best checkpoint) with
:func:`helpers.training.train_phase`; :func:`validation_summary` gives the row of an ablation
table. Nothing here reads the test split.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import checks, config, faces, training
from helpers.backbones import BACKBONES, BackboneSpec
from helpers.training import OptimizerSpec, TrainResult

#: Phase 1's optimizer in both recipes: the one notebook 04 selects on validation.
PHASE1_OPTIMIZER = OptimizerSpec("adam", learning_rate=1e-3)
#: The columns of :func:`validation_summary`.
SUMMARY_COLUMNS: tuple[str, ...] = ("best val loss", "val accuracy at best", "val images right",
                                    "best epoch", "epochs run")


@dataclass(frozen=True)
class Recipe:
    """One training configuration.

    Attributes
    ----------
    crop : ``"photo"`` (the whole image, the study) or ``"face"`` (MTCNN's subject face,
        square, ``margin`` × its box; :mod:`helpers.faces`).
    backbone : a name of :data:`helpers.backbones.BACKBONES`.
    views : stored augmented views per training image (:mod:`helpers.views`); 0: none.
    phase1_optimizer, phase1_epochs : the head's optimizer and epochs (phase 1).
    phase2 : whether to fine-tune at all; the settings below apply when it does.
    phase2_optimizer, phase2_epochs, n_unfreeze, label_smoothing, patience : phase 2's
        optimizer, epochs, how many layers it unfreezes (the study: 63), label smoothing and
        early-stopping patience (``None``: all ``phase2_epochs``), as in
        :func:`helpers.training.train_phase`.
    flip : average each test image's prediction with its mirror's
        (:func:`helpers.evaluation.predict_proba`).
    """

    crop: str = "photo"
    margin: float = config.FACE_MARGIN
    backbone: str = config.DEFAULT_BACKBONE
    views: int = 0
    phase1_optimizer: OptimizerSpec = PHASE1_OPTIMIZER
    phase1_epochs: int = config.EPOCHS_PHASE1
    phase2: bool = True
    phase2_optimizer: OptimizerSpec = training.STUDY_OPTIMIZER
    phase2_epochs: int = config.EPOCHS_PHASE2
    n_unfreeze: int = config.UNFREEZE_LAST
    label_smoothing: float = 0.0
    patience: int | None = None
    flip: bool = False

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {self.backbone!r}")
        checks.integer("views", self.views, minimum=0, note=" >= 0 (0: no augmented views)")
        for name in ("phase1_epochs", "phase2_epochs"):
            checks.positive_int(name, getattr(self, name))
        self.crop_policy()  # validates crop and margin

    def crop_policy(self) -> faces.CropPolicy:
        """The :class:`helpers.faces.CropPolicy` of ``crop`` and ``margin``."""
        if self.crop == "photo":
            return faces.CropPolicy("photo")
        return faces.CropPolicy(self.crop, margin=self.margin)

    @property
    def spec(self) -> BackboneSpec:
        return BACKBONES[self.backbone]

    def label(self) -> str:
        """A short description, e.g. ``face 1.3 | efficientnet_lite0 | 8 views | Adam(lr=1e-05),
        63 layers, patience 10 | flip``."""
        crop = f"face {self.margin:g}" if self.crop == "face" else "photo"
        parts = [crop, self.backbone, f"{self.views} views" if self.views else "no views"]
        if self.phase2:
            phase2 = [self.phase2_optimizer.label(), f"{self.n_unfreeze} layers", f"{self.phase2_epochs} epochs"]
            if self.label_smoothing:
                phase2.append(f"smoothing {self.label_smoothing:g}")
            if self.patience is not None:
                phase2.append(f"patience {self.patience}")
            parts.append(", ".join(phase2))
        else:
            parts.append("head only")
        if self.flip:
            parts.append("flip")
        return " | ".join(parts)

    def describe(self) -> dict[str, Any]:
        """The settings as plain values (for the metrics file)."""
        return {"crop": self.crop, "margin": self.margin if self.crop == "face" else None,
                "backbone": self.backbone, "views": self.views,
                "phase1_optimizer": self.phase1_optimizer.label(), "phase1_epochs": self.phase1_epochs,
                "phase2_optimizer": self.phase2_optimizer.label() if self.phase2 else None,
                "phase2_epochs": self.phase2_epochs if self.phase2 else None,
                "n_unfreeze": self.n_unfreeze if self.phase2 else None,
                "label_smoothing": self.label_smoothing if self.phase2 else None,
                "patience": self.patience if self.phase2 else None, "flip": self.flip}


#: Notebooks 04-06: the study's recipe on the whole photo (phase 1 with the optimizer notebook 04
#: selects), SGD(1e-4, momentum 0.9) on the last 63 layers for 50 epochs.
STUDY_RECIPE = Recipe()

#: The configuration notebook 07 chose on the validation split (the reference run's tables: the most
#: validation images right, the lower plain validation loss breaking ties): MTCNN face crops, eight
#: stored views, and phase 2 with Adam(1e-5) and label smoothing 0.1 for 50 epochs. Its
#: early-stopped run never stopped (best epoch 48), so the recipe trains all 50 epochs without
#: patience, which makes its histories the same length on every machine. Flip averaging got fewer
#: validation images right, so it stays off.
CHOSEN_RECIPE = Recipe(crop="face", margin=config.FACE_MARGIN, views=8,
                       phase2_optimizer=OptimizerSpec("adam", 1e-5), label_smoothing=0.1)


@dataclass
class RecipeRun:
    """What :func:`train_recipe` returns: the phases' results and the model kept (the last
    phase's checkpoint with the lowest validation loss, loaded)."""

    recipe: Recipe
    phase1: TrainResult
    phase2: TrainResult | None
    model: Any = field(repr=False)

    @property
    def kept(self) -> TrainResult:
        """The phase whose best checkpoint is the model kept."""
        return self.phase2 if self.phase2 is not None else self.phase1


def train_val_split(manifest: pd.DataFrame, seed: int = config.SEED) -> pd.DataFrame:
    """``manifest`` split as notebook 02 splits it (:func:`helpers.splitting.split_dataset`, the
    study's fractions, ``seed``), without its test rows: what the lever benchmarks train and
    validate on, so they never read the test split."""
    from helpers import splitting  # noqa: PLC0415 - only this helper needs it

    split = splitting.split_dataset(manifest, fractions=config.SPLIT_FRACTIONS, seed=seed)
    return split[split["split"] != "test"].reset_index(drop=True)


def recipe_data(recipe: Recipe, split: pd.DataFrame, detections: pd.DataFrame | None = None) -> pd.DataFrame:
    """``split`` as the recipe's network sees it: unchanged for ``"photo"``, each image replaced
    by its face crop for ``"face"`` (:func:`helpers.faces.cropped_manifest`; ``detections`` is
    :func:`helpers.faces.detections_table` of these images, computed when ``None``)."""
    return faces.cropped_manifest(split, recipe.crop_policy(), detections)


def fresh_classifier(recipe: Recipe, n_classes: int, seed: int = config.SEED):
    """The recipe's classifier with ImageNet weights and a new head, seeded."""
    from helpers import model as hm  # noqa: PLC0415 - TF-heavy
    from helpers.tf_quiet import import_keras  # noqa: PLC0415 - TF-heavy

    import_keras().utils.set_random_seed(int(seed))
    return hm.build_classifier(int(n_classes), backbone=recipe.backbone)


def store_views(recipe: Recipe, data: pd.DataFrame, *, seed: int = config.SEED,
                cache_dir: str | os.PathLike[str] | None = None, progress: bool = True) -> list:
    """Extract the stored views of both of ``recipe``'s phases in one pass
    (:func:`helpers.training.cache_views_of_both_phases`), so that its phase 1, wherever it is
    trained, and its phase 2 load them. ``data`` as for :func:`train_recipe`. Returns the two
    :class:`helpers.views.ViewCache`; a recipe without views or without phase 2 has nothing to
    share and raises ``ValueError``."""
    if not recipe.views or not recipe.phase2:
        raise ValueError("store_views is for a recipe with views and phase 2: "
                         f"this one has views={recipe.views}, phase2={recipe.phase2}")
    spec = recipe.spec
    return training.cache_views_of_both_phases(
        fresh_classifier(recipe, int(data["label"].nunique()), seed), data, image_size=spec.input_size,
        preprocess=spec.preprocess, views=recipe.views, seed=seed, n_unfreeze=recipe.n_unfreeze,
        cache_dir=cache_dir, progress=progress)


def train_recipe(
    recipe: Recipe,
    data: pd.DataFrame,
    folder: str | os.PathLike[str],
    *,
    epochs: tuple[int, int] | None = None,
    seed: int = config.SEED,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    phase2_folder: str = "phase2",
    phase1_folder: str | os.PathLike[str] | None = None,
) -> RecipeRun:
    """Train ``recipe`` on ``data`` (a split, already through :func:`recipe_data`; only its
    train and val rows are read): phase 1 into ``<folder>/phase1``, then, from its best
    checkpoint, phase 2 into ``<folder>/<phase2_folder>`` (when ``recipe.phase2``). A folder
    holding a finished or interrupted run of the same settings is resumed
    (:func:`helpers.training.train_phase`), so recipes that differ only in phase 2 can share
    ``folder`` and train phase 1 once. ``phase1_folder`` puts phase 1 elsewhere, e.g. in the
    folder of a :func:`phase1_ablation` row that already trained it (then it is only read).
    ``epochs`` overrides the recipe's ``(phase1_epochs, phase2_epochs)`` (short runs in tests and
    demos).
    """
    folder = Path(folder)
    spec = recipe.spec
    n_classes = int(data["label"].nunique())
    views = recipe.views or None
    epochs = epochs or (recipe.phase1_epochs, recipe.phase2_epochs)
    common = {"image_size": spec.input_size, "preprocess": spec.preprocess, "seed": seed,
              "views": views, "cache_dir": cache_dir, "progress": progress}
    if views and recipe.phase2:  # both phases read the same views: one pass stores both
        store_views(recipe, data, seed=seed, cache_dir=cache_dir, progress=progress)
    model = fresh_classifier(recipe, n_classes, seed)
    phase1_folder = Path(phase1_folder) if phase1_folder is not None else folder / "phase1"
    phase1 = training.train_phase(model, data, 1, phase1_folder, epochs=epochs[0],
                                  optimizer=recipe.phase1_optimizer, **common)
    model = fresh_classifier(recipe, n_classes, seed)
    model.load_weights(phase1.best_path)
    phase2 = None
    if recipe.phase2:
        phase2 = training.train_phase(
            model, data, 2, folder / phase2_folder, epochs=epochs[1], optimizer=recipe.phase2_optimizer,
            n_unfreeze=recipe.n_unfreeze, label_smoothing=recipe.label_smoothing,
            patience=recipe.patience, **common)
        model = fresh_classifier(recipe, n_classes, seed)
        model.load_weights(phase2.best_path)
    return RecipeRun(recipe, phase1, phase2, model)


def validation_summary(history: pd.DataFrame, n_val: int) -> dict[str, Any]:
    """One ablation row from a phase's history: its epoch with the lowest validation loss
    (the checkpoint kept), that epoch's validation accuracy and images right of ``n_val``,
    and the epochs run."""
    if len(history) == 0:
        raise ValueError("the history is empty: train at least one epoch")
    best = history.loc[history["val_loss"].idxmin()]
    return {"best val loss": float(best["val_loss"]), "val accuracy at best": float(best["val_accuracy"]),
            "val images right": int(round(float(best["val_accuracy"]) * n_val)),
            "best epoch": int(best["phase_epoch"]), "epochs run": len(history)}


def phase1_only(recipe: Recipe) -> Recipe:
    """The recipe's phase 1 alone (its crop, backbone, views and phase-1 settings)."""
    return Recipe(crop=recipe.crop, margin=recipe.margin, backbone=recipe.backbone, views=recipe.views,
                  phase1_optimizer=recipe.phase1_optimizer, phase1_epochs=recipe.phase1_epochs, phase2=False)


def folder_name(recipe: Recipe) -> str:
    """A folder name for a recipe's phase 1: crop, margin, backbone and views, e.g.
    ``face1.3_efficientnet_lite0_views8`` (phase-1 runs of recipes that share them are the same run)."""
    crop = f"face{recipe.margin:g}" if recipe.crop == "face" else "photo"
    return f"{crop}_{recipe.backbone}_views{recipe.views}"


def phase1_ablation(
    candidates: list[Recipe],
    data_for: dict[str, pd.DataFrame],
    folder: str | os.PathLike[str],
    *,
    seed: int = config.SEED,
    progress: bool = True,
) -> pd.DataFrame:
    """Phase 1 of every candidate (head on cached features, 50 epochs), one row each.

    Parameters
    ----------
    candidates : the recipes to compare (only their crop, backbone, views and phase-1
        optimizer matter here).
    data_for : ``{crop policy key: train/val manifest}`` from :func:`recipe_data`, one per crop
        the candidates use.
    folder : each candidate trains in ``<folder>/<folder_name(recipe)>``.

    Returns
    -------
    DataFrame
        Index: the recipes' phase-1 labels; columns :data:`SUMMARY_COLUMNS` and ``minutes``
        (wall time, feature extraction included; near 0 when caches and an earlier run had it).
    """
    rows = {}
    for recipe in candidates:
        head_only = phase1_only(recipe)
        key = head_only.crop_policy().key()
        if key not in data_for:
            raise ValueError(f"no data for crop {key!r}: pass data_for[{key!r}] = recipe_data(...)")
        data = data_for[key]
        tick = time.perf_counter()
        run = train_recipe(head_only, data, Path(folder) / folder_name(head_only), seed=seed, progress=progress)
        n_val = int((data["split"] == "val").sum())
        rows[head_only.label()] = {**validation_summary(run.phase1.history, n_val),
                                   "minutes": (time.perf_counter() - tick) / 60}
    return pd.DataFrame.from_dict(rows, orient="index")
