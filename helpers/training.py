"""Training: the study's two phases, fast (cached frozen features) and resumable.

Each phase trains part of the classifier built by :mod:`helpers.model`:

* **phase 1** -- the base is frozen, the head learns (:func:`helpers.model.freeze_base`);
* **phase 2** -- the last 63 layers learn (:func:`helpers.model.unfreeze_last`).

**The fast path.** With the base frozen and no augmentation, the frozen part computes the
same output for an image at every epoch. :func:`train_phase` therefore computes it *once*
per image into a sharded store on disk (:func:`cached_feature_store`) and trains only the
trainable part, reading the features back batch by batch (:func:`store_batches`), so memory
does not grow with the number of images:

* phase 1 caches the base's *pooled* features (one vector per image, e.g. 1280 values for
  Lite0) and trains ``Dense(1024) -> Dense(n_classes)``;
* phase 2 caches every tensor that crosses the frozen/trainable boundary
  (:func:`helpers.boundary.trainable_boundary`) and trains the top sub-model, which shares its
  layer objects with the full model, so training it trains the full model.

The *naive* path (``feed="naive"``) streams the images through the whole model at every
step, as the study did; it is the only exact choice with on-the-fly augmentation
(``augment=True``: the frozen part then sees a different image every epoch), and it is
what the equivalence test compares the cached path against.

**Augmentation on the fast path.** With ``views=K`` each training image gets ``K`` stored
augmented views whose features are computed once (:mod:`helpers.views`); every epoch
trains on one view per image. Both paths accept ``views`` and then train the same model.

**Several devices.** ``train_phase(..., strategy=...)`` trains under a ``tf.distribute``
strategy (:mod:`helpers.distribute`); ``batch_size`` stays the global batch.

**The recipe.** An epoch is one full pass over the training split (the study's
``steps_per_epoch=32`` with batch 32 saw 1024 of its ~1446 training images per epoch).
The validation split is evaluated after every epoch; the test split is never read here.
Defaults are the study's: SGD(learning rate 1e-4, momentum 0.9), batch 32, 50 epochs per
phase (:data:`STUDY_OPTIMIZER`, :mod:`helpers.config`).

**Reproducibility.** The training order of epoch *e* of phase *p* is a permutation drawn
from ``numpy.random.default_rng([seed, p, e])`` (:func:`epoch_order`), the same on both
paths and after a resume; so is the view each image shows with ``views``
(:func:`helpers.views.view_choice`). Dropout masks come from each layer's seed generator, whose
state is a model variable. On one machine with the same thread count, two runs give
bit-identical weights.

**Checkpoints and resume.** After every epoch the phase's folder receives, atomically
(written to a temporary file, then renamed), from :class:`helpers.checkpoints.PhaseCheckpoint`,
a Keras callback given to each one-epoch ``fit`` call (with the caller's ``callbacks``):

* ``state.npz`` -- every model variable (weights, BatchNorm statistics, dropout seed
  states), the optimizer's variables, the history so far and a fingerprint of the run's
  settings; a killed run restarts from the last finished epoch and ends exactly where an
  uninterrupted run would;
* ``best.keras`` -- the full model with the lowest ``val_loss`` so far (Keras format),
* ``history.csv`` -- the history so far;

and at the end of the phase ``final.weights.h5`` (the last epoch's weights, which the
next phase starts from, as the study's phase 2 continued from its phase 1 model).

TensorFlow/Keras are imported inside the functions (through :mod:`helpers.tf_quiet`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import numbers
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import checks, config
from helpers.boundary import PhaseParts, pooled_part, prepare_phase
from helpers.feature_store import FeatureStore, StoreError, shard_rows_for, write_store
from helpers.keras_internals import producing_layer
from helpers.model import check_phase
from helpers.progress import progress_bar
from helpers.tf_quiet import import_keras, import_tensorflow

if TYPE_CHECKING:  # pragma: no cover - type hints only
    import keras
    import tensorflow as tf

    from helpers.views import ViewSpec

#: Columns of a training history (one row per epoch).
HISTORY_COLUMNS: tuple[str, ...] = (
    "epoch", "phase", "phase_epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds",
)
#: Optimizers :class:`OptimizerSpec` can build.
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")
#: Bumped when the feature-cache file layout changes (old files are then rebuilt).
CACHE_VERSION = 2
#: The study's augmentation, as Keras 3 preprocessing-layer factors. The study's Keras 2
#: ``ImageDataGenerator(shear_range=0.2)`` read 0.2 as an angle in *degrees* (a tiny
#: shear); Keras 3's ``RandomShear(0.2)`` is a shear *factor* of up to 0.2 (about 11°).
#: We use the factor: 0.2 degrees would do nothing visible.
STUDY_AUGMENTATION: dict[str, float] = {"shear": 0.2, "zoom": 0.2}


class StaleStateError(RuntimeError):
    """A phase folder holds a training state from other settings (resume would mix runs)."""


# --------------------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer by name and settings, so a run can be described, saved and compared.

    ``name``: ``"sgd"`` (with ``momentum``) or ``"adam"`` (``momentum`` ignored).
    ``learning_rate``: a positive float.
    """

    name: str = "sgd"
    learning_rate: float = config.LEARNING_RATE
    momentum: float = config.MOMENTUM

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"optimizer name must be one of {OPTIMIZERS}, got {self.name!r}")
        if not isinstance(self.learning_rate, numbers.Real) or not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        if not isinstance(self.momentum, numbers.Real) or not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")

    def build(self) -> keras.optimizers.Optimizer:
        """A fresh Keras optimizer with these settings."""
        keras = import_keras()
        if self.name == "sgd":
            return keras.optimizers.SGD(learning_rate=self.learning_rate, momentum=self.momentum)
        return keras.optimizers.Adam(learning_rate=self.learning_rate)

    def label(self) -> str:
        """Short text, e.g. ``"SGD(lr=0.0001, momentum=0.9)"``."""
        if self.name == "sgd":
            return f"SGD(lr={self.learning_rate:g}, momentum={self.momentum:g})"
        return f"Adam(lr={self.learning_rate:g})"


#: The study's optimizer, both phases.
STUDY_OPTIMIZER = OptimizerSpec("sgd", config.LEARNING_RATE, config.MOMENTUM)


# --------------------------------------------------------------------------------------
# Both phases' views in one pass
# --------------------------------------------------------------------------------------


def cache_views_of_both_phases(
    model: keras.Model,
    data: pd.DataFrame,
    *,
    image_size: int,
    preprocess: Callable | None,
    views: int | ViewSpec,
    seed: int = config.SEED,
    n_unfreeze: int = config.UNFREEZE_LAST,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> list:
    """Store the views that phase 1 and phase 2 of :func:`train_phase` will read, in one pass.

    Phase 1 stores each view's pooled vector, phase 2 the tensors entering the last
    ``n_unfreeze`` layers; both come from the same augmented images going through the same
    first layers, so :func:`helpers.views.cached_views_together` computes them together.
    The later ``train_phase(..., views=...)`` calls then load them (same keys). ``model`` is
    a classifier holding the weights both phases start their frozen part from (a fresh
    one: phase 1 does not change the base); its trainable flags are changed, so pass one
    that is not being trained. Returns the two :class:`helpers.views.ViewCache` (phase 1's,
    phase 2's).
    """
    from helpers import views as hv  # noqa: PLC0415 - TF-heavy

    spec = hv.as_view_spec(views, seed)
    if spec is None:
        raise ValueError("views must be K >= 1 or a ViewSpec: without views there is nothing to store")
    train, _ = _check_data(data)
    phase2_frozen = prepare_phase(model, 2, n_unfreeze).frozen
    return hv.cached_views_together([pooled_part(model), phase2_frozen], train, image_size, preprocess,
                                    spec, cache_dir=cache_dir, progress=progress)


# --------------------------------------------------------------------------------------
# Data checks and the epoch order
# --------------------------------------------------------------------------------------

_DATA_COLUMNS = ("path", "label", "sha256", "split")


def _check_data(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The train and val rows of a split manifest (see :func:`helpers.splitting.attach_split`)."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a DataFrame, got {type(data).__name__}")
    checks.require_columns(data, _DATA_COLUMNS, "data", "; pass the split manifest (notebook 02's split.csv)")
    train = data[data["split"] == "train"].reset_index(drop=True)
    val = data[data["split"] == "val"].reset_index(drop=True)
    if train.empty or val.empty:
        raise ValueError(f"data needs 'train' and 'val' rows, got {len(train)} and {len(val)}")
    return train, val


def train_val_rows(data: pd.DataFrame) -> pd.DataFrame:
    """The training rows, then the validation rows, of a split manifest: the row order in
    which :func:`train_phase` caches features. Extracting features of this frame with
    :func:`cached_features` beforehand (as notebook 04 does) gives the file training reads."""
    return pd.concat(_check_data(data), ignore_index=True)


def epoch_order(n: int, seed: int, phase: int, epoch: int) -> np.ndarray:
    """The order of the ``n`` training images in ``epoch`` (0-based) of ``phase``.

    A permutation of ``range(n)`` from ``numpy.random.default_rng([seed, phase, epoch])``:
    it depends on nothing else, so both paths and a resumed run see the same batches.
    """
    return np.random.default_rng([int(seed), int(phase), int(epoch)]).permutation(int(n))


# --------------------------------------------------------------------------------------
# Feature extraction and its cache
# --------------------------------------------------------------------------------------


def feature_batches(
    frozen: keras.Model,
    manifest: pd.DataFrame,
    image_size: int,
    preprocess: Callable | None,
    batch_size: int = 64,
    strategy: tf.distribute.Strategy | None = None,
) -> Iterator[list[np.ndarray]]:
    """The frozen part's outputs on the images of ``manifest``, batch by batch, in row order.

    Yields one list per batch: a float32 array ``(batch, *tensor_shape)`` per output of
    ``frozen``. Under a one-machine ``strategy`` (``MirroredStrategy``) each batch is split
    across its replicas and put back together in row order; under a multi-worker strategy each
    worker computes every row itself (no cross-machine traffic; the features are the same).
    """
    from helpers import distribute  # noqa: PLC0415 - TF-heavy
    from helpers.pipeline import make_dataset  # noqa: PLC0415 - TF-heavy

    tf = import_tensorflow()
    dataset = make_dataset(manifest, image_size, batch_size=batch_size, preprocess=preprocess,
                           with_labels=False)
    run = tf.function(lambda x: frozen(x, training=False), reduce_retracing=True)

    def as_arrays(out) -> list[np.ndarray]:
        return [np.asarray(o, dtype=np.float32) for o in (out if isinstance(out, (list, tuple)) else [out])]

    if strategy is None or strategy.num_replicas_in_sync == 1 or distribute.is_multi_worker(strategy):
        for images in dataset:
            yield as_arrays(run(images))
        return
    for images in strategy.experimental_distribute_dataset(dataset):
        # Each replica gets a consecutive slice of the batch; its results, in replica order,
        # are the batch's rows in order.
        per_replica = [as_arrays(o) for o in strategy.experimental_local_results(strategy.run(run, args=(images,)))]
        yield [np.concatenate(parts, axis=0) for parts in zip(*per_replica, strict=True)]


def extract_features(
    frozen: keras.Model,
    manifest: pd.DataFrame,
    image_size: int,
    preprocess: Callable | None,
    batch_size: int = 64,
    progress: bool = True,
    strategy: tf.distribute.Strategy | None = None,
) -> list[np.ndarray]:
    """Run the frozen part over every image of ``manifest``, in its row order, in memory.

    Returns one float32 array per output of ``frozen``, each of shape
    ``(len(manifest), *tensor_shape)`` (:func:`feature_batches`, concatenated). Shows a
    progress bar in images per second.
    """
    chunks: list[list[np.ndarray]] = []
    bar = progress_bar(total=len(manifest), unit="img", desc="features", enabled=progress,
                       leave=True, mininterval=1.0)
    with bar:
        for outputs in feature_batches(frozen, manifest, image_size, preprocess, batch_size, strategy):
            chunks.append(outputs)
            bar.update(len(outputs[0]))
    return [np.concatenate(parts, axis=0) for parts in zip(*chunks, strict=True)]


def weights_fingerprint(model: keras.Model) -> str:
    """SHA-256 over the shapes and values of every weight of ``model``, in order.

    Names are left out on purpose: Keras numbers auto-named layers per session
    (``conv2d_93`` becomes ``conv2d_187`` when the model is built again), which must not
    change the fingerprint of the same weights.
    """
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.ascontiguousarray(weight.numpy())
        digest.update(f"{value.shape}|{value.dtype}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _callable_name(fn: Callable | None) -> str:
    return "none" if fn is None else f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def feature_cache_key(
    frozen: keras.Model, manifest: pd.DataFrame, image_size: int, preprocess: Callable | None
) -> str:
    """The cache key of ``frozen``'s outputs on ``manifest``: a SHA-256 hex string.

    It covers the images' content (their SHA-256, in row order), the frozen part's layers
    and every weight value (so the backbone and its weights), the input size, the
    preprocessing function, the boundary tensors and the Keras version. Any change gives
    another key, hence another file: a cache is never reused for other inputs.
    """
    keras = import_keras()
    position = {id(layer): index for index, layer in enumerate(frozen.layers)}
    # Layer classes and positions, not names (auto-names change from build to build).
    boundary = [(position[id(producing_layer(t))], tuple(int(d) for d in t.shape[1:])) for t in frozen.outputs]
    payload = {
        "version": CACHE_VERSION,
        "keras": keras.__version__,
        "files": [str(s) for s in manifest["sha256"]],
        "layers": [type(layer).__name__ for layer in frozen.layers],
        "weights": weights_fingerprint(frozen),
        "image_size": int(image_size),
        "preprocess": _callable_name(preprocess),
        "boundary": boundary,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass
class CacheInfo:
    """Where features came from: ``status`` is ``"built"``, ``"loaded"``, ``"rebuilt"`` (the
    folder found was unusable; ``reason`` says why) or ``"resumed"`` (an interrupted extraction
    finished from its first missing shard). ``path`` is the cache's folder."""

    path: Path
    key: str
    status: str
    seconds: float
    reason: str = ""


def feature_cache_folder(key: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<cache_dir>/features/<key>/``: the folder of one feature store (:mod:`helpers.feature_store`)."""
    return (Path(cache_dir) if cache_dir is not None else config.cache_dir()) / "features" / key


def cached_feature_store(
    frozen: keras.Model,
    manifest: pd.DataFrame,
    image_size: int,
    preprocess: Callable | None,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    progress: bool = True,
    strategy: tf.distribute.Strategy | None = None,
    shard_bytes: int | None = None,
) -> tuple[FeatureStore, CacheInfo]:
    """The frozen part's outputs on ``manifest``, extracted once into a sharded store on disk.

    The store (:class:`helpers.feature_store.FeatureStore`) lives in
    :func:`feature_cache_folder` of the key :func:`feature_cache_key`. It is written shard by
    shard as the images go through the network, so memory holds one shard (about
    ``shard_bytes``, default :data:`helpers.feature_store.DEFAULT_SHARD_BYTES`) and one batch,
    whatever the number of images; an interrupted extraction resumes at its first missing
    shard. Features are stored as float32: the cached path must equal the naive one within
    1e-5, which float16 (3 significant digits) would not. Every file carries a SHA-256; a
    store that is unfinished, corrupt or for other rows is finished or rebuilt with a warning
    saying why -- never silently reused. Nothing is read into memory here: read rows with
    ``store.read(rows)``.
    """
    if "sha256" not in manifest.columns or manifest.empty:
        raise ValueError("manifest must be non-empty and have a 'sha256' column")
    start = time.perf_counter()
    key = feature_cache_key(frozen, manifest, image_size, preprocess)
    folder = feature_cache_folder(key, cache_dir)
    sha256 = [str(s) for s in manifest["sha256"]]
    reason = ""
    if folder.exists():
        try:
            store = FeatureStore.open(folder, key, sha256)
            return store, CacheInfo(folder, key, "loaded", time.perf_counter() - start)
        except StoreError as exc:
            reason = str(exc)
            warnings.warn(f"feature cache {key[:16]}... not used as it is: {reason}; finishing or "
                          "rebuilding it", stacklevel=2)
    shapes = [tuple(int(d) for d in t.shape[1:]) for t in frozen.outputs]
    shard_rows = shard_rows_for(shapes, "float32", shard_bytes) if shard_bytes is not None else None

    def produce(first_row: int) -> Iterator[list[np.ndarray]]:
        return feature_batches(frozen, manifest.iloc[first_row:], image_size, preprocess, batch_size, strategy)

    store, kept = write_store(folder, key, sha256, shapes, produce, shard_rows=shard_rows,
                              progress=progress)
    status = "resumed" if kept else ("rebuilt" if reason else "built")
    return store, CacheInfo(folder, key, status, time.perf_counter() - start, reason)


def cached_features(
    frozen: keras.Model,
    manifest: pd.DataFrame,
    image_size: int,
    preprocess: Callable | None,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    progress: bool = True,
    strategy: tf.distribute.Strategy | None = None,
    shard_bytes: int | None = None,
) -> tuple[list[np.ndarray], CacheInfo]:
    """:func:`extract_features`, computed once and kept on disk, read whole into memory.

    :func:`cached_feature_store`, then every row loaded: for data that fits in memory (the
    course's 1808 images). :func:`train_phase` itself reads the store batch by batch.
    Returns the arrays (as :func:`extract_features`) and a :class:`CacheInfo`.
    """
    store, info = cached_feature_store(frozen, manifest, image_size, preprocess, cache_dir, batch_size,
                                       progress, strategy, shard_bytes)
    return store.load(), info


# --------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------


def make_augmenter(
    seed: int = config.SEED,
    shear: float = STUDY_AUGMENTATION["shear"],
    zoom: float = STUDY_AUGMENTATION["zoom"],
    flip: bool = True,
) -> keras.Sequential:
    """The study's augmentation as Keras preprocessing layers: random shear (factor up to
    ``shear``, both axes), random zoom (``±zoom``, height and width drawn independently,
    as ``ImageDataGenerator`` did) and a random horizontal flip. Works on float batches in
    ``[0, 255]`` of shape ``(batch, h, w, 3)``; call it with ``training=True``."""
    keras = import_keras()
    for name, value in (("shear", shear), ("zoom", zoom)):
        if not isinstance(value, numbers.Real) or not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    layers = []
    if shear:
        layers.append(keras.layers.RandomShear(x_factor=shear, y_factor=shear, seed=seed))
    if zoom:
        layers.append(keras.layers.RandomZoom(height_factor=zoom, width_factor=zoom, seed=seed + 1))
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed + 2))
    return keras.Sequential(layers, name="augmentation")


# --------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------


def history_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """A history DataFrame with :data:`HISTORY_COLUMNS` from per-epoch dicts."""
    frame = pd.DataFrame(list(rows), columns=list(HISTORY_COLUMNS))
    return frame.astype({"epoch": int, "phase": int, "phase_epoch": int})


def combine_histories(*histories: pd.DataFrame) -> pd.DataFrame:
    """Concatenate per-phase histories; ``epoch`` is renumbered 1, 2, ... across phases
    (``phase_epoch`` keeps the count within each phase)."""
    if not histories:
        raise ValueError("give at least one history")
    for h in histories:
        checks.require_columns(h, HISTORY_COLUMNS, "a history")
    combined = pd.concat(histories, ignore_index=True)
    combined["epoch"] = np.arange(1, len(combined) + 1)
    return combined[list(HISTORY_COLUMNS)]


def epochs_since_best(rows: Sequence[Mapping[str, Any]]) -> int:
    """Epochs logged after the one with the lowest ``val_loss`` (0 when the last is best, or
    nothing is logged): what early stopping counts."""
    losses = [float(row["val_loss"]) for row in rows]
    return len(losses) - 1 - int(np.argmin(losses)) if losses else 0


def smoothed_loss(label_smoothing: float) -> Callable:
    """Cross-entropy on integer labels with label smoothing (Keras' sparse loss has none):
    the labels are one-hot encoded, then :func:`keras.losses.categorical_crossentropy`."""
    keras = import_keras()
    ops = keras.ops

    def smoothed_crossentropy(y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        one_hot = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=label_smoothing)

    return smoothed_crossentropy


def lowest_val_loss(histories: Mapping[str, pd.DataFrame]) -> str:
    """The run whose best epoch has the lowest validation loss (the phase-1 selection rule);
    ties go to the first run given."""
    if not histories:
        raise ValueError("histories is empty: give {run name: history}")
    for run, history in histories.items():
        if "val_loss" not in history.columns or history["val_loss"].isna().all():
            raise ValueError(f"history {run!r} has no val_loss to compare")
    return min(histories, key=lambda run: histories[run]["val_loss"].min())


def read_history(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``history.csv`` written by :func:`train_phase`."""
    frame = pd.read_csv(path)
    missing = checks.missing_columns(frame, HISTORY_COLUMNS)
    if missing:
        raise ValueError(f"{path} is not a training history (missing {missing})")
    return history_frame(frame.to_dict("records"))


# --------------------------------------------------------------------------------------
# The run's fingerprint (its saved state lives in helpers.checkpoints)
# --------------------------------------------------------------------------------------


def _run_fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------------------
# Training one phase
# --------------------------------------------------------------------------------------


def _check_callbacks(callbacks) -> list:
    """``callbacks`` as a list, checked: a sequence of ``keras.callbacks.Callback``."""
    base = import_keras().callbacks.Callback
    if isinstance(callbacks, base):
        raise TypeError("callbacks must be a list of Keras callbacks: wrap the single callback "
                        "in a list, callbacks=[...]")
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Sequence):
        raise TypeError("callbacks must be a list of keras.callbacks.Callback, "
                        f"got {type(callbacks).__name__}")
    bad = [type(c).__name__ for c in callbacks if not isinstance(c, base)]
    if bad:
        raise TypeError(f"callbacks must be keras.callbacks.Callback instances, got {', '.join(bad)}")
    return list(callbacks)


@dataclass
class TrainResult:
    """What :func:`train_phase` returns.

    ``history``: :data:`HISTORY_COLUMNS`, one row per epoch of this phase.
    ``folder``: the phase folder (``state.npz``, ``best.keras``, ``history.csv``,
    ``final.weights.h5``). ``resumed_from``: epochs found finished on disk (0 if fresh).
    ``feed``: ``"cached"`` or ``"naive"``, the path the trainable part was fed by.
    ``cache``: the :class:`CacheInfo` of the cached path's plain features (``None`` on the
    naive path; with views, the validation features). ``view_cache``: the
    :class:`CacheInfo` of the stored view features (cached path with ``views`` only).
    ``seconds``: wall time of this call.
    """

    history: pd.DataFrame
    folder: Path
    feed: str
    resumed_from: int
    cache: CacheInfo | None
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)
    view_cache: CacheInfo | None = None

    @property
    def best_path(self) -> Path:
        return self.folder / "best.keras"

    @property
    def final_weights(self) -> Path:
        return self.folder / "final.weights.h5"


@dataclass
class _Feeder:
    """What one path trains, its validation data, and the ``fit`` inputs of each epoch."""

    trainable: Any
    val_data: Any
    epoch_inputs: Callable[[int, np.ndarray], dict[str, Any]]  # (epoch, order) -> fit kwargs
    cache: CacheInfo | None = None
    view_cache: CacheInfo | None = None


def store_batches(store: FeatureStore, rows: np.ndarray, labels: np.ndarray,
                  batch_size: int) -> keras.utils.PyDataset:
    """A ``keras.utils.PyDataset`` of ``(features, labels)`` batches of ``store``'s ``rows``, in
    that order: batch ``i`` reads rows ``rows[i * batch_size:(i + 1) * batch_size]`` from disk
    (:meth:`helpers.feature_store.FeatureStore.read`), so memory holds a few batches whatever
    the store's size. ``labels[k]`` is the label of ``rows[k]``."""
    keras = import_keras()
    rows, labels = np.asarray(rows), np.asarray(labels)
    if len(rows) != len(labels):
        raise ValueError(f"rows and labels differ in length ({len(rows)} and {len(labels)})")

    class StoreBatches(keras.utils.PyDataset):
        def __len__(self) -> int:
            return -(-len(rows) // batch_size)

        def __getitem__(self, index: int):
            if not 0 <= index < len(self):
                raise IndexError(f"batch {index} of {len(self)}")
            part = slice(index * batch_size, (index + 1) * batch_size)
            xs = store.read(rows[part])
            return (tuple(xs) if len(xs) > 1 else xs[0]), labels[part]

    return StoreBatches()


def _cached_feed(parts: PhaseParts, train, val, y_train, y_val, image_size, preprocess,
                 batch_size, cache_dir, progress, strategy) -> _Feeder:
    """Cached path without views: features of train and val in one store on disk, streamed
    batch by batch (:func:`store_batches`)."""
    both = pd.concat([train, val], ignore_index=True)  # the order of train_val_rows
    store, cache = cached_feature_store(parts.frozen, both, image_size, preprocess,
                                        cache_dir=cache_dir, progress=progress, strategy=strategy)
    val_rows = np.arange(len(train), len(both))

    def epoch_inputs(epoch: int, order: np.ndarray) -> dict[str, Any]:
        return {"x": store_batches(store, order, y_train[order], batch_size)}

    return _Feeder(parts.top, store_batches(store, val_rows, y_val, batch_size), epoch_inputs, cache)


def _naive_feed(model, train, val, image_size, preprocess, batch_size, augment, seed) -> _Feeder:
    """Naive path without views: images through the whole model, optionally augmented on
    the fly with :func:`make_augmenter`."""
    from helpers.pipeline import make_dataset  # noqa: PLC0415 - TF-heavy

    train_preprocess = preprocess
    if augment:
        augmenter = make_augmenter(seed=int(seed))

        def train_preprocess(x):
            x = augmenter(x, training=True)
            return preprocess(x) if preprocess is not None else x

    def epoch_inputs(epoch: int, order: np.ndarray) -> dict[str, Any]:
        return {"x": make_dataset(train.iloc[order], image_size, batch_size, preprocess=train_preprocess)}

    return _Feeder(model, make_dataset(val, image_size, batch_size, preprocess=preprocess), epoch_inputs)


def _view_feed(parts: PhaseParts, feed: str, spec: ViewSpec, train, val, y_train, y_val, image_size,
               preprocess, batch_size, seed, cache_dir, progress) -> _Feeder:
    """Either path with augmented views (:mod:`helpers.views`): each epoch, training row
    ``r`` shows view :func:`helpers.views.view_choice` ``[r]``; validation is plain."""
    from helpers import views as hv  # noqa: PLC0415 - TF-heavy
    from helpers.pipeline import make_dataset  # noqa: PLC0415 - TF-heavy

    if feed == "cached":
        stored = hv.cached_views(parts.frozen, train, image_size, preprocess, spec,
                                 cache_dir=cache_dir, progress=progress)
        x_val, cache = cached_features(parts.frozen, val, image_size, preprocess,
                                       cache_dir=cache_dir, progress=progress)
        trainable, inputs, view_cache = parts.top, stored.gather, stored.info
        val_data = (x_val if len(x_val) > 1 else x_val[0], y_val)
        extra = {"validation_batch_size": batch_size}
    else:
        augmenter = hv.ViewAugmenter(spec)

        def inputs(rows: np.ndarray, views: np.ndarray) -> list[np.ndarray]:
            images = hv.view_images(train.iloc[rows], views, image_size, spec, len(rows), augmenter)
            return [np.asarray(preprocess(images) if preprocess is not None else images, dtype=np.float32)]

        trainable, cache, view_cache, extra = parts.model, None, None, {}
        val_data = make_dataset(val, image_size, batch_size, preprocess=preprocess)

    def epoch_inputs(epoch: int, order: np.ndarray) -> dict[str, Any]:
        choice = hv.view_choice(len(train), spec.views, seed, parts.phase, epoch)
        return {"x": hv.epoch_batches(order, choice, y_train, batch_size, inputs),
                "steps_per_epoch": -(-len(order) // batch_size), **extra}

    return _Feeder(trainable, val_data, epoch_inputs, cache, view_cache)


def train_phase(
    model: keras.Model,
    data: pd.DataFrame,
    phase: int,
    folder: str | os.PathLike[str],
    *,
    image_size: int,
    preprocess: Callable | None,
    epochs: int,
    batch_size: int = config.BATCH_SIZE,
    optimizer: OptimizerSpec = STUDY_OPTIMIZER,
    seed: int = config.SEED,
    n_unfreeze: int = config.UNFREEZE_LAST,
    feed: str | None = None,
    augment: bool = False,
    views: int | ViewSpec | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    label_smoothing: float = 0.0,
    patience: int | None = None,
    resume: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    strategy: tf.distribute.Strategy | None = None,
) -> TrainResult:
    """Train one phase of the study's recipe on the train split, validating every epoch.

    Parameters
    ----------
    model : a classifier from :func:`helpers.model.build_classifier` (or ``attach_head``);
        trained in place. Its trainable flags are set here for ``phase``.
    data : the split manifest: columns ``path``, ``label``, ``sha256``, ``split``. Only
        the ``train`` and ``val`` rows are read.
    phase : 1 (head only) or 2 (the last ``n_unfreeze`` layers).
    folder : the phase's checkpoint folder (created). Holding a state of the same run,
        training resumes after its last finished epoch.
    image_size, preprocess : the backbone's input size (pixels) and preprocessing
        (:class:`helpers.backbones.BackboneSpec`).
    epochs : epochs of this phase (the study: 50); one epoch = one pass over ``train``.
    batch_size, optimizer, seed : the study's by default (32, SGD(1e-4, momentum 0.9), 42).
    feed : ``"cached"`` (default without ``augment``) or ``"naive"`` (images through the
        whole model every step; the default with ``augment``).
    augment : apply :func:`make_augmenter` to training images on the fly (naive path only).
    views : ``K`` (an int) or a :class:`helpers.views.ViewSpec`: train on ``K`` stored
        augmented views per image, one drawn per image and epoch (:mod:`helpers.views`);
        works on both paths, which then train the same model. ``None`` or ``0``: no views.
        The view seed defaults to ``seed``.
    cache_dir : where the feature caches live (default :func:`helpers.config.cache_dir`).
    label_smoothing : in ``[0, 1)``; the training targets become ``1 - s`` on the true
        class and ``s / n_classes`` spread over all classes (Keras' convention). The
        logged ``loss`` and ``val_loss`` are then the smoothed cross-entropy. 0: the study's
        plain cross-entropy.
    patience : early stopping: stop once this many epochs in a row have not lowered the
        best validation loss (``best.keras`` keeps the best epoch). ``None``: train all
        ``epochs`` (the study).
    resume : pick up a state left in ``folder``; ``False`` starts afresh (overwriting).
    stop_after : stop after this many epochs *of this call* (to simulate an interruption
        in tests and demos); ``None`` trains to ``epochs``.
    callbacks : Keras callbacks passed to every ``fit`` call, after the
        :class:`helpers.checkpoints.PhaseCheckpoint` that writes the phase folder. ``fit``
        runs *one epoch per call*, so a callback's ``on_epoch_end(epoch, logs)`` is called
        once per epoch with Keras' ``epoch`` always 0; ``logs`` holds that epoch's ``loss``,
        ``accuracy``, ``val_loss``, ``val_accuracy`` and ``phase_epoch`` (1-based, as in the
        history). Its ``model`` is the part being fitted (the top sub-model on the cached
        path). Callbacks whose state starts over in ``on_train_begin`` (Keras'
        ``EarlyStopping``, ``ReduceLROnPlateau``) therefore see one epoch at a time: use
        ``patience``. They are not part of the run's settings nor of its saved state.
    strategy : a ``tf.distribute.Strategy`` to train (and extract features) under, e.g.
        :func:`helpers.distribute.mirrored_strategy` (several GPUs) or
        :func:`helpers.distribute.multi_worker_strategy` (several machines). Build ``model``
        inside ``with strategy.scope():``. ``batch_size`` stays the global batch (split across
        the replicas), so the recipe is unchanged; see :mod:`helpers.distribute`. A state
        saved under one strategy resumes under another (or none): it is not in the settings.

    Returns
    -------
    TrainResult
        Its ``history`` has :data:`HISTORY_COLUMNS` (``epoch`` = ``phase_epoch`` here; see
        :func:`combine_histories`).
    """
    from helpers import views as hv  # noqa: PLC0415 - TF-heavy
    from helpers.checkpoints import PhaseCheckpoint, load_state, save_model  # noqa: PLC0415 - imports Keras

    keras = import_keras()
    check_phase(phase)
    epochs = checks.positive_int("epochs", epochs)
    batch_size = checks.positive_int("batch_size", batch_size)
    image_size = checks.positive_int("image_size", image_size)
    if stop_after is not None:
        stop_after = checks.positive_int("stop_after", stop_after)
    if not isinstance(optimizer, OptimizerSpec):
        raise TypeError("optimizer must be an OptimizerSpec, e.g. OptimizerSpec('adam', 1e-3)")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real) \
            or not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing must be a number in [0, 1), got {label_smoothing!r}")
    if patience is not None:
        patience = checks.positive_int("patience", patience)
    callbacks = _check_callbacks(callbacks)
    if strategy is not None:
        from helpers.distribute import check_strategy  # noqa: PLC0415 - TF-heavy

        check_strategy(strategy, model)
    spec = hv.as_view_spec(views, seed)
    if spec is not None and augment:
        raise ValueError("augment=True augments on the fly (naive path) and views=K trains on "
                         "stored augmented views: pass one of them, not both")
    feed = feed or ("naive" if augment else "cached")
    if feed not in ("cached", "naive"):
        raise ValueError(f"feed must be 'cached' or 'naive', got {feed!r}")
    if augment and feed == "cached":
        raise ValueError("augmentation changes the frozen part's input every epoch, so its "
                         "output cannot be cached: use feed='naive' (the default with augment=True), "
                         "or views=K for augmentation on the cached path")
    train, val = _check_data(data)
    started = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    keras.utils.set_random_seed(int(seed))
    settings = {
        "phase": phase, "epochs": epochs, "batch_size": batch_size, "optimizer": asdict(optimizer),
        "seed": int(seed), "n_unfreeze": n_unfreeze if phase == 2 else None,
        "path": feed,  # the key stays "path": a renamed key would make every saved state stale
        "augment": augment, "image_size": image_size, "preprocess": _callable_name(preprocess),
        "train": [f"{s}:{y}" for s, y in zip(train["sha256"], train["label"], strict=True)],
        "val": [f"{s}:{y}" for s, y in zip(val["sha256"], val["label"], strict=True)],
        "start_weights": weights_fingerprint(model),
    }
    # Only when set, so that runs without them keep their fingerprints (and their resume).
    if spec is not None:
        settings["views"] = spec.describe()
    if label_smoothing:
        settings["label_smoothing"] = float(label_smoothing)
    if patience is not None:
        settings["patience"] = patience
    fingerprint = _run_fingerprint(settings)
    y_train = train["label"].to_numpy("int32")
    y_val = val["label"].to_numpy("int32")
    # Models and optimizer variables made here must belong to the strategy, if any.
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        parts = prepare_phase(model, phase, n_unfreeze)
        if spec is not None:
            feeder = _view_feed(parts, feed, spec, train, val, y_train, y_val, image_size, preprocess,
                                batch_size, seed, cache_dir, progress)
        elif feed == "cached":
            feeder = _cached_feed(parts, train, val, y_train, y_val, image_size, preprocess, batch_size,
                                  cache_dir, progress, strategy)
        else:
            feeder = _naive_feed(model, train, val, image_size, preprocess, batch_size, augment, seed)
        trainable = feeder.trainable
        loss = smoothed_loss(label_smoothing) if label_smoothing else "sparse_categorical_crossentropy"
        trainable.compile(optimizer=optimizer.build(), loss=loss, metrics=["accuracy"])
        state_path = folder / "state.npz"
        done, best, rows = 0, float("inf"), []
        if resume and state_path.exists():
            meta = load_state(state_path, model, trainable.optimizer, trainable.trainable_variables,
                               fingerprint)
            done, best, rows = int(meta["epoch"]), float(meta["best_val_loss"]), meta["history"]
    resumed_from = done
    checkpoint = PhaseCheckpoint(model, folder, phase, fingerprint, rows, best)
    rows = checkpoint.rows  # the history; the checkpoint appends each epoch's row

    bar = progress_bar(total=epochs, initial=done, unit="epoch", desc=f"phase {phase}",
                       enabled=progress, leave=True, mininterval=2.0)
    with bar:
        for epoch in range(done, epochs):
            if stop_after is not None and epoch - resumed_from >= stop_after:
                break
            if patience is not None and epochs_since_best(rows) >= patience:
                break
            checkpoint.start_epoch(epoch)
            order = epoch_order(len(train), seed, phase, epoch)
            trainable.fit(**feeder.epoch_inputs(epoch, order), epochs=1, shuffle=False,
                          validation_data=feeder.val_data, verbose=0, callbacks=[checkpoint, *callbacks])
            bar.set_postfix(loss=f"{rows[-1]['loss']:.3f}", val_acc=f"{rows[-1]['val_accuracy']:.3f}",
                            refresh=False)
            bar.update(1)
    finished = len(rows) == epochs or (patience is not None and epochs_since_best(rows) >= patience)
    if finished:
        save_model(model, folder / "final.weights.h5", weights_only=True)
    settings = {k: v for k, v in settings.items() if k not in ("train", "val")}
    return TrainResult(history_frame(rows), folder, feed, resumed_from, feeder.cache,
                       time.perf_counter() - started, settings, feeder.view_cache)
