"""A sharded, streaming on-disk feature store: features of many images, never all in memory.

A store is one folder of *shards*, each holding the features of ``shard_rows`` consecutive
rows (images), one ``.npy`` per boundary tensor::

    shard-00000.t0.npy   shape (rows_in_shard, *shapes[0]), dtype float32 or float16
    shard-00000.t1.npy   ...one file per tensor
    shard-00000.json     first row, row count, SHA-256 of the shard's files, rows' digest
    meta.json            version, key, n_rows, shapes, dtype, shard_rows, n_shards, sha256

:func:`write_store` writes each shard as soon as its rows are extracted, so memory holds
one shard plus one batch; an interrupted build resumes at its first missing shard.
``meta.json`` is written last: a folder without it is an unfinished build.
:meth:`FeatureStore.read` reads any rows back at their byte offsets, with memory
proportional to the rows asked for, never to the store's size.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from helpers import files
from helpers.progress import progress_bar

#: Bumped when the layout changes (stores of another version are rebuilt).
STORE_VERSION = 1
#: Target bytes of one shard (all tensors of its rows): large enough that a store of
#: 100,000 images has a few hundred files, small enough to hold one in memory while writing.
DEFAULT_SHARD_BYTES: int = 64 * 2**20
#: Storage dtypes: float32 is exact; float16 halves the files (about 3 significant digits).
STORE_DTYPES = ("float32", "float16")

_META = "meta.json"


class StoreError(ValueError):
    """A store folder that cannot be used; ``str()`` is the reason."""


# --------------------------------------------------------------------------------------
# Names, sizes and checks
# --------------------------------------------------------------------------------------


def _array_name(shard: int, tensor: int) -> str:
    return f"shard-{int(shard):05d}.t{int(tensor)}.npy"


def _shard_json_name(shard: int) -> str:
    return f"shard-{int(shard):05d}.json"


def _shard_index(name: str) -> int | None:
    """The shard number in a store file's name, ``None`` for other files."""
    if not name.startswith("shard-"):
        return None
    digits = name[len("shard-"):].split(".", 1)[0]
    return int(digits) if digits.isdigit() else None


def _check_dtype(dtype: str) -> str:
    if str(dtype) not in STORE_DTYPES:
        raise ValueError(f"dtype must be one of {STORE_DTYPES}, got {dtype!r}")
    return str(dtype)


def _check_shapes(shapes: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
    try:
        checked = [tuple(int(d) for d in shape) for shape in shapes]
    except TypeError as exc:
        raise ValueError(f"shapes must be a list of tensor shapes without the batch axis, e.g. "
                         f"[(7, 7, 1280)], got {shapes!r}") from exc
    if not checked or any(d < 1 for shape in checked for d in shape):
        raise ValueError(f"shapes must be a non-empty list of shapes with positive sizes "
                         f"(without the batch axis), got {shapes!r}")
    return checked


def _row_bytes(shape: Sequence[int], dtype: str) -> int:
    return math.prod(shape) * np.dtype(dtype).itemsize


def shard_rows_for(shapes: Sequence[Sequence[int]], dtype: str = "float32",
                   shard_bytes: int = DEFAULT_SHARD_BYTES) -> int:
    """Rows per shard so that one shard (all its tensors) holds about ``shard_bytes``.

    Parameters
    ----------
    shapes : the shapes of the stored tensors, without the batch axis.
    dtype : the storage dtype, one of :data:`STORE_DTYPES`.
    shard_bytes : the target size of one shard in bytes (positive).

    Returns
    -------
    int
        At least 1 (a row larger than ``shard_bytes`` gets a shard of its own).
    """
    shapes, dtype = _check_shapes(shapes), _check_dtype(dtype)
    if int(shard_bytes) < 1:
        raise ValueError(f"shard_bytes must be positive, got {shard_bytes}")
    row = sum(_row_bytes(shape, dtype) for shape in shapes)
    return max(1, int(shard_bytes) // row)


def _rows_digest(sha256: Sequence[str]) -> str:
    """One SHA-256 of a run of rows' image hashes."""
    return hashlib.sha256("\n".join(sha256).encode()).hexdigest()


def _build_id(key: str, sha256: Sequence[str], shapes: Sequence[tuple[int, ...]], dtype: str,
              shard_rows: int) -> str:
    """What a shard belongs to: a shard of another build id is never kept or read."""
    payload = {"version": STORE_VERSION, "key": key, "rows": _rows_digest(sha256),
               "shapes": [list(s) for s in shapes], "dtype": dtype, "shard_rows": int(shard_rows)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _rows_in_shard(shard: int, n_rows: int, shard_rows: int) -> int:
    return min(shard_rows, n_rows - shard * shard_rows)


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset (header length) of an ``.npy`` file."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        if fortran:
            raise ValueError("Fortran-ordered array")
        return tuple(shape), np.dtype(dtype), handle.tell()


def _check_shard(folder: Path, shard: int, build: str, n_rows: int, shard_rows: int,
                 sha256: Sequence[str], shapes: Sequence[tuple[int, ...]], dtype: str,
                 verify: bool) -> tuple[list[int] | None, str]:
    """The data offsets of a whole shard's files, or ``None`` and why the shard is unusable.

    Cheap checks always (its json, the files' headers and sizes); ``verify`` also
    re-hashes every file against the SHA-256 its json recorded.
    """
    name = _shard_json_name(shard)
    try:
        info = json.loads((folder / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{name} is missing (a build that did not finish)"
    except Exception as exc:  # noqa: BLE001 - any unreadable file makes the shard unusable
        return None, f"unreadable {name} ({type(exc).__name__}: {exc})"
    first, rows = shard * shard_rows, _rows_in_shard(shard, n_rows, shard_rows)
    if not isinstance(info, dict) or info.get("build") != build:
        return None, f"{name} belongs to another build (other key, rows or settings)"
    if info.get("first") != first or info.get("rows") != rows:
        return None, f"{name} holds rows {info.get('first')}+{info.get('rows')}, not {first}+{rows}"
    if info.get("rows_digest") != _rows_digest(sha256[first:first + rows]):
        return None, f"{name} holds other images"
    offsets = []
    for j, shape in enumerate(shapes):
        array = _array_name(shard, j)
        path = folder / array
        try:
            got_shape, got_dtype, offset = _npy_header(path)
            size = os.path.getsize(path)
        except Exception as exc:  # noqa: BLE001 - a missing or unreadable file: unusable
            return None, f"unreadable {array} ({type(exc).__name__}: {exc})"
        if got_shape != (rows, *shape) or got_dtype != np.dtype(dtype):
            return None, f"{array} holds {got_dtype} {got_shape}, not {dtype} {(rows, *shape)}"
        expected = offset + rows * _row_bytes(shape, dtype)
        if size != expected:
            return None, f"{array} has {size} bytes, not {expected} (truncated?)"
        if verify and files.sha256_file(path) != info.get("files", {}).get(array):
            return None, f"{array} fails its SHA-256 check (corrupt or truncated)"
        offsets.append(offset)
    return offsets, ""


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


@dataclass
class FeatureStore:
    """A finished feature store (read-only); make one with :meth:`open` or :func:`write_store`.

    Rows are images, in the order of the ``sha256`` list the store was written for; every
    row has one array per tensor, of shape ``shapes[j]``. Reads return float32 whatever
    the storage ``dtype``. No file stays open between calls.
    """

    folder: Path
    key: str
    n_rows: int
    shapes: list[tuple[int, ...]]
    dtype: str
    shard_rows: int
    #: ``_offsets[shard][tensor]``: where the rows start in that ``.npy`` (its header length).
    _offsets: list[list[int]] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def open(cls, folder: str | os.PathLike[str], key: str, sha256: Sequence[str],
             verify: bool = True) -> FeatureStore:
        """Open the finished store in ``folder`` written for ``key`` and rows ``sha256``.

        Parameters
        ----------
        folder : the store's folder.
        key : what the features depend on (weights, preprocessing, ...), as given to
            :func:`write_store`.
        sha256 : the rows' image hashes, in row order.
        verify : re-hash every file against the SHA-256 recorded when it was written
            (reads the whole store once); without it only sizes and headers are checked.

        Raises
        ------
        StoreError
            With the reason: missing, unfinished, another key or other rows, corrupt.
            :func:`write_store` rebuilds or finishes such a folder.
        """
        folder = Path(folder)
        sha256 = [str(s) for s in sha256]
        if not folder.is_dir():
            raise StoreError(f"{folder} does not exist: build the store with write_store")
        try:
            meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(f"{folder} has no {_META} (a build that did not finish): "
                             "call write_store to finish it") from None
        except Exception as exc:  # noqa: BLE001 - any unreadable meta is a reason
            raise StoreError(f"unreadable {folder / _META} ({type(exc).__name__}: {exc}): "
                             "rebuild it with write_store") from None
        if not isinstance(meta, dict) or meta.get("version") != STORE_VERSION:
            version = meta.get("version") if isinstance(meta, dict) else None
            raise StoreError(f"{folder} is a store of version {version}, this code reads version "
                             f"{STORE_VERSION}: rebuild it with write_store")
        if meta.get("key") != key:
            raise StoreError(f"{folder}: its key does not match (other images, weights or settings)")
        if meta.get("n_rows") != len(sha256) or meta.get("sha256") != sha256:
            raise StoreError(f"{folder}: its rows are other images ({meta.get('n_rows')} rows stored, "
                             f"{len(sha256)} asked for)")
        try:
            shapes = _check_shapes(meta["shapes"])
            dtype = _check_dtype(meta["dtype"])
            shard_rows = int(meta["shard_rows"])
            if shard_rows < 1 or meta["n_shards"] != -(-len(sha256) // shard_rows):
                raise ValueError(f"shard_rows {shard_rows} and n_shards {meta['n_shards']} disagree")
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{folder / _META} is malformed ({type(exc).__name__}: {exc}): "
                             "rebuild it with write_store") from None
        build = _build_id(key, sha256, shapes, dtype, shard_rows)
        offsets = []
        for shard in range(meta["n_shards"]):
            found, reason = _check_shard(folder, shard, build, len(sha256), shard_rows, sha256,
                                         shapes, dtype, verify)
            if found is None:
                raise StoreError(f"{folder}: {reason}; rebuild it with write_store")
            offsets.append(found)
        return cls(folder=folder, key=key, n_rows=len(sha256), shapes=shapes, dtype=dtype,
                   shard_rows=shard_rows, _offsets=offsets)

    @property
    def n_shards(self) -> int:
        return -(-self.n_rows // self.shard_rows)

    @property
    def nbytes(self) -> int:
        """Bytes on disk of the feature files (``.npy`` headers included, json left out)."""
        return sum(os.path.getsize(self.folder / _array_name(s, j))
                   for s in range(self.n_shards) for j in range(len(self.shapes)))

    def _rows_of(self, shard: int) -> int:
        return _rows_in_shard(shard, self.n_rows, self.shard_rows)

    def read(self, rows: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        """The features of ``rows`` (any order, repeats allowed), one float32 array per tensor.

        Each array has shape ``(len(rows), *shape)``. Rows are read at their byte offsets
        through short-lived file handles (no memory maps, whose touched pages would stay in
        the process's memory), so memory grows with ``len(rows)`` only.

        Raises
        ------
        IndexError
            A row outside ``[0, n_rows)``.
        """
        rows = np.asarray(rows)
        if rows.ndim != 1:
            raise ValueError(f"rows must be a 1-D list of row numbers, got shape {rows.shape}")
        raw = [np.empty((len(rows), *shape), dtype=self.dtype) for shape in self.shapes]
        if len(rows):
            if rows.dtype.kind not in "iu":
                raise TypeError(f"rows must be integers, got {rows.dtype}")
            bad = rows[(rows < 0) | (rows >= self.n_rows)]
            if len(bad):
                raise IndexError(f"row {int(bad[0])} is out of range: the store has rows 0 to "
                                 f"{self.n_rows - 1}")
            # Sorted, so each shard's file is opened once per call and read front to back.
            order = np.argsort(rows, kind="stable")
            shards = rows[order] // self.shard_rows
            cuts = np.flatnonzero(np.diff(shards)) + 1
            for group in np.split(order, cuts):
                shard = int(rows[group[0]] // self.shard_rows)
                first = shard * self.shard_rows
                for j, shape in enumerate(self.shapes):
                    self._read_rows(shard, j, rows[group] - first, raw[j], group,
                                    _row_bytes(shape, self.dtype))
        return [a if a.dtype == np.float32 else a.astype(np.float32) for a in raw]

    def _read_rows(self, shard: int, tensor: int, local: np.ndarray, out: np.ndarray,
                   positions: np.ndarray, row_bytes: int) -> None:
        """Read rows ``local`` of one shard's file into ``out[positions]``."""
        name = _array_name(shard, tensor)
        offset = self._offsets[shard][tensor]
        with open(self.folder / name, "rb", buffering=0) as handle:
            for row, position in zip(local.tolist(), positions.tolist(), strict=True):
                handle.seek(offset + row * row_bytes)
                target = memoryview(out[position]).cast("B")
                if handle.readinto(target) != row_bytes:
                    raise StoreError(f"{self.folder / name} is shorter than its header says "
                                     "(truncated): rebuild the store with write_store")

    def iter_shards(self) -> Iterator[list[np.ndarray]]:
        """Every shard in row order, as one float32 array per tensor (one shard in memory)."""
        for shard in range(self.n_shards):
            yield [np.load(self.folder / _array_name(shard, j), allow_pickle=False).astype(
                       np.float32, copy=False) for j in range(len(self.shapes))]

    def load(self) -> list[np.ndarray]:
        """Every row in memory, one float32 array per tensor (for data that fits)."""
        out = [np.empty((self.n_rows, *shape), dtype=np.float32) for shape in self.shapes]
        start = 0
        for arrays in self.iter_shards():
            stop = start + len(arrays[0])
            for target, array in zip(out, arrays, strict=True):
                target[start:stop] = array
            start = stop
        return out


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


class _HashingWriter:
    """A write-only file wrapper that hashes what goes through it (no re-reading)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.handle.write(data)


def _write_array(path: Path, array: np.ndarray) -> str:
    """Write ``array`` as an ``.npy`` atomically; return the file's SHA-256."""
    writer: list[_HashingWriter] = []

    def write(handle: BinaryIO) -> None:
        writer.append(_HashingWriter(handle))
        np.lib.format.write_array(writer[0], array, allow_pickle=False)

    # sync=False: fsync per shard would slow the build to the disk's flush rate, and a file
    # lost to a power cut fails its SHA-256 on the next resume (or open with verify) and is
    # rebuilt. A killed process still cannot leave half a file (atomic rename).
    files.write_atomically(path, write, sync=False)
    return writer[0].digest.hexdigest()


def _remove_store_files(folder: Path, from_shard: int = 0) -> None:
    """Remove ``meta.json`` and the shards from ``from_shard`` on; other files are kept."""
    (folder / _META).unlink(missing_ok=True)
    for path in folder.iterdir():
        index = _shard_index(path.name)
        if index is not None and index >= from_shard:
            path.unlink()


def _remove_temporary_files(folder: Path) -> None:
    """Temporary files of a killed build (``files.atomic_path`` names them ``.<stem>.<hex>.tmp*``)."""
    for pattern in (".shard-*.tmp*", ".meta.*.tmp*"):
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)


def _finished(folder: Path, key: str, sha256: Sequence[str], shapes: Sequence[tuple[int, ...]],
              dtype: str, shard_rows: int) -> FeatureStore | None:
    """The finished store in ``folder`` if it has these settings and passes its checksums."""
    if not (folder / _META).exists():
        return None
    try:
        store = FeatureStore.open(folder, key, sha256, verify=True)
    except StoreError:
        return None
    same = store.shapes == list(shapes) and store.dtype == dtype and store.shard_rows == shard_rows
    return store if same else None


def _make_progress(progress: bool | Callable[[int], Any] | None, total: int,
                   initial: int) -> tuple[Callable[[int], Any], Callable[[], None]]:
    """``(update, close)``: a bar for ``True``, the caller's callable, or nothing."""
    if callable(progress):
        return progress, lambda: None
    if progress:
        bar = progress_bar(total=total, initial=initial, unit="row", desc="features",
                           mininterval=10.0)  # a notebook saves every update
        return bar.update, bar.close
    return lambda _n: None, lambda: None


def write_store(
    folder: str | os.PathLike[str],
    key: str,
    sha256: Sequence[str],
    shapes: Sequence[Sequence[int]],
    produce: Callable[[int], Iterable[Sequence[np.ndarray]]],
    shard_rows: int | None = None,
    dtype: str = "float32",
    progress: bool | Callable[[int], Any] | None = None,
) -> tuple[FeatureStore, int]:
    """Build, finish or reuse the store of ``len(sha256)`` rows in ``folder``.

    Parameters
    ----------
    folder : the store's folder (created; its store files are replaced when they are of
        another key or settings, other files in it are left alone).
    key : what the features depend on besides the images (weights, preprocessing, ...).
    sha256 : the rows' image hashes, in row order (non-empty).
    shapes : each tensor's shape without the batch axis.
    produce : ``produce(start_row)`` yields batches for rows ``start_row, start_row + 1, ...``
        up to ``len(sha256)``, in order: each a list of arrays, one per tensor, of shape
        ``(b, *shapes[j])``. Batch sizes need not divide ``shard_rows``.
    shard_rows : rows per shard; ``None`` takes :func:`shard_rows_for` (about
        :data:`DEFAULT_SHARD_BYTES` per shard).
    dtype : storage dtype, one of :data:`STORE_DTYPES`; float16 values must stay finite.
    progress : ``True`` shows a bar in rows; a callable is called with each batch's row count.

    Returns
    -------
    (FeatureStore, int)
        The opened store, and how many shards were found already written (kept from an
        interrupted build, or all of a finished one; 0 for a fresh build). ``produce`` is
        called once, with the first row of the first missing shard, or not at all.

    Raises
    ------
    ValueError
        Bad arguments, a batch of other shapes, too many or too few rows from ``produce``,
        values beyond float16's range.

    Notes
    -----
    Each shard is written (atomically) as soon as it is full, so memory holds one shard
    plus one batch. ``meta.json`` is written last. Kept shards (and a finished store, when
    reused) are first re-hashed against their recorded SHA-256s, which reads them once.
    Two processes must not build the same folder at once.
    """
    folder = Path(folder)
    sha256 = [str(s) for s in sha256]
    shapes, dtype = _check_shapes(shapes), _check_dtype(dtype)
    if not sha256:
        raise ValueError("sha256 is empty: a store needs at least one row")
    if shard_rows is None:
        shard_rows = shard_rows_for(shapes, dtype)
    elif isinstance(shard_rows, bool) or int(shard_rows) != shard_rows or shard_rows < 1:
        raise ValueError(f"shard_rows must be a positive integer (or None), got {shard_rows!r}")
    shard_rows, n_rows = int(shard_rows), len(sha256)
    n_shards = -(-n_rows // shard_rows)

    folder.mkdir(parents=True, exist_ok=True)
    _remove_temporary_files(folder)
    store = _finished(folder, key, sha256, shapes, dtype, shard_rows)
    if store is not None:
        return store, store.n_shards
    # Unfinished from here on, before any shard changes: a half-rebuilt folder never looks done.
    (folder / _META).unlink(missing_ok=True)
    build = _build_id(key, sha256, shapes, dtype, shard_rows)
    kept = 0
    while kept < n_shards and _check_shard(folder, kept, build, n_rows, shard_rows, sha256, shapes,
                                           dtype, verify=True)[0] is not None:
        kept += 1
    _remove_store_files(folder, from_shard=kept)  # all of them for another key or settings

    start = kept * shard_rows
    if start < n_rows:
        update, close = _make_progress(progress, n_rows, start)
        try:
            _write_shards(folder, build, sha256, shapes, dtype, shard_rows, produce, kept, update)
        finally:
            close()
    meta = {"version": STORE_VERSION, "key": key, "n_rows": n_rows, "shapes": [list(s) for s in shapes],
            "dtype": dtype, "shard_rows": shard_rows, "n_shards": n_shards, "sha256": sha256}
    files.write_text_atomically(folder / _META, json.dumps(meta, sort_keys=True))
    return FeatureStore.open(folder, key, sha256, verify=False), kept


def _write_shards(folder: Path, build: str, sha256: Sequence[str], shapes: Sequence[tuple[int, ...]],
                  dtype: str, shard_rows: int, produce: Callable[[int], Iterable[Sequence[np.ndarray]]],
                  first_shard: int, update: Callable[[int], Any]) -> None:
    """Fill and write shards ``first_shard, ...`` from ``produce(first row)``'s batches."""
    n_rows = len(sha256)
    start = first_shard * shard_rows
    shard, done = first_shard, start  # done: rows received so far
    fill = 0  # rows of the current shard's buffer already filled
    buffers = [np.empty((_rows_in_shard(shard, n_rows, shard_rows), *s), dtype=dtype) for s in shapes]

    for batch in produce(start):
        if isinstance(batch, np.ndarray) or len(batch) != len(shapes):
            got = "an array" if isinstance(batch, np.ndarray) else f"{len(batch)} arrays"
            raise ValueError(f"produce must yield a list of {len(shapes)} arrays (one per tensor), "
                             f"got {got}: wrap a single tensor's batch as [array]")
        arrays = [np.asarray(a) for a in batch]
        b = len(arrays[0]) if arrays[0].ndim else -1
        for j, (array, shape) in enumerate(zip(arrays, shapes, strict=True)):
            if array.shape != (b, *shape):
                raise ValueError(f"tensor {j} of the batch for rows from {done} has shape {array.shape}, "
                                 f"expected ({b}, {', '.join(map(str, shape))}) like the store's shapes "
                                 f"and the batch's other tensors")
        if done + b > n_rows:
            raise ValueError(f"produce({start}) yielded more rows than the store has: {done + b} rows "
                             f"reached, len(sha256) is {n_rows}")
        taken = 0
        while taken < b:
            take = min(b - taken, len(buffers[0]) - fill)
            for buffer, array in zip(buffers, arrays, strict=True):
                with np.errstate(over="ignore"):  # checked just below, with a clearer message
                    buffer[fill:fill + take] = array[taken:taken + take]
                if dtype == "float16" and not np.isfinite(buffer[fill:fill + take]).all():
                    raise ValueError(f"features of rows {done + taken} to {done + taken + take - 1} do not "
                                     f"fit float16 (beyond ±65504 or not finite): use dtype='float32'")
            fill, taken = fill + take, taken + take
            if fill == len(buffers[0]):
                _write_shard(folder, shard, build, sha256, shard_rows, buffers)
                shard, fill = shard + 1, 0
                if shard * shard_rows < n_rows:
                    rows = _rows_in_shard(shard, n_rows, shard_rows)
                    if rows != len(buffers[0]):  # the last, shorter shard
                        buffers = [np.empty((rows, *s), dtype=dtype) for s in shapes]
        done += b
        update(b)
    if done != n_rows:
        raise ValueError(f"produce({start}) ended after {done - start} rows (rows {start} to {done - 1}); "
                         f"the store has {n_rows} rows (len(sha256)), so {n_rows - done} are missing")


def _write_shard(folder: Path, shard: int, build: str, sha256: Sequence[str], shard_rows: int,
                 arrays: Sequence[np.ndarray]) -> None:
    """Write one shard's arrays, then its json (so a shard with a json is whole)."""
    first, rows = shard * shard_rows, len(arrays[0])
    hashes = {_array_name(shard, j): _write_array(folder / _array_name(shard, j), array)
              for j, array in enumerate(arrays)}
    info = {"version": STORE_VERSION, "build": build, "shard": shard, "first": first, "rows": rows,
            "rows_digest": _rows_digest(sha256[first:first + rows]), "files": hashes}
    files.write_text_atomically(folder / _shard_json_name(shard), json.dumps(info, sort_keys=True),
                                sync=False)
