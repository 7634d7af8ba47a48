"""Which levers move phase 1 on the validation split: crop policy, backbone, cached views.

    CELEB_DATA_DIR=/path/to/vggface2 python benchmarks/levers_phase1.py \
        [--backbones efficientnet_lite0 efficientnet_lite2] [--crops photo face] [--views 0 8] \
        [--epochs 50] [--csv levers.csv]

For every combination it trains the head (phase 1, base frozen) on cached features with
Adam(1e-3), the optimizer notebook 04 chose, on the seeded split of notebook 02, and prints
the best validation loss, the validation accuracy at that epoch and the minutes taken
(feature extraction included, so a second run with warm caches is faster). The test split
is never read. Face crops come from :func:`helpers.faces.cropped_manifest` (MTCNN, cached).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from helpers import config, data, faces, splitting, training
from helpers import model as hm
from helpers.backbones import BACKBONES
from helpers.tf_quiet import import_keras

CROPS = {"photo": faces.CropPolicy("photo"), "face": faces.CropPolicy("face", margin=config.FACE_MARGIN)}


def run_one(split: pd.DataFrame, backbone: str, views: int, epochs: int, folder: Path) -> dict:
    """Phase 1 of one configuration; its validation summary."""
    keras = import_keras()
    spec = BACKBONES[backbone]
    keras.utils.set_random_seed(config.SEED)
    model = hm.build_classifier(int(split["label"].nunique()), backbone=backbone)
    start = time.perf_counter()
    result = training.train_phase(
        model, split, phase=1, folder=folder, image_size=spec.input_size, preprocess=spec.preprocess,
        epochs=epochs, batch_size=config.BATCH_SIZE, optimizer=training.OptimizerSpec("adam", learning_rate=1e-3),
        seed=config.SEED, views=views or None)
    history = result.history
    best = history.loc[history["val_loss"].idxmin()]
    return {"best val loss": round(float(best["val_loss"]), 4),
            "val accuracy at best": round(float(best["val_accuracy"]), 4),
            "val images right": int(round(float(best["val_accuracy"]) * int((split["split"] == "val").sum()))),
            "best epoch": int(best["phase_epoch"]),
            "minutes": round((time.perf_counter() - start) / 60, 2)}


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbones", nargs="+", default=["efficientnet_lite0", "efficientnet_lite2"],
                        choices=sorted(BACKBONES))
    parser.add_argument("--crops", nargs="+", default=["photo", "face"], choices=sorted(CROPS))
    parser.add_argument("--views", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=config.EPOCHS_PHASE1)
    parser.add_argument("--csv", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    if config.data_dir() is None:
        parser.error("set CELEB_DATA_DIR to a VGGFace2 root: the levers are measured on the study's data")

    manifest, _, _ = data.load_default()
    split = splitting.split_dataset(manifest, fractions=config.SPLIT_FRACTIONS, seed=config.SEED)
    train_val = split[split["split"] != "test"].reset_index(drop=True)  # the test split is never read
    detections = faces.detections_table(train_val, progress=True) if "face" in args.crops else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for crop in args.crops:
            cropped = faces.cropped_manifest(train_val, CROPS[crop], detections)
            for backbone in args.backbones:
                for views in args.views:
                    label = f"{crop} | {backbone} | views {views}"
                    print(f"--- {label}", flush=True)
                    summary = run_one(cropped, backbone, views, args.epochs, Path(tmp) / label.replace(" | ", "_"))
                    rows.append({"crop": crop, "backbone": backbone, "views": views, **summary})
                    print(summary, flush=True)
    table = pd.DataFrame(rows)
    if detections is not None:
        print("face detection on train+val:", detections["status"].value_counts().to_dict())
    print(table.to_string(index=False))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return table


if __name__ == "__main__":
    main()
