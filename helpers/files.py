"""Writing files atomically: the one way every helper writes caches, checkpoints and metrics.

A file is written under a temporary name in its own folder and renamed into place
(``os.replace``, atomic on POSIX and Windows): a reader never sees half a file, a writer
killed mid-way leaves only a temporary file (removed when Python gets the chance), and
concurrent writers leave one whole file. The temporary name keeps the target's suffix
because Keras chooses its format from it (``.keras``, ``.weights.h5``).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

#: Suffixes kept at the end of temporary names (longest first).
_KEPT_SUFFIXES: tuple[str, ...] = (".weights.h5", ".keras", ".npz", ".json", ".csv")


def _temporary_name(path: Path) -> str:
    suffix = next((s for s in _KEPT_SUFFIXES if path.name.endswith(s)), "")
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    return f".{stem}.{uuid.uuid4().hex}.tmp{suffix}"


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, rename it to ``path``.

    The parent folder is created. On an exception the temporary file is removed and
    ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(_temporary_name(target))
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_atomically(
    path: str | os.PathLike[str], write: Callable[[BinaryIO], None], sync: bool = True
) -> Path:
    """Write ``path`` through ``write(handle)`` (a binary file handle), atomically.

    ``sync`` flushes the data to the disk before the rename (against power loss); a killed
    process cannot leave half a file either way.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        if sync:
            os.fsync(handle.fileno())
    return Path(path)


def write_text_atomically(path: str | os.PathLike[str], text: str, sync: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomically(path, lambda handle: handle.write(text.encode("utf-8")), sync=sync)


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in 4 MiB chunks (never whole into memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()
