"""Point a trained model at new photos: the top identities of each, from a run folder.

    python -m helpers.predict RUN_DIR IMAGE_OR_FOLDER... [--model chosen|study] [--top 3]

:func:`predict_images` is the same as a function and returns a DataFrame. Policy (stated once):

- **Which model.** A run folder made by the notebooks (:mod:`helpers.runner`) holds the study
  recipe's model ``phase2/best.keras`` (notebook 05) and, once notebook 07 ran, the chosen
  recipe's (``chosen_recipe["model"]`` of ``metrics.json``, ``07_chosen/phase2/best.keras``).
  ``model=None`` takes the chosen recipe when the run has it (its settings in ``metrics.json``
  *and* its model file), else the study recipe; ``"chosen"`` or ``"study"`` insist on one.
- **Where metrics.json is.** Next to the run's figures: ``<run>/figures/metrics.json``. The
  reference run (``runs/reference``, made without ``CELEB_RUN_DIR``) writes its figures to the
  committed ``figures/`` instead (:func:`helpers.config.figures_dir`), so for that folder the
  committed file is read too (:func:`metrics_candidates`); the first file that has
  ``chosen_recipe`` gives the chosen recipe's settings (crop, margin, backbone, flip).
- **What the network sees.** Exactly what it saw in training: the study recipe the whole
  photo; the chosen recipe the subject's face found by MTCNN, squared with the recipe's margin
  (:func:`helpers.faces.detections_table` and :func:`helpers.faces.cropped_manifest`: the
  detection and the crop are cached by the file's SHA-256 under the cache folder,
  ``CELEB_CACHE_DIR``, like the training's). A photo without a face is predicted on the whole
  photo, as in training, and its row's ``status`` says ``"no face"``. Then
  :func:`helpers.evaluation.predict_proba` with the backbone's size and preprocessing.
- **One row per input file**, not per face: the chosen recipe classifies one face per photo, the
  subject's (:func:`helpers.faces.choose_subject`), so a row is one prediction; ``n_faces`` says
  how many faces the detector saw and ``message`` which one was kept.
- **Class names** come from the run's ``split.csv`` (label -> name, labels sorted), as notebook 06
  reads them; nothing is hard-coded.
- **Bad files never stop the others.** A missing, empty, unreadable or non-image file gets
  ``status="error"`` and a one-line ``message``; the other files are still predicted. A folder
  stands for its visible files, sorted by name (hidden files and subfolders are left out; a
  folder with no file is an error row of its own). Problems of the run folder itself (a
  missing file, a model that does not match its split) raise :class:`RunFolderError`, whose
  message names the missing file and the notebook that makes it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from helpers import config, data, evaluation, faces, run_folder, splitting, strangers
from helpers.backbones import get_spec

#: ``model`` values of :func:`predict_images` (``None``: the chosen recipe when the run has it).
MODEL_CHOICES: tuple[str, str] = ("chosen", "study")
#: Files of a run folder read here (relative to the run folder; :mod:`helpers.run_folder` names
#: them) and the notebooks that make them.
SPLIT_FILE = run_folder.SPLIT
STUDY_MODEL = run_folder.STUDY_MODEL
CHOSEN_MODEL = run_folder.CHOSEN_MODEL
MAKERS: dict[str, str] = {
    **run_folder.MAKERS,
    config.METRICS_FILE: "06_evaluation (07_closing_the_gap adds the chosen recipe)",
}
RunFolderError = run_folder.RunFolderError
#: Values of the ``status`` column: predicted as the recipe intends; predicted on the whole photo
#: because a face recipe found no face; not predicted (``message`` says why).
STATUS_OK, STATUS_NO_FACE, STATUS_ERROR = "ok", "no face", "error"
#: The answer to a photo whose top probability is at or below the run's rejection threshold.
NONE_OF_THESE = strangers.NONE_NAME
#: Fixed columns of :func:`predict_images`; ``top1, p1, ..., top<k>, p<k>`` follow.
COLUMNS: tuple[str, ...] = ("file", "status", "message", "n_faces", "box_x", "box_y", "box_w", "box_h")


@dataclass
class Predictor:
    """A loaded model with everything needed to feed it like in training.

    Attributes
    ----------
    name : ``"chosen"`` or ``"study"``.
    model : the Keras classifier (softmax over ``class_names``).
    class_names : identity of each label, in label order.
    image_size, preprocess : the backbone's input size and preprocessing
        (:mod:`helpers.backbones`).
    crop : the :class:`helpers.faces.CropPolicy` the model was trained on.
    flip : test-time flip averaging, as the recipe evaluated it.
    model_path : the model file; ``description`` a one-line summary; ``note`` why the default
        fell back to the study recipe ('' otherwise).
    rejection_threshold : answer *none of these* when the top probability is at or below it
        (notebook 08 chooses it on the validation split and held-apart strangers and stores it
        in ``metrics.json`` under ``rejection_thresholds``); ``None``: every photo gets a name.
    """

    name: str
    model: Any = field(repr=False)
    class_names: list[str]
    image_size: int
    preprocess: Callable | None = field(repr=False)
    crop: faces.CropPolicy = field(default_factory=faces.CropPolicy)
    flip: bool = False
    model_path: Path | None = None
    description: str = ""
    note: str = ""
    rejection_threshold: float | None = None


# --- The run folder ------------------------------------------------------------------------


def _missing(run: Path, relpath: str, what: str = "") -> RunFolderError:
    return run_folder.missing(run, relpath, what, makers=MAKERS)


def metrics_candidates(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The ``metrics.json`` files that may belong to ``run_dir``, in the order they are read:
    ``<run>/figures/metrics.json``, then, for the reference run folder only
    (``<project>/runs/reference``), the committed ``<project>/figures/metrics.json`` (where
    ``--reference`` runs write it; see :func:`helpers.config.figures_dir`)."""
    run = Path(run_dir)
    found = [run / "figures" / config.METRICS_FILE]
    reference = config.PROJECT_ROOT / "runs" / "reference"
    if run.resolve() == reference.resolve():
        found.append(config.PROJECT_ROOT / "figures" / config.METRICS_FILE)
    return found


def _read_metrics(run: Path) -> tuple[dict | None, dict | None]:
    """``(the first readable metrics, the first one with chosen_recipe)`` of the run, or Nones."""
    first = chosen = None
    for path in metrics_candidates(run):
        if not path.is_file():
            continue
        try:
            metrics = evaluation.read_metrics(path)
        except (OSError, ValueError) as err:
            raise RunFolderError(f"{path} is not a readable metrics file ({err}): run notebook "
                                 f"{MAKERS[config.METRICS_FILE]} again") from None
        first = first or metrics
        if chosen is None and isinstance(metrics.get("chosen_recipe"), dict):
            chosen = metrics
    return first, chosen


def class_names(run_dir: str | os.PathLike[str]) -> list[str]:
    """The identities of the run's labels, in label order, from its ``split.csv`` (as notebook 06)."""
    run = Path(run_dir)
    path = run / SPLIT_FILE
    if not path.is_file():
        raise _missing(run, SPLIT_FILE)
    try:
        split = splitting.load_split(path, run, check_files=False)
    except (OSError, ValueError) as err:
        raise RunFolderError(f"{err}: run notebook {MAKERS[SPLIT_FILE]} again") from None
    try:
        return run_folder.class_names_of(split)
    except ValueError as err:
        raise RunFolderError(f"{path}: {err}; run notebook {MAKERS[SPLIT_FILE]} again") from None


def _spec(backbone: str):
    try:
        return get_spec(backbone)
    except ValueError as err:
        raise RunFolderError(f"{err} (from {config.METRICS_FILE} or {config.ENV_BACKBONE})") from None


def _load_model(run: Path, relpath: str, image_size: int, n_classes: int, backbone: str):
    from helpers.tf_quiet import import_keras  # noqa: PLC0415 - TF-heavy, only when predicting

    path = run / relpath
    if not path.is_file():
        raise _missing(run, relpath, f"model {relpath}")
    try:
        model = import_keras().models.load_model(path)
    except Exception as err:  # noqa: BLE001 - any loader failure means the same thing here
        raise RunFolderError(f"could not load {path} ({type(err).__name__}: {err}): the file is damaged "
                             f"or from another Keras; run notebook {MAKERS.get(relpath, '07')} again") from None
    size = tuple(model.input_shape[1:3])
    if size != (image_size, image_size):
        raise RunFolderError(f"{path} takes {size[0]}x{size[1]} images but backbone {backbone} takes "
                             f"{image_size}x{image_size}: the run used another backbone (set "
                             f"{config.ENV_BACKBONE}, or check {config.METRICS_FILE})")
    if model.output_shape[-1] != n_classes:
        raise RunFolderError(f"{path} predicts {model.output_shape[-1]} classes but {run / SPLIT_FILE} "
                             f"has {n_classes} identities: the model and the split are from different runs")
    return model, path


def load_predictor(run_dir: str | os.PathLike[str], model: Literal["chosen", "study"] | None = None) -> Predictor:
    """Load the run's model (the chosen recipe's when there and ``model`` is ``None``).

    Parameters
    ----------
    run_dir : a run folder made by the notebooks (``runs/<name>``, or ``runs/reference``).
    model : ``"chosen"`` (notebook 07's recipe, face crops), ``"study"`` (notebooks 04-06, whole
        photo) or ``None`` (the chosen recipe if the run has it, else the study's).

    Raises
    ------
    RunFolderError
        The folder, its ``split.csv``, the model file or (for ``"chosen"``) the chosen recipe's
        settings are missing or do not fit together; the message names the notebook to run.
    ValueError
        ``model`` is not one of the choices.
    """
    if model is not None and model not in MODEL_CHOICES:
        raise ValueError(f"model must be 'chosen', 'study' or None (the chosen recipe when the run has it), "
                         f"got {model!r}")
    run = Path(run_dir)
    if not run.is_dir():
        raise RunFolderError(f"run folder {run} does not exist: make one with python -m helpers.runner "
                             f"--run-dir {run} (notebooks 01-07)")
    names = class_names(run)
    first, with_chosen = _read_metrics(run)
    note = ""
    if model in (None, "chosen"):
        recipe = (with_chosen or {}).get("chosen_recipe")
        relpath = str((recipe or {}).get("model") or CHOSEN_MODEL)
        if recipe is not None and (run / relpath).is_file():
            return _chosen_predictor(run, recipe, relpath, names, _threshold(with_chosen, "chosen"))
        if model == "chosen":
            if recipe is None:
                raise RunFolderError(f"run folder {run} has no chosen recipe ({config.METRICS_FILE} without "
                                     f"chosen_recipe in {', '.join(map(str, metrics_candidates(run)))}): notebook "
                                     f"07_closing_the_gap writes it (python -m helpers.runner --run-dir {run})")
            raise _missing(run, relpath, f"model {relpath}")
        note = ("no chosen recipe (notebook 07_closing_the_gap): study recipe used" if recipe is None
                else f"the chosen recipe's {relpath} is missing: study recipe used")
    study = (first or {}).get("study_recipe") or first or {}
    backbone = str((first or {}).get("backbone") or config.backbone_name())
    spec = _spec(backbone)
    relpath = str(study.get("model") or STUDY_MODEL)
    keras_model, path = _load_model(run, relpath, spec.input_size, len(names), backbone)
    return Predictor("study", keras_model, names, spec.input_size, spec.preprocess, faces.CropPolicy("photo"),
                     False, path, f"study recipe: whole photo | {backbone}", note, _threshold(first, "study"))


def _threshold(metrics: dict | None, model: str) -> float | None:
    """The rejection threshold notebook 08 stored for ``model`` (``None`` when there is none)."""
    value = ((metrics or {}).get("rejection_thresholds") or {}).get(model)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise RunFolderError(f"metrics.json's rejection_thresholds[{model!r}] must be a number in [0, 1], got "
                             f"{value!r}: run notebook 08_how_sure again")
    return float(value)


def _chosen_predictor(run: Path, recipe: dict, relpath: str, names: list[str],
                      threshold: float | None = None) -> Predictor:
    backbone = str(recipe.get("backbone") or config.backbone_name())
    spec = _spec(backbone)
    crop = str(recipe.get("crop") or "photo")
    margin = recipe.get("margin")
    try:
        policy = faces.CropPolicy(crop, margin=config.FACE_MARGIN if margin is None else margin)
    except ValueError as err:
        raise RunFolderError(f"the chosen recipe's crop settings are not usable ({err}): run notebook "
                             f"07_closing_the_gap again") from None
    if policy.kind == "face":
        faces.detector_key()  # ModuleNotFoundError saying how to install MTCNN, before any work
    keras_model, path = _load_model(run, relpath, spec.input_size, len(names), backbone)
    label = recipe.get("label") or f"{crop} | {backbone}"
    return Predictor("chosen", keras_model, names, spec.input_size, spec.preprocess, policy,
                     bool(recipe.get("flip", False)), path, f"chosen recipe: {label}", "", threshold)


# --- Input files ---------------------------------------------------------------------------


def expand_inputs(images: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[tuple[str, str]]:
    """The files to predict, as ``(file, error)`` pairs in order (``error`` empty when none yet).

    A folder stands for its visible files, sorted by name (hidden files and subfolders are
    left out); a folder with none gives one error pair. A path that does not exist gives an
    error pair. Nothing is dropped: a non-image file in a folder gets its own error later.
    """
    if isinstance(images, (str, os.PathLike)):
        images = [images]
    out: list[tuple[str, str]] = []
    for item in images:
        path = Path(item)
        if path.is_dir():
            try:
                found = sorted((p for p in path.iterdir() if not p.name.startswith(".") and p.is_file()),
                               key=lambda p: p.name)
            except OSError as err:
                out.append((str(path), f"cannot read the folder ({err.strerror or type(err).__name__})"))
                continue
            if not found:
                out.append((str(path), f"folder has no image files ({', '.join(config.IMAGE_EXTENSIONS)}; "
                                       "subfolders are not searched)"))
            out.extend((str(p), "") for p in found)
        elif not path.exists():
            out.append((str(path), "no such file or folder"))
        else:
            out.append((str(path), ""))
    return out


def check_image(path: str | os.PathLike[str]) -> tuple[str, str]:
    """``(sha256, "")`` for a JPEG or PNG the model can read, else ``("", one-line reason)``.

    Uses :func:`helpers.data.inspect_image` (the loaders' check: extension, empty file, full
    decode, JPEG/PNG content) so a bad file is caught here, not inside a batch.
    """
    try:
        facts = data.inspect_image(path)
    except ValueError as err:  # the loaders' reasons: extension, empty, not an image, corrupt, format
        reason = str(err)
        hint = "" if reason.startswith("empty") else ": give a JPEG or PNG photo"
        return "", f"{reason}{hint}"
    except OSError as err:
        return "", f"cannot read the file ({err.strerror or type(err).__name__})"
    return str(facts["sha256"]), ""


# --- Predicting ----------------------------------------------------------------------------


def _check_top(top: int, n_classes: int | None = None) -> int:
    """``top`` as an int, or ``ValueError``: a whole number from 1 to ``n_classes``."""
    upper = f" to {n_classes} (the run's identities)" if n_classes is not None else " or more"
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1 \
            or (n_classes is not None and top > n_classes):
        raise ValueError(f"top must be a whole number from 1{upper}, got {top!r}")
    return int(top)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return f"could not predict ({type(err).__name__}: {text[:200]})"


def _proba(predictor: Predictor, manifest: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Probabilities of the manifest's images and a per-row error ('' when fine). One batch first;
    if it fails (a file TensorFlow cannot decode after all), each image alone."""
    kwargs = {"flip": predictor.flip}
    try:
        proba = evaluation.predict_proba(predictor.model, manifest, predictor.image_size, predictor.preprocess, **kwargs)
        return proba, [""] * len(manifest)
    except Exception:  # noqa: BLE001 - find which image, below
        pass
    proba = np.full((len(manifest), len(predictor.class_names)), np.nan, dtype=np.float32)
    errors = []
    for i in range(len(manifest)):
        try:
            proba[i] = evaluation.predict_proba(predictor.model, manifest.iloc[[i]], predictor.image_size,
                                                predictor.preprocess, **kwargs)[0]
            errors.append("")
        except Exception as err:  # noqa: BLE001 - a bad image must not stop the others
            errors.append(_one_line(err))
    return proba, errors


def predict_files(predictor: Predictor, images: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
                  top: int = 3) -> pd.DataFrame:
    """:func:`predict_images` with a loaded :class:`Predictor` (load once, predict many times)."""
    top = _check_top(top, len(predictor.class_names))
    rows = []
    for file, error in expand_inputs(images):
        sha, error = ("", error) if error else check_image(file)
        rows.append({"file": file, "sha256": sha, "status": STATUS_ERROR if error else STATUS_OK,
                     "message": error, "n_faces": np.nan, "box_x": np.nan, "box_y": np.nan,
                     "box_w": np.nan, "box_h": np.nan})
    table = pd.DataFrame(rows, columns=[*COLUMNS, "sha256"])
    good = table.index[table["status"] == STATUS_OK]
    proba = np.full((len(table), len(predictor.class_names)), np.nan)
    if len(good):
        # relpath: the row number, unique even when a file is given twice.
        manifest = pd.DataFrame({"path": table.loc[good, "file"].to_numpy(),
                                 "relpath": [str(i) for i in good],
                                 "sha256": table.loc[good, "sha256"].to_numpy()}, index=good)
        if predictor.crop.kind == "face":
            manifest = _face_crops(predictor, manifest, table)
        if len(manifest):
            found, errors = _proba(predictor, manifest)
            proba[manifest.index] = found
            failed = manifest.index[[bool(e) for e in errors]]
            table.loc[failed, "status"] = STATUS_ERROR
            table.loc[failed, "message"] = [e for e in errors if e]
    out = table[list(COLUMNS)].copy()
    order = np.argsort(-np.nan_to_num(proba, nan=-1.0), axis=1, kind="stable")[:, :top]
    predicted = (out["status"] != STATUS_ERROR).to_numpy()
    names = np.array(predictor.class_names, dtype=object)
    for k in range(top):
        out[f"top{k + 1}"] = np.where(predicted, names[order[:, k]], None)
        out[f"p{k + 1}"] = np.where(predicted, np.take_along_axis(proba, order[:, k:k + 1], axis=1)[:, 0], np.nan)
    # Notebook 08's rejection rule, when the run has one: a photo whose top probability is at or
    # below the threshold is none of the identities the model knows.
    threshold = predictor.rejection_threshold
    rejected = predicted & (out["p1"].to_numpy(float) <= threshold) if threshold is not None else False
    out["answer"] = np.where(rejected, NONE_OF_THESE, out["top1"])
    out.attrs.update({"model": predictor.name, "model_path": str(predictor.model_path or ""),
                      "rejection_threshold": threshold,
                      "description": predictor.description, "note": predictor.note,
                      "class_names": list(predictor.class_names)})
    return out


def _face_crops(predictor: Predictor, manifest: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The manifest's images replaced by their face crops (the training's own functions); fills the
    table's face columns, and marks the rows whose crop failed as errors."""
    with warnings.catch_warnings():  # the row's message says it; no warning text on the console
        warnings.simplefilter("ignore", faces.DetectorFailedWarning)
        warnings.simplefilter("ignore", faces.FaceCacheWarning)
        detections = faces.detections_table(manifest)
    detections.index = manifest.index
    table.loc[manifest.index, "n_faces"] = detections["n_faces"].to_numpy(dtype=float)
    for column in "xywh":
        table.loc[manifest.index, f"box_{column}"] = detections[column].to_numpy(dtype=float)
    no_face = detections.index[detections["status"] == faces.NO_FACE]
    table.loc[no_face, "status"] = STATUS_NO_FACE
    table.loc[manifest.index, "message"] = detections["reason"].fillna("").to_numpy()
    cropped = []
    for i in manifest.index:
        try:
            cropped.append(faces.cropped_manifest(manifest.loc[[i]], predictor.crop, detections.loc[[i]]))
        except Exception as err:  # noqa: BLE001 - a bad image must not stop the others
            table.loc[i, ["status", "message"]] = [STATUS_ERROR, _one_line(err)]
    return pd.concat(cropped) if cropped else manifest.iloc[:0]


def manifest_proba(predictor: Predictor, manifest: pd.DataFrame, detections: pd.DataFrame | None = None) -> np.ndarray:
    """Probabilities ``(images, identities)``, columns in label order, of a manifest's images, each
    shown to the model as in training (the recipe's crop, its flip averaging). For tables of
    known images, e.g. a split's validation rows or strangers; files are not checked one by one
    as in :func:`predict_files`, so a bad file raises.

    Parameters
    ----------
    manifest : rows with ``path``, ``relpath`` and ``sha256`` (a loader's manifest or a split).
    detections : :func:`helpers.faces.detections_table` of these images (a face recipe computes
        it when ``None``).
    """
    if predictor.crop.kind == "face":
        manifest = faces.cropped_manifest(manifest, predictor.crop, detections)
    return evaluation.predict_proba(predictor.model, manifest, predictor.image_size, predictor.preprocess,
                                    flip=predictor.flip)


def predict_images(
    run_dir: str | os.PathLike[str],
    images: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    model: Literal["chosen", "study"] | None = None,
    top: int = 3,
) -> pd.DataFrame:
    """The ``top`` most likely identities of each image, by a run folder's trained model.

    Parameters
    ----------
    run_dir : a run folder made by the notebooks (see :func:`load_predictor`).
    images : an image file or folder, or several; a folder stands for its visible files,
        sorted by name.
    model : ``"chosen"``, ``"study"`` or ``None`` (the chosen recipe when the run has it).
    top : how many identities per image, 1 to the number of identities.

    Returns
    -------
    DataFrame
        One row per input file, in input order (a folder's files sorted by name). Columns:
        ``file``; ``status`` (``"ok"``, ``"no face"`` -- a face recipe found none and used the
        whole photo, as in training -- or ``"error"``); ``message`` (the one-line error, or which
        face was kept / why the whole photo was used; '' otherwise); ``n_faces`` and the subject
        face's box ``box_x``, ``box_y``, ``box_w``, ``box_h`` in pixels of the photo (NaN for the
        study recipe, no face, or an error); then ``top1, p1, ..., top<k>, p<k>``: identities and
        their probabilities, most likely first (ties: lower label first), ``None``/NaN on errors;
        last ``answer``: ``top1``, or :data:`NONE_OF_THESE` when the run has a rejection threshold
        for this model (notebook 08) and ``p1`` is at or below it. ``attrs`` holds ``model``,
        ``model_path``, ``description``, ``note``, ``rejection_threshold`` and ``class_names``.

    Raises
    ------
    RunFolderError
        The run folder cannot give a model; the message names the missing file and its notebook.
    ValueError
        ``top`` or ``model`` is out of range.
    """
    _check_top(top)  # before the model is loaded; the upper bound once the classes are known
    predictor = load_predictor(run_dir, model)
    return predict_files(predictor, images, top)


# --- Command line --------------------------------------------------------------------------


def format_row(row: pd.Series | dict, top: int | None = None) -> str:
    """One readable line: ``file: name p, name p, ...`` (with a note when no face was found or
    several were), or ``file: error: message``."""
    if row["status"] == STATUS_ERROR:
        return f"{row['file']}: error: {row['message']}"
    k = 1
    parts = []
    while f"top{k}" in row and (top is None or k <= top):
        parts.append(f"{row[f'top{k}']} {float(row[f'p{k}']):.3f}")
        k += 1
    line = f"{row['file']}: {', '.join(parts)}"
    if row.get("answer") == NONE_OF_THESE:
        line = f"{row['file']}: {NONE_OF_THESE} (top: {', '.join(parts)})"
    if row["status"] == STATUS_NO_FACE:
        line += "  [no face found: whole photo used]"
    elif isinstance(row.get("n_faces"), (int, float)) and not math.isnan(row["n_faces"]) and row["n_faces"] > 1:
        line += f"  [{int(row['n_faces'])} faces: the subject's kept]"
    return line


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit code: 0 when at least one image was predicted, 1 when
    none was (every file failed, or the run folder cannot give a model), 2 on bad arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.predict",
        description="Predict the identities of photos with a run folder's trained model.")
    parser.add_argument("run_dir", type=Path, help="run folder made by the notebooks (e.g. runs/reference)")
    parser.add_argument("images", nargs="+", help="image files or folders (a folder: its files, sorted)")
    parser.add_argument("--model", choices=MODEL_CHOICES, default=None,
                        help="which recipe's model (default: the chosen recipe when the run has it, else the study's)")
    parser.add_argument("--top", type=_positive_int, default=3, help="identities per image (default 3)")
    args = parser.parse_args(argv)
    try:
        predictor = load_predictor(args.run_dir, args.model)
    except (RunFolderError, ModuleNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.top > len(predictor.class_names):
        parser.error(f"--top {args.top} is more than the run's {len(predictor.class_names)} identities")
    print(f"model: {predictor.description} ({predictor.model_path})"
          + (f"; {predictor.note}" if predictor.note else ""), file=sys.stderr)
    table = predict_files(predictor, [str(p) for p in args.images], args.top)
    for _, row in table.iterrows():
        print(format_row(row, args.top))
    return 0 if (table["status"] != STATUS_ERROR).any() else 1


if __name__ == "__main__":
    sys.exit(main())
