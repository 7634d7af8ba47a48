"""Progress bars: plain-text tqdm bars, the same in terminals and notebooks (no ipywidgets)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def progress_bar(iterable: Iterable | None = None, *, enabled: bool = True, **kwargs: Any):
    """``tqdm(iterable, **kwargs)``, silent when ``enabled`` is false (it still iterates).

    Long loops pass ``mininterval`` (seconds between updates): a notebook keeps every update
    of a bar in its saved output.
    """
    from tqdm import tqdm  # noqa: PLC0415 - display only

    return tqdm(iterable, disable=not enabled, **kwargs)
