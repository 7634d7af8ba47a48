"""The training input pipeline: a ``tf.data.Dataset`` built from a manifest.

Policy (stated once, used everywhere):

- decode JPEG or PNG by content with ``tf.io.decode_image(channels=3)``: grayscale is
  repeated to RGB, palette is expanded, alpha is dropped, CMYK JPEG is converted;
- resize by *stretching* to ``image_size × image_size`` (aspect ratio not kept), as the
  study's ``flow_from_directory(target_size=(299, 299))`` did; bilinear with
  anti-aliasing (Keras 2 used nearest-neighbour by default, which aliases on
  downscaling);
- values stay in ``[0, 255]`` as ``float32``; the backbone's own ``preprocess``
  (see :mod:`helpers.backbones`) maps them to what the network expects;
- labels are integer class indices (``int32``), for a sparse cross-entropy loss.

Decoding runs in parallel (``num_parallel_calls=AUTOTUNE``) with a deterministic
order, batches are prefetched.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from helpers import checks, config
from helpers.tf_quiet import import_tensorflow


def make_dataset(
    manifest: pd.DataFrame,
    image_size: int,
    batch_size: int = config.BATCH_SIZE,
    shuffle: bool = False,
    seed: int = config.SEED,
    preprocess: Callable | None = None,
    with_labels: bool = True,
):
    """A batched ``tf.data.Dataset`` of ``(images, labels)`` (or images alone).

    Parameters
    ----------
    manifest : DataFrame with ``path`` (and ``label`` when ``with_labels``).
    image_size : output height and width in pixels.
    batch_size : images per batch; the last batch may be smaller.
    shuffle : reshuffle the order every epoch, seeded by ``seed``.
    preprocess : optional function applied to each float32 batch (e.g. a backbone's).
    with_labels : yield ``(images, labels)``; otherwise images only.

    Yields
    ------
    images : float32, shape ``(batch, image_size, image_size, 3)``, in ``[0, 255]``
        unless ``preprocess`` is given.
    labels : int32, shape ``(batch,)``.
    """
    if "path" not in manifest.columns or (with_labels and "label" not in manifest.columns):
        raise ValueError("manifest needs a 'path' column (and 'label' when with_labels=True)")
    if len(manifest) == 0:
        raise ValueError("manifest is empty")
    for arg, value in (("image_size", image_size), ("batch_size", batch_size)):
        checks.positive_int(arg, value)
    tf = import_tensorflow()
    autotune = tf.data.AUTOTUNE

    def load(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        image = tf.image.resize(image, (int(image_size), int(image_size)), method="bilinear", antialias=True)
        return tf.clip_by_value(image, 0.0, 255.0)  # anti-aliasing can overshoot slightly

    paths = tf.data.Dataset.from_tensor_slices(manifest["path"].astype(str).to_numpy())
    if with_labels:
        labels = tf.data.Dataset.from_tensor_slices(manifest["label"].to_numpy().astype("int32"))
        ds = tf.data.Dataset.zip((paths, labels))
        if shuffle:
            ds = ds.shuffle(len(manifest), seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(lambda p, y: (load(p), y), num_parallel_calls=autotune, deterministic=True)
    else:
        ds = paths.shuffle(len(manifest), seed=seed) if shuffle else paths
        ds = ds.map(load, num_parallel_calls=autotune, deterministic=True)
    ds = ds.batch(int(batch_size))
    if preprocess is not None:
        if with_labels:
            ds = ds.map(lambda x, y: (preprocess(x), y), num_parallel_calls=autotune)
        else:
            ds = ds.map(preprocess, num_parallel_calls=autotune)
    return ds.prefetch(autotune)
