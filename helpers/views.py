"""Augmented views: data augmentation that keeps the feature cache.

Each training image gets ``K`` augmented *views* (flip, zoom, shift, rotation, brightness,
contrast; :class:`ViewSpec`). View ``v`` of an image depends only on the view seed, the
image's SHA-256 and ``v`` (:func:`view_seed`), never on the batch it is drawn in. The
views go once through the frozen part and their features are stored on disk, one ``.npy``
per view and boundary tensor (:func:`cached_views`). Every epoch then picks one view per
image (:func:`view_choice`) and trains the trainable part on the stored features, read
batch by batch from memory-mapped files. Validation and test use the plain images.

:func:`view_images` gives the augmented images themselves: the naive path trains on them,
which is how the tests show that both paths train the same model.
:func:`helpers.training.train_phase` uses this module when it is given ``views=K``.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import checks, config, files
from helpers.progress import progress_bar
from helpers.tf_quiet import import_keras, import_tensorflow

if TYPE_CHECKING:  # pragma: no cover - type hints only
    import keras

    from helpers.training import CacheInfo

# --- The augmentation's factors (Keras preprocessing layers, on [0, 255] images) --------
#: Mirror the image left-right with probability 1/2: a mirrored face is the same person
#: (no vertical flip: faces in the data are never upside down).
VIEW_FLIP: bool = True
#: Zoom *in* by up to this fraction of the side (a centred crop of 85-100 % of the image,
#: resized back): photos frame faces more or less tightly. Aspect ratio is kept.
VIEW_ZOOM: float = 0.15
#: Shift by up to this fraction of the side, up/down and left/right independently, so the
#: crops are not always centred.
VIEW_SHIFT: float = 0.05
#: Rotate by up to this many degrees either way: heads tilt a little; larger angles would
#: mostly add filled-in corners.
VIEW_ROTATION_DEGREES: float = 10.0
#: Add the same random offset to every pixel, up to this fraction of the value range
#: (0.1: up to ±25.5 on [0, 255]): lighter and darker photos.
VIEW_BRIGHTNESS: float = 0.1
#: Scale each pixel's distance to the image's mean by a random factor in
#: ``[1 - VIEW_CONTRAST, 1 + VIEW_CONTRAST]``: flatter and punchier photos.
VIEW_CONTRAST: float = 0.2
#: How zoom, shift and rotation fill the pixels they bring in from outside the image.
VIEW_FILL_MODE: str = "reflect"

#: Storage dtypes of the view features: float32 is exact (the cached path then equals the
#: naive path); float16 halves the files and rounds every value to ~3 significant digits.
VIEW_DTYPES: tuple[str, ...] = ("float32", "float16")
#: Bumped when the view-cache layout changes (old folders are then rebuilt).
VIEW_CACHE_VERSION = 1
#: Keeps the per-epoch view choice's random stream apart from :func:`epoch_order`'s.
CHOICE_STREAM = 1
#: Size of an ``.npy`` header written by NumPy for these arrays (format 1.0: 128 bytes).
NPY_HEADER_BYTES = 128

_META = "meta.json"


# --------------------------------------------------------------------------------------
# The specification
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewSpec:
    """How many augmented views each training image gets, how they are drawn and stored.

    Parameters
    ----------
    views : int
        ``K``, the views per training image (at least 1).
    seed : int or None
        The view seed; ``None`` takes the training seed (:meth:`with_seed`).
    dtype : str
        Storage dtype of the features, one of :data:`VIEW_DTYPES`.
    flip, zoom, shift, rotation, brightness, contrast
        The augmentation's factors (:data:`VIEW_FLIP` ... :data:`VIEW_CONTRAST`);
        a factor of 0 (or ``flip=False``) leaves that transformation out.
    """

    views: int = 8
    seed: int | None = None
    dtype: str = "float32"
    flip: bool = VIEW_FLIP
    zoom: float = VIEW_ZOOM
    shift: float = VIEW_SHIFT
    rotation: float = VIEW_ROTATION_DEGREES
    brightness: float = VIEW_BRIGHTNESS
    contrast: float = VIEW_CONTRAST

    def __post_init__(self) -> None:
        checks.positive_int("views", self.views, " (K views per image)")
        if self.seed is not None:
            checks.integer("seed", self.seed, note=" or None (the training seed)")
        if self.dtype not in VIEW_DTYPES:
            raise ValueError(f"dtype must be one of {VIEW_DTYPES}, got {self.dtype!r}")
        if not isinstance(self.flip, bool):
            raise ValueError(f"flip must be True or False, got {self.flip!r}")
        for name, top in (("zoom", 1.0), ("shift", 1.0), ("rotation", 180.0),
                          ("brightness", 1.0), ("contrast", 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < top:
                raise ValueError(f"{name} must be a number in [0, {top:g}), got {value!r}")
            object.__setattr__(self, name, float(value))
        object.__setattr__(self, "views", int(self.views))  # plain Python values, for JSON
        if self.seed is not None:
            object.__setattr__(self, "seed", int(self.seed))

    def factors(self) -> dict[str, Any]:
        """The augmentation's factors (part of the cache key)."""
        return {"flip": self.flip, "zoom": float(self.zoom), "shift": float(self.shift),
                "rotation": float(self.rotation), "brightness": float(self.brightness),
                "contrast": float(self.contrast), "fill_mode": VIEW_FILL_MODE}

    def with_seed(self, seed: int) -> ViewSpec:
        """This spec with its seed set to ``seed`` when it has none."""
        return self if self.seed is not None else replace(self, seed=int(seed))

    def describe(self) -> dict[str, Any]:
        """Every setting, as plain values (for run settings and fingerprints)."""
        return {**asdict(self), **self.factors()}


def as_view_spec(views: int | ViewSpec | None, seed: int) -> ViewSpec | None:
    """``views`` as a :class:`ViewSpec` with a seed (``seed`` when it has none).

    ``None`` or ``0`` means no views (returns ``None``); an integer ``K`` means
    ``ViewSpec(K)`` with the default factors and float32 storage.
    """
    if views is None or (isinstance(views, numbers.Integral) and not isinstance(views, bool) and views == 0):
        return None
    if isinstance(views, ViewSpec):
        return views.with_seed(seed)
    if isinstance(views, bool) or not isinstance(views, numbers.Integral):
        raise ValueError(f"views must be an integer K >= 0, a ViewSpec or None, got {views!r}")
    return ViewSpec(int(views), seed=int(seed))


def _resolved(spec: ViewSpec) -> ViewSpec:
    if not isinstance(spec, ViewSpec):
        raise TypeError(f"spec must be a ViewSpec, got {type(spec).__name__}")
    if spec.seed is None:
        raise ValueError("the ViewSpec has no seed: pass ViewSpec(..., seed=42) or spec.with_seed(42)")
    return spec


# --------------------------------------------------------------------------------------
# Drawing views
# --------------------------------------------------------------------------------------


def view_seed(seed: int, sha256: str, view: int) -> np.ndarray:
    """The random state of view ``view`` of the image with content hash ``sha256``.

    Two int64 values from SHA-256 of ``"seed:sha256:view"`` (31 and 30 bits, so that the
    augmentation's draws, which count up the second value, never overflow).
    """
    digest = hashlib.sha256(f"{int(seed)}:{sha256}:{int(view)}".encode()).digest()
    first = int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
    second = int.from_bytes(digest[4:8], "little") & 0x3FFFFFFF
    return np.array([first, second], dtype=np.int64)


def make_view_layers(spec: ViewSpec) -> list[Any]:
    """The augmentation of ``spec`` as Keras preprocessing layers, in the order applied:
    flip, zoom, shift, rotation (geometry), then brightness and contrast (values).

    They work on float images in ``[0, 255]``; :class:`ViewAugmenter` draws their
    randomness per image.
    """
    keras = import_keras()
    L = keras.layers
    layers: list[Any] = []
    if spec.flip:
        layers.append(L.RandomFlip("horizontal"))
    if spec.zoom:
        layers.append(L.RandomZoom(height_factor=(-spec.zoom, 0.0), fill_mode=VIEW_FILL_MODE))
    if spec.shift:
        layers.append(L.RandomTranslation(spec.shift, spec.shift, fill_mode=VIEW_FILL_MODE))
    if spec.rotation:
        layers.append(L.RandomRotation(spec.rotation / 360.0, fill_mode=VIEW_FILL_MODE))
    if spec.brightness:
        layers.append(L.RandomBrightness(spec.brightness, value_range=(0, 255)))
    if spec.contrast:
        layers.append(L.RandomContrast(spec.contrast, value_range=(0, 255)))
    return layers


class ViewAugmenter:
    """Draws view ``v`` of an image, the same whatever batch or order it comes in.

    Each image is augmented alone, with the layers' randomness taken from one
    ``keras.random.SeedGenerator`` whose state is set to :func:`view_seed` first.

    Parameters
    ----------
    spec : ViewSpec
        The factors and the view seed (must be set, see :meth:`ViewSpec.with_seed`).
    """

    def __init__(self, spec: ViewSpec) -> None:
        keras = import_keras()
        tf = import_tensorflow()
        self.spec = _resolved(spec)
        self.layers = make_view_layers(self.spec)
        generator = keras.random.SeedGenerator(0)
        layers = self.layers

        def one(image, state):
            generator.state.assign(tf.cast(state, generator.state.dtype))
            x = image[None]
            for layer in layers:
                transformation = layer.get_random_transformation(x, training=True, seed=generator)
                x = layer.transform_images(x, transformation, training=True)
            return tf.clip_by_value(tf.cast(x[0], tf.float32), 0.0, 255.0)

        self._one = tf.function(one, reduce_retracing=True)

    def __call__(self, images: np.ndarray, sha256s: Sequence[str], views: Sequence[int]) -> np.ndarray:
        """Augment ``images[i]`` (float, ``(n, h, w, 3)`` in ``[0, 255]``) as view
        ``views[i]`` of the image whose content hash is ``sha256s[i]``; float32, same shape."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or not len(images) == len(sha256s) == len(views):
            raise ValueError("images must be (n, h, w, 3) with one sha256 and one view index per image")
        if not self.layers:
            return images.copy()
        out = np.empty_like(images)
        for i, (image, sha, view) in enumerate(zip(images, sha256s, views, strict=True)):
            out[i] = np.asarray(self._one(image, view_seed(self.spec.seed, str(sha), int(view))))
        return out


def load_images(manifest: pd.DataFrame, image_size: int, batch_size: int = 64) -> Iterator[np.ndarray]:
    """The images of ``manifest``, in row order, as float32 batches in ``[0, 255]``,
    decoded and resized exactly as the training pipeline does
    (:func:`helpers.pipeline.make_dataset`)."""
    from helpers.pipeline import make_dataset  # noqa: PLC0415 - TF-heavy

    for images in make_dataset(manifest, image_size, batch_size, with_labels=False):
        yield np.asarray(images, dtype=np.float32)


def view_images(
    manifest: pd.DataFrame,
    views: Sequence[int] | np.ndarray,
    image_size: int,
    spec: ViewSpec,
    batch_size: int = 64,
    augmenter: ViewAugmenter | None = None,
) -> np.ndarray:
    """View ``views[i]`` of the image in row ``i`` of ``manifest``, for every row.

    Returns float32 images ``(len(manifest), image_size, image_size, 3)`` in ``[0, 255]``
    (before the backbone's preprocessing): the images the frozen part sees when
    :func:`cached_views` stores view features, and the naive path's training images.
    """
    if "path" not in manifest.columns or "sha256" not in manifest.columns:
        raise ValueError("manifest needs 'path' and 'sha256' columns (a manifest of helpers.data)")
    views = np.asarray(views, dtype=np.int64)
    if views.shape != (len(manifest),):
        raise ValueError(f"give one view index per row: {len(manifest)} rows, views of shape {views.shape}")
    spec = _resolved(spec)
    if len(views) and (views.min() < 0 or views.max() >= spec.views):
        raise ValueError(f"view indices must be in [0, {spec.views}) for K = {spec.views}")
    augmenter = augmenter or ViewAugmenter(spec)
    shas = manifest["sha256"].astype(str).to_numpy()
    chunks, start = [], 0
    for images in load_images(manifest, image_size, batch_size):
        stop = start + len(images)
        chunks.append(augmenter(images, shas[start:stop], views[start:stop]))
        start = stop
    return np.concatenate(chunks, axis=0)


def preview_views(
    path: str | os.PathLike[str],
    n_views: int = 7,
    image_size: int = 224,
    spec: ViewSpec | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The image at ``path`` and its first ``n_views`` views, as training sees them.

    Parameters
    ----------
    path : an image file (its SHA-256 picks its views, as in training).
    n_views : how many views (at most ``spec.views``).
    image_size : the backbone's input size; the image is resized as in training.
    spec : the views; default ``ViewSpec(seed=config.SEED)`` (8 views, the module's factors).

    Returns
    -------
    (original, views) : uint8 arrays ``(image_size, image_size, 3)``; the original is the
        resized image without augmentation. For :func:`helpers.plots.augmentation_preview`.
    """
    spec = _resolved((spec or ViewSpec()).with_seed(config.SEED))
    n_views = int(n_views)
    if not 1 <= n_views <= spec.views:
        raise ValueError(f"n_views must be in [1, {spec.views}] (the spec's K), got {n_views}")
    sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    row = pd.DataFrame({"path": [str(path)], "sha256": [sha]})
    original = next(load_images(row, image_size, 1))
    augmenter = ViewAugmenter(spec)
    views = [augmenter(original, [sha], [v])[0] for v in range(n_views)]

    def as_uint8(image):
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)

    return as_uint8(original[0]), [as_uint8(v) for v in views]


def view_choice(n: int, views: int, seed: int, phase: int, epoch: int) -> np.ndarray:
    """The view each of the ``n`` training images shows in ``epoch`` (0-based) of ``phase``.

    Index ``i`` is the view of training row ``i`` (not of the ``i``-th image in the epoch's
    order), drawn from ``numpy.random.default_rng([seed, phase, epoch, CHOICE_STREAM])``:
    the same on both paths and after a resume.
    """
    rng = np.random.default_rng([int(seed), int(phase), int(epoch), CHOICE_STREAM])
    return rng.integers(0, int(views), size=int(n))


# --------------------------------------------------------------------------------------
# The view-feature cache
# --------------------------------------------------------------------------------------


def view_cache_key(
    frozen: keras.Model, manifest: pd.DataFrame, image_size: int, preprocess: Callable | None,
    spec: ViewSpec,
) -> str:
    """The key of the view features: :func:`helpers.training.feature_cache_key` (images'
    SHA-256s, frozen layers and weights, preprocessing, boundary, input size) plus the
    augmentation's factors, ``K``, the view seed and the storage dtype."""
    from helpers.training import feature_cache_key  # noqa: PLC0415 - training imports this module

    spec = _resolved(spec)
    payload = {"version": VIEW_CACHE_VERSION,
               "features": feature_cache_key(frozen, manifest, image_size, preprocess),
               "views": int(spec.views), "seed": int(spec.seed), "dtype": spec.dtype,
               "factors": spec.factors()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def view_file_name(view: int, tensor: int) -> str:
    """The file of view ``view``'s features of boundary tensor ``tensor``."""
    return f"v{int(view):03d}_t{int(tensor)}.npy"


def view_cache_bytes(n_images: int, tensor_shapes: Sequence[Sequence[int]], views: int,
                     dtype: str = "float32") -> int:
    """The size on disk of a view cache, from shapes: ``views × len(tensor_shapes)`` files
    of ``n_images`` rows each (plus a 128-byte ``.npy`` header per file; ``meta.json``,
    a few kilobytes per thousand images, is left out)."""
    itemsize = np.dtype(dtype).itemsize
    per_view = sum(int(n_images) * math.prod(int(d) for d in shape) * itemsize + NPY_HEADER_BYTES
                   for shape in tensor_shapes)
    return int(views) * per_view


def cache_size_table(boundaries: dict[str, Sequence[Sequence[int]]], n_images: int,
                     views: int = 8) -> pd.DataFrame:
    """The disk size of ``views`` stored views of ``n_images`` images, per configuration.

    Parameters
    ----------
    boundaries : name -> the shapes of the tensors cached at the cut (without the batch axis),
        e.g. ``[b.shape for b in helpers.boundary.trainable_boundary(model)]``.

    Returns
    -------
    DataFrame
        Index the names; columns ``cached per image`` (numbers per view), ``float32 (GB)`` and
        ``float16 (GB)`` (:func:`view_cache_bytes`, 1 GB = 1e9 bytes).
    """
    rows = {}
    for name, shapes in boundaries.items():
        rows[name] = {"cached per image": sum(math.prod(int(d) for d in shape) for shape in shapes),
                      **{f"{dtype} (GB)": round(view_cache_bytes(n_images, shapes, views, dtype) / 1e9, 2)
                         for dtype in VIEW_DTYPES}}
    return pd.DataFrame.from_dict(rows, orient="index")


@dataclass
class ViewCache:
    """Stored view features, memory-mapped (read-only).

    ``arrays[v][j]``: the features of view ``v``, boundary tensor ``j``, shape
    ``(n_rows, *tensor_shape)``, in the cache's dtype. ``info``: where they came from
    (a :class:`helpers.training.CacheInfo` whose ``path`` is the cache folder).
    """

    arrays: list[list[np.ndarray]]
    info: CacheInfo
    spec: ViewSpec

    @property
    def n_rows(self) -> int:
        return len(self.arrays[0][0])

    @property
    def nbytes(self) -> int:
        """Bytes on disk of the feature files (headers included)."""
        return sum(os.path.getsize(a.filename) for view in self.arrays for a in view)

    def gather(self, rows: np.ndarray, views: np.ndarray) -> list[np.ndarray]:
        """Features of view ``views[i]`` of row ``rows[i]``, one float32 array per tensor."""
        rows, views = np.asarray(rows), np.asarray(views)
        out = []
        for j, first in enumerate(self.arrays[0]):
            batch = np.empty((len(rows), *first.shape[1:]), dtype=np.float32)
            for v in np.unique(views):
                mask = views == v
                batch[mask] = self.arrays[int(v)][j][rows[mask]]
            out.append(batch)
        return out


def _read_view_cache(folder: Path, key: str, manifest: pd.DataFrame,
                     spec: ViewSpec) -> tuple[list[list[np.ndarray]] | None, str]:
    """The memory-mapped arrays of a finished cache folder, or ``None`` and why not."""
    try:
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"it has no {_META} (an extraction that did not finish)"
    except Exception as exc:  # noqa: BLE001 - any unreadable file is rebuilt, with its reason
        return None, f"unreadable {_META} ({type(exc).__name__}: {exc})"
    if meta.get("version") != VIEW_CACHE_VERSION or meta.get("key") != key:
        return None, "its key does not match (other images, weights or settings)"
    if meta.get("sha256") != [str(s) for s in manifest["sha256"]]:
        return None, "its rows are other images"
    arrays: list[list[np.ndarray]] = []
    try:
        for v in range(spec.views):
            arrays.append([])
            for j, shape in enumerate(meta["shapes"]):
                name = view_file_name(v, j)
                if files.sha256_file(folder / name) != meta["files"][name]:
                    return None, f"{name} fails the checksum (corrupt or truncated)"
                array = np.load(folder / name, mmap_mode="r", allow_pickle=False)
                if array.shape != (len(manifest), *shape) or array.dtype != np.dtype(spec.dtype):
                    return None, f"{name} holds {array.dtype} {array.shape}, not what its meta says"
                arrays[-1].append(array)
    except Exception as exc:  # noqa: BLE001 - a missing or unreadable file: rebuild
        return None, f"unreadable ({type(exc).__name__}: {exc})"
    return arrays, ""


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_abandoned_builds(root: Path, key: str) -> None:
    """Remove temporary folders of builds of ``key`` whose process is gone (killed runs)."""
    for tmp in root.glob(f".{key}.*.tmp"):
        parts = tmp.name.split(".")
        pid = int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else None
        if pid is not None and pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)


def _joint(frozens: Sequence[keras.Model]) -> tuple[keras.Model, list[slice]]:
    """One model computing every output of ``frozens`` (which must share their input
    tensor), and the slice of its outputs that belongs to each."""
    keras = import_keras()
    first = frozens[0].inputs
    if any(len(f.inputs) != 1 or f.inputs[0] is not first[0] for f in frozens):
        raise ValueError("the frozen parts must be cut from one model and share its single input "
                         "(e.g. helpers.boundary.prepare_phase on the same classifier)")
    outputs, slices = [], []
    for f in frozens:
        slices.append(slice(len(outputs), len(outputs) + len(f.outputs)))
        outputs.extend(f.outputs)
    if len(frozens) == 1:
        return frozens[0], slices
    return keras.Model(first[0], outputs, name="frozen_parts"), slices


def _extract_views(tmps: Sequence[Path], frozens: Sequence[keras.Model], manifest: pd.DataFrame,
                   image_size: int, preprocess: Callable | None, spec: ViewSpec, batch_size: int,
                   progress: bool) -> list[dict[str, Any]]:
    """Write every view's features of ``frozens[i]`` into ``tmps[i]``, in one pass over the
    images and the shared layers; return each folder's meta (without ``files``)."""

    tf = import_tensorflow()
    joint, slices = _joint(frozens)
    run = tf.function(lambda x: joint(x, training=False), reduce_retracing=True)
    n = len(manifest)
    shapes = [[tuple(int(d) for d in t.shape[1:]) for t in f.outputs] for f in frozens]
    # maps[v][k]: view v's k-th output of the joint model, in the folder of its frozen part
    maps: list[list[np.ndarray]] = [[] for _ in range(spec.views)]
    for tmp, part_shapes in zip(tmps, shapes, strict=True):
        for v in range(spec.views):
            maps[v].extend(np.lib.format.open_memmap(tmp / view_file_name(v, j), mode="w+", dtype=spec.dtype,
                                                     shape=(n, *shape)) for j, shape in enumerate(part_shapes))
    augmenter = ViewAugmenter(spec)
    shas = manifest["sha256"].astype(str).to_numpy()
    bar = progress_bar(total=n * spec.views, unit="view", desc=f"{spec.views} views", enabled=progress,
                       leave=True, mininterval=10.0)  # a notebook saves every update
    start = 0
    with bar:
        for images in load_images(manifest, image_size, batch_size):
            stop = start + len(images)
            for v in range(spec.views):
                x = augmenter(images, shas[start:stop], [v] * len(images))
                x = np.asarray(preprocess(x) if preprocess is not None else x, dtype=np.float32)
                out = run(x)
                for k, values in enumerate(out if isinstance(out, (list, tuple)) else [out]):
                    stored = np.asarray(values, dtype=np.float32).astype(spec.dtype)
                    if not np.isfinite(stored).all():
                        raise ValueError(f"view features overflow {spec.dtype}: use dtype='float32'")
                    maps[v][k][start:stop] = stored
                bar.update(len(images))
            start = stop
    for view in maps:
        for array in view:
            array.flush()
    del maps  # closes the files before the folders are renamed
    return [{"version": VIEW_CACHE_VERSION, "rows": n, "views": spec.views, "dtype": spec.dtype,
             "shapes": [list(s) for s in part_shapes], "spec": spec.describe(),
             "sha256": [str(s) for s in shas]} for part_shapes in shapes]


def _publish(tmp: Path, folder: Path, meta: dict[str, Any], key: str, manifest: pd.DataFrame,
             spec: ViewSpec) -> None:
    """Seal a filled temporary folder (checksums, meta) and rename it to ``folder``."""
    meta.update(key=key, files={p.name: files.sha256_file(p) for p in sorted(tmp.glob("*.npy"))})
    files.write_text_atomically(tmp / _META, json.dumps(meta))
    if folder.exists():
        shutil.rmtree(folder)  # an unusable one, found before extracting
    try:
        os.replace(tmp, folder)
    except OSError:  # another process finished the same cache first: use it if whole
        if _read_view_cache(folder, key, manifest, spec)[0] is None:
            raise


def cached_views(
    frozen: keras.Model,
    manifest: pd.DataFrame,
    image_size: int,
    preprocess: Callable | None,
    spec: ViewSpec,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 32,
    progress: bool = True,
) -> ViewCache:
    """The frozen part's features of ``spec.views`` augmented views of every image of
    ``manifest``, extracted once and kept on disk.

    Layout: ``<cache_dir>/views/<key>/`` (``cache_dir`` defaults to
    :func:`helpers.config.cache_dir`; ``key`` from :func:`view_cache_key`) holds one
    ``.npy`` per view and boundary tensor (:func:`view_file_name`), ``(len(manifest),
    *tensor_shape)`` in ``spec.dtype``, and ``meta.json`` (the key, the rows' SHA-256s,
    the shapes and every file's SHA-256). The folder is filled under a temporary name and
    renamed when complete, so an interrupted extraction is never read as a cache; a
    folder that fails its checks (missing, truncated or altered files) is rebuilt with a
    warning saying why.

    Returns
    -------
    ViewCache
        The arrays, memory-mapped read-only, and a :class:`helpers.training.CacheInfo`.
    """
    return cached_views_together([frozen], manifest, image_size, preprocess, spec, cache_dir,
                                 batch_size, progress)[0]


def cached_views_together(
    frozens: Sequence[keras.Model],
    manifest: pd.DataFrame,
    image_size: int,
    preprocess: Callable | None,
    spec: ViewSpec,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 32,
    progress: bool = True,
) -> list[ViewCache]:
    """:func:`cached_views` of several frozen parts of one model, extracted in one pass.

    Phase 1 stores the pooled vector and phase 2 the tensors entering the last 63 layers;
    both are computed by the same augmented images going through the same first layers.
    Given both frozen parts (cut from one classifier, so they share its input), the views
    are drawn and sent through the network once and each part's features land in its own
    cache folder, under the key :func:`cached_views` would use: a later
    ``cached_views(part, ...)`` loads them. Parts already cached are loaded, not recomputed.
    """
    from helpers.training import CacheInfo  # noqa: PLC0415 - training imports this module

    if "sha256" not in manifest.columns or "path" not in manifest.columns or manifest.empty:
        raise ValueError("manifest must be non-empty and have 'path' and 'sha256' columns")
    frozens = list(frozens)
    if not frozens:
        raise ValueError("pass at least one frozen part")
    spec = _resolved(spec)
    start = time.perf_counter()
    root = (Path(cache_dir) if cache_dir is not None else config.cache_dir()) / "views"
    found: list[ViewCache | None] = []
    todo: list[tuple[int, str, str]] = []  # (part, key, why the folder found was not used)
    for i, frozen in enumerate(frozens):
        key = view_cache_key(frozen, manifest, image_size, preprocess, spec)
        reason = ""
        if (root / key).exists():
            arrays, reason = _read_view_cache(root / key, key, manifest, spec)
            if arrays is not None:
                found.append(ViewCache(arrays, CacheInfo(root / key, key, "loaded",
                                                         time.perf_counter() - start), spec))
                continue
            warnings.warn(f"view cache {key[:16]}... not used: {reason}; rebuilding it", stacklevel=3)
        found.append(None)
        todo.append((i, key, reason))
    if not todo:
        return found  # type: ignore[return-value]
    root.mkdir(parents=True, exist_ok=True)
    tmps = []
    try:
        for _, key, _ in todo:
            _remove_abandoned_builds(root, key)
            tmps.append(root / f".{key}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
            tmps[-1].mkdir()
        metas = _extract_views(tmps, [frozens[i] for i, _, _ in todo], manifest, image_size, preprocess,
                               spec, batch_size, progress)
        for tmp, meta, (_, key, _) in zip(tmps, metas, todo, strict=True):
            _publish(tmp, root / key, meta, key, manifest, spec)
    finally:
        for tmp in tmps:
            shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.perf_counter() - start
    for i, key, reason in todo:
        arrays, why = _read_view_cache(root / key, key, manifest, spec)
        if arrays is None:  # pragma: no cover - only if the disk changes under us
            raise RuntimeError(f"the view cache just written in {root / key} does not read back: {why}")
        status = "rebuilt" if reason else "built"
        found[i] = ViewCache(arrays, CacheInfo(root / key, key, status, seconds, reason), spec)
    return found  # type: ignore[return-value]


# --------------------------------------------------------------------------------------
# Feeding one epoch
# --------------------------------------------------------------------------------------


def epoch_batches(
    order: np.ndarray,
    choice: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    inputs: Callable[[np.ndarray, np.ndarray], list[np.ndarray]],
) -> Iterator[tuple[Any, np.ndarray]]:
    """One epoch's ``(x, y)`` batches: rows in ``order``, row ``r`` showing view
    ``choice[r]``; ``inputs(rows, views)`` gives the model inputs of those rows (stored
    features on the cached path, preprocessed view images on the naive path)."""
    for begin in range(0, len(order), batch_size):
        rows = np.asarray(order[begin:begin + batch_size])
        x = inputs(rows, choice[rows])
        yield (tuple(x) if len(x) > 1 else x[0]), labels[rows]
