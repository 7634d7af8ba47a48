"""The checkpoint callback that :func:`helpers.training.train_phase` passes to every ``fit``.

A callback must subclass ``keras.callbacks.Callback``, so importing this module imports
Keras; :mod:`helpers.training` imports it only when it trains.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers import files, training
from helpers.tf_quiet import import_keras

keras = import_keras()


class PhaseCheckpoint(keras.callbacks.Callback):
    """After each epoch: append the history row and write the phase folder's checkpoint.

    Why a callback: the saving lives in one place, runs where Keras says an epoch has
    ended, and sits in the same list as the callbacks a user gives
    :func:`helpers.training.train_phase` (``callbacks=``), which run after it (they find
    the epoch's files written). At the end of each epoch, in this order:

    1. the epoch's row (:data:`helpers.training.HISTORY_COLUMNS`) is appended to ``rows``;
    2. ``best.keras`` -- the full ``model`` (not the part ``fit`` trains) -- is written if the
       row's ``val_loss`` is below ``best``;
    3. ``state.npz`` (what a resume reads) is written;
    4. ``history.csv`` is rewritten;

    each file atomically. ``train_phase`` runs one epoch per ``fit`` call, so Keras' epoch
    index is always 0: call :meth:`start_epoch` with the real (0-based) epoch before each
    ``fit``. The callbacks after this one also find ``phase_epoch`` (1-based) in ``logs``.

    ``rows``, ``best``: the history and the lowest ``val_loss`` so far (a resumed state's).
    ``fingerprint``: the run's settings fingerprint, stored in the state.
    """

    def __init__(self, model: keras.Model, folder: str | Path, phase: int, fingerprint: str,
                 rows: Sequence[Mapping[str, Any]] = (), best: float = float("inf")) -> None:
        super().__init__()
        self.full_model = model
        self.folder = Path(folder)
        self.phase = int(phase)
        self.fingerprint = fingerprint
        self.rows: list[dict[str, Any]] = [dict(row) for row in rows]
        self.best = float(best)
        self._epoch: int | None = None
        self._tick = 0.0

    def start_epoch(self, epoch: int) -> None:
        """The next ``on_epoch_end`` ends ``epoch`` (0-based); its ``seconds`` count from now."""
        self._epoch, self._tick = int(epoch), time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._epoch is None:
            raise RuntimeError("PhaseCheckpoint: call start_epoch(epoch) before each one-epoch fit")
        logs = {} if logs is None else logs
        number, self._epoch = self._epoch + 1, None
        row = {"epoch": number, "phase": self.phase, "phase_epoch": number,
               **{key: float(logs[key]) for key in ("loss", "accuracy", "val_loss", "val_accuracy")},
               "seconds": time.perf_counter() - self._tick}
        self.rows.append(row)
        if row["val_loss"] < self.best:
            self.best = row["val_loss"]
            training._save_model_atomically(self.full_model, self.folder / "best.keras")
        training._save_state(self.folder / "state.npz", self.full_model, self.model.optimizer, number,
                             self.best, self.rows, self.fingerprint)
        with files.atomic_path(self.folder / "history.csv") as tmp:
            training.history_frame(self.rows).to_csv(tmp, index=False)
        logs["phase_epoch"] = number
