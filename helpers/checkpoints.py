"""A phase's checkpoint: the callback that :func:`helpers.training.train_phase` passes to every
``fit``, and the training state it writes and a resume reads (``state.npz``).

A callback must subclass ``keras.callbacks.Callback``, so importing this module imports
Keras; :mod:`helpers.training` imports it only when it trains.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from helpers import files, training
from helpers.tf_quiet import import_keras

keras = import_keras()

#: Bumped when the training-state layout changes.
STATE_VERSION = 1


def save_state(path: Path, model: keras.Model, optimizer: Any, epoch: int, best: float,
               rows: Sequence[Mapping[str, Any]], fingerprint: str) -> None:
    """Write ``state.npz``: every variable of ``model`` and ``optimizer``, the epochs done, the
    best ``val_loss``, the history and the run's settings fingerprint."""
    arrays = {f"m{i}": v.numpy() for i, v in enumerate(model.variables)}
    arrays.update({f"o{i}": v.numpy() for i, v in enumerate(optimizer.variables)})
    meta = {"version": STATE_VERSION, "epoch": epoch, "best_val_loss": best,
            "fingerprint": fingerprint, "n_model": len(model.variables),
            "n_optimizer": len(optimizer.variables), "history": list(rows)}

    def write(handle):
        np.savez(handle, meta=np.array(json.dumps(meta, default=float)), **arrays)

    # No fsync: a killed process cannot lose a renamed file; only power loss could.
    files.write_atomically(path, write, sync=False)


def load_state(path: Path, model: keras.Model, optimizer: Any, trainable_variables: Sequence[Any],
               fingerprint: str) -> dict[str, Any]:
    """Put a :func:`save_state` file's values back into ``model`` and ``optimizer`` (built on
    ``trainable_variables`` first if needed) and return its meta (epoch, best, history).

    Raises :class:`helpers.training.StaleStateError` for a state of other settings or models.
    """
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        if meta.get("version") != STATE_VERSION or meta.get("fingerprint") != fingerprint:
            raise training.StaleStateError(
                f"{path} was written by a run with other settings, data or starting weights; "
                "delete the folder or pass resume=False to start this phase afresh"
            )
        if meta["n_model"] != len(model.variables):
            raise training.StaleStateError(f"{path} holds another model ({meta['n_model']} variables)")
        for i, variable in enumerate(model.variables):
            variable.assign(npz[f"m{i}"])
        if not optimizer.built:
            optimizer.build(trainable_variables)
        if meta["n_optimizer"] != len(optimizer.variables):
            raise training.StaleStateError(f"{path} holds another optimizer state")
        for i, variable in enumerate(optimizer.variables):
            variable.assign(npz[f"o{i}"])
    return meta


def save_model(model: keras.Model, path: Path, weights_only: bool = False) -> Path:
    """``model.save`` (or ``save_weights``) to ``path``, atomically."""
    with files.atomic_path(path) as tmp:
        (model.save_weights if weights_only else model.save)(tmp)
    return path


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
            save_model(self.full_model, self.folder / "best.keras")
        save_state(self.folder / "state.npz", self.full_model, self.model.optimizer, number,
                   self.best, self.rows, self.fingerprint)
        with files.atomic_path(self.folder / "history.csv") as tmp:
            training.history_frame(self.rows).to_csv(tmp, index=False)
        logs["phase_epoch"] = number
