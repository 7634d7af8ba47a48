"""Does the study's augmentation help? Phase 1 with and without it, judged on the validation split.

Usage (from the repository root, with the project installed)::

    CELEB_DATA_DIR=/path/to/vggface2 python benchmarks/augmentation.py [--epochs 50]

What it does: the split of notebook 02 (seed ``config.SEED``), the default backbone, phase 1
(head only) trained twice from the same starting weights with the same optimizer and batches:
once on cached features without augmentation, once streaming augmented images through the
whole model (shear 0.2, zoom 0.2, horizontal flip; ``helpers.training.make_augmenter``),
which is the only exact way with augmentation. It prints, for each, the validation loss and
accuracy at the best epoch (lowest validation loss) and at the last epoch, and the time.
Phase 2 is not measured: with augmentation it streams every image through the whole network
at every step, about half an hour on 2 cores. The test split is never read.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from helpers import config, data, splitting, training
from helpers import model as hm
from helpers.backbones import BACKBONES
from helpers.tf_quiet import import_keras


def run(augment: bool, split: pd.DataFrame, optimizer: training.OptimizerSpec, epochs: int,
        folder: Path) -> dict[str, float]:
    keras = import_keras()
    spec = BACKBONES[config.backbone_name()]
    keras.utils.set_random_seed(config.SEED)
    model = hm.build_classifier(int(split["label"].nunique()), backbone=spec.name)
    result = training.train_phase(
        model, split, phase=1, folder=folder / ("augmented" if augment else "plain"),
        image_size=spec.input_size, preprocess=spec.preprocess, epochs=epochs,
        optimizer=optimizer, augment=augment, resume=False,
    )
    h = result.history
    best = h.loc[h["val_loss"].idxmin()]
    return {"path": result.feed, "best epoch": int(best["phase_epoch"]),
            "val loss (best)": best["val_loss"], "val accuracy (best)": best["val_accuracy"],
            "val loss (last)": h["val_loss"].iloc[-1], "val accuracy (last)": h["val_accuracy"].iloc[-1],
            "train accuracy (last)": h["accuracy"].iloc[-1], "minutes": result.seconds / 60}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=config.EPOCHS_PHASE1)
    parser.add_argument("--optimizer", choices=training.OPTIMIZERS, default="adam")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    args = parser.parse_args(argv)
    optimizer = training.OptimizerSpec(args.optimizer, args.learning_rate)
    manifest = data.load_default().manifest
    split = splitting.split_dataset(manifest, seed=config.SEED)
    print(f"backbone {config.backbone_name()}, phase 1, {args.epochs} epochs, {optimizer.label()}, "
          f"{(split['split'] == 'train').sum()} train / {(split['split'] == 'val').sum()} val images")
    with tempfile.TemporaryDirectory() as tmp:
        rows = {}
        for augment in (False, True):
            started = time.perf_counter()
            rows["augmented" if augment else "no augmentation"] = run(augment, split, optimizer,
                                                                       args.epochs, Path(tmp))
            print(f"  done in {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    table = pd.DataFrame(rows).T
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
