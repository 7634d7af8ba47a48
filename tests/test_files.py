"""helpers.files: atomic writes leave either the old file or the new one, never a part."""

from __future__ import annotations

import pytest

from helpers import files


def test_write_text_atomically_creates_folders_and_leaves_no_temporary_file(tmp_path):
    path = files.write_text_atomically(tmp_path / "a" / "b" / "metrics.json", "{}\n")
    assert path.read_text() == "{}\n"
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # not private, unlike mkstemp's files


def test_failed_write_keeps_the_old_file(tmp_path):
    path = files.write_text_atomically(tmp_path / "state.npz", "old")

    def fail(handle):
        handle.write(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        files.write_atomically(path, fail, sync=False)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.npz"]


@pytest.mark.parametrize(("name", "suffix"), [("best.keras", ".keras"), ("final.weights.h5", ".weights.h5"),
                                              ("history.csv", ".csv"), ("README", "")])
def test_temporary_names_keep_the_suffix_keras_needs(tmp_path, name, suffix):
    with files.atomic_path(tmp_path / name) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.name.endswith(suffix)
        assert tmp.name != name
        tmp.write_text("x")
    assert (tmp_path / name).read_text() == "x"


def test_sha256_file_reads_in_chunks(tmp_path):
    import hashlib

    data = bytes(range(256)) * 1000
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert files.sha256_file(path, chunk_size=1000) == hashlib.sha256(data).hexdigest()
    assert files.sha256_file(path) == hashlib.sha256(data).hexdigest()
