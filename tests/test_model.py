"""Tests of helpers.model (the flat classifier, the study's two phases), helpers.model_tables
(layer, block and phase tables) and helpers.boundary (the boundary split).

Backbones are built once per module with ``weights=None`` (random, offline): structure and
parameter counts do not depend on the weights. The expected numbers for InceptionV3 were
measured on Keras 3 and are the ones the notebooks quote.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import boundary as hb
from helpers import config
from helpers import model as hm
from helpers import model_tables as mt

N_CLASSES = 5
BACKBONE_NAMES = ("inception_v3", "efficientnet_lite0")


@pytest.fixture(scope="module")
def keras():
    from helpers.tf_quiet import import_keras

    keras = import_keras()
    # Keras numbers unnamed layers per session (conv2d_80 ...); other test modules built
    # InceptionV3s before, so start from a fresh session to get the names the study saw.
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.SEED)
    return keras


@pytest.fixture(scope="module")
def models(keras):
    """One classifier per backbone (weights=None), shared by the tests; each test sets its phase."""
    return {name: hm.build_classifier(N_CLASSES, backbone=name, weights=None) for name in BACKBONE_NAMES}


@pytest.fixture(scope="module")
def inception(models):
    return models["inception_v3"]


def _images(model, batch: int = 2, seed: int = 0) -> np.ndarray:
    """Preprocessed-range inputs in [-1, 1] of the model's input size."""
    size = model.input_shape[1:]
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (batch, *size)).astype("float32")


def _is_bn(keras, layer) -> bool:
    return isinstance(layer, keras.layers.BatchNormalization)


# --- structure -----------------------------------------------------------------------


def test_inception_is_flat_with_input_layer_and_head(keras, inception):
    layers = inception.layers
    assert len(layers) == 314  # 311 InceptionV3 layers (Input included) + 3 head layers
    assert isinstance(layers[0], keras.layers.InputLayer)
    assert tuple(layer.name for layer in layers[-3:]) == hm.HEAD_LAYER_NAMES
    assert inception.input_shape == (None, 299, 299, 3)
    assert inception.output_shape == (None, N_CLASSES)
    assert layers[-1].get_config()["activation"] == "softmax"


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_softmax_output_sums_to_one(models, name):
    model = models[name]
    hm.freeze_base(model)
    probs = np.asarray(model(_images(model), training=False))
    assert probs.shape == (2, N_CLASSES)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_inception_blocks(inception):
    blocks = mt.layer_blocks(inception)
    expected = ["stem"] + [f"mixed{i}" for i in range(11)] + ["head"]
    assert list(dict.fromkeys(blocks)) == expected
    # Blocks are contiguous runs of the flat list.
    assert len([b for i, b in enumerate(blocks) if i == 0 or blocks[i - 1] != b]) == len(expected)
    assert blocks[inception.layers.index(inception.get_layer("mixed8"))] == "mixed8"
    assert blocks[inception.layers.index(inception.get_layer("max_pooling2d_1"))] == "stem"


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_tables_are_consistent(models, name):
    model = models[name]
    hm.unfreeze_last(model)
    table = mt.layer_table(model)
    blocks = mt.block_table(model)
    assert len(table) == len(model.layers)
    assert table["params"].sum() == blocks["params"].sum() == model.count_params()
    assert table["trainable_params"].sum() == mt.describe_phase(model).trainable_params
    assert blocks["block"].iloc[0] == "stem" and blocks["block"].iloc[-1] == "head"
    summary = mt.describe_phase(model)
    assert blocks["slice_layers"].sum() == summary.slice_layers == len(model.layers) - summary.slice_start
    assert summary.slice_layers <= config.UNFREEZE_LAST


# --- the study's numbers (InceptionV3, 5 classes) ---------------------------------------


def test_inception_phase1_counts(inception):
    summary = mt.describe_phase(hm.freeze_base(inception))
    assert summary.trainable_params == 2_103_301  # 2048*1024+1024 + 1024*5+5
    assert summary.total_params == 23_906_085
    assert summary.slice_start == 311 and summary.slice_start_layer == "head_pool"
    assert summary.slice_layers == 3 and summary.slice_blocks == ("head",)
    (boundary,) = hb.trainable_boundary(inception)
    assert (boundary.layer, boundary.shape) == ("mixed10", (8, 8, 2048))


def test_inception_phase2_last_63(inception):
    summary = mt.describe_phase(hm.unfreeze_last(inception, 63))
    assert summary.trainable_params == 12_638_213  # BatchNorm frozen
    assert summary.slice_start == 251
    assert summary.slice_start_layer == "activation_80"
    assert summary.slice_start_block == "mixed9"
    assert summary.slice_layers == 63
    assert summary.slice_blocks == ("mixed9", "mixed10", "head")
    boundary = [(b.layer, b.shape) for b in hb.trainable_boundary(inception)]
    assert boundary == [("mixed8", (8, 8, 1280)), ("batch_normalization_80", (8, 8, 448))]


def test_inception_study_code_249(inception):
    """The study's code unfroze model.layers[249:]: 65 layers, all of mixed9 and mixed10."""
    summary = mt.describe_phase(hm.unfreeze_from(inception, 249))
    assert summary.slice_layers == 65
    assert summary.slice_start_layer == "conv2d_80"
    blocks = mt.block_table(inception).set_index("block")
    assert blocks.loc["mixed9", "first_index"] == 249
    assert blocks.loc["mixed9", "slice_layers"] == blocks.loc["mixed9", "layers"]
    assert summary.trainable_params == 13_211_653
    assert [b.layer for b in hb.trainable_boundary(inception)] == ["mixed8"]


# --- the rules, on every backbone ---------------------------------------------------------


@pytest.mark.parametrize("name", BACKBONE_NAMES)
@pytest.mark.parametrize("n", [config.UNFREEZE_LAST, 1, 100])
def test_unfreeze_last_rule(keras, models, name, n):
    model = hm.unfreeze_last(models[name], n)
    layers = model.layers
    start = len(layers) - n
    for index, layer in enumerate(layers):
        expected = index >= start and not _is_bn(keras, layer)
        assert layer.trainable == expected, (index, layer.name)
    summary = mt.describe_phase(model)
    # The slice starts where asked unless it opens on (frozen) BatchNorm layers.
    assert summary.slice_start >= start
    assert all(_is_bn(keras, layer) for layer in layers[start : summary.slice_start])


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_freeze_and_unfreeze_toggle(keras, models, name):
    model = models[name]
    flags_1 = [layer.trainable for layer in hm.freeze_base(model).layers]
    params_1 = mt.describe_phase(model).trainable_params
    assert params_1 == (model.layers[-2].count_params() + model.layers[-1].count_params())
    assert sum(flags_1) == 3
    hm.unfreeze_last(model, 63)
    assert mt.describe_phase(model).trainable_params > params_1
    assert [layer.trainable for layer in hm.freeze_base(model).layers] == flags_1
    assert mt.describe_phase(model).trainable_params == params_1
    # Every BatchNorm layer stays frozen in both phases.
    for setter in (hm.freeze_base, lambda m: hm.unfreeze_last(m, len(m.layers))):
        setter(model)
        assert not any(layer.trainable for layer in model.layers if _is_bn(keras, layer))


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_batchnorm_runs_in_inference_mode_in_phase2(keras, models, name):
    model = hm.unfreeze_last(models[name], 63)
    bns = [layer for layer in model.layers if _is_bn(keras, layer)]
    in_slice = [layer for layer in bns if model.layers.index(layer) >= len(model.layers) - 63]
    assert in_slice, "the slice should contain BatchNorm layers"
    before = [layer.moving_mean.numpy() for layer in bns]
    x = _images(model, seed=1)
    train_out = np.asarray(model(x, training=True))
    infer_out = np.asarray(model(x, training=False))
    for layer, mean in zip(bns, before, strict=True):
        np.testing.assert_array_equal(layer.moving_mean.numpy(), mean, err_msg=layer.name)
    # Batch statistics were not used either: training and inference calls agree
    # (Lite0's slice holds drop-connect layers, random in training, so it is checked
    # with its Dropout layers switched off for this call).
    if name == "inception_v3":
        np.testing.assert_allclose(train_out, infer_out, atol=1e-6)
    else:
        drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
        rates = [layer.rate for layer in drops]
        try:
            for layer in drops:
                layer.rate = 0.0
            np.testing.assert_allclose(np.asarray(model(x, training=True)), infer_out, atol=1e-6)
        finally:
            for layer, rate in zip(drops, rates, strict=True):
                layer.rate = rate


def test_lite0_frozen_dropout_is_off_and_restored(keras, models):
    """Frozen drop-connect layers do nothing; trainable ones keep their own rate."""
    model = models["efficientnet_lite0"]
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert drops, "Lite0 has drop-connect layers"
    hm.unfreeze_from(model, 0)
    rates = {layer.name: layer.rate for layer in drops}
    assert all(rate > 0 for rate in rates.values())
    hm.freeze_base(model)
    assert all(layer.rate == 0.0 for layer in drops)
    x = _images(model, seed=4)
    # Phase 1: the whole base is frozen, so a training call is deterministic.
    np.testing.assert_allclose(
        np.asarray(model(x, training=True)), np.asarray(model(x, training=False)), atol=1e-6
    )
    hm.unfreeze_last(model, 63)
    start = len(model.layers) - 63
    for layer in drops:
        in_slice = model.layers.index(layer) >= start
        assert layer.rate == (rates[layer.name] if in_slice else 0.0), layer.name
    hm.unfreeze_from(model, 0)
    assert {layer.name: layer.rate for layer in drops} == rates


def test_keras_frozen_batchnorm_ignores_training_flag(keras):
    """The Keras 3 behaviour the phases rely on: trainable=False BatchNorm = inference mode."""
    x = np.random.default_rng(3).normal(5.0, 2.0, (16, 4)).astype("float32")
    for trainable, should_move in ((True, True), (False, False)):
        layer = keras.layers.BatchNormalization()
        layer.build(x.shape)
        layer.trainable = trainable
        out = np.asarray(layer(x, training=True))
        moved = not np.allclose(layer.moving_mean.numpy(), 0.0)
        assert moved == should_move
        # Inference mode normalises with the initial moving statistics (mean 0, var 1).
        assert np.allclose(out, x / np.sqrt(1 + layer.epsilon), atol=1e-5) == (not trainable)


# --- the boundary split ---------------------------------------------------------------


@pytest.mark.parametrize("name", BACKBONE_NAMES)
@pytest.mark.parametrize("phase", [1, 2])
def test_split_at_boundary_equals_model(models, name, phase):
    model = models[name]
    hm.freeze_base(model) if phase == 1 else hm.unfreeze_last(model, 63)
    boundary = hb.trainable_boundary(model)
    frozen, top = hb.split_at_boundary(model)
    assert [tuple(t.shape[1:]) for t in top.inputs] == [b.shape for b in boundary]
    assert [t.name for t in top.inputs] == [f"{b.layer}_features" for b in boundary]
    # Layers are shared, not copied.
    assert top.get_layer("head_output") is model.get_layer("head_output")
    assert mt.describe_phase(model).trainable_params == sum(int(np.prod(w.shape)) for w in top.trainable_weights)
    x = _images(model, seed=2)
    features = frozen(x, training=False)
    np.testing.assert_allclose(
        np.asarray(top(features, training=False)), np.asarray(model(x, training=False)), atol=1e-6
    )


# --- bad inputs --------------------------------------------------------------------------


def test_bad_arguments_raise_clear_errors(inception):
    with pytest.raises(ValueError, match="n_classes"):
        hm.build_classifier(1, backbone="inception_v3", weights=None)
    with pytest.raises(ValueError, match="unknown backbone"):
        hm.build_classifier(5, backbone="resnet50", weights=None)
    n_layers = len(inception.layers)
    for bad in (0, -3, n_layers + 1, 2.5):
        with pytest.raises(ValueError, match="n must be"):
            hm.unfreeze_last(inception, bad)
    for bad in (-1, n_layers):
        with pytest.raises(ValueError, match="index must be"):
            hm.unfreeze_from(inception, bad)


def test_freeze_base_needs_the_head(keras):
    inputs = keras.Input((8, 8, 3))
    plain = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    with pytest.raises(ValueError, match="head"):
        hm.freeze_base(plain)
    with pytest.raises(ValueError, match="n_classes"):
        hm.attach_head(keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs)), 1)
