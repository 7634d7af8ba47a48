"""helpers.feature_store: sharded features written as they come, read back row by row."""

from __future__ import annotations

import io
import json
import os
import sys

import numpy as np
import pytest

from helpers import feature_store as fs
from helpers import files
from helpers.feature_store import FeatureStore, StoreError, write_store

SHAPES = [(3, 2), (4,)]
KEY = "k" * 64


def make_data(n: int, shapes=SHAPES, seed: int = 0, scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((n, *s)) * scale).astype(np.float32) for s in shapes]


def shas(n: int, tag: str = "") -> list[str]:
    return [f"{tag}{i:0{64 - len(tag)}d}" for i in range(n)]


def producer(data: list[np.ndarray], batch: int, calls: list[int] | None = None,
             fail_after: int | None = None):
    """``produce(start)`` yielding ``data`` from ``start`` in batches; it raises once
    ``fail_after`` rows were yielded (a killed extraction)."""

    def produce(start: int):
        if calls is not None:
            calls.append(start)
        for lo in range(start, len(data[0]), batch):
            if fail_after is not None and lo - start >= fail_after:
                raise RuntimeError("killed")
            yield [a[lo:lo + batch] for a in data]

    return produce


def build(folder, data, shard_rows=4, batch=3, dtype="float32", **kwargs):
    n = len(data[0])
    return write_store(folder, KEY, shas(n), SHAPES, producer(data, batch), shard_rows=shard_rows,
                       dtype=dtype, **kwargs)


def folder_bytes(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --------------------------------------------------------------------------------------
# Round trips and layout
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "shard_rows", "batch"), [(10, 4, 3), (10, 1, 4), (10, 50, 3), (12, 4, 4),
                                                        (9, 4, 9), (7, 3, 1)])
def test_round_trip_float32_is_exact(tmp_path, n, shard_rows, batch):
    data = make_data(n)
    store, found = build(tmp_path / "s", data, shard_rows=shard_rows, batch=batch)
    assert found == 0
    assert store.n_rows == n and store.shard_rows == shard_rows and store.shapes == SHAPES
    assert store.n_shards == -(-n // shard_rows)
    for got, want in zip(store.load(), data, strict=True):
        assert got.dtype == np.float32 and np.array_equal(got, want)
    shards = list(store.iter_shards())
    assert len(shards) == store.n_shards
    for j, want in enumerate(data):
        assert np.array_equal(np.concatenate([s[j] for s in shards]), want)
    for got, want in zip(store.read(np.arange(n)), data, strict=True):
        assert np.array_equal(got, want)


def test_layout_and_meta(tmp_path):
    data = make_data(10)
    store, _ = build(tmp_path, data)
    names = sorted(p.name for p in tmp_path.iterdir())
    parts = ("json", "t0.npy", "t1.npy")
    assert names == ["meta.json"] + sorted(f"shard-{s:05d}.{x}" for s in range(3) for x in parts)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta == {"version": fs.STORE_VERSION, "key": KEY, "n_rows": 10, "shapes": [[3, 2], [4]],
                    "dtype": "float32", "shard_rows": 4, "n_shards": 3, "sha256": shas(10)}
    last = np.load(tmp_path / "shard-00002.t0.npy")
    assert last.shape == (2, 3, 2) and np.array_equal(last, data[0][8:])
    info = json.loads((tmp_path / "shard-00002.json").read_text())
    assert info["first"] == 8 and info["rows"] == 2
    last_files = ("shard-00002.t0.npy", "shard-00002.t1.npy")
    assert info["files"] == {n: files.sha256_file(tmp_path / n) for n in last_files}
    assert store.nbytes == sum(os.path.getsize(tmp_path / f"shard-{s:05d}.t{j}.npy")
                               for s in range(3) for j in range(2))


def test_read_any_order_with_repeats_across_shards(tmp_path):
    data = make_data(23)
    store, _ = build(tmp_path, data, shard_rows=5, batch=7)
    rng = np.random.default_rng(1)
    rows = np.concatenate([rng.integers(0, 23, 40), [4, 5, 4, 22, 0, 9, 10]])
    for got, want in zip(store.read(rows), data, strict=True):
        assert got.shape == (len(rows), *want.shape[1:]) and np.array_equal(got, want[rows])
    assert [a.shape for a in store.read([])] == [(0, 3, 2), (0, 4)]
    assert np.array_equal(store.read([3])[1], data[1][[3]])
    assert np.array_equal(store.read(np.array([2, 1], dtype=np.uint8))[0], data[0][[2, 1]])


def test_float16_rounds_and_overflow_is_refused(tmp_path):
    data = make_data(10, scale=100.0)
    store, _ = build(tmp_path / "half", data, dtype="float16")
    assert store.dtype == "float16"
    assert np.load(tmp_path / "half" / "shard-00000.t0.npy").dtype == np.float16
    for got, want in zip(store.read(np.arange(10)[::-1]), data, strict=True):
        assert got.dtype == np.float32
        assert np.array_equal(got, want[::-1].astype(np.float16).astype(np.float32))
        np.testing.assert_allclose(got, want[::-1], rtol=2**-11)
    big = make_data(10)
    big[1][6, 2] = 7e4
    with pytest.raises(ValueError, match="float16.*dtype='float32'"):
        build(tmp_path / "big", big, dtype="float16")
    with pytest.raises(StoreError, match="meta.json"):  # nothing finished
        FeatureStore.open(tmp_path / "big", KEY, shas(10))
    store, found = build(tmp_path / "big", big, dtype="float32")  # float32 holds it
    assert found == 0 and store.read([6])[1][0, 2] == np.float32(7e4)


def test_shard_rows_for():
    assert fs.shard_rows_for([(10,)], "float32", shard_bytes=400) == 10
    assert fs.shard_rows_for([(10,)], "float16", shard_bytes=400) == 20
    assert fs.shard_rows_for([(10,), (5, 2)], "float32", shard_bytes=400) == 5
    assert fs.shard_rows_for([(1000,)], shard_bytes=10) == 1
    assert fs.shard_rows_for([(7, 7, 1280)]) == fs.DEFAULT_SHARD_BYTES // (7 * 7 * 1280 * 4)
    for bad in [dict(dtype="float64"), dict(shard_bytes=0)]:
        with pytest.raises(ValueError):
            fs.shard_rows_for([(3,)], **bad)
    for shapes in [[], [(0, 3)], None]:
        with pytest.raises(ValueError, match="shapes"):
            fs.shard_rows_for(shapes)


def test_default_shard_rows(tmp_path):
    data = make_data(5)
    store, _ = write_store(tmp_path, KEY, shas(5), SHAPES, producer(data, 2))
    assert store.shard_rows == fs.shard_rows_for(SHAPES) and store.n_shards == 1


def test_progress_callable_gets_every_row_and_true_shows_a_bar(tmp_path, capsys):
    seen: list[int] = []
    build(tmp_path / "a", make_data(10), progress=seen.append)
    assert sum(seen) == 10
    build(tmp_path / "b", make_data(10), progress=True)
    assert "10/10" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# Resume, reuse and rebuild
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fail_after", "kept"), [(0, 0), (3, 0), (4, 1), (9, 2), (10, 2)])
def test_resume_after_interruption_gives_the_same_files(tmp_path, fail_after, kept):
    n, shard_rows, batch = 11, 4, 1
    data = make_data(n)
    whole, _ = build(tmp_path / "whole", data, shard_rows=shard_rows, batch=batch)

    folder = tmp_path / "resumed"
    with pytest.raises(RuntimeError, match="killed"):
        write_store(folder, KEY, shas(n), SHAPES, producer(data, batch, fail_after=fail_after),
                    shard_rows=shard_rows)
    assert not (folder / "meta.json").exists()
    with pytest.raises(StoreError, match="did not finish"):
        FeatureStore.open(folder, KEY, shas(n))
    assert sorted(p.name for p in folder.glob("*.json")) == [f"shard-{s:05d}.json" for s in range(kept)]

    calls: list[int] = []
    store, found = write_store(folder, KEY, shas(n), SHAPES, producer(data, batch, calls),
                               shard_rows=shard_rows)
    assert found == kept and calls == [kept * shard_rows]
    assert folder_bytes(folder) == folder_bytes(tmp_path / "whole")
    for got, want in zip(store.load(), whole.load(), strict=True):
        assert np.array_equal(got, want)


def test_finished_store_is_reused_without_produce(tmp_path):
    data = make_data(10)
    build(tmp_path, data)
    calls: list[int] = []
    store, found = write_store(tmp_path, KEY, shas(10), SHAPES, producer(data, 3, calls), shard_rows=4)
    assert found == 3 and calls == [] and np.array_equal(store.load()[0], data[0])


def test_killed_between_last_shard_and_meta_writes_meta_only(tmp_path):
    data = make_data(10)
    build(tmp_path, data)
    (tmp_path / "meta.json").unlink()
    calls: list[int] = []
    store, found = write_store(tmp_path, KEY, shas(10), SHAPES, producer(data, 3, calls), shard_rows=4)
    assert found == 3 and calls == [] and FeatureStore.open(tmp_path, KEY, shas(10)).n_rows == 10


def test_corrupt_shard_is_rebuilt_from_there(tmp_path):
    data = make_data(10)
    build(tmp_path, data)
    reference = folder_bytes(tmp_path)
    path = tmp_path / "shard-00001.t1.npy"
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF
    path.write_bytes(bytes(raw))
    (tmp_path / ".shard-00002.t0.npy.0123abcd.tmp").write_bytes(b"half")  # a killed write's leftover
    calls: list[int] = []
    _, found = write_store(tmp_path, KEY, shas(10), SHAPES, producer(data, 3, calls), shard_rows=4)
    assert found == 1 and calls == [4]
    assert folder_bytes(tmp_path) == reference


@pytest.mark.parametrize("change", [dict(key="other"), dict(dtype="float16"), dict(shard_rows=3),
                                    dict(shapes=[(6,), (4,)]), dict(rows="x")])
def test_other_key_or_settings_are_rebuilt_cleanly(tmp_path, change):
    data = make_data(10)
    folder = tmp_path / "store"
    build(folder, data)
    (folder / "notes.txt").write_text("not ours")
    key, dtype = change.get("key", KEY), change.get("dtype", "float32")
    shard_rows, shapes = change.get("shard_rows", 4), change.get("shapes", SHAPES)
    rows = shas(10, change.get("rows", ""))
    new = [a.reshape(10, *s) for a, s in zip(data, shapes, strict=True)]
    calls: list[int] = []
    store, found = write_store(folder, key, rows, shapes, producer(new, 3, calls), shard_rows=shard_rows,
                               dtype=dtype)
    assert found == 0 and calls == [0]
    expected = write_store(tmp_path / "fresh", key, rows, shapes, producer(new, 3), shard_rows=shard_rows,
                           dtype=dtype)[0]
    mine = folder_bytes(folder)
    assert mine.pop("notes.txt") == b"not ours"
    assert mine == folder_bytes(expected.folder)
    assert store.shapes == [tuple(s) for s in shapes] and store.dtype == dtype


# --------------------------------------------------------------------------------------
# Stores that cannot be opened
# --------------------------------------------------------------------------------------


def test_corrupt_file_fails_verification_naming_it(tmp_path):
    data = make_data(10)
    build(tmp_path, data)
    path = tmp_path / "shard-00002.t0.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match=r"shard-00002\.t0\.npy fails its SHA-256"):
        FeatureStore.open(tmp_path, KEY, shas(10), verify=True)
    FeatureStore.open(tmp_path, KEY, shas(10), verify=False)  # same size: only the hash tells


def test_truncated_or_missing_file_fails_even_without_verify(tmp_path):
    build(tmp_path, make_data(10))
    path = tmp_path / "shard-00001.t1.npy"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(StoreError, match=r"shard-00001\.t1\.npy has .* bytes"):
        FeatureStore.open(tmp_path, KEY, shas(10), verify=False)
    path.unlink()
    with pytest.raises(StoreError, match=r"unreadable shard-00001\.t1\.npy"):
        FeatureStore.open(tmp_path, KEY, shas(10), verify=False)
    (tmp_path / "shard-00000.json").unlink()
    with pytest.raises(StoreError, match=r"shard-00000\.json is missing"):
        FeatureStore.open(tmp_path, KEY, shas(10), verify=False)


def test_unfinished_missing_other_key_other_rows(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        FeatureStore.open(tmp_path / "nowhere", KEY, shas(10))
    build(tmp_path, make_data(10))
    with pytest.raises(StoreError, match="key does not match"):
        FeatureStore.open(tmp_path, "other", shas(10))
    with pytest.raises(StoreError, match="other images"):
        FeatureStore.open(tmp_path, KEY, shas(10, "x"))
    with pytest.raises(StoreError, match="other images"):
        FeatureStore.open(tmp_path, KEY, shas(9))
    meta = json.loads((tmp_path / "meta.json").read_text())
    (tmp_path / "meta.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(StoreError, match="version 99"):
        FeatureStore.open(tmp_path, KEY, shas(10))
    (tmp_path / "meta.json").write_text("{")
    with pytest.raises(StoreError, match="unreadable"):
        FeatureStore.open(tmp_path, KEY, shas(10))
    (tmp_path / "meta.json").unlink()
    with pytest.raises(StoreError, match="no meta.json"):
        FeatureStore.open(tmp_path, KEY, shas(10))
    assert isinstance(StoreError("x"), ValueError)


# --------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(dtype="float64"), "dtype"),
    (dict(shard_rows=0), "shard_rows"),
    (dict(shard_rows=2.5), "shard_rows"),
    (dict(sha256=[]), "sha256 is empty"),
    (dict(shapes=[]), "shapes"),
    (dict(shapes=[(3, 0)]), "shapes"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    data = make_data(4)
    args = dict(key=KEY, sha256=shas(4), shapes=SHAPES, produce=producer(data, 2), shard_rows=2)
    with pytest.raises(ValueError, match=match):
        write_store(tmp_path, **{**args, **kwargs})


def test_batches_of_other_shapes_or_counts(tmp_path):
    data = make_data(6)

    def produce_with(batches):
        return lambda start: iter(batches)

    cases = [
        ([[data[0][:2], data[1][:3]]], r"tensor 1 .* shape \(3, 4\), expected \(2, 4\)"),
        ([[data[0][:2, :, :1], data[1][:2]]], r"tensor 0 .* shape \(2, 3, 1\)"),
        ([[data[0][:2]]], "list of 2 arrays"),
        ([data[0][:2]], "wrap a single tensor"),
        ([list(data), [a[:1] for a in data]],
         "more rows than the store has: 7 rows reached, len.sha256. is 6"),
        ([[a[:5] for a in data]], r"ended after 5 rows \(rows 0 to 4\); the store has 6 rows"),
        ([], "ended after 0 rows"),
    ]
    for i, (batches, match) in enumerate(cases):
        with pytest.raises(ValueError, match=match):
            write_store(tmp_path / str(i), KEY, shas(6), SHAPES, produce_with(batches), shard_rows=4)
        assert not (tmp_path / str(i) / "meta.json").exists()


def test_read_refuses_rows_out_of_range(tmp_path):
    store, _ = build(tmp_path, make_data(10))
    for rows in ([10], [0, -1], [3, 100]):
        with pytest.raises(IndexError, match="rows 0 to 9"):
            store.read(rows)
    with pytest.raises(TypeError, match="integers"):
        store.read([1.5])
    with pytest.raises(ValueError, match="1-D"):
        store.read([[1, 2]])


# --------------------------------------------------------------------------------------
# Memory: nothing stays mapped or open
# --------------------------------------------------------------------------------------


def test_read_keeps_no_memory_map_or_open_file(tmp_path):
    store, _ = build(tmp_path, make_data(40), shard_rows=8)
    store.read(np.arange(40)[::-1])
    store.load()
    list(store.iter_shards())

    def holds_files(value) -> bool:
        if isinstance(value, (np.memmap, io.IOBase)):
            return True
        if isinstance(value, (list, tuple)):
            return any(holds_files(v) for v in value)
        return False

    assert not any(holds_files(v) for v in vars(store).values())
    if sys.platform.startswith("linux"):  # the kernel's own lists of maps and open files
        maps = open("/proc/self/maps").read()
        assert str(tmp_path) not in maps
        assert not [f for f in os.listdir("/proc/self/fd")
                    if str(tmp_path) in os.path.realpath(f"/proc/self/fd/{f}")]
