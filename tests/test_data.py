"""helpers.data on tiny generated images: every loader and every bad-input case."""

from __future__ import annotations

import warnings
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pandas as pd
import pytest

from helpers import config, data
from tests.conftest import make_identity_tree, write_image

# --- single files ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_inspect_image_accepts_jpeg_modes(tmp_path, mode):
    facts = data.inspect_image(write_image(tmp_path / "a.jpg", mode, size=(12, 10)))
    assert (facts["width"], facts["height"], facts["mode"], facts["format"]) == (12, 10, mode, "JPEG")
    assert len(facts["sha256"]) == 64 and facts["bytes"] > 0


@pytest.mark.parametrize("mode", ["RGBA", "P", "L"])
def test_inspect_image_accepts_png_modes(tmp_path, mode):
    facts = data.inspect_image(write_image(tmp_path / "a.png", mode))
    assert facts["mode"] == mode and facts["format"] == "PNG"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("zero.jpg", b"", "empty file"),
        ("text.jpg", b"hello, not a jpeg", "not an image"),
        ("data.txt", b"whatever", "extension '.txt'"),
        ("noext", b"whatever", "extension '(none)'"),
    ],
)
def test_inspect_image_rejects_bad_files(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        data.inspect_image(path)


def test_inspect_image_rejects_truncated_jpeg(tmp_path):
    full = write_image(tmp_path / "full.jpg", size=(64, 64)).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(ValueError, match="truncated"):
        data.inspect_image(cut)


def test_inspect_image_rejects_other_formats(tmp_path):
    gif = write_image(tmp_path / "a.png", fmt="GIF")
    with pytest.raises(ValueError, match="format GIF is not JPEG or PNG"):
        data.inspect_image(gif)


@pytest.mark.parametrize(("mode", "suffix"), [("RGB", ".jpg"), ("L", ".jpg"), ("CMYK", ".jpg"),
                                              ("RGBA", ".png"), ("P", ".png")])
def test_read_rgb_always_gives_three_channels(tmp_path, mode, suffix):
    arr = data.read_rgb(write_image(tmp_path / f"a{suffix}", mode, size=(12, 10)))
    assert arr.shape == (10, 12, 3) and arr.dtype == np.uint8


# --- load_folder and the bad-input tree ---------------------------------------------------


def test_load_folder_keeps_usable_images_and_lists_every_skip(bad_input_tree):
    with pytest.warns(data.SkippedFilesWarning, match="skipped"):
        manifest, skipped, root = data.load_folder(bad_input_tree)
    assert root == bad_input_tree.resolve()
    assert list(manifest.columns) == data.MANIFEST_COLUMNS
    assert sorted(manifest["relpath"]) == [
        "alice/cmyk.jpg", "alice/gray.jpg", "alice/palette.png", "alice/rgb.jpg",
        "alice/rgba.png", "alice/upper.JPEG", "bob/full.jpg", "bob/ok.jpg",
    ]
    reasons = {Path(p).name: r for p, r in zip(skipped["path"], skipped["reason"])}
    assert reasons["zero.jpg"] == "empty file (0 bytes)"
    assert reasons["truncated.jpg"].startswith("corrupt or truncated image")
    assert reasons["notes.jpg"] == "not an image (content not recognised)"
    assert reasons["readme.txt"].startswith("extension '.txt'")
    assert reasons["anim.png"] == "format GIF is not JPEG or PNG"
    assert reasons[".DS_Store"] == "hidden file"
    assert reasons[".ipynb_checkpoints"] == "hidden folder"
    assert reasons["carol"] == "identity folder has no usable image"
    assert reasons["stray.jpg"] == "file outside an identity folder"
    assert len(skipped) == 10  # each of the above once, the two hidden folders included
    # Modes are kept as facts; labels cover identities with images only, in sorted order.
    assert set(manifest["mode"]) == {"RGB", "L", "CMYK", "RGBA", "P"}
    assert manifest.groupby("identity")["label"].first().to_dict() == {"alice": 0, "bob": 1}


def test_load_folder_errors(tmp_path):
    with pytest.raises(data.DataNotFoundError, match="not found"):
        data.load_folder(tmp_path / "missing")
    (tmp_path / "empty" / "someone").mkdir(parents=True)
    with pytest.raises(data.DataNotFoundError, match="no usable image"), warnings.catch_warnings():
        warnings.simplefilter("ignore", data.SkippedFilesWarning)
        data.load_folder(tmp_path / "empty")


def test_load_folder_clean_tree_warns_nothing(tmp_path):
    make_identity_tree(tmp_path / "t", {"b": 2, "a": 3})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        manifest, skipped, _ = data.load_folder(tmp_path / "t")
    assert skipped.empty and list(skipped.columns) == data.SKIPPED_COLUMNS
    assert manifest["identity"].tolist() == ["a"] * 3 + ["b"] * 2
    assert manifest["label"].tolist() == [0, 0, 0, 1, 1]
    assert (manifest["name"] == manifest["identity"]).all()


def test_build_manifest_ignores_input_order(tmp_path):
    make_identity_tree(tmp_path / "t", {"a": 3, "b": 3})
    rows = [{"path": str(p), "identity": p.parent.name, **data.inspect_image(p)}
            for p in sorted((tmp_path / "t").rglob("*.jpg"))]
    one = data.build_manifest(rows, tmp_path / "t")
    two = data.build_manifest(rows[::-1], tmp_path / "t")
    pd.testing.assert_frame_equal(one, two)


# --- VGGFace2 --------------------------------------------------------------------------


def test_vggface2_identity():
    assert data.vggface2_identity(51) == "n000051"
    for bad in (-1, "51", 5.0, True):
        with pytest.raises(ValueError, match="class id"):
            data.vggface2_identity(bad)


def test_read_identity_meta_with_and_without_header(tmp_path):
    body = 'n000051," ""Adam_Gilchrist""",327,1, m\nn000052," ""Adam_Housley""",212,1, m\n'
    (tmp_path / "plain.csv").write_text(body)
    (tmp_path / "header.csv").write_text("Class_ID, Name, Sample_Num, Flag, Gender\n" + body)
    (tmp_path / "official.csv").write_text(
        'Class_ID, Name, Sample_Num, Flag, Gender\nn000051, "Adam_Gilchrist", 327, 1, m\n'
        'n000052, "Adam_Housley", 212, 1, m\n')
    for name in ("plain.csv", "header.csv", "official.csv"):
        meta = data.read_identity_meta(tmp_path / name)
        assert meta["identity"].tolist() == ["n000051", "n000052"], name
        assert meta["name"].tolist() == ["Adam_Gilchrist", "Adam_Housley"], name
        assert meta["sample_num"].tolist() == [327, 212], name
        assert meta["gender"].tolist() == ["m", "m"], name


def test_read_identity_meta_errors(tmp_path):
    with pytest.raises(data.DataNotFoundError, match="metadata not found"):
        data.read_identity_meta(tmp_path / "nope.csv")
    (tmp_path / "bad.csv").write_text("hello,world\n")
    with pytest.raises(ValueError, match="bad.csv:1: not a VGGFace2 metadata line"):
        data.read_identity_meta(tmp_path / "bad.csv")


def test_load_vggface2_reads_train_and_test_subsets(vggface2_root):
    manifest, skipped, root = data.load_vggface2(vggface2_root, class_ids=(3, 1, 2))
    assert skipped.empty
    table = data.identity_table(manifest)
    assert table.to_dict("list") == {
        "label": [0, 1, 2], "identity": ["n000001", "n000002", "n000003"],
        "name": ["Ann_One", "Bob_Two", "Cy_Three"], "images": [12, 11, 10]}
    assert manifest.loc[manifest["identity"] == "n000003", "relpath"].str.startswith("test/").all()


@pytest.mark.parametrize(
    ("ids", "message"),
    [((1, 9), r"class id 9 \(n000009\) is not in"),
     ((1, 4), r"class id 4 \(n000004\) has no folder"),
     ((), "class_ids is empty"),
     ((1, 1), "duplicates")],
)
def test_load_vggface2_errors(vggface2_root, ids, message):
    with pytest.raises(ValueError, match=message):
        data.load_vggface2(vggface2_root, class_ids=ids)


def test_load_vggface2_empty_folder_and_missing_root(vggface2_root, tmp_path):
    (vggface2_root / "train" / "n000004").mkdir()
    with pytest.raises(ValueError, match=r"class id 4 \(n000004\) has no usable image"):
        data.load_vggface2(vggface2_root, class_ids=(1, 4))
    with pytest.raises(data.DataNotFoundError, match="VGGFace2 folder not found"):
        data.load_vggface2(tmp_path / "absent")


def test_load_vggface2_lists_bad_files(vggface2_root):
    (vggface2_root / "train" / "n000001" / "broken.jpg").write_bytes(b"")
    with pytest.warns(data.SkippedFilesWarning):
        manifest, skipped, _ = data.load_vggface2(vggface2_root, class_ids=(1,))
    assert len(manifest) == 12
    assert skipped[["identity", "reason"]].values.tolist() == [["n000001", "empty file (0 bytes)"]]


# --- LFW ------------------------------------------------------------------------------


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_load_lfw_picks_top_people_and_never_writes_to_data_home(lfw_home, isolated_env):
    before = _tree(lfw_home)
    manifest, skipped, root = data.load_lfw(n_people=3, data_home=lfw_home)
    assert _tree(lfw_home) == before  # scikit-learn's cache went to the shadow folder
    assert (isolated_env / "cache" / "lfw_shadow").is_dir()
    # Bob 6, Ann 4, then Cy/Di tie at 3: ties are broken by name.
    assert data.identity_table(manifest)[["name", "images"]].values.tolist() == [
        ["Ann_A", 4], ["Bob_B", 6], ["Cy_C", 3]]
    assert skipped.empty and root == lfw_home / "lfw_home" / "lfw_funneled"
    assert (manifest[["width", "height"]] == 250).all().all()
    # A second call reuses the shadow folder.
    again = data.load_lfw(n_people=3, data_home=lfw_home).manifest
    pd.testing.assert_frame_equal(manifest, again)


def test_load_lfw_repairs_a_stale_shadow_link(lfw_home, isolated_env):
    data.load_lfw(n_people=2, data_home=lfw_home)
    link = next((isolated_env / "cache" / "lfw_shadow").glob("*/lfw_home/lfw_funneled"))
    link.unlink()
    link.symlink_to(isolated_env / "gone", target_is_directory=True)  # dangling
    manifest = data.load_lfw(n_people=2, data_home=lfw_home).manifest
    assert manifest["identity"].unique().tolist() == ["Ann_A", "Bob_B"]
    assert link.resolve() == (lfw_home / "lfw_home" / "lfw_funneled").resolve()


def test_load_lfw_reads_scikit_learn_data(lfw_home, isolated_env, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(lfw_home))
    assert data.load_lfw(n_people=2).manifest["identity"].unique().tolist() == ["Ann_A", "Bob_B"]


def test_load_lfw_errors(lfw_home, isolated_env, monkeypatch):
    for bad in (1, 2.5, True):
        with pytest.raises(ValueError, match="n_people"):
            data.load_lfw(n_people=bad, data_home=lfw_home)
    with pytest.raises(ValueError, match="has 5 people, fewer than n_people=6"):
        data.load_lfw(n_people=6, data_home=lfw_home)
    empty = isolated_env / "empty_home"
    with pytest.raises(data.DataNotFoundError, match="LFW not found"):
        data.load_lfw(data_home=empty, download_if_missing=False)

    def offline(**kwargs):
        raise URLError("no network")

    monkeypatch.setattr("sklearn.datasets.fetch_lfw_people", offline)
    with pytest.raises(data.DataNotFoundError, match="could not be downloaded"):
        data.load_lfw(data_home=empty)


# --- load_default ---------------------------------------------------------------------------


def test_load_default_prefers_celeb_data_dir(vggface2_root, isolated_env, monkeypatch):
    # The tiny tree lacks the study ids: the error proves CELEB_DATA_DIR was used.
    monkeypatch.setenv(config.ENV_DATA_DIR, str(vggface2_root))
    with pytest.raises(ValueError, match=r"class id 51 \(n000051\)"):
        data.load_default()


def test_load_default_falls_back_to_lfw(lfw_home, isolated_env, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(lfw_home))
    manifest = data.load_default().manifest
    assert manifest["identity"].nunique() == config.LFW_N_PEOPLE


def test_load_default_names_both_ways_when_nothing_is_there(isolated_env, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(isolated_env / "nothing"))
    monkeypatch.setattr("sklearn.datasets.fetch_lfw_people",
                        lambda **kw: (_ for _ in ()).throw(URLError("offline")))
    with pytest.raises(data.DataNotFoundError, match="CELEB_DATA_DIR") as err:
        data.load_default()
    assert "SCIKIT_LEARN_DATA" in str(err.value)


# --- tables ------------------------------------------------------------------------------


def test_find_duplicates_reports_cross_identity(tmp_path):
    root = make_identity_tree(tmp_path / "t", {"a": 2, "b": 2})
    same = (root / "a" / "0000_01.jpg").read_bytes()
    (root / "a" / "copy.jpg").write_bytes(same)      # duplicate within a
    (root / "b" / "stolen.jpg").write_bytes(same)    # the same picture under b
    write_image(root / "b" / "twin1.jpg", seed=77)
    write_image(root / "b" / "twin2.jpg", seed=77)   # duplicate within b only
    dup = data.find_duplicates(data.load_folder(root).manifest)
    groups = dup.groupby("sha256")
    assert sorted(len(g) for _, g in groups) == [2, 3]
    by_size = {len(g): g for _, g in groups}
    assert by_size[3]["cross_identity"].all() and not by_size[2]["cross_identity"].any()
    assert sorted(by_size[3]["relpath"]) == ["a/0000_01.jpg", "a/copy.jpg", "b/stolen.jpg"]


def test_find_duplicates_empty(tmp_path):
    manifest = data.load_folder(make_identity_tree(tmp_path / "t", {"a": 2})).manifest
    assert data.find_duplicates(manifest).empty
