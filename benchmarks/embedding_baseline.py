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

from helpers import config, data, embeddings, faces, files, splitting


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
    """Append ``row`` to the CSV at ``path`` (created with a header), atomically. The rows already
    there are copied as text, so a column with empty cells keeps its whole numbers (``8``, not
    ``8.0``); ``None`` is written as an empty cell."""
    table = pd.DataFrame([row])
    if path.exists():
        table = pd.concat([pd.read_csv(path, dtype=str, keep_default_na=False), table], ignore_index=True)
    files.write_text_atomically(path, table.to_csv(index=False))


def choose_and_test(split: pd.DataFrame, num_jitters: int = 0, seed: int = config.SEED) -> dict:
    """The baseline on one split (rows with ``split`` in train/val/test): descriptors of the train
    and validation rows, :func:`helpers.embeddings.fit_classifier` (its candidates seeded with
    ``seed``) chosen on validation and printed, then the test rows read once with the chosen
    classifier (images without a descriptor count as wrong).

    Returns ``{"classifier", "table", "model", "train images", "val images", "val images right",
    "test images", "test images right", "no-face images"}``: ``table`` is fit_classifier's,
    ``val images`` the validation images with a descriptor, ``no-face images`` the images of all
    three splits described from the whole photo."""
    train_val = split[split["split"] != "test"].reset_index(drop=True)
    X, status = embed(train_val, num_jitters, "train+val")
    ok = (status["status"] != embeddings.FAILED).to_numpy()
    if not ok.all():
        print(f"left out of train/val, no descriptor: {status.loc[~ok, 'relpath'].tolist()}")
    train = ((train_val["split"] == "train").to_numpy()) & ok
    val = ((train_val["split"] == "val").to_numpy()) & ok
    y = train_val["label"].to_numpy()
    model, table = embeddings.fit_classifier(X[train], y[train], X[val], y[val],
                                             candidates=embeddings.default_candidates(seed))
    chosen = table.index[table["chosen"]][0]
    print(table.round(4).to_string())
    print(f"chosen on validation: {chosen} ({int(table.loc[chosen, 'val images right'])} of "
          f"{int(table.loc[chosen, 'val images'])} validation images right)")

    # The test split, read once, after the choice.
    test = split[split["split"] == "test"].reset_index(drop=True)
    assert not set(test["relpath"]) & set(train_val["relpath"]), "test rows in train/val"
    X_test, test_status = embed(test, num_jitters, "test")
    test_ok = (test_status["status"] != embeddings.FAILED).to_numpy()
    predicted = np.full(len(test), -1)
    if test_ok.any():
        predicted[test_ok] = model.predict(X_test[test_ok])
    right = int((predicted == test["label"].to_numpy()).sum())
    print(f"test: {chosen}: accuracy {right / len(test):.4f} ({right} of {len(test)} images right"
          f"{'' if test_ok.all() else f'; {int((~test_ok).sum())} without a descriptor counted wrong'})")
    no_face = int((status["status"] == embeddings.FROM_WHOLE_IMAGE).sum()
                  + (test_status["status"] == embeddings.FROM_WHOLE_IMAGE).sum())
    return {"classifier": chosen, "table": table, "model": model, "train images": int(train.sum()),
            "val images": int(val.sum()), "val images right": int(table.loc[chosen, "val images right"]),
            "test images": len(test), "test images right": right, "no-face images": no_face}


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
    # The test split comes from the same split function and seed as recipes.train_val_split, so
    # its rows are exactly the ones train_val_split leaves out.
    split = splitting.split_dataset(manifest, fractions=config.SPLIT_FRACTIONS, seed=config.SEED)
    result = choose_and_test(first_per_split(split, args.limit), args.jitters)
    chosen, table = result["classifier"], result["table"]

    row = {"classifier": chosen, "num_jitters": args.jitters, "limit": args.limit or "",
           "model": embeddings.model_key(), "train images": result["train images"],
           "val images": result["val images"], "val images right": int(table.loc[chosen, "val images right"]),
           "val accuracy": round(float(table.loc[chosen, "val accuracy"]), 4),
           "test images": result["test images"], "test images right": result["test images right"],
           "test accuracy": round(result["test images right"] / result["test images"], 4),
           "no-face images": result["no-face images"],
           "minutes": round((time.perf_counter() - tick) / 60, 2)}
    if args.csv:
        append_row(args.csv, row)
        print(f"row appended to {args.csv}")
    return row


if __name__ == "__main__":
    main()
