"""helpers.pipeline: the tf.data input pipeline on tiny images of every mode."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import data, pipeline
from tests.conftest import write_image


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipe")
    for k, (mode, suffix) in enumerate([("RGB", ".jpg"), ("L", ".jpg"), ("CMYK", ".jpg"),
                                        ("RGBA", ".png"), ("P", ".png")]):
        write_image(root / f"id{k % 2}" / f"img{k}{suffix}", mode, size=(20 + k, 10), seed=k)
    write_image(root / "id0" / "square.png", "RGB", size=(10, 10), seed=42)
    return data.load_folder(root).manifest


def test_batches_shapes_dtypes_and_range(manifest):
    batches = list(pipeline.make_dataset(manifest, image_size=16, batch_size=2))
    assert [len(y) for _, y in batches] == [2, 2, 2]
    images = np.concatenate([x.numpy() for x, _ in batches])
    labels = np.concatenate([y.numpy() for _, y in batches])
    assert images.shape == (6, 16, 16, 3) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 255.0
    assert labels.dtype == np.int32 and labels.tolist() == manifest["label"].tolist()


def test_decoded_pixels_match_pillow(manifest):
    # Same-size resize is the identity, so TensorFlow's decode must agree with Pillow's.
    square = manifest[manifest["relpath"] == "id0/square.png"]
    x, _ = next(iter(pipeline.make_dataset(square, image_size=10)))
    np.testing.assert_allclose(x.numpy()[0], data.read_rgb(square["path"].iloc[0]), atol=1e-3)
    gray = manifest[manifest["mode"] == "L"].iloc[:1]
    g, _ = next(iter(pipeline.make_dataset(gray, image_size=8)))
    assert np.allclose(g[..., 0], g[..., 1]) and np.allclose(g[..., 1], g[..., 2])


def test_shuffle_is_seeded_and_images_only_mode(manifest):
    def order(seed):
        ds = pipeline.make_dataset(manifest, 8, batch_size=6, shuffle=True, seed=seed)
        return next(iter(ds))[1].numpy().tolist()

    assert order(3) == order(3)
    images = next(iter(pipeline.make_dataset(manifest, 8, batch_size=6, with_labels=False)))
    assert images.shape == (6, 8, 8, 3)


def test_preprocess_is_applied(manifest):
    ds = pipeline.make_dataset(manifest, 8, preprocess=lambda x: x / 127.5 - 1.0)
    x, _ = next(iter(ds))
    assert x.numpy().min() >= -1.0 and x.numpy().max() <= 1.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"image_size": 0}, "image_size"), ({"image_size": 8, "batch_size": 0}, "batch_size"),
    ({"image_size": 8.0}, "image_size"),
])
def test_bad_arguments(manifest, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipeline.make_dataset(manifest, **kwargs)


def test_bad_manifests(manifest):
    with pytest.raises(ValueError, match="'path' column"):
        pipeline.make_dataset(manifest.drop(columns="label"), 8)
    with pytest.raises(ValueError, match="empty"):
        pipeline.make_dataset(manifest.iloc[:0], 8)


@pytest.mark.parametrize("name", ["inception_v3", "efficientnet_lite0"])
def test_backbone_preprocess_runs_inside_the_pipeline(manifest, name):
    # The same function serves NumPy batches and tf.data's symbolic tensors, with equal results.
    from helpers.backbones import BACKBONES

    spec = BACKBONES[name]
    raw, _ = next(iter(pipeline.make_dataset(manifest, 8, batch_size=6)))
    pre, _ = next(iter(pipeline.make_dataset(manifest, 8, batch_size=6, preprocess=spec.preprocess)))
    np.testing.assert_allclose(pre.numpy(), spec.preprocess(raw.numpy()), atol=1e-6)
    assert pre.numpy().min() >= -1.0 and pre.numpy().max() <= 1.0
