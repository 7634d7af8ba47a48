"""Argument checks the helpers share: whole numbers, fractions, a table's columns.

Each raises ``ValueError`` with one message pattern, so the same mistake reads the same
wherever it is made: ``"<name> must be a positive integer, got 0"``,
``"<what> lacks columns ['label']"``. A check returns the value converted (``int``,
``float``), so ``epochs = positive_int("epochs", epochs)`` validates and normalises at once.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any


def is_integer(value: Any) -> bool:
    """True for Python and NumPy integers; ``False`` for ``bool`` (a flag is not a count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer(name: str, value: Any, *, minimum: int | None = None, note: str = "") -> int:
    """``int(value)``, or ``ValueError("<name> must be an integer<note>, got <value>")`` when
    ``value`` is not an integer or is below ``minimum``.

    ``note`` says the rule in words, e.g. ``" >= 2"`` or ``" or None (the training seed)"``.
    """
    if not is_integer(value) or (minimum is not None and value < minimum):
        raise ValueError(f"{name} must be an integer{note}, got {value!r}")
    return int(value)


def positive_int(name: str, value: Any, note: str = "") -> int:
    """``int(value)`` for an integer >= 1, else ``ValueError("<name> must be a positive
    integer<note>, got <value>")``; ``note`` e.g. ``" (pixels)"``."""
    if not is_integer(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer{note}, got {value!r}")
    return int(value)


def non_negative_int(name: str, value: Any, note: str = "") -> int:
    """``int(value)`` for an integer >= 0, else ``ValueError("<name> must be a non-negative
    integer<note>, got <value>")``."""
    if not is_integer(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer{note}, got {value!r}")
    return int(value)


def fraction(name: str, value: Any) -> float:
    """``float(value)`` for a real number in [0, 1] (an accuracy, a probability), else
    ``ValueError("<name> must be a number in [0, 1], got <value>")``; NaN is refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def missing_columns(frame: Any, needed: Iterable[str]) -> list[str]:
    """The names of ``needed`` that are not columns of ``frame``, in ``needed``'s order."""
    columns = set(frame.columns)
    return [name for name in needed if name not in columns]


def require_columns(frame: Any, needed: Iterable[str], what: str, note: str = "") -> None:
    """``ValueError("<what> lacks columns [...]<note>")`` unless ``frame`` has every column of
    ``needed``. The missing ones are listed in ``needed``'s order (pass it sorted for a
    sorted list); ``note`` points to what makes such a table, e.g. ``" (see predictions_table)"``."""
    missing = missing_columns(frame, needed)
    if missing:
        raise ValueError(f"{what} lacks columns {missing}{note}")
