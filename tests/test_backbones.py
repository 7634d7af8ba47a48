"""Tests of helpers.backbones (registry, preprocessing, models, weights) and helpers.torch_pickle.

Nothing here writes into the real Keras cache: Lite0 conversions go to ``tmp_path`` folders
(argument ``cache_dir`` or a monkeypatched ``KERAS_HOME``) and the InceptionV3 "offline" tests
point Keras' download folder at ``tmp_path`` and make the download fail at the network
boundary, so they behave the same on a machine with internet. InceptionV3 with random weights
is built once per module (a few seconds on 2 cores).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import shutil
import socket
import sys
import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers import backbones
from helpers.backbones import (
    BACKBONES,
    ChecksumMismatchError,
    WeightsUnavailableError,
    load_backbone,
)
from helpers.tf_quiet import import_keras
from helpers.torch_pickle import LEGACY_MAGIC_NUMBER, load_state_dict

FIXTURES = Path(__file__).parent / "fixtures"
#: Max |logit difference| allowed between Keras and the PyTorch reference.
LOGIT_TOLERANCE = 1e-4


def _load_reference_module():
    """tests/fixtures/make_lite0_reference.py (torch is imported only inside its main())."""
    spec = importlib.util.spec_from_file_location("make_lite0_reference", FIXTURES / "make_lite0_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def keras():
    return import_keras()


@pytest.fixture(scope="module")
def inception_base(keras):
    """InceptionV3 base with random weights, built once for the module."""
    return load_backbone("inception_v3", weights=None)


@pytest.fixture(scope="module")
def lite0_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lite0_cache")


@pytest.fixture(scope="module")
def lite0_full(lite0_cache):
    """Lite0 with ImageNet weights and top, converted into a temporary cache."""
    return load_backbone("efficientnet_lite0", include_top=True, cache_dir=lite0_cache)


@pytest.fixture(scope="module")
def reference():
    """The PyTorch reference logits and the exact uint8 inputs they were computed from."""
    ref = _load_reference_module()
    data = np.load(FIXTURES / "lite0_reference_logits.npz")
    names, images = ref.reference_inputs()
    assert str(data["inputs_sha256"]) == ref.inputs_digest(images), (
        "the regenerated reference inputs differ from the fixture's (Pillow / scikit-image "
        "changed?): re-run tests/fixtures/make_lite0_reference.py"
    )
    assert tuple(str(n) for n in data["names"]) == names
    return {"names": names, "images": images, "logits": data["logits"], "data": data}


@pytest.fixture
def keras_download_dir(monkeypatch, tmp_path, keras):
    """Point keras.utils.get_file's cache at an empty folder (Keras reads it at import time,
    from a private module variable, so the environment variable alone would not do)."""
    import keras.src.backend.config as keras_config

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path / "keras_home"))
    monkeypatch.delenv(backbones.ENV_INCEPTION_WEIGHTS, raising=False)
    return tmp_path / "keras_home" / "models"


# --------------------------------------------------------------------------- registry
def test_registry_contents():
    assert set(BACKBONES) == {"inception_v3", "efficientnet_lite0"}
    inc, lite = BACKBONES["inception_v3"], BACKBONES["efficientnet_lite0"]
    assert (inc.name, inc.input_size, inc.feature_shape) == ("inception_v3", 299, (8, 8, 2048))
    assert (lite.name, lite.input_size, lite.feature_shape) == ("efficientnet_lite0", 224, (7, 7, 1280))
    for spec in (inc, lite):
        assert spec.description and callable(spec.preprocess)
        with pytest.raises(AttributeError):  # frozen
            spec.input_size = 1  # type: ignore[misc]


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="efficientnet_lite0.*inception_v3"):
        load_backbone("resnet50", weights=None)
    with pytest.raises(ValueError, match="valid names"):
        backbones.get_spec("InceptionV3")


def test_bad_weights_argument():
    with pytest.raises(ValueError, match="'imagenet' or None"):
        load_backbone("efficientnet_lite0", weights="/some/file.h5")


# --------------------------------------------------------------------------- preprocessing
@pytest.mark.parametrize(
    ("name", "low", "high"),
    [("inception_v3", -1.0, 1.0), ("efficientnet_lite0", -127.0 / 128.0, 1.0)],
)
def test_preprocessing_range(name, low, high):
    spec = BACKBONES[name]
    images = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    images[1] = 255
    original = images.copy()
    out = spec.preprocess(images)
    assert out.dtype == np.float32 and out.shape == images.shape
    np.testing.assert_allclose(out[0], low, atol=1e-7)
    np.testing.assert_allclose(out[1], high, atol=1e-7)
    np.testing.assert_array_equal(images, original)  # input untouched
    floats = images.astype(np.float32)
    spec.preprocess(floats)
    np.testing.assert_array_equal(floats, original)  # float input untouched too (no in-place)


def test_preprocessing_rejects_non_rgb_batches():
    with pytest.raises(ValueError, match=r"\(n, h, w, 3\)"):
        BACKBONES["efficientnet_lite0"].preprocess(np.zeros((4, 4, 3), dtype=np.uint8))


# --------------------------------------------------------------------------- InceptionV3
def test_inception_v3_base(inception_base):
    model = inception_base
    assert len(model.layers) == 311  # keras.applications.InceptionV3, input layer included
    assert tuple(model.input_shape) == (None, 299, 299, 3)
    assert tuple(model.output_shape) == (None, 8, 8, 2048)
    names = [layer.name for layer in model.layers]
    assert len(set(names)) == len(names)


def test_inception_v3_offline_real_keras_download(monkeypatch, keras_download_dir):
    """Keras' real get_file, with the network failing as it does offline (DNS error)."""
    import keras.src.utils.file_utils as file_utils

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    with pytest.raises(WeightsUnavailableError) as info:
        load_backbone("inception_v3")
    message = str(info.value)
    assert backbones.ENV_INCEPTION_WEIGHTS in message and "weights=None" in message
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert isinstance(info.value, RuntimeError)
    assert not any(keras_download_dir.glob("*.h5"))  # no half-downloaded file left behind


def test_inception_v3_offline_get_file_patched(monkeypatch, keras_download_dir):
    """The exception type Keras' get_file raises offline: a bare Exception('URL fetch failure...')."""
    import keras.src.utils.file_utils as file_utils

    def failing_get_file(fname, origin, *args, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "get_file", failing_get_file)
    with pytest.raises(WeightsUnavailableError, match=backbones.ENV_INCEPTION_WEIGHTS):
        load_backbone("inception_v3", include_top=True)


def test_inception_v3_other_errors_are_not_disguised(monkeypatch, keras_download_dir):
    import keras.src.utils.file_utils as file_utils

    def broken_get_file(*args, **kwargs):
        raise ValueError("Incomplete or corrupted file detected.")

    monkeypatch.setattr(file_utils, "get_file", broken_get_file)
    with pytest.raises(ValueError, match="corrupted"):
        load_backbone("inception_v3")


def test_inception_v3_env_var_missing_file(monkeypatch, tmp_path):
    missing = tmp_path / "nope" / "inception_notop.h5"
    monkeypatch.setenv(backbones.ENV_INCEPTION_WEIGHTS, str(missing))
    with pytest.raises(WeightsUnavailableError) as info:
        load_backbone("inception_v3")
    assert backbones.ENV_INCEPTION_WEIGHTS in str(info.value) and str(missing) in str(info.value)
    # A folder without Keras' file name in it: same clear error, naming the expected file.
    monkeypatch.setenv(backbones.ENV_INCEPTION_WEIGHTS, str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match="kernels_notop.h5"):
        load_backbone("inception_v3")


# --------------------------------------------------------------------------- Lite0 architecture
def test_lite0_base_architecture(keras):
    model = load_backbone("efficientnet_lite0", weights=None)
    assert tuple(model.input_shape) == (None, 224, 224, 3)
    assert tuple(model.output_shape) == (None, 7, 7, 1280)
    names = [layer.name for layer in model.layers]
    assert len(names) == 150 and len(set(names)) == len(names)
    assert names[:4] == ["lite0_input", "stem_conv", "stem_bn", "stem_relu6"]
    assert names[-3:] == ["head_conv", "head_bn", "head_relu6"]
    assert "block1a_expand_conv" not in names and "block3b_expand_conv" in names
    assert backbones.LITE0_BLOCK_NAMES[-1] == "block7a" and len(backbones.LITE0_BLOCK_NAMES) == 16
    assert not any(isinstance(layer, keras.layers.GlobalAveragePooling2D) for layer in model.layers)
    assert model.count_params() == 3_413_024
    top = backbones.build_efficientnet_lite0(include_top=True)
    assert tuple(top.output_shape) == (None, 1000)
    assert top.get_layer("predictions").activation.__name__ == "linear"  # logits


# --------------------------------------------------------------------------- .pth reader
def test_torch_pickle_reads_lite0_pth():
    state = load_state_dict(backbones.lite0_pth_path())
    assert len(state) == 296
    assert sum(v.size for v in state.values()) == 4_694_073
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.0._depthwise_conv.weight"].shape == (32, 1, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.bias"].shape == (1000,)
    assert state["_bn0.num_batches_tracked"].shape == () and state["_bn0.num_batches_tracked"].dtype == np.int64
    assert all(v.dtype == np.float32 for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert all(np.isfinite(v).all() for v in state.values())


def test_torch_pickle_refuses_foreign_globals(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        for obj in (LEGACY_MAGIC_NUMBER, 1001, {"little_endian": True}, {"x": Evil()}):
            pickle.dump(obj, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_state_dict(path)


def test_lite0_sha256_mismatch(tmp_path):
    bad = tmp_path / backbones.LITE0_PTH_NAME
    shutil.copyfile(backbones.lite0_pth_path(), bad)
    with open(bad, "r+b") as f:  # flip one byte in the middle of the storages
        f.seek(9_000_000)
        byte = f.read(1)
        f.seek(9_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    actual = hashlib.sha256(bad.read_bytes()).hexdigest()
    with pytest.raises(ChecksumMismatchError) as info:
        backbones.lite0_weights_file(cache_dir=tmp_path / "cache", pth_path=bad)
    message = str(info.value)
    assert str(bad) in message and actual in message and backbones.LITE0_PTH_SHA256 in message
    assert not (tmp_path / "cache" / backbones.LITE0_CACHE_NAME).exists()


# --------------------------------------------------------------------------- Lite0 weights
def test_lite0_cache_written_and_reused(lite0_full, lite0_cache, monkeypatch):
    cached = lite0_cache / backbones.LITE0_CACHE_NAME
    assert cached.is_file()
    assert not [p for p in lite0_cache.iterdir() if p.name != cached.name]  # no temp files left
    # A second load must come from the cache: make the .pth route fail if it is taken.
    def no_conversion(*args, **kwargs):
        raise AssertionError("the .pth was read again although the cache is valid")

    monkeypatch.setattr(backbones, "read_lite0_state_dict", no_conversion)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        base = load_backbone("efficientnet_lite0", cache_dir=lite0_cache)
    assert tuple(base.output_shape) == (None, 7, 7, 1280)
    np.testing.assert_array_equal(
        base.get_layer("head_conv").get_weights()[0], lite0_full.get_layer("head_conv").get_weights()[0]
    )


def test_lite0_corrupt_cache_is_rebuilt(monkeypatch, tmp_path):
    """Default location ($KERAS_HOME/models) and a garbage cache file: rebuilt from the .pth."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert backbones.keras_cache_dir() == tmp_path / "models"
    cached = tmp_path / "models" / backbones.LITE0_CACHE_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"this is not an HDF5 file" * 100)
    with pytest.warns(RuntimeWarning, match="could not be loaded"):
        model = load_backbone("efficientnet_lite0", include_top=True)
    assert cached.stat().st_size > 10_000_000
    state = load_state_dict(backbones.lite0_pth_path())
    np.testing.assert_array_equal(model.get_layer("predictions").get_weights()[1], state["_fc.bias"])
    np.testing.assert_array_equal(
        model.get_layer("stem_conv").get_weights()[0], state["_conv_stem.weight"].transpose(2, 3, 1, 0)
    )
    # ... and the rebuilt file now loads without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backbones.lite0_weights_file()


def test_lite0_matches_pytorch_reference(lite0_full, reference):
    x = BACKBONES["efficientnet_lite0"].preprocess(reference["images"])
    logits = np.asarray(lite0_full(x, training=False))
    diff = np.abs(logits - reference["logits"]).max()
    assert diff <= LOGIT_TOLERANCE, f"max |delta logit| = {diff:.3g}"
    assert str(reference["data"]["pth_sha256"]) == backbones.LITE0_PTH_SHA256


def test_lite0_imagenet_sanity(lite0_full, reference):
    """chelsea -> 285 Egyptian cat, coffee -> 967 espresso (top-1)."""
    x = BACKBONES["efficientnet_lite0"].preprocess(reference["images"][:2])
    probs = _softmax(np.asarray(lite0_full(x, training=False), dtype=np.float64))
    assert probs.argmax(axis=1).tolist() == [285, 967]
    assert probs[0, 285] > 0.5 and probs[1, 967] > 0.5  # measured 0.79 and 0.90


def test_lite0_base_features_match_full_model(lite0_full, lite0_cache, reference):
    """The base's feature map, average-pooled and fed to the top Dense, gives the same logits."""
    base = load_backbone("efficientnet_lite0", cache_dir=lite0_cache)
    x = BACKBONES["efficientnet_lite0"].preprocess(reference["images"][:1])
    features = np.asarray(base(x, training=False))
    assert features.shape == (1, 7, 7, 1280) and features.min() >= 0 and features.max() <= 6
    kernel, bias = lite0_full.get_layer("predictions").get_weights()
    logits = features.mean(axis=(1, 2)) @ kernel + bias
    np.testing.assert_allclose(logits, reference["logits"][:1], atol=LOGIT_TOLERANCE)


def test_inception_v3_env_var_file_is_used(monkeypatch, tmp_path, inception_base, keras_download_dir):
    """CELEB_INCEPTION_WEIGHTS naming a file in Keras' legacy .h5 layout (what Keras downloads):
    those weights are loaded, no download is attempted. The file is written from the random
    module model, standing in for the real ImageNet file."""
    import h5py
    import keras.src.utils.file_utils as file_utils
    from keras.src.legacy.saving import legacy_h5_format

    path = tmp_path / "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Keras/TF/NumPy 2 noise
        legacy_h5_format.save_weights_to_hdf5_group(f, inception_base)

    def no_download(*args, **kwargs):
        raise AssertionError("Keras tried to download although the variable names a file")

    monkeypatch.setattr(file_utils, "get_file", no_download)
    for value in (path, tmp_path):  # the file itself, or its folder
        monkeypatch.setenv(backbones.ENV_INCEPTION_WEIGHTS, str(value))
        model = load_backbone("inception_v3")
        first_conv = next(layer for layer in model.layers if layer.weights)
        ref_conv = next(layer for layer in inception_base.layers if layer.weights)
        np.testing.assert_array_equal(first_conv.weights[0].numpy(), ref_conv.weights[0].numpy())
        last_bn = [layer for layer in model.layers if layer.weights][-1]
        ref_bn = [layer for layer in inception_base.layers if layer.weights][-1]
        np.testing.assert_array_equal(last_bn.weights[-1].numpy(), ref_bn.weights[-1].numpy())
