"""Faces: one MTCNN detection per image, the subject's face chosen, square face crops.

- :func:`detections_table` gives every image of a manifest one row: ``status`` is
  ``"one face"``, ``"several faces"`` (the subject is chosen by :func:`face_scores`' rule)
  or ``"no face"`` (the whole photo is kept and ``reason`` says why). No image is dropped.
- Detection runs MTCNN (PyPI ``mtcnn``, imported only when something is detected) once per
  image file and caches every face found by the file's SHA-256 under
  ``<cache dir>/faces/<detector key>/``, so a second run reads the cache.
- :class:`CropPolicy` says what the network sees: the whole photo, or a square around the
  subject's face, optionally rotated so the eyes are level. :func:`load_image` applies a
  policy to one file and returns a ``uint8`` RGB array; the input pipeline resizes it.

Coordinates are pixels of the decoded image, ``x`` to the right and ``y`` down; a box is
``(x, y, w, h)`` with ``(x, y)`` its top-left corner. Landmarks follow MTCNN: ``left_eye`` is
the eye on the left *of the image*.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import io
import json
import math
import numbers
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from PIL import Image

from helpers import checks, config, files
from helpers.data import read_rgb
from helpers.progress import progress_bar

ONE_FACE = "one face"
SEVERAL_FACES = "several faces"
NO_FACE = "no face"
STATUSES: tuple[str, ...] = (ONE_FACE, SEVERAL_FACES, NO_FACE)
#: The five landmarks, in MTCNN's order.
LANDMARKS: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
LANDMARK_COLUMNS: list[str] = [f"{name}_{axis}" for name in LANDMARKS for axis in "xy"]
DETECTION_COLUMNS: list[str] = [
    "relpath", "sha256", "width", "height", "n_faces",
    "x", "y", "w", "h", "confidence", *LANDMARK_COLUMNS, "status", "reason",
]
#: File name of the detections table in a run folder.
DETECTIONS_CSV = "face_detections.csv"
#: Version of the cache entries' layout (a change makes old entries unreadable, hence redone).
CACHE_FORMAT = 1
CROP_KINDS: tuple[str, ...] = ("photo", "face")
#: Largest margin accepted: beyond it a "face" crop is mostly background.
MAX_MARGIN = 4.0
_DETECTOR_FAILED = "detector failed"


class FaceCacheWarning(UserWarning):
    """A cached detection could not be used and was redone; the message says why."""


class DetectorFailedWarning(UserWarning):
    """MTCNN raised on an image; the image is kept whole and its row says why."""


# --- Detections -------------------------------------------------------------------------


@dataclass(frozen=True)
class Face:
    """One face found by the detector.

    Attributes
    ----------
    box : ``(x, y, w, h)`` in pixels.
    confidence : the detector's probability that the box holds a face.
    landmarks : five ``(x, y)`` points, in :data:`LANDMARKS` order.
    """

    box: tuple[float, float, float, float]
    confidence: float
    landmarks: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Detection:
    """Every face found in one image (possibly none).

    ``note`` says why the detector found nothing when the cause is known (image too small,
    unreadable, detector error); it is empty otherwise.
    """

    sha256: str
    width: int
    height: int
    faces: tuple[Face, ...] = ()
    note: str = ""


def detector_key() -> str:
    """The detector's name, installed version and settings: the folder of its cache entries.

    Raises
    ------
    ModuleNotFoundError
        When ``mtcnn`` is not installed; the message says how to install it.
    """
    try:
        version = importlib.metadata.version("mtcnn")
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            "face detection needs MTCNN: pip install mtcnn==1.0.0 (pinned in pyproject.toml)"
        ) from None
    settings = "_".join(f"{name}{value:g}" for name, value in config.FACE_DETECTOR_SETTINGS)
    return f"mtcnn-{version}_{settings}"


@functools.lru_cache(maxsize=1)
def _mtcnn():
    """The MTCNN detector, built once (its import pulls in TensorFlow: quietly, and only here)."""
    from helpers.tf_quiet import import_tensorflow  # noqa: PLC0415 - lazy on purpose

    import_tensorflow()
    from mtcnn import MTCNN  # noqa: PLC0415 - lazy on purpose

    # On the CPU even when a GPU is present, so detections (and their cache) do not depend
    # on the machine.
    return MTCNN(stages="face_and_landmarks_detection", device="CPU:0")


def _face_from_mtcnn_row(row: np.ndarray) -> Face:
    # MTCNN's numpy rows: image index, x1, y1, x2, y2, confidence, 5 x's, then 5 y's.
    x1, y1, x2, y2, confidence = (float(v) for v in row[1:6])
    landmarks = tuple((float(row[6 + k]), float(row[11 + k])) for k in range(len(LANDMARKS)))
    return Face((x1, y1, x2 - x1, y2 - y1), confidence, landmarks)


def _run_detector(rgb: np.ndarray) -> list[Face]:
    """Every face MTCNN finds in a ``uint8`` RGB image, in its order."""
    raw = _mtcnn().detect_faces(rgb, box_format="xyxy", output_type="numpy",
                                **dict(config.FACE_DETECTOR_SETTINGS))
    faces = [_face_from_mtcnn_row(row) for row in np.asarray(raw, dtype=float).reshape(-1, 16)]
    # Boxes are clipped to the image, and a face cut by the border can collapse to nothing.
    return [f for f in faces if f.box[2] >= 1 and f.box[3] >= 1]


def _decode_rgb(data: bytes) -> np.ndarray:
    # Pillow, as helpers.data.read_rgb: the crops are cut from the same pixels.
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def detect_image(rgb: np.ndarray, sha256: str = "") -> Detection:
    """Detect the faces of one decoded ``uint8`` RGB image (no cache).

    Never raises on a bad image: one smaller than the detector's smallest face is not
    searched, and a detector error gives no face (with a :class:`DetectorFailedWarning`);
    ``Detection.note`` says which.
    """
    height, width = rgb.shape[:2]
    min_face = dict(config.FACE_DETECTOR_SETTINGS)["min_face_size"]
    if min(width, height) < min_face:
        return Detection(sha256, width, height, (),
                         f"image is {width}x{height} pixels, smaller than the detector's "
                         f"smallest face ({min_face:g} pixels)")
    try:
        faces = _run_detector(rgb)
    except ImportError:
        raise  # a missing detector is the environment's problem, not this image's
    except Exception as err:  # noqa: BLE001 - a bad image must not stop a whole table
        note = f"{_DETECTOR_FAILED} ({type(err).__name__}: {err})"
        warnings.warn(f"image {sha256[:12] or '?'}: {note}; whole photo kept",
                      DetectorFailedWarning, stacklevel=2)
        return Detection(sha256, width, height, (), note)
    return Detection(sha256, width, height, tuple(faces))


# --- The cache ----------------------------------------------------------------------------


def cache_path(sha256: str) -> Path:
    """Where the detection of the file with this SHA-256 is cached."""
    return config.cache_dir() / "faces" / detector_key() / f"{sha256}.json"


def _detection_to_json(detection: Detection) -> str:
    payload = {
        "format": CACHE_FORMAT,
        "detector": detector_key(),
        "sha256": detection.sha256,
        "width": detection.width,
        "height": detection.height,
        "note": detection.note,
        "faces": [{"box": list(f.box), "confidence": f.confidence,
                   "landmarks": [list(p) for p in f.landmarks]} for f in detection.faces],
    }
    return json.dumps(payload, indent=1)


def _point(values: Sequence, n: int) -> tuple[float, ...]:
    point = tuple(float(v) for v in values)
    if len(point) != n or not all(math.isfinite(v) for v in point):
        raise ValueError(f"expected {n} finite numbers, got {values!r}")
    return point


def _detection_from_json(payload: dict) -> Detection:
    """Parse a cache entry; ``ValueError``/``KeyError``/``TypeError`` when it is malformed."""
    if payload["format"] != CACHE_FORMAT:
        raise ValueError(f"format {payload['format']!r}, expected {CACHE_FORMAT}")
    faces = []
    for face in payload["faces"]:
        landmarks = tuple(_point(p, 2) for p in face["landmarks"])
        if len(landmarks) != len(LANDMARKS):
            raise ValueError(f"{len(landmarks)} landmarks, expected {len(LANDMARKS)}")
        faces.append(Face(_point(face["box"], 4), float(face["confidence"]), landmarks))
    return Detection(str(payload["sha256"]), int(payload["width"]), int(payload["height"]),
                     tuple(faces), str(payload["note"]))


def read_cached(sha256: str) -> tuple[Detection | None, str]:
    """The cached detection of a file, or ``None`` and why there is none usable.

    The reason is empty when there is simply no entry yet.
    """
    path = cache_path(sha256)
    if not path.exists():
        return None, ""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        detection, detector = _detection_from_json(payload), payload["detector"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return None, f"unreadable ({type(err).__name__}: {err})"
    if detection.sha256 != sha256 or detector != detector_key():
        return None, "it belongs to another file or detector"
    return detection, ""


def write_cached(detection: Detection) -> Path:
    """Store a detection in the cache (atomically); return the entry's path."""
    # No fsync: a crash cannot leave half an entry (atomic rename), and an entry lost to a
    # power cut is merely detected again.
    return files.write_text_atomically(cache_path(detection.sha256),
                                       _detection_to_json(detection), sync=False)


def detect_file(path: str | os.PathLike[str], sha256: str | None = None) -> Detection:
    """The detection of one image file: from the cache when there, else by MTCNN, then cached.

    Parameters
    ----------
    path : the image file.
    sha256 : the file's SHA-256 when known (the manifest's); it is computed otherwise.

    Returns
    -------
    Detection
        Never raises on a bad file: an unreadable or undecodable one gives no face, and its
        ``note`` says why. Such results and detector errors are not cached (they may be
        fixed); everything else is.
    """
    if sha256:
        cached, reason = read_cached(sha256)
        if cached is not None:
            return cached
        if reason:
            warnings.warn(f"face cache entry {sha256[:12]}... not used: {reason}; detecting again",
                          FaceCacheWarning, stacklevel=2)
    try:
        data = Path(path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        rgb = _decode_rgb(data)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return Detection(sha256 or "", 0, 0, (), f"could not read the image ({type(err).__name__}: {err})")
    if digest != sha256:  # not given, or the file changed since the manifest was made
        cached, _ = read_cached(digest)
        if cached is not None:
            return cached
    detection = detect_image(rgb, digest)
    if not detection.note.startswith(_DETECTOR_FAILED):
        write_cached(detection)
    return detection


# --- Choosing the subject ----------------------------------------------------------------


def face_scores(faces: Sequence[Face], width: int, height: int) -> np.ndarray:
    """Each face's claim to be the photo's subject: confidence × box area × centre weight.

    The centre weight is ``1 - FACE_CENTRE_WEIGHT × d / d_max``, ``d`` the distance from the
    box centre to the image centre and ``d_max`` half the image diagonal: 1 at the centre,
    0.5 in a corner (with the default 0.5).

    Why: VGGFace2's photos are loose crops around the annotated person, so the subject is
    mostly the largest face and near the centre, while bystanders, crowds and faces on
    posters are smaller and off-centre. Area dominates (a face twice as wide scores four
    times more) and the centre weight settles faces of similar size, at most by a factor 2.
    Confidence discounts doubtful detections (patterns, printed faces).
    """
    if not faces:
        return np.zeros(0)
    boxes = np.array([f.box for f in faces], dtype=float)
    confidence = np.array([f.confidence for f in faces], dtype=float)
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    d = np.hypot(centres[:, 0] - width / 2, centres[:, 1] - height / 2)
    d_max = max(math.hypot(width, height) / 2, 1e-9)
    weight = 1 - config.FACE_CENTRE_WEIGHT * np.clip(d / d_max, 0, 1)
    return confidence * boxes[:, 2] * boxes[:, 3] * weight


def choose_subject(faces: Sequence[Face], width: int, height: int) -> int:
    """Index of the subject's face: the highest :func:`face_scores` (the first one on a tie)."""
    if not faces:
        raise ValueError("no face to choose from")
    return int(np.argmax(face_scores(faces, width, height)))


def boxes_and_subject(path: str | os.PathLike[str], sha256: str | None = None,
                      ) -> tuple[list[tuple[float, float, float, float]], int | None]:
    """Every face box ``(x, y, w, h)`` of one image (:func:`detect_file`, so cached) and the
    index of the subject's (:func:`choose_subject`), or ``None`` when there is no face.
    For :func:`helpers.plots.detection_gallery`."""
    detection = detect_file(path, sha256)
    boxes = [face.box for face in detection.faces]
    if not boxes:
        return boxes, None
    return boxes, choose_subject(detection.faces, detection.width, detection.height)


# --- The detections table ------------------------------------------------------------------


def _face_columns(face: Face | None) -> dict:
    if face is None:
        return {c: np.nan for c in ["x", "y", "w", "h", "confidence", *LANDMARK_COLUMNS]}
    columns = dict(zip("xywh", face.box)) | {"confidence": face.confidence}
    for name, (px, py) in zip(LANDMARKS, face.landmarks):
        columns[f"{name}_x"], columns[f"{name}_y"] = px, py
    return columns


def _several_reason(scores: np.ndarray, chosen: int) -> str:
    runner_up = np.sort(scores)[-2]
    return (f"{len(scores)} faces: kept face {chosen + 1} (detector order), the highest "
            f"confidence x area x centre score, {scores[chosen] / runner_up:.1f}x the next")


def detection_row(relpath: str, detection: Detection) -> dict:
    """One row of the detections table (:data:`DETECTION_COLUMNS`) for one image."""
    row = {"relpath": relpath, "sha256": detection.sha256, "width": detection.width,
           "height": detection.height, "n_faces": len(detection.faces)}
    if not detection.faces:
        return row | _face_columns(None) | {
            "status": NO_FACE, "reason": f"{detection.note or 'no face found'}: whole photo kept"}
    chosen = choose_subject(detection.faces, detection.width, detection.height)
    scores = face_scores(detection.faces, detection.width, detection.height)
    several = len(detection.faces) > 1
    return row | _face_columns(detection.faces[chosen]) | {
        "status": SEVERAL_FACES if several else ONE_FACE,
        "reason": _several_reason(scores, chosen) if several else ""}


def _progress(iterable, enabled: bool, total: int):
    return progress_bar(iterable, enabled=enabled, total=total, desc="faces", unit="image", mininterval=10.0)


def detections_table(manifest: pd.DataFrame, progress: bool = False) -> pd.DataFrame:
    """Detect the faces of every image of a manifest (cached): one row per image, in order.

    Parameters
    ----------
    manifest : a loader's manifest (``path``, ``relpath``; ``sha256`` saves hashing).
    progress : show a progress bar.

    Returns
    -------
    DataFrame
        Columns :data:`DETECTION_COLUMNS`: the chosen face's box, confidence and landmarks
        (NaN when there is none), ``n_faces``, ``status`` in :data:`STATUSES` and ``reason``
        (empty for one face; which face was kept, or why the whole photo is kept).
    """
    missing = {"path", "relpath"} - set(manifest.columns)
    if missing:
        raise ValueError(f"manifest lacks column(s) {sorted(missing)}: pass a loader's manifest "
                         "(helpers.data.load_default() and the other loaders)")
    shas = manifest["sha256"] if "sha256" in manifest.columns else [None] * len(manifest)
    items = zip(manifest["relpath"], manifest["path"], shas)
    rows = [detection_row(str(relpath), detect_file(path, sha))
            for relpath, path, sha in _progress(items, progress, len(manifest))]
    return pd.DataFrame(rows, columns=DETECTION_COLUMNS)


def fallbacks(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that are not a plain single face: several faces or none, with their reason."""
    return table[table["status"] != ONE_FACE]


def write_detections(table: pd.DataFrame, folder: str | os.PathLike[str]) -> Path:
    """Write the detections table as ``<folder>/face_detections.csv`` (atomically)."""
    return files.write_text_atomically(Path(folder) / DETECTIONS_CSV, table.to_csv(index=False))


# --- Crop policy and geometry ---------------------------------------------------------------


@dataclass(frozen=True)
class CropPolicy:
    """What the network sees of each photo.

    Attributes
    ----------
    kind : ``"photo"`` (the whole image, as the study) or ``"face"`` (a square around the
        subject's face; photos without a face stay whole).
    margin : for ``"face"``: crop side / the face box's longer side, in ``[1, MAX_MARGIN]``.
        Ignored for ``"photo"``.
    align : for ``"face"``: rotate so that the eyes are level.
    """

    kind: Literal["photo", "face"] = "photo"
    margin: float = config.FACE_MARGIN
    align: bool = False

    def __post_init__(self) -> None:
        if self.kind not in CROP_KINDS:
            raise ValueError(f"kind must be 'photo' (the whole image) or 'face' (a square around "
                             f"the detected face), got {self.kind!r}")
        margin = self.margin
        if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not math.isfinite(margin):
            raise ValueError(f"margin must be a number (crop side / face box side, e.g. "
                             f"{config.FACE_MARGIN}), got {margin!r}")
        if not 1.0 <= margin <= MAX_MARGIN:
            raise ValueError(f"margin must be between 1 (the face box alone) and {MAX_MARGIN:g}, got "
                             f"{margin}: below 1 the crop cuts the face; for more context use "
                             "kind='photo'")
        if not isinstance(self.align, (bool, np.bool_)):
            raise ValueError(f"align must be True or False, got {self.align!r}")
        if self.align and self.kind == "photo":
            raise ValueError("align=True needs a face: use kind='face', or align=False for the photo")
        object.__setattr__(self, "margin", float(margin))
        object.__setattr__(self, "align", bool(self.align))

    def key(self) -> str:
        """A stable text naming this policy, for cache keys: ``"photo"`` or
        ``"face-margin1.3[-aligned]-<detector key>"`` (face crops depend on the detector)."""
        if self.kind == "photo":
            return "photo"
        aligned = "-aligned" if self.align else ""
        return f"face-margin{self.margin!r}{aligned}-{detector_key()}"


def _round(value: float) -> int:
    # Halves up, not to even: the same square whatever the parity of the coordinates.
    return math.floor(value + 0.5)


def square_around(box: Sequence[float], margin: float) -> tuple[int, int, int]:
    """The crop square of a face box: ``(x0, y0, side)`` in whole pixels.

    ``side = margin × max(w, h)`` (at least 1), centred on the box centre; the square may
    reach beyond the image (see :func:`crop_padded`).
    """
    x, y, w, h = (float(v) for v in box)
    side = max(1, _round(margin * max(w, h)))
    return _round(x + w / 2 - side / 2), _round(y + h / 2 - side / 2), side


def crop_padded(rgb: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """``rgb[y0:y0+side, x0:x0+side]``, black (0) where the square leaves the image.

    Black, not mirrored or stretched edges: padding adds no invented face parts, the face
    stays centred at the same scale as in every other crop, and it is easy to see.
    """
    height, width = rgb.shape[:2]
    out = np.zeros((side, side, *rgb.shape[2:]), dtype=rgb.dtype)
    left, top = max(x0, 0), max(y0, 0)
    right, bottom = min(x0 + side, width), min(y0 + side, height)
    if right > left and bottom > top:
        out[top - y0:bottom - y0, left - x0:right - x0] = rgb[top:bottom, left:right]
    return out


def face_crop(rgb: np.ndarray, box: Sequence[float], margin: float) -> np.ndarray:
    """The square crop of side ``margin × max(w, h)`` centred on the box, padded black."""
    return crop_padded(rgb, *square_around(box, margin))


def eye_angle(left_eye: Sequence[float], right_eye: Sequence[float]) -> float:
    """Angle of the eye line from the horizontal, in radians, within ``[-π/2, π/2]``.

    Positive when the right-hand eye (in the image) is lower (``y`` points down). The line is
    taken from the eye further left to the one further right, so that levelling it is the
    smallest rotation: swapped eye landmarks cannot turn a face upside down.
    """
    dx, dy = right_eye[0] - left_eye[0], right_eye[1] - left_eye[1]
    if dx < 0:
        dx, dy = -dx, -dy
    return math.atan2(dy, dx)


def aligned_face_crop(rgb: np.ndarray, box: Sequence[float], left_eye: Sequence[float],
                      right_eye: Sequence[float], margin: float) -> np.ndarray:
    """:func:`face_crop`'s square, with the photo rotated about the eyes' midpoint so that the
    eyes are level (bilinear, black outside the image).

    The square is centred on where the box centre lands after that rotation. Rotating about
    the eyes' midpoint and then cutting there is the same as cutting :func:`face_crop`'s
    square turned by :func:`eye_angle` about its centre, which is computed directly (one
    resampling). With level eyes the result equals :func:`face_crop`'s.
    """
    x0, y0, side = square_around(box, margin)
    half = side / 2
    # The centre of face_crop's whole-pixel square (within half a pixel of the box centre):
    # with level eyes both crops are then the same pixels.
    cx, cy = x0 + half, y0 + half
    angle = eye_angle(left_eye, right_eye)
    cos, sin = math.cos(angle), math.sin(angle)
    # Pillow maps each output point (u, v) to the input point (a u + b v + c, d u + e v + f):
    # here the box centre plus the offset from the square's centre, turned by the eye angle.
    coefficients = (cos, -sin, cx - half * cos + half * sin,
                    sin, cos, cy - half * sin - half * cos)
    image = Image.fromarray(np.ascontiguousarray(rgb)).transform(
        (side, side), Image.Transform.AFFINE, coefficients,
        resample=Image.Resampling.BILINEAR, fillcolor=(0,) * rgb.shape[2])
    return np.asarray(image)


# --- Loading an image under a policy ---------------------------------------------------------


def _box(detection: Mapping) -> tuple[float, float, float, float]:
    return tuple(float(detection[c]) for c in "xywh")


def _landmark(detection: Mapping, name: str) -> tuple[float, float]:
    return float(detection[f"{name}_x"]), float(detection[f"{name}_y"])


def crop_face(rgb: np.ndarray, detection: Mapping, policy: CropPolicy) -> np.ndarray:
    """Apply a ``"face"`` policy to a decoded image, given its row of the detections table.

    A ``"no face"`` row gives the whole photo unchanged (not a centre square: without a
    face there is no evidence of where the person is, and the whole photo is exactly what
    ``kind="photo"`` -- the study's input -- gives).
    """
    if detection["status"] == NO_FACE:
        return rgb
    if policy.align:
        return aligned_face_crop(rgb, _box(detection), _landmark(detection, "left_eye"),
                                 _landmark(detection, "right_eye"), policy.margin)
    return face_crop(rgb, _box(detection), policy.margin)


def load_image(path: str | os.PathLike[str], policy: CropPolicy,
               detection: Mapping | None = None) -> np.ndarray:
    """One image file as a ``uint8`` RGB array ``(height, width, 3)``, cropped by ``policy``.

    Parameters
    ----------
    path : the image file.
    policy : what to keep of it.
    detection : the file's row of :func:`detections_table` (a dict or a DataFrame row);
        needed for ``kind="face"``, unused for ``"photo"``.

    Raises
    ------
    ValueError
        A ``"face"`` policy without a detection row, or a row whose image size differs from
        the file's (a row of another image).
    """
    rgb = read_rgb(path)
    if policy.kind == "photo":
        return rgb
    if detection is None:
        raise ValueError("a 'face' policy needs the image's row of detections_table(manifest)")
    size = (int(detection["width"]), int(detection["height"]))
    if size != (rgb.shape[1], rgb.shape[0]):
        raise ValueError(f"the detection row is for a {size[0]}x{size[1]} image but {path} is "
                         f"{rgb.shape[1]}x{rgb.shape[0]}: pass the row of this file")
    return crop_face(rgb, detection, policy)


def crops_dir(policy: CropPolicy) -> Path:
    """Where :func:`cropped_manifest` keeps the crops of ``policy``: one folder per policy key."""
    return config.cache_dir() / "crops" / hashlib.sha256(policy.key().encode()).hexdigest()[:16]


def cropped_manifest(manifest: pd.DataFrame, policy: CropPolicy, table: pd.DataFrame | None = None,
                     progress: bool = False) -> pd.DataFrame:
    """The manifest with every image replaced by its crop under ``policy``, so the rest of the
    pipeline (and every feature-cache key) follows the policy without knowing about it.

    Each crop is written once, as a lossless PNG, to :func:`crops_dir`; a crop already there is
    reused. In the returned copy ``path`` points to the crop, ``sha256`` is a digest of the
    original file's SHA-256 and the policy's key (so caches keyed by it tell policies apart),
    and ``original_sha256`` keeps the file's own hash. ``"photo"`` returns the manifest
    unchanged (a copy). Images without a face keep the whole photo (see
    :func:`detections_table`), which the table lists.

    Parameters
    ----------
    manifest : rows with ``path`` and ``sha256`` (and ``relpath`` to match ``table``).
    policy : the crop policy.
    table : :func:`detections_table` of (at least) these images; computed when ``None``.
    """
    checks.require_columns(manifest, sorted({"path", "sha256", "relpath"}), "manifest", " (see helpers.data)")
    out = manifest.copy()
    if policy.kind == "photo":
        return out
    rows = (table if table is not None else detections_table(manifest)).drop_duplicates("relpath")
    rows = rows.set_index("relpath")
    absent = sorted(set(manifest["relpath"]) - set(rows.index))
    if absent:
        raise ValueError(f"{len(absent)} images have no detection row (e.g. {absent[0]}): "
                         "pass detections_table of this manifest")
    folder = crops_dir(policy)
    key = policy.key()
    paths, digests = [], []
    for path, relpath, sha in _progress(zip(manifest["path"], manifest["relpath"], manifest["sha256"]),
                                        progress, len(manifest)):
        target = folder / f"{sha}.png"
        if not target.is_file():
            crop = load_image(path, policy, rows.loc[relpath])
            buffer = io.BytesIO()
            Image.fromarray(crop).save(buffer, format="PNG")
            files.write_atomically(target, lambda handle, data=buffer.getvalue(): handle.write(data), sync=False)
        paths.append(str(target))
        digests.append(hashlib.sha256(f"{sha}:{key}".encode()).hexdigest())
    out["original_sha256"] = manifest["sha256"].to_numpy()
    out["path"] = paths
    out["sha256"] = digests
    return out
