"""Import TensorFlow and Keras without their C++ start-up log lines.

TensorFlow 2.21 prints lines such as ``oneDNN custom operations are on`` from
C++ straight to file descriptor 2 while it is imported; ``TF_CPP_MIN_LOG_LEVEL``
does not stop them. In a notebook they land in the cell's output and break
nbval's comparison, so every helper that needs TensorFlow imports it through
:func:`import_tensorflow`, which points descriptor 2 at ``/dev/null`` for the
duration of the import only. Errors raised by the import still propagate.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType


@contextlib.contextmanager
def silenced_stderr_fd() -> Iterator[None]:
    """Redirect OS-level file descriptor 2 to ``/dev/null`` inside the block."""
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError):
        pass
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> ModuleType:
    """Return the ``tensorflow`` module, importing it quietly the first time."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with silenced_stderr_fd():
        import tensorflow as tf  # noqa: PLC0415 - deliberately lazy and quiet

        # Keras imports its TensorFlow backend here too; its first use logs nothing more.
        import keras  # noqa: F401, PLC0415
    return tf


def import_keras() -> ModuleType:
    """Return the ``keras`` module (Keras 3 on the TensorFlow backend), imported quietly."""
    import_tensorflow()
    import keras  # noqa: PLC0415

    return keras
