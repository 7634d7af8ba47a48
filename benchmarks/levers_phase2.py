"""Which phase-2 settings move fine-tuning on the validation split.

    CELEB_DATA_DIR=/path/to/vggface2 python benchmarks/levers_phase2.py \
        [--crop photo] [--backbone efficientnet_lite0] [--views 8] \
        [--variants adam adam_smooth study] [--csv levers_phase2.csv] [--run-dir DIR]

Phase 1 first (head on cached features, Adam(1e-3), 50 epochs, ``--views`` stored views, the
seeded split of notebook 02), then, from its checkpoint with the lowest validation loss, phase 2
once per variant (:data:`VARIANTS`: optimizer, learning rate, layers unfrozen, label smoothing,
early stopping), each a :class:`helpers.recipes.Recipe` trained by
:func:`helpers.recipes.train_recipe`. Each row gives the best epoch's validation loss (plain
cross-entropy, recomputed from the checkpoint, so that label-smoothed rows compare), its
validation accuracy with and without flip averaging, the epochs run and the minutes taken.
Rows are appended to ``--csv`` as they finish. The test split is never read.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from helpers import config, data, evaluation, recipes, training

ADAM_LOW = training.OptimizerSpec("adam", 1e-5)
#: ``n_unfreeze`` of a variant that unfreezes every layer (BatchNorm stays frozen: helpers.model).
ALL_LAYERS = "all"
#: name -> phase-2 settings of a recipe; "study" is notebook 05's phase 2.
VARIANTS: dict[str, dict] = {
    "study": {},
    "adam": {"phase2_optimizer": ADAM_LOW, "patience": 10},
    "adam_smooth": {"phase2_optimizer": ADAM_LOW, "label_smoothing": 0.1, "patience": 10},
    "adam_3e-5": {"phase2_optimizer": training.OptimizerSpec("adam", 3e-5), "patience": 10},
    # Depth, with the best 63-layer settings: EfficientNet-Lite0 from block 4 on (108 layers: the
    # boundary is one 28x28x40 tensor), and every layer but BatchNorm (the boundary is the image).
    "adam_smooth_block4": {"phase2_optimizer": ADAM_LOW, "label_smoothing": 0.1, "patience": 10,
                           "n_unfreeze": 108},
    "adam_smooth_all": {"phase2_optimizer": ADAM_LOW, "label_smoothing": 0.1, "patience": 10,
                        "n_unfreeze": ALL_LAYERS},
}


def phase2_settings(recipe: recipes.Recipe) -> str:
    """The phase-2 part of a recipe's label, e.g. ``Adam(lr=1e-05), 63 layers, patience 10``."""
    return recipe.label().split(" | ")[3]


def val_scores(model, val: pd.DataFrame, recipe: recipes.Recipe, class_names: list[str]) -> dict:
    """Validation cross-entropy and accuracy of ``model``, plain and flip-averaged."""
    out = {}
    for flip in (False, True):
        proba = evaluation.predict_proba(model, val, recipe.spec.input_size, recipe.spec.preprocess, flip=flip)
        table = evaluation.predictions_table(val, proba, class_names)
        tag = " (flip)" if flip else ""
        out[f"val loss{tag}"] = round(evaluation.log_loss(table), 4)
        out[f"val accuracy{tag}"] = round(evaluation.accuracy(table), 4)
    return out


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crop", default="photo", choices=["photo", "face"])
    parser.add_argument("--backbone", default=config.DEFAULT_BACKBONE)
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--variants", nargs="+", default=["adam", "adam_smooth", "study"], choices=sorted(VARIANTS))
    parser.add_argument("--csv", type=Path, default=None, help="append each row here as it finishes")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/levers_phase2"),
                        help="phase folders (a second run resumes or reuses them)")
    args = parser.parse_args(argv)
    if config.data_dir() is None:
        parser.error("set CELEB_DATA_DIR to a VGGFace2 root: the levers are measured on the study's data")

    train_val = recipes.train_val_split(data.load_default()[0])  # the test split is never read
    class_names = train_val.drop_duplicates("label").sort_values("label")["name"].tolist()
    head_only = recipes.Recipe(crop=args.crop, backbone=args.backbone, views=args.views, phase2=False)
    cropped = recipes.recipe_data(head_only, train_val)
    val = cropped[cropped["split"] == "val"].reset_index(drop=True)
    base = {"crop": args.crop, "backbone": args.backbone, "views": args.views}
    run_dir = args.run_dir / recipes.folder_name(head_only)

    rows = []
    for name in ["head only", *args.variants]:
        recipe = head_only if name == "head only" else replace(head_only, phase2=True, **VARIANTS[name])
        if recipe.n_unfreeze == ALL_LAYERS:
            recipe = replace(recipe, n_unfreeze=len(recipes.fresh_classifier(recipe, len(class_names), 0).layers))
        tick = time.perf_counter()
        # Every variant shares the phase-1 folder, so phase 1 trains once and the others resume it.
        run = recipes.train_recipe(recipe, cropped, run_dir, phase2_folder=f"phase2_{name}")
        summary = recipes.validation_summary(run.kept.history, len(val))
        rows.append({**base, "phase": 2 if recipe.phase2 else 1, "variant": name,
                     "settings": phase2_settings(recipe) if recipe.phase2 else recipe.phase1_optimizer.label(),
                     "best epoch": summary["best epoch"], "epochs run": summary["epochs run"],
                     **val_scores(run.model, val, recipe, class_names),
                     "minutes": round((time.perf_counter() - tick) / 60, 2)})
        print(rows[-1], flush=True)
        if args.csv:
            pd.DataFrame(rows).to_csv(args.csv, index=False)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
