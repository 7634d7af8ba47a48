"""Face embeddings: dlib's 128-D ResNet face descriptor of each photo's subject, and a classifier.

- :func:`face_descriptor` gives one ``uint8`` RGB image's descriptor: dlib's 5-point shape
  predictor runs inside a given face box, and the recognition model aligns the face from those
  points (``dlib.get_face_chip``'s alignment, 150x150) and maps it to 128 numbers whose
  Euclidean distance is small for the same person.
- :func:`descriptors_table` does it for every image of a manifest, inside the subject box that
  :mod:`helpers.faces` chose (MTCNN; dlib's own HOG detector is never used), and caches each
  descriptor by the file's SHA-256, the box and the jitter count under
  ``<cache dir>/embeddings/<model key>/``. No image is dropped: a ``status`` row says for each
  what the descriptor was computed from (photos without a face: the whole photo, see
  :data:`FROM_WHOLE_IMAGE`).
- :func:`fit_classifier` fits scikit-learn candidates on the training descriptors and keeps the
  one with the most validation images right; it never takes the test split.

The descriptor was trained by dlib's author on about 3 million faces (FaceScrub, the 2015 VGG
Face dataset and images from the web), so the five identities of the study may be among them.

dlib comes from PyPI ``dlib-bin`` (import name ``dlib``) and the model files from PyPI
``face-recognition-models`` (CC0): ``pip install -e ".[embeddings]"``. dlib is imported only
when it is needed; the package ``face_recognition_models`` is never imported (its
``pkg_resources`` import fails on recent setuptools): its files are found by path.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import math
import numbers
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from PIL import Image

from helpers import checks, config, faces, files
from helpers.data import read_rgb
from helpers.progress import progress_bar

#: Length of a descriptor.
DESCRIPTOR_SIZE = 128
#: The import name of the package holding dlib's model files (located, never imported).
MODELS_PACKAGE = "face_recognition_models"
MODEL_FILES: dict[str, str] = {
    "shape_predictor": "shape_predictor_5_face_landmarks.dat",
    "face_recognition": "dlib_face_recognition_resnet_model_v1.dat",
}
INSTALL_HINT = ('pip install dlib-bin face-recognition-models (or pip install -e ".[embeddings]", '
                "pinned in pyproject.toml)")

#: ``status`` of a descriptor computed inside the subject's face box (one face or several).
FROM_FACE = "face box"
#: ``status`` of a photo where MTCNN found no face: the shape predictor is run with the whole
#: photo as its box and the descriptor is computed from the points it places there. The value
#: is kept (a row for every image) but it describes no detected face; ``reason`` says so.
FROM_WHOLE_IMAGE = "whole image"
#: ``status`` of an image that could not be read: its descriptor row is NaN, ``reason`` says why.
FAILED = "failed"
DESCRIPTOR_STATUSES: tuple[str, ...] = (FROM_FACE, FROM_WHOLE_IMAGE, FAILED)
STATUS_COLUMNS: list[str] = ["relpath", "sha256", "detection", "status",
                             "left", "top", "right", "bottom", "num_jitters", "cached", "reason"]
#: The columns of :func:`fit_classifier`'s table.
CANDIDATE_COLUMNS: list[str] = ["val accuracy", "val images right", "val images", "fit seconds",
                                "chosen", "error"]
_WHOLE_IMAGE_REASON = ("no face found by MTCNN: descriptor of the whole photo (the shape predictor "
                       "was run with the whole photo as its box), not of a detected face")


class EmbeddingCacheWarning(UserWarning):
    """A cached descriptor could not be used and was computed again; the message says why."""


class CandidateFailedWarning(UserWarning):
    """A classifier candidate could not be fit; its row of the table gives the error."""


class Models(NamedTuple):
    """dlib's two models, as :func:`load_models` returns them."""

    shape_predictor: Any
    face_recognition: Any


# --- Models ---------------------------------------------------------------------------------


def _import_dlib():
    """``import dlib``, or an ImportError that says what to install."""
    try:
        import dlib  # noqa: PLC0415 - optional dependency, imported only when needed
    except ImportError as err:
        raise ImportError(f"face descriptors need dlib: {INSTALL_HINT}") from err
    return dlib


def model_paths() -> dict[str, Path]:
    """The model files of PyPI ``face-recognition-models``, found without importing it.

    Returns
    -------
    dict
        ``{"shape_predictor": <5-point landmarks .dat>, "face_recognition": <ResNet .dat>}``.

    Raises
    ------
    ModuleNotFoundError
        The package is not installed (the message says what to install).
    FileNotFoundError
        It is installed but a model file is missing (reinstall it).
    """
    # find_spec locates a top-level package without executing its __init__.
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"dlib's model files come from PyPI face-recognition-models, which is "
                                  f"not installed: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    paths = {name: folder / filename for name, filename in MODEL_FILES.items()}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"model file(s) missing from face-recognition-models: {missing}; "
                                "reinstall it: pip install --force-reinstall face-recognition-models==0.3.0")
    return paths


@functools.lru_cache(maxsize=1)
def load_models() -> Models:
    """dlib's 5-point shape predictor and face recognition model, loaded once per process.

    Raises
    ------
    ImportError
        dlib or the model files are not installed; the message names the packages.
    """
    dlib = _import_dlib()
    paths = model_paths()
    return Models(dlib.shape_predictor(str(paths["shape_predictor"])),
                  dlib.face_recognition_model_v1(str(paths["face_recognition"])))


def model_key() -> str:
    """dlib's and the model files' versions: the folder of the descriptor cache's entries."""
    dlib = _import_dlib()
    try:
        models = importlib.metadata.version("face-recognition-models")
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(f"face-recognition-models is not installed: {INSTALL_HINT}") from None
    return f"dlib-{dlib.__version__}_models-{models}"


# --- One image ---------------------------------------------------------------------------------


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """``image`` as a C-contiguous ``uint8`` array ``(height, width, 3)``, as dlib wants it.

    Grayscale ``(h, w)`` or ``(h, w, 1)`` is repeated into three channels and RGBA loses its
    alpha (as :func:`helpers.data.read_rgb`). Other dtypes are refused rather than guessed at
    (a float image may be in ``[0, 1]`` or ``[0, 255]``).

    Raises
    ------
    ValueError
        Not an array, not ``uint8``, empty, or not 1, 3 or 4 channels; the message says what to do.
    """
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array (height, width, 3), got {type(image).__name__}: "
                         "decode files with helpers.data.read_rgb")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (0-255), got {image.dtype}: convert it first, e.g. "
                         "np.clip(image * 255, 0, 255).round().astype(np.uint8) for floats in [0, 1]")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"image must be (height, width) grayscale or (height, width, 3) RGB, got shape "
                         f"{image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty (shape {image.shape})")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = image[..., :3]
    return np.ascontiguousarray(image)


def _round(value: float) -> int:
    return math.floor(value + 0.5)  # halves up, as helpers.faces rounds crop squares


def box_bounds(box: Sequence[float] | None, width: int, height: int) -> tuple[int, int, int, int]:
    """The pixels ``(left, top, right, bottom)`` (inclusive, dlib's rectangle) of a box
    ``(x, y, w, h)`` (:mod:`helpers.faces`' convention), rounded and clipped to the image.

    ``None`` is the whole image.

    Raises
    ------
    ValueError
        The box is not four finite numbers, has no area, or lies wholly outside the image.
    """
    if box is None:
        return 0, 0, int(width) - 1, int(height) - 1
    values = list(box) if isinstance(box, (Sequence, np.ndarray)) else None
    if (values is None or len(values) != 4
            or not all(isinstance(v, numbers.Real) and math.isfinite(v) for v in values)):
        raise ValueError(f"box must be four finite numbers (x, y, w, h), got {box!r}: pass the x, y, w, h "
                         "of a row of helpers.faces.detections_table, or None for the whole image")
    x, y, w, h = (float(v) for v in values)
    left, top = _round(x), _round(y)
    right, bottom = _round(x + w) - 1, _round(y + h) - 1
    if right < left or bottom < top:
        raise ValueError(f"box {tuple(values)} is empty (width and height must be at least 1 pixel): pass a "
                         "face box of helpers.faces.detections_table, or None for the whole image")
    clipped = max(left, 0), max(top, 0), min(right, int(width) - 1), min(bottom, int(height) - 1)
    if clipped[2] < clipped[0] or clipped[3] < clipped[1]:
        raise ValueError(f"box {tuple(values)} lies outside the {width}x{height} image: pass the box of "
                         "this image's row of helpers.faces.detections_table, or None for the whole image")
    return clipped


def _check_jitters(num_jitters: int) -> int:
    checks.integer("num_jitters", num_jitters, minimum=0, note=" >= 0 (0: no jitter)")
    return int(num_jitters)


def _compute(rgb: np.ndarray, bounds: tuple[int, int, int, int], num_jitters: int) -> np.ndarray:
    """dlib's descriptor of a checked image inside checked bounds (the one place dlib runs)."""
    dlib = _import_dlib()
    models = load_models()
    shape = models.shape_predictor(rgb, dlib.rectangle(*bounds))
    # Given the shape, compute_face_descriptor aligns the face itself (get_face_chip, 150x150).
    return np.asarray(models.face_recognition.compute_face_descriptor(rgb, shape, num_jitters),
                      dtype=np.float32)


def face_descriptor(image: np.ndarray, box: Sequence[float] | None, num_jitters: int = 0) -> np.ndarray:
    """dlib's 128-D descriptor of the face inside ``box``.

    Parameters
    ----------
    image : ``uint8`` RGB ``(height, width, 3)``; grayscale is converted (:func:`as_rgb_uint8`).
    box : ``(x, y, w, h)`` in pixels, e.g. the subject's box of
        :func:`helpers.faces.detections_table`; clipped to the image. ``None``: the whole image.
    num_jitters : dlib's jitter count; above 1 the descriptor averages that many randomly
        jittered copies of the face (slower, and not repeatable from call to call).

    Returns
    -------
    ndarray
        ``float32`` of shape ``(128,)``; same image and box give the same values (without jitter).

    Raises
    ------
    ValueError
        A bad image (:func:`as_rgb_uint8`), an empty box or one outside the image, or a negative
        ``num_jitters``; checked before dlib is loaded.
    ImportError
        dlib or its model files are not installed.
    """
    rgb = as_rgb_uint8(image)
    bounds = box_bounds(box, rgb.shape[1], rgb.shape[0])
    return _compute(rgb, bounds, _check_jitters(num_jitters))


# --- A manifest, cached ------------------------------------------------------------------------


def cache_folder(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where descriptors are cached: ``<cache_dir or config.cache_dir()>/embeddings/<model key>``."""
    root = Path(cache_dir) if cache_dir is not None else config.cache_dir()
    return root / "embeddings" / model_key()


def cache_name(sha256: str, bounds: tuple[int, int, int, int], num_jitters: int) -> str:
    """File name of a cached descriptor: the image's SHA-256, the box's pixels and the jitters."""
    left, top, right, bottom = bounds
    return f"{sha256}_{left}-{top}-{right}-{bottom}_j{num_jitters}.npy"


def _read_cached(path: Path) -> tuple[np.ndarray | None, str]:
    if not path.exists():
        return None, ""
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        return None, f"unreadable ({type(err).__name__}: {err})"
    if value.shape != (DESCRIPTOR_SIZE,) or value.dtype != np.float32 or not np.isfinite(value).all():
        return None, f"not a finite float32 descriptor (shape {value.shape}, {value.dtype})"
    return value, ""


def _write_cached(path: Path, descriptor: np.ndarray) -> None:
    # No fsync: the rename is atomic, and an entry lost to a power cut is merely computed again.
    files.write_atomically(path, lambda handle: np.save(handle, descriptor, allow_pickle=False), sync=False)


def _progress(iterable, enabled: bool, total: int):
    return progress_bar(iterable, enabled=enabled, total=total, desc="descriptors", unit="image",
                        mininterval=10.0)


def _row_box(detection: Mapping) -> tuple[tuple[float, float, float, float] | None, str, str]:
    """The box to use for a detections row, the status it gives, and the reason."""
    if detection["status"] == faces.NO_FACE:
        return None, FROM_WHOLE_IMAGE, _WHOLE_IMAGE_REASON
    box = tuple(float(detection[c]) for c in "xywh")
    return box, FROM_FACE, str(detection["reason"]) if isinstance(detection["reason"], str) else ""


def descriptors_table(
    manifest: pd.DataFrame,
    detections: pd.DataFrame,
    *,
    num_jitters: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The descriptor of every image of a manifest, in order, computed once and then cached.

    Parameters
    ----------
    manifest : a loader's manifest (``path``, ``relpath``; ``sha256`` saves hashing).
    detections : :func:`helpers.faces.detections_table` of (at least) these images, matched by
        ``relpath``.
    num_jitters : see :func:`face_descriptor` (part of the cache key).
    cache_dir : the cache root (default :func:`helpers.config.cache_dir`); entries go to
        :func:`cache_folder`, one ``.npy`` per image named by :func:`cache_name`.
    progress : show a progress bar.

    Returns
    -------
    X : ndarray ``(len(manifest), 128)`` float32; NaN rows for images that could not be read.
    status : DataFrame, one row per image, columns :data:`STATUS_COLUMNS`: ``detection`` (the
        faces status), ``status`` in :data:`DESCRIPTOR_STATUSES`, the pixels used
        (``left``..``bottom``, inclusive), whether the descriptor came from the cache, ``reason``.

    Raises
    ------
    ValueError
        Missing columns, images without a detections row, or a row of another file (its size
        or SHA-256 differs from the image's).
    """
    jitters = _check_jitters(num_jitters)
    missing = sorted({"path", "relpath"} - set(manifest.columns))
    if missing:
        raise ValueError(f"manifest lacks column(s) {missing}: pass a loader's manifest (helpers.data)")
    missing = sorted({"relpath", "sha256", "width", "height", "status", "reason", *"xywh"}
                     - set(detections.columns))
    if missing:
        raise ValueError(f"detections lacks column(s) {missing}: pass helpers.faces.detections_table(manifest)")
    rows = detections.drop_duplicates("relpath").set_index("relpath")
    absent = sorted(set(manifest["relpath"]) - set(rows.index))
    if absent:
        raise ValueError(f"{len(absent)} images have no detections row (e.g. {absent[0]}): pass "
                         "helpers.faces.detections_table of this manifest")
    folder = cache_folder(cache_dir)
    shas = manifest["sha256"] if "sha256" in manifest.columns else [None] * len(manifest)
    X = np.full((len(manifest), DESCRIPTOR_SIZE), np.nan, dtype=np.float32)
    table = []
    items = zip(manifest["path"], manifest["relpath"], shas)
    for i, (path, relpath, sha) in enumerate(_progress(items, progress, len(manifest))):
        detection = rows.loc[relpath]
        row = {"relpath": relpath, "sha256": sha or "", "detection": detection["status"],
               "left": -1, "top": -1, "right": -1, "bottom": -1, "num_jitters": jitters, "cached": False}
        box, status, reason = _row_box(detection)
        width, height = (0 if pd.isna(detection[c]) else int(detection[c]) for c in ("width", "height"))
        if width < 1 or height < 1:  # helpers.faces could not read it either
            table.append(row | {"status": FAILED, "reason": f"unreadable when detected: {detection['reason']}"})
            continue
        try:
            sha = sha or files.sha256_file(path)
        except OSError as err:
            table.append(row | {"status": FAILED, "reason": f"could not read the file ({err})"})
            continue
        if isinstance(detection["sha256"], str) and detection["sha256"] and detection["sha256"] != sha:
            raise ValueError(f"the detections row of {relpath} is for another file (SHA-256 "
                             f"{str(detection['sha256'])[:12]}..., the file's {sha[:12]}...): "
                             "recompute helpers.faces.detections_table(manifest)")
        bounds = box_bounds(box, width, height)
        row |= {"sha256": sha, "status": status, "reason": reason,
                **dict(zip(("left", "top", "right", "bottom"), bounds))}
        entry = folder / cache_name(sha, bounds, jitters)
        cached, why = _read_cached(entry)
        if cached is not None:
            X[i] = cached
            table.append(row | {"cached": True})
            continue
        if why:
            warnings.warn(f"descriptor cache entry {entry.name} not used: {why}; computing it again",
                          EmbeddingCacheWarning, stacklevel=2)
        try:
            rgb = read_rgb(path)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            why = f"could not read the image ({type(err).__name__}: {err})"
            table.append(row | {"status": FAILED, "reason": why})
            continue
        if (rgb.shape[1], rgb.shape[0]) != (width, height):
            raise ValueError(f"the detections row of {relpath} is for a {width}x{height} image but {path} "
                             f"is {rgb.shape[1]}x{rgb.shape[0]}: recompute "
                             "helpers.faces.detections_table(manifest)")
        X[i] = _compute(rgb, bounds, jitters)
        _write_cached(entry, X[i])
        table.append(row)
    return X, pd.DataFrame(table, columns=STATUS_COLUMNS)


# --- A classifier on descriptors -----------------------------------------------------------------


def default_candidates(seed: int = config.SEED) -> dict[str, Any]:
    """The classifiers :func:`fit_classifier` compares, in tie-breaking order (fresh objects).

    Logistic regression (C = 0.1, 1, 10) and a linear SVM (C = 0.1, 1; probabilities calibrated
    by a sigmoid on 3 folds) on standardised descriptors, and the nearest class centroid on the
    raw descriptors (the Euclidean space dlib's model was trained for).
    """
    from sklearn.calibration import CalibratedClassifierCV  # noqa: PLC0415 - heavy, only here
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.neighbors import NearestCentroid  # noqa: PLC0415
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415
    from sklearn.svm import SVC  # noqa: PLC0415

    candidates: dict[str, Any] = {}
    for c in (0.1, 1.0, 10.0):
        candidates[f"logistic regression C={c:g}"] = make_pipeline(
            StandardScaler(), LogisticRegression(C=c, max_iter=5000))
    for c in (0.1, 1.0):
        # Calibrated (sigmoid, 3-fold): SVC(probability=True) is deprecated from scikit-learn 1.9.
        candidates[f"linear SVC C={c:g}"] = make_pipeline(StandardScaler(), CalibratedClassifierCV(
            SVC(kernel="linear", C=c, random_state=seed), cv=3, ensemble=False))
    candidates["nearest centroid"] = NearestCentroid()
    return candidates


def _check_xy(X: np.ndarray, y: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"X_{name} must be a non-empty 2-D array (images, features), got shape {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"X_{name} has {len(X)} rows but y_{name} {len(y)} labels")
    if not np.isfinite(X).all():
        raise ValueError(f"X_{name} holds NaN or infinite values: leave out the rows whose descriptors "
                         f"status is {FAILED!r} (images that could not be read)")
    return X, y


def fit_classifier(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    candidates: Mapping[str, Any] | None = None,
) -> tuple[Any, pd.DataFrame]:
    """Fit each candidate on the training descriptors and keep the best on validation.

    Parameters
    ----------
    X_train, y_train : training descriptors and labels (every candidate is fit on these only).
    X_val, y_val : validation descriptors and labels (only predicted, never fit).
    candidates : ``{name: unfitted scikit-learn estimator}`` (cloned, so the caller's objects are
        untouched); default :func:`default_candidates`. The order breaks ties.

    Returns
    -------
    estimator : the chosen candidate, fitted on the training split alone: the one with the most
        validation images right, the first in candidate order on a tie.
    table : DataFrame indexed by candidate name, columns :data:`CANDIDATE_COLUMNS`. A candidate
        that raises ``ValueError`` while fitting (e.g. too few images per class) gets its error
        there, a :class:`CandidateFailedWarning`, and is not chosen.

    Raises
    ------
    ValueError
        Bad shapes, non-finite values, fewer than two training classes, no candidate, or every
        candidate failed.

    Notes
    -----
    The test split is not a parameter: the choice can only depend on train and validation.
    """
    from sklearn.base import clone  # noqa: PLC0415 - heavy, only here

    X_train, y_train = _check_xy(X_train, y_train, "train")
    X_val, y_val = _check_xy(X_val, y_val, "val")
    if X_train.shape[1] != X_val.shape[1]:
        raise ValueError(f"X_train has {X_train.shape[1]} features but X_val {X_val.shape[1]}")
    if len(np.unique(y_train)) < 2:
        raise ValueError("y_train holds fewer than two classes: a classifier needs at least two identities")
    candidates = default_candidates() if candidates is None else candidates
    if not candidates:
        raise ValueError("no candidate classifier given")
    rows, fitted = {}, {}
    for name, estimator in candidates.items():
        tick = time.perf_counter()
        model = clone(estimator)
        try:
            model.fit(X_train, y_train)
        except ValueError as err:
            warnings.warn(f"candidate {name!r} could not be fit: {err}", CandidateFailedWarning, stacklevel=2)
            rows[name] = {"val accuracy": np.nan, "val images right": np.nan, "val images": len(y_val),
                          "fit seconds": time.perf_counter() - tick, "chosen": False, "error": str(err)}
            continue
        seconds = time.perf_counter() - tick
        right = int((np.asarray(model.predict(X_val)) == y_val).sum())
        rows[name] = {"val accuracy": right / len(y_val), "val images right": right,
                      "val images": len(y_val), "fit seconds": seconds, "chosen": False, "error": ""}
        fitted[name] = model
    if not fitted:
        raise ValueError(f"every candidate failed to fit: {[r['error'] for r in rows.values()]}")
    # max() returns the first of equal values: ties go to the earlier candidate.
    best = max(fitted, key=lambda name: rows[name]["val images right"])
    rows[best]["chosen"] = True
    table = pd.DataFrame.from_dict(rows, orient="index", columns=CANDIDATE_COLUMNS)
    table.index.name = "candidate"
    return fitted[best], table


def score_split(X: np.ndarray, split: pd.DataFrame, candidates: Mapping[str, Any] | None = None) -> dict:
    """The embedding baseline on one split: :func:`fit_classifier` on ``split``'s train rows, chosen on
    its val rows, then its test rows scored once.

    Parameters
    ----------
    X : descriptors, row ``i`` of ``split``'s row ``i`` (:func:`descriptors_table` of the same rows).
    split : a table with ``split`` and ``label`` columns (:func:`helpers.splitting.split_dataset`).

    Returns
    -------
    dict
        ``classifier`` (the chosen candidate's name), ``val images right``, ``val images``,
        ``test images right``, ``test images``.
    """
    X = np.asarray(X)
    if not isinstance(split, pd.DataFrame) or not {"split", "label"} <= set(split.columns):
        raise ValueError("split must be a DataFrame with 'split' and 'label' columns (helpers.splitting)")
    if len(X) != len(split):
        raise ValueError(f"X has {len(X)} rows but split {len(split)}: pass the descriptors of the split's rows")
    parts = {name: (split["split"] == name).to_numpy() for name in ("train", "val", "test")}
    if not parts["test"].any():
        raise ValueError("split has no test rows to score")
    y = split["label"].to_numpy()
    model, table = fit_classifier(X[parts["train"]], y[parts["train"]], X[parts["val"]], y[parts["val"]],
                                  candidates)
    test_right = int((np.asarray(model.predict(X[parts["test"]])) == y[parts["test"]]).sum())
    return {"classifier": str(table.index[table["chosen"]][0]),
            "val images right": int(table.loc[table["chosen"], "val images right"].iloc[0]),
            "val images": int(parts["val"].sum()), "test images right": test_right,
            "test images": int(parts["test"].sum())}
