"""Which levers move phase 1 on the validation split: crop policy, backbone, cached views.

    CELEB_DATA_DIR=/path/to/vggface2 python benchmarks/levers_phase1.py \
        [--backbones efficientnet_lite0 efficientnet_lite2] [--crops photo face] [--views 0 8] \
        [--csv levers.csv]

For every combination it trains the head (phase 1, base frozen, 50 epochs) on cached features
with Adam(1e-3), the optimizer notebook 04 chose, on the seeded split of notebook 02
(:func:`helpers.recipes.phase1_ablation`, as notebook 07 does), and prints the best validation
loss, the validation accuracy at that epoch and the minutes taken (feature extraction included,
so a second run with warm caches is faster). The test split is never read. Face crops come from
:func:`helpers.faces.cropped_manifest` (MTCNN, cached).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from helpers import config, data, faces, recipes
from helpers.backbones import BACKBONES


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbones", nargs="+", default=["efficientnet_lite0", "efficientnet_lite2"],
                        choices=sorted(BACKBONES))
    parser.add_argument("--crops", nargs="+", default=["photo", "face"], choices=["photo", "face"])
    parser.add_argument("--views", nargs="+", type=int, default=[0])
    parser.add_argument("--csv", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    if config.data_dir() is None:
        parser.error("set CELEB_DATA_DIR to a VGGFace2 root: the levers are measured on the study's data")

    train_val = recipes.train_val_split(data.load_default()[0])  # the test split is never read
    detections = faces.detections_table(train_val, progress=True) if "face" in args.crops else None
    candidates = [recipes.Recipe(crop=crop, backbone=backbone, views=views, phase2=False)
                  for crop in args.crops for backbone in args.backbones for views in args.views]
    data_for = {r.crop_policy().key(): recipes.recipe_data(r, train_val, detections) for r in candidates}
    with tempfile.TemporaryDirectory() as tmp:
        table = recipes.phase1_ablation(candidates, data_for, tmp)
    if detections is not None:
        print("face detection on train+val:", detections["status"].value_counts().to_dict())
    print(table.round(4).to_string())
    if args.csv:
        table.round(4).to_csv(args.csv, index_label="recipe")
    return table


if __name__ == "__main__":
    main()
