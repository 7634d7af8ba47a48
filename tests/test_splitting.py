"""helpers.splitting: sizes, determinism, stratification, duplicates, CSV round trip."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import config, data, splitting
from tests.conftest import make_identity_tree, write_image


@pytest.fixture
def manifest(tmp_path):
    root = make_identity_tree(tmp_path / "t", {"a": 20, "b": 13, "c": 10})
    return data.load_folder(root).manifest


def test_split_sizes_floor_rule():
    assert splitting.split_sizes(327) == {"train": 263, "val": 32, "test": 32}
    assert splitting.split_sizes(10) == {"train": 8, "val": 1, "test": 1}
    assert splitting.split_sizes(9) == {"train": 9, "val": 0, "test": 0}
    assert splitting.split_sizes(100, (0.6, 0.2, 0.2)) == {"train": 60, "val": 20, "test": 20}


@pytest.mark.parametrize("bad", [(0.8, 0.2), (0.8, 0.1, 0.2), (1.0, 0.0, 0.0), (0.9, 0.2, -0.1)])
def test_bad_fractions(bad, manifest):
    with pytest.raises(ValueError, match="fractions"):
        splitting.split_dataset(manifest, fractions=bad)


def test_split_is_stratified_and_complete(manifest):
    split = splitting.split_dataset(manifest)
    assert len(split) == len(manifest) and split["split"].notna().all()
    counts = split.groupby(["identity", "split"]).size().unstack()[list(config.SPLIT_NAMES)]
    assert counts.to_dict("index") == {"a": {"train": 16, "val": 2, "test": 2},
                                       "b": {"train": 11, "val": 1, "test": 1},
                                       "c": {"train": 8, "val": 1, "test": 1}}
    pd.testing.assert_frame_equal(split.drop(columns="split"), manifest)  # input unchanged


def test_split_is_deterministic_and_ignores_row_order_and_file_names(manifest):
    one = splitting.split_dataset(manifest).set_index("sha256")["split"]
    shuffled = manifest.sample(frac=1, random_state=1).reset_index(drop=True)
    shuffled["relpath"] = "renamed/" + shuffled["relpath"]
    two = splitting.split_dataset(shuffled).set_index("sha256")["split"]
    pd.testing.assert_series_equal(one.sort_index(), two.sort_index())


def test_seed_changes_the_split(manifest):
    one = splitting.split_dataset(manifest, seed=1)["split"]
    two = splitting.split_dataset(manifest, seed=2)["split"]
    assert (one != two).any()
    for bad in ("1", 1.5, True):
        with pytest.raises(ValueError, match="seed"):
            splitting.split_dataset(manifest, seed=bad)


def test_duplicates_never_straddle_splits(tmp_path):
    root = make_identity_tree(tmp_path / "t", {"a": 12, "b": 12})
    for k in range(4):  # four copies of one picture in a, and the same picture in b
        write_image(root / "a" / f"dup{k}.jpg", seed=999)
    write_image(root / "b" / "dup_b.jpg", seed=999)
    manifest = data.load_folder(root).manifest
    for seed in range(20):
        split = splitting.split_dataset(manifest, seed=seed)
        assert splitting.leaking_groups(split).empty
        assert split["identity"].value_counts().to_dict() == {"a": 16, "b": 13}


def test_leaking_groups_finds_a_straddling_group(manifest):
    split = splitting.split_dataset(manifest)
    forged = split.copy()
    forged.loc[1, "sha256"] = forged.loc[0, "sha256"]
    forged.loc[[0, 1], "split"] = ["train", "test"]
    assert len(splitting.leaking_groups(forged)) == 2


def test_too_few_images_names_the_identity(tmp_path):
    manifest = data.load_folder(make_identity_tree(tmp_path / "t", {"big": 20, "tiny": 9})).manifest
    with pytest.raises(ValueError, match="tiny has 9"):
        splitting.split_dataset(manifest)


def test_split_input_errors(manifest):
    with pytest.raises(ValueError, match="sha256"):
        splitting.split_dataset(manifest.drop(columns="sha256"))
    with pytest.raises(ValueError, match="empty"):
        splitting.split_dataset(manifest.iloc[:0])


def test_split_table_totals(manifest):
    table = splitting.split_table(splitting.split_dataset(manifest))
    assert list(table.columns) == ["train", "val", "test", "total"]
    assert table.loc[("", "total")].tolist() == [35, 4, 4, 43]


def test_csv_round_trip(manifest, tmp_path):
    root = tmp_path / "t"
    split = splitting.split_dataset(manifest)
    path = splitting.save_split(split, tmp_path / "out" / "split.csv")
    assert not path.with_name("split.csv.tmp").exists()
    assert pd.read_csv(path).columns.tolist() == splitting.SPLIT_COLUMNS
    loaded = splitting.load_split(path, root)
    assert loaded["path"].tolist() == split["path"].tolist()  # relative → absolute again
    again = splitting.attach_split(manifest, loaded)
    pd.testing.assert_frame_equal(again.reset_index(drop=True), split.reset_index(drop=True))


def test_load_split_errors(manifest, tmp_path):
    root = tmp_path / "t"
    with pytest.raises(FileNotFoundError, match="run notebook 02"):
        splitting.load_split(tmp_path / "none.csv", root)
    split = splitting.split_dataset(manifest)
    path = splitting.save_split(split, tmp_path / "s.csv")
    with pytest.raises(FileNotFoundError, match="are not under"):
        splitting.load_split(path, tmp_path / "elsewhere")
    pd.read_csv(path).drop(columns="split").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="missing column"):
        splitting.load_split(tmp_path / "bad.csv", root)
    frame = pd.read_csv(path)
    frame.loc[0, "split"] = "holdout"
    frame.to_csv(tmp_path / "odd.csv", index=False)
    with pytest.raises(ValueError, match="holdout"):
        splitting.load_split(tmp_path / "odd.csv", root)
    with pytest.raises(ValueError, match="lacks column"):
        splitting.save_split(split.drop(columns="split"), tmp_path / "x.csv")


def test_attach_split_detects_changed_data(manifest, tmp_path):
    saved = splitting.load_split(
        splitting.save_split(splitting.split_dataset(manifest), tmp_path / "s.csv"), tmp_path / "t")
    changed = manifest.copy()
    changed.loc[3, "sha256"] = "0" * 64
    with pytest.raises(ValueError, match="changed since the split was saved"):
        splitting.attach_split(changed, saved)
    with pytest.raises(ValueError, match="not in the saved split"):
        splitting.attach_split(manifest, saved.iloc[1:])
