"""The run folder: its layout, and opening a run in one call.

Notebooks hand each other files through the run folder (:func:`helpers.config.run_dir`). This module
is the one place that names them, says which notebook makes each, and reads them back:

- ``split.csv`` (notebook 02): every image, its identity, label, SHA-256 and split;
- ``phase1_<label>/`` (notebook 04): one phase-1 training folder per optimizer tried;
- ``phase1_selected.json`` (notebook 04): the phase-1 run and epoch phase 2 continues from;
- ``phase2/`` (notebook 05): phase 2; its ``best.keras`` is the model notebook 06 evaluates;
- ``history.csv`` (notebook 05): both phases of the study recipe in one table;
- ``07_chosen/`` (notebook 07): the chosen recipe's two phases.

A training folder holds ``best.keras``, ``state.npz``, ``history.csv`` and ``final.weights.h5``
(:func:`helpers.training.train_phase`). Figures and ``metrics.json`` live in
:func:`helpers.config.figures_dir`, not here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers import config, data, files, splitting
from helpers.backbones import BackboneSpec, get_spec

SPLIT = "split.csv"
PHASE1_SELECTION = "phase1_selected.json"
PHASE2 = "phase2"
BEST_MODEL = "best.keras"
HISTORY = "history.csv"
CHOSEN = "07_chosen"
STUDY_MODEL = f"{PHASE2}/{BEST_MODEL}"
CHOSEN_MODEL = f"{CHOSEN}/{PHASE2}/{BEST_MODEL}"
#: Which notebook makes each file (named in the errors when one is missing).
MAKERS: dict[str, str] = {
    SPLIT: "02_splitting",
    PHASE1_SELECTION: "04_phase1_head",
    STUDY_MODEL: "05_phase2_finetune",
    HISTORY: "05_phase2_finetune",
    CHOSEN_MODEL: "07_closing_the_gap",
}
#: The keys of ``phase1_selected.json``.
SELECTION_KEYS: tuple[str, ...] = ("phase1_folder", "optimizer", "best_epoch")


class RunFolderError(ValueError):
    """A run folder lacks a file, or holds one that cannot be read; the message names the notebook
    that makes it."""


def phase1_folder(label: str) -> str:
    """The name of the phase-1 training folder of the run labelled ``label`` (e.g. ``"adam"``)."""
    if not isinstance(label, str) or not label or "/" in label or label.startswith("."):
        raise ValueError(f"label must be a plain folder-name part such as 'adam', got {label!r}")
    return f"phase1_{label}"


def missing(folder: Path, relpath: str, what: str = "", makers: Mapping[str, str] = MAKERS) -> RunFolderError:
    """The error for ``relpath`` (described as ``what``) missing from the run folder ``folder``,
    naming the notebook that makes it (looked up in ``makers`` by path, then by file name)."""
    maker = makers.get(relpath, makers.get(Path(relpath).name, "the notebooks"))
    return RunFolderError(
        f"run folder {folder} has no {what or relpath}: notebook {maker} makes it "
        f"(python -m helpers.runner --run-dir {folder})")


def data_root() -> Path:
    """The root folder of the notebooks' data, found without reading any image: ``CELEB_DATA_DIR``
    when set, else LFW's folder in scikit-learn's data home (:func:`helpers.data.load_default`'s
    order). Raises :class:`helpers.data.DataNotFoundError` when neither is there."""
    root = config.data_dir()
    if root is not None:
        if not root.is_dir():
            raise data.DataNotFoundError(f"CELEB_DATA_DIR is {root}, which is not a folder")
        return root
    lfw = data.lfw_folder()
    if not lfw.is_dir():
        raise data.DataNotFoundError(
            f"no data: set CELEB_DATA_DIR to a VGGFace2 root, or SCIKIT_LEARN_DATA to a folder holding "
            f"lfw_home/lfw_funneled (looked for {lfw})")
    return lfw


def class_names_of(split: pd.DataFrame) -> list[str]:
    """The identities in label order (label 0 first), from a split's ``label`` and ``name``."""
    pairs = split[["label", "name"]].drop_duplicates()
    if pairs["label"].duplicated().any() or pairs["name"].duplicated().any():
        raise ValueError("the split gives one label several names, or one name several labels")
    return pairs.sort_values("label")["name"].astype(str).tolist()


@dataclass(frozen=True)
class Run:
    """An opened run folder. ``split``: notebook 02's split, ``path`` absolute (under ``data_root``);
    ``class_names``: identities in label order; ``spec``: the notebooks' backbone."""

    folder: Path
    data_root: Path
    split: pd.DataFrame
    class_names: list[str]
    spec: BackboneSpec

    def path(self, relpath: str) -> Path:
        """``relpath`` inside the run folder (it need not exist yet)."""
        return self.folder / relpath

    def rows(self, name: str) -> pd.DataFrame:
        """The rows of one split (``"train"``, ``"val"`` or ``"test"``), renumbered from 0."""
        if name not in config.SPLIT_NAMES:
            raise ValueError(f"split name must be one of {config.SPLIT_NAMES}, got {name!r}")
        return self.split[self.split["split"] == name].reset_index(drop=True)

    def phase1_selection(self) -> dict:
        """Notebook 04's choice: :func:`read_phase1_selection` of this folder."""
        return read_phase1_selection(self.folder)

    def phase1_checkpoint(self) -> Path:
        """The phase-1 checkpoint phase 2 continues from (``<selected folder>/best.keras``)."""
        path = self.folder / self.phase1_selection()["phase1_folder"] / BEST_MODEL
        if not path.is_file():
            raise missing(self.folder, PHASE1_SELECTION, f"the selected phase-1 checkpoint {path.name}")
        return path

    def model_path(self, relpath: str = STUDY_MODEL) -> Path:
        """A model file of the run (default: the study recipe's, ``phase2/best.keras``); an error
        naming the notebook that makes it when it is not there."""
        path = self.folder / relpath
        if not path.is_file():
            raise missing(self.folder, relpath, f"model {relpath}")
        return path


def open_run(folder: str | os.PathLike[str] | None = None, *, root: str | os.PathLike[str] | None = None,
             backbone: str | None = None, check_files: bool = True) -> Run:
    """Open a run folder made by notebook 02 onwards, without decoding or hashing any image.

    Parameters
    ----------
    folder : the run folder (default :func:`helpers.config.run_dir`).
    root : the data root the split's relative paths start from (default :func:`data_root`).
    backbone : the backbone's name (default :func:`helpers.config.backbone_name`).
    check_files : check that every image of the split is under ``root`` (one ``stat`` each).
    """
    folder = Path(folder) if folder is not None else config.run_dir()
    root = Path(root) if root is not None else data_root()
    spec = get_spec(backbone or config.backbone_name())
    if not (folder / SPLIT).is_file():
        raise missing(folder, SPLIT)
    split = splitting.load_split(folder / SPLIT, root, check_files=check_files)
    try:
        names = class_names_of(split)
    except ValueError as err:
        raise RunFolderError(f"{folder / SPLIT}: {err}; run notebook {MAKERS[SPLIT]} again") from None
    return Run(folder, root, split, names, spec)


def select_phase1(histories: Mapping[str, pd.DataFrame], optimizers: Mapping[str, str]) -> dict:
    """Notebook 04's rule: of the phase-1 runs (label -> history), the one whose best epoch has the
    lowest validation loss (ties: the first given), and that epoch. ``optimizers`` gives each label's
    optimizer as text. Returns the dict :func:`write_phase1_selection` stores."""
    from helpers.training import lowest_val_loss  # noqa: PLC0415 - TF-heavy module

    chosen = lowest_val_loss(histories)
    if chosen not in optimizers:
        raise ValueError(f"optimizers lacks the run {chosen!r}: give one text per run label")
    history = histories[chosen]
    if "phase_epoch" not in history.columns:
        raise ValueError(f"history {chosen!r} has no phase_epoch column (use a train_phase history)")
    best = int(history.loc[history["val_loss"].idxmin(), "phase_epoch"])
    return {"phase1_folder": phase1_folder(chosen), "optimizer": str(optimizers[chosen]), "best_epoch": best}


def _check_selection(selection: Mapping, where: str) -> dict:
    absent = [k for k in SELECTION_KEYS if k not in selection]
    if absent:
        raise RunFolderError(f"{where} lacks {absent}; run notebook {MAKERS[PHASE1_SELECTION]} again")
    epoch = selection["best_epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise RunFolderError(f"{where}: best_epoch must be a positive integer, got {epoch!r}")
    return {k: selection[k] for k in SELECTION_KEYS}


def write_phase1_selection(folder: str | os.PathLike[str], selection: Mapping) -> Path:
    """Store notebook 04's choice in ``<folder>/phase1_selected.json``, atomically."""
    path = Path(folder) / PHASE1_SELECTION
    clean = _check_selection(selection, "the selection")
    path.parent.mkdir(parents=True, exist_ok=True)
    return files.write_text_atomically(path, json.dumps(clean, indent=1) + "\n")


def read_phase1_selection(folder: str | os.PathLike[str]) -> dict:
    """Notebook 04's choice, read back from ``<folder>/phase1_selected.json``."""
    folder = Path(folder)
    path = folder / PHASE1_SELECTION
    if not path.is_file():
        raise missing(folder, PHASE1_SELECTION)
    try:
        selection = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RunFolderError(f"{path} is not readable JSON ({err}); run notebook "
                             f"{MAKERS[PHASE1_SELECTION]} again") from None
    if not isinstance(selection, dict):
        raise RunFolderError(f"{path} holds no JSON object; run notebook {MAKERS[PHASE1_SELECTION]} again")
    return _check_selection(selection, str(path))
