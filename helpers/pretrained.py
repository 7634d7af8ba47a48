"""What the pretrained backbones share: weight errors, Keras' cache, input checks.

:mod:`helpers.backbones` (the registry and InceptionV3), :mod:`helpers.efficientnet_lite` (the
Lite network) and :mod:`helpers.lite_weights` (its weights) use these; they live here so that
none of them imports another's internals.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers import files
from helpers.keras_internals import keras_home

if TYPE_CHECKING:  # pragma: no cover - typing only; keras is imported lazily and quietly
    import keras

__all__ = [
    "ChecksumMismatchError",
    "WeightsUnavailableError",
    "as_float_batch",
    "is_tensor",
    "keras_cache_dir",
    "save_weights_atomically",
    "scale_tensor",
]


# ----------------------------------------------------------------------------- errors
class WeightsUnavailableError(RuntimeError):
    """Pretrained weights were asked for but cannot be obtained (offline, file missing...)."""


class ChecksumMismatchError(RuntimeError):
    """A weights file's SHA-256 differs from the expected one (corrupt or different file)."""


# ----------------------------------------------------------------------------- files


def keras_cache_dir() -> Path:
    """``$KERAS_HOME/models`` (read now, so tests can monkeypatch it), else Keras' own home
    (``~/.keras``, or ``/tmp/.keras`` when home is read-only) ``/models``."""
    home = os.environ.get("KERAS_HOME", "").strip()
    if not home:
        try:
            home = keras_home()  # Keras' own rule
        except Exception:  # pragma: no cover - layout of a future Keras
            home = os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home).expanduser() / "models"


def save_weights_atomically(model: keras.Model, target: Path) -> None:
    """Write ``model.save_weights`` to a temporary file beside ``target``, then rename it:
    readers never see a half-written cache, and concurrent writers leave one whole file."""
    with warnings.catch_warnings(), files.atomic_path(target) as tmp:
        # Keras 3 + TF 2.21 + NumPy 2 emit one DeprecationWarning per variable here
        # (tf.Variable.__array__ lacks NumPy 2's copy keyword): noise, not our concern.
        warnings.filterwarnings("ignore", message=r"__array__ implementation doesn't accept",
                                category=DeprecationWarning)
        model.save_weights(str(tmp))


# ----------------------------------------------------------------------------- preprocessing
def as_float_batch(images: Any) -> np.ndarray:
    """Validate an RGB batch (n, h, w, 3) and return a float32 *copy* (callers mutate it)."""
    x = np.array(images, dtype=np.float32, copy=True)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected an RGB batch of shape (n, h, w, 3), got shape {x.shape}")
    return x


def is_tensor(images: Any) -> bool:
    """True for TensorFlow tensors (eager or symbolic, e.g. inside ``tf.data.Dataset.map``)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and tf.is_tensor(images)


def scale_tensor(images: Any, offset: float, scale: float) -> Any:
    """``(x - offset) / scale`` in float32 with TensorFlow ops (graph-safe, no copy to NumPy)."""
    tf = sys.modules["tensorflow"]
    x = tf.cast(images, tf.float32)
    if x.shape.rank is not None and (x.shape.rank != 4 or x.shape[-1] != 3):
        raise ValueError(f"expected an RGB batch of shape (n, h, w, 3), got shape {x.shape}")
    return (x - offset) / scale
