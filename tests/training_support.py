"""A tiny classifier and data set for the training tests, also run as a script by the
kill-and-resume test (``python training_support.py DATA_ROOT FOLDER EPOCHS``)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import data, splitting
from helpers.model import attach_head
from helpers.tf_quiet import import_keras

IMAGE_SIZE = 16
N_CLASSES = 3
FRACTIONS = (0.5, 0.25, 0.25)


def scale(images):
    """Preprocessing of the tiny model: [0, 255] -> [-1, 1] (numpy or tensors)."""
    return images / 127.5 - 1.0


def tiny_classifier(seed: int = 0, clear: bool = True):
    """A 9-layer base with a frozen-BN residual block and a Dropout, plus the study's head
    (``dense_units=8``): 12 layers. ``unfreeze_last(model, 6)`` starts the slice at the
    Dropout, so the boundary has two tensors (``r1`` and ``bn2``)."""
    keras = import_keras()
    if clear:
        keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    L = keras.layers
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", name="c1")(inputs)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.Activation("relu", name="r1")(x)
    y = L.Conv2D(4, 3, padding="same", name="c2")(x)
    y = L.BatchNormalization(name="bn2")(y)
    y = L.Dropout(0.3, name="drop")(y)
    x = L.Add(name="add")([x, y])
    x = L.Conv2D(6, 1, name="c3")(x)
    return attach_head(keras.Model(inputs, x, name="tiny"), N_CLASSES, dense_units=8)


def tiny_data(root: Path, per_identity: int = 8) -> pd.DataFrame:
    """``per_identity`` random 20x18 JPEGs for each of 3 identities, split 50/25/25."""
    from conftest import make_identity_tree  # noqa: PLC0415 - test helper

    if not root.exists():
        make_identity_tree(root, {f"id{k}": per_identity for k in range(N_CLASSES)}, size=(20, 18))
    manifest = data.load_folder(root).manifest
    return splitting.split_dataset(manifest, fractions=FRACTIONS, seed=0)


def weights_of(model) -> list[np.ndarray]:
    return [v.numpy() for v in model.variables]


if __name__ == "__main__":  # the kill-and-resume test's training process
    from helpers import training

    root, folder, epochs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    split = tiny_data(root, per_identity=16)
    model = tiny_classifier()
    training.train_phase(model, split, 2, folder, image_size=IMAGE_SIZE, preprocess=scale,
                         epochs=epochs, batch_size=4, n_unfreeze=6, feed="naive", progress=False)
