"""A face-embedding baseline: dlib's 128-D descriptor of MTCNN's subject face, and a classifier.

    CELEB_DATA_DIR=/path/to/vggface2 python benchmarks/embedding_baseline.py \
        [--jitters 0] [--limit N] [--csv embedding_baseline.csv]

On the seeded split of notebook 02 it detects faces (:func:`helpers.faces.detections_table`,
MTCNN, cached), computes each image's descriptor inside the subject box
(:func:`helpers.embeddings.descriptors_table`, cached; photos without a face use the whole
photo, and the status counts say how many), fits the candidates of
:func:`helpers.embeddings.fit_classifier` on train, chooses one on validation and prints the
validation table. Only then is the test split read, once: the chosen classifier's test accuracy
and test images right are printed (images whose descriptor could not be computed count as
wrong) and, with ``--csv``, appended as one row. ``--limit N`` keeps the first N images of each
split, taken in turn from each identity so that every identity appears (smoke runs).
Needs the ``embeddings`` extra: ``pip install -e ".[embeddings]"``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import config, data, embeddings, faces, files, recipes, splitting


def first_per_split(rows: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """The first ``limit`` rows of each split, one identity after the other (every identity
    appears), in the manifest's order; all rows when ``limit`` is ``None``."""
    if limit is None:
        return rows.reset_index(drop=True)
    rank = rows.groupby(["split", "label"]).cumcount()
    picked = (rows.assign(_rank=rank).sort_values(["split", "_rank", "label"], kind="stable")
              .groupby("split").head(limit))
    return rows.loc[sorted(picked.index)].reset_index(drop=True)


def embed(rows: pd.DataFrame, num_jitters: int, what: str) -> tuple[np.ndarray, pd.DataFrame]:
    """Detections and descriptors of ``rows`` (both cached); prints how each was computed."""
    detections = faces.detections_table(rows, progress=True)
    X, status = embeddings.descriptors_table(rows, detections, num_jitters=num_jitters)
    counts = status.groupby(["detection", "status"]).size().to_dict()
    print(f"{what}: {len(rows)} images ({int(status['cached'].sum())} descriptors from the cache); "
          f"(face detection, descriptor from): images = {counts}")
    return X, status


def append_row(path: Path, row: dict) -> None:
    """Append ``row`` to the CSV at ``path`` (created with a header), atomically."""
    table = pd.DataFrame([row])
    if path.exists():
        table = pd.concat([pd.read_csv(path), table], ignore_index=True)
    files.write_text_atomically(path, table.to_csv(index=False))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jitters", type=int, default=0,
                        help="dlib's num_jitters (above 1: averaged random jitters, slower)")
    parser.add_argument("--limit", type=int, default=None,
                        help="keep the first N images of each split (smoke runs)")
    parser.add_argument("--csv", type=Path, default=None, help="append the result row here")
    args = parser.parse_args(argv)
    if config.data_dir() is None:
        parser.error("set CELEB_DATA_DIR to a VGGFace2 root: the baseline is measured on the study's data")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be a positive number of images per split")
    if args.jitters < 0:
        parser.error("--jitters must be >= 0")
    tick = time.perf_counter()

    manifest = data.load_default()[0]
    train_val = first_per_split(recipes.train_val_split(manifest), args.limit)
    X, status = embed(train_val, args.jitters, "train+val")
    ok = (status["status"] != embeddings.FAILED).to_numpy()
    if not ok.all():
        print(f"left out of train/val, no descriptor: {status.loc[~ok, 'relpath'].tolist()}")
    train = ((train_val["split"] == "train").to_numpy()) & ok
    val = ((train_val["split"] == "val").to_numpy()) & ok
    y = train_val["label"].to_numpy()
    model, table = embeddings.fit_classifier(X[train], y[train], X[val], y[val])
    chosen = table.index[table["chosen"]][0]
    print(table.round(4).to_string())
    print(f"chosen on validation: {chosen} ({int(table.loc[chosen, 'val images right'])} of "
          f"{int(table.loc[chosen, 'val images'])} validation images right)")

    # The test split, read once, after the choice. Same split function and seed as
    # recipes.train_val_split, so these are exactly the rows it left out.
    split = splitting.split_dataset(manifest, fractions=config.SPLIT_FRACTIONS, seed=config.SEED)
    test = first_per_split(split[split["split"] == "test"], args.limit)
    assert not set(test["relpath"]) & set(train_val["relpath"]), "test rows in train/val"
    X_test, test_status = embed(test, args.jitters, "test")
    test_ok = (test_status["status"] != embeddings.FAILED).to_numpy()
    predicted = np.full(len(test), -1)
    if test_ok.any():
        predicted[test_ok] = model.predict(X_test[test_ok])
    right = int((predicted == test["label"].to_numpy()).sum())
    print(f"test: {chosen}: accuracy {right / len(test):.4f} ({right} of {len(test)} images right"
          f"{'' if test_ok.all() else f'; {int((~test_ok).sum())} without a descriptor counted wrong'})")

    row = {"classifier": chosen, "num_jitters": args.jitters, "limit": args.limit or "",
           "model": embeddings.model_key(), "train images": int(train.sum()),
           "val images": int(val.sum()), "val images right": int(table.loc[chosen, "val images right"]),
           "val accuracy": round(float(table.loc[chosen, "val accuracy"]), 4),
           "test images": len(test), "test images right": right,
           "test accuracy": round(right / len(test), 4),
           "no-face images": int(((status["status"] == embeddings.FROM_WHOLE_IMAGE).sum()
                                  + (test_status["status"] == embeddings.FROM_WHOLE_IMAGE).sum())),
           "minutes": round((time.perf_counter() - tick) / 60, 2)}
    if args.csv:
        append_row(args.csv, row)
        print(f"row appended to {args.csv}")
    return row


if __name__ == "__main__":
    main()
