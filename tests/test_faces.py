"""helpers.faces: the subject rule, crop geometry and alignment (pure), the detection cache
(with a counting stand-in for MTCNN), bad inputs and real faces (MTCNN on skimage's
astronaut, a public-domain NASA photo with one face)."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import config, data, faces
from helpers.faces import CropPolicy, Face
from tests.conftest import write_image

LEVEL_EYES = ((40.0, 40.0), (60.0, 40.0), (50.0, 50.0), (42.0, 60.0), (58.0, 60.0))


def face(box, confidence=0.99, landmarks=LEVEL_EYES) -> Face:
    return Face(tuple(float(v) for v in box), confidence, landmarks)


# --- Choosing the subject --------------------------------------------------------------------


def test_larger_face_beats_a_more_central_one():
    central_small = face((90, 90, 20, 20))        # at the centre of a 200x200 image
    corner_large = face((0, 0, 40, 40))           # 4x the area, near a corner
    assert faces.choose_subject([central_small, corner_large], 200, 200) == 1


def test_centre_settles_faces_of_equal_size_and_confidence_discounts():
    off_centre, centre = face((0, 80, 30, 30)), face((85, 85, 30, 30))
    assert faces.choose_subject([off_centre, centre], 200, 200) == 1
    doubtful, sure = face((85, 85, 30, 30), confidence=0.5), face((80, 80, 28, 28), 0.99)
    assert faces.choose_subject([doubtful, sure], 200, 200) == 1


def test_face_scores_follow_the_stated_formula():
    found = [face((90, 90, 20, 20), 0.9), face((0, 0, 40, 40), 0.8)]
    d_max = math.hypot(200, 200) / 2
    corner = 1 - config.FACE_CENTRE_WEIGHT * math.hypot(80, 80) / d_max
    np.testing.assert_allclose(faces.face_scores(found, 200, 200), [0.9 * 400, 0.8 * 1600 * corner])


def test_ties_choose_the_first_and_no_face_is_an_error():
    twins = [face((10, 10, 20, 20)), face((10, 10, 20, 20))]
    assert faces.choose_subject(twins, 40, 40) == 0
    with pytest.raises(ValueError, match="no face"):
        faces.choose_subject([], 40, 40)


# --- Crop geometry -----------------------------------------------------------------------------


def gradient(height=40, width=50) -> np.ndarray:
    """An image whose every pixel is distinct: (row, column, 7)."""
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([rows, cols, np.full_like(rows, 7)], axis=-1).astype(np.uint8)


def test_square_around_centres_the_margin_on_the_box():
    assert faces.square_around((10, 20, 30, 40), 1.5) == (-5, 10, 60)   # centre (25, 40)
    assert faces.square_around((10, 20, 30, 40), 1.0) == (5, 20, 40)    # longer side: h
    assert faces.square_around((3, 3, 0.2, 0.2), 1.0) == (3, 3, 1)      # never empty


def test_crop_inside_the_image_is_a_plain_slice():
    rgb = gradient()
    np.testing.assert_array_equal(faces.face_crop(rgb, (10, 5, 20, 20), 1.0), rgb[5:25, 10:30])


def test_crop_across_the_border_is_padded_black():
    rgb = gradient() + 1                   # no black pixel inside the image
    crop = faces.crop_padded(rgb, -5, 30, 20)          # 5 columns left of it, 10 rows below it
    assert crop.shape == (20, 20, 3)
    assert (crop[:, :5] == 0).all() and (crop[10:] == 0).all()
    np.testing.assert_array_equal(crop[:10, 5:], rgb[30:40, 0:15])
    assert (faces.crop_padded(rgb, 100, 100, 8) == 0).all()  # wholly outside: all padding


def test_eye_angle_sign_and_swapped_eyes():
    assert faces.eye_angle((0, 0), (10, 0)) == 0.0
    assert faces.eye_angle((0, 0), (10, 10)) == pytest.approx(math.pi / 4)   # right eye lower
    assert faces.eye_angle((0, 0), (10, -10)) == pytest.approx(-math.pi / 4)
    # Swapped landmarks give the same (small) rotation, never a half turn.
    assert faces.eye_angle((10, 10), (0, 0)) == pytest.approx(math.pi / 4)


def test_aligned_crop_with_level_eyes_equals_the_plain_crop():
    rgb = gradient()
    for box in [(10, 8, 12, 12), (-5, 30, 12, 12), (40, -3, 14, 10)]:   # inside and across borders
        np.testing.assert_array_equal(
            faces.aligned_face_crop(rgb, box, (0, 5), (9, 5), 1.5), faces.face_crop(rgb, box, 1.5))


@pytest.mark.parametrize("degrees", [-30, 12, 25])
def test_alignment_levels_the_eyes(degrees):
    rgb = np.zeros((200, 200, 3), np.uint8)
    angle = math.radians(degrees)
    left = np.array([80.0, 100.0])
    right = left + 40 * np.array([math.cos(angle), math.sin(angle)])
    for eye, channel in ((left, 0), (right, 1)):          # a red dot and a green dot
        x, y = np.round(eye).astype(int)
        rgb[y - 2:y + 3, x - 2:x + 3, channel] = 255
    mid = (left + right) / 2
    crop = faces.aligned_face_crop(rgb, (mid[0] - 30, mid[1] - 30, 60, 60), left, right, 1.2)

    def centre(channel):
        weight = crop[..., channel].astype(float)
        ys, xs = np.mgrid[0:crop.shape[0], 0:crop.shape[1]]
        return (xs * weight).sum() / weight.sum(), (ys * weight).sum() / weight.sum()

    (lx, ly), (rx, ry) = centre(0), centre(1)
    assert abs(ly - ry) < 1.0                           # level
    assert rx - lx == pytest.approx(40, abs=1.5)         # same distance, left stays left
    assert (lx + rx) / 2 == pytest.approx(36, abs=1.0)   # midpoint at the crop's centre (side 72)


# --- CropPolicy --------------------------------------------------------------------------------


def test_policy_defaults_and_keys():
    assert CropPolicy() == CropPolicy("photo", config.FACE_MARGIN, False)
    assert CropPolicy().key() == "photo" == CropPolicy("photo", margin=2).key()
    key = CropPolicy("face", 1.3, align=True).key()
    assert key == CropPolicy("face", 1.3, True).key()
    assert key.startswith("face-margin1.3-aligned-mtcnn-1.0.0_")
    assert faces.detector_key() in key
    keys = {CropPolicy("face", m, a).key() for m in (1, 1.3, 1.31) for a in (False, True)}
    assert len(keys) == 6
    assert CropPolicy("face", 2).margin == 2.0 and CropPolicy("face", 2).key().startswith("face-margin2.0-")
    with pytest.raises(dataclasses.FrozenInstanceError):
        CropPolicy().margin = 2.0
    assert len({CropPolicy(), CropPolicy()}) == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "faces"}, "kind must be 'photo'"),
    ({"kind": "face", "margin": 0.8}, "below 1 the crop cuts the face"),
    ({"kind": "face", "margin": 5}, "use kind='photo'"),
    ({"kind": "face", "margin": float("nan")}, "must be a number"),
    ({"kind": "face", "margin": "1.3"}, "must be a number"),
    ({"kind": "face", "margin": True}, "must be a number"),
    ({"kind": "face", "align": "yes"}, "True or False"),
    ({"kind": "photo", "align": True}, "use kind='face'"),
])
def test_policy_validation_says_what_to_do(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CropPolicy(**kwargs)


# --- The cache, with a counting stand-in for MTCNN ------------------------------------------------


@pytest.fixture
def fake_detector(isolated_env, monkeypatch):
    """Replace MTCNN with a counter that finds one face in the image's centre."""
    calls = []

    def detect(rgb):
        calls.append(rgb.shape)
        h, w = rgb.shape[:2]
        return [face((w / 4, h / 4, w / 2, h / 2), 0.95)]

    monkeypatch.setattr(faces, "_run_detector", detect)
    return calls


@pytest.fixture
def small_tree(isolated_env):
    root = isolated_env / "imgs"
    write_image(root / "a" / "one.jpg", size=(64, 48), seed=1)
    write_image(root / "a" / "two.png", size=(40, 40), seed=2)
    write_image(root / "b" / "three.jpg", "L", size=(50, 60), seed=3)
    return data.load_folder(root).manifest


def test_second_run_reads_the_cache(fake_detector, small_tree):
    first = faces.detections_table(small_tree)
    assert len(fake_detector) == 3
    second = faces.detections_table(small_tree)
    assert len(fake_detector) == 3                      # nothing detected again
    pd.testing.assert_frame_equal(first, second)
    assert first["relpath"].tolist() == small_tree["relpath"].tolist()
    assert first["status"].tolist() == [faces.ONE_FACE] * 3
    assert (first["sha256"] == small_tree["sha256"]).all()
    entries = sorted(p.name for p in faces.cache_path("x").parent.iterdir())
    assert entries == sorted(f"{s}.json" for s in small_tree["sha256"])


def test_a_manifest_without_hashes_uses_the_same_cache(fake_detector, small_tree):
    faces.detections_table(small_tree)
    faces.detections_table(small_tree.drop(columns="sha256"))
    assert len(fake_detector) == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other detector", "other file", "bad box"])
def test_a_corrupt_cache_entry_is_redone_with_a_warning(fake_detector, small_tree, damage):
    sha = small_tree["sha256"].iloc[0]
    good = faces.detections_table(small_tree.iloc[:1])
    path = faces.cache_path(sha)
    text = path.read_text()
    payload = json.loads(text)
    if damage == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif damage == "truncated":
        path.write_text(text[: len(text) // 2])
    else:
        if damage == "other detector":
            payload["detector"] = "mtcnn-0.1.0"
        elif damage == "other file":
            payload["sha256"] = "0" * 64
        else:
            payload["faces"][0]["box"] = [1, 2, "x"]
        path.write_text(json.dumps(payload))
    with pytest.warns(faces.FaceCacheWarning, match="not used"):
        again = faces.detections_table(small_tree.iloc[:1])
    assert len(fake_detector) == 2
    pd.testing.assert_frame_equal(again, good)
    assert json.loads(path.read_text()) == json.loads(text)   # the entry is whole again


def test_detector_settings_are_part_of_the_cache_key(isolated_env, monkeypatch):
    before = faces.cache_path("ab")
    settings = dict(config.FACE_DETECTOR_SETTINGS) | {"threshold_onet": 0.9}
    monkeypatch.setattr(config, "FACE_DETECTOR_SETTINGS", tuple(settings.items()))
    after = faces.cache_path("ab")
    assert before != after and "threshold_onet0.9" in after.parent.name
    assert before.parent.parent == after.parent.parent == config.cache_dir() / "faces"


def test_a_detector_error_keeps_the_photo_and_is_not_cached(isolated_env, small_tree, monkeypatch):
    calls = []

    def broken(rgb):
        calls.append(1)
        raise RuntimeError("boom")

    monkeypatch.setattr(faces, "_run_detector", broken)
    with pytest.warns(faces.DetectorFailedWarning, match="boom"):
        table = faces.detections_table(small_tree.iloc[:1])
    row = table.iloc[0]
    assert row["status"] == faces.NO_FACE and row["n_faces"] == 0 and np.isnan(row["x"])
    assert row["reason"] == "detector failed (RuntimeError: boom): whole photo kept"
    with pytest.warns(faces.DetectorFailedWarning):
        faces.detections_table(small_tree.iloc[:1])
    assert len(calls) == 2                              # tried again: errors are not cached


def test_unreadable_file_gets_a_row_with_the_reason(fake_detector, tmp_path):
    (tmp_path / "notes.jpg").write_text("not a JPEG")
    manifest = pd.DataFrame({"path": [str(tmp_path / "notes.jpg")], "relpath": ["notes.jpg"]})
    row = faces.detections_table(manifest).iloc[0]
    assert row["status"] == faces.NO_FACE
    assert row["reason"].startswith("could not read the image") and row["reason"].endswith("whole photo kept")
    assert fake_detector == []


def test_table_needs_paths():
    with pytest.raises(ValueError, match="lacks column"):
        faces.detections_table(pd.DataFrame({"relpath": ["a.jpg"]}))


def test_images_smaller_than_the_smallest_face_are_not_searched(fake_detector, tmp_path):
    path = write_image(tmp_path / "tiny.png", size=(12, 12))
    detection = faces.detect_file(path)
    assert fake_detector == [] and detection.faces == ()
    assert "smaller than the detector's smallest face (20 pixels)" in detection.note


def test_several_faces_row_names_the_choice():
    detection = faces.Detection("s", 200, 200, (face((90, 90, 20, 20)), face((0, 0, 40, 40))))
    row = faces.detection_row("x.jpg", detection)
    assert row["status"] == faces.SEVERAL_FACES and row["n_faces"] == 2
    assert (row["x"], row["w"]) == (0.0, 40.0)
    assert row["reason"].startswith("2 faces: kept face 2 (detector order)")
    assert list(row) == faces.DETECTION_COLUMNS


def test_write_detections_round_trips(tmp_path):
    table = pd.DataFrame([
        faces.detection_row("a/1.jpg", faces.Detection("s1", 100, 80, (face((10, 10, 30, 30)),))),
        faces.detection_row("a/2.jpg", faces.Detection("s2", 100, 80, ())),
    ])
    path = faces.write_detections(table, tmp_path / "run")
    assert path == tmp_path / "run" / faces.DETECTIONS_CSV
    back = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert back.columns.tolist() == faces.DETECTION_COLUMNS
    assert back["status"].tolist() == [faces.ONE_FACE, faces.NO_FACE]
    assert faces.fallbacks(back)["relpath"].tolist() == ["a/2.jpg"]


# --- load_image --------------------------------------------------------------------------------


def test_load_image_applies_the_policy(tmp_path):
    path = tmp_path / "g.png"
    Image.fromarray(gradient()).save(path)
    one = faces.detection_row("g.png", faces.Detection("s", 50, 40, (face((10, 5, 20, 20)),)))
    none = faces.detection_row("g.png", faces.Detection("s", 50, 40, ()))
    whole = data.read_rgb(path)
    np.testing.assert_array_equal(faces.load_image(path, CropPolicy()), whole)
    np.testing.assert_array_equal(faces.load_image(path, CropPolicy("face", 1.0), one), whole[5:25, 10:30])
    assert faces.load_image(path, CropPolicy("face", 1.5, True), one).shape == (30, 30, 3)
    np.testing.assert_array_equal(faces.load_image(path, CropPolicy("face"), none), whole)
    row = pd.Series(one)                              # a DataFrame row works too
    assert faces.load_image(path, CropPolicy("face"), row).dtype == np.uint8


def test_load_image_refuses_a_missing_or_foreign_row(tmp_path):
    path = tmp_path / "g.png"
    Image.fromarray(gradient()).save(path)
    with pytest.raises(ValueError, match="needs the image's row"):
        faces.load_image(path, CropPolicy("face"))
    other = faces.detection_row("h.png", faces.Detection("s", 64, 64, (face((1, 1, 9, 9)),)))
    with pytest.raises(ValueError, match="pass the row of this file"):
        faces.load_image(path, CropPolicy("face"), other)


def test_cropped_manifest_points_at_crops_keyed_by_the_policy(fake_detector, small_tree):
    policy = CropPolicy("face", 1.0)
    cropped = faces.cropped_manifest(small_tree, policy)
    assert len(fake_detector) == 3 and len(cropped) == len(small_tree)
    assert (cropped["original_sha256"] == small_tree["sha256"]).all()
    assert not set(cropped["sha256"]) & set(small_tree["sha256"])        # other keys for caches
    for path, original in zip(cropped["path"], small_tree["path"]):
        crop, whole = data.read_rgb(path), data.read_rgb(original)
        h, w = whole.shape[:2]
        assert crop.shape[:2] == (round(max(w, h) / 2),) * 2            # the fake face: w/2 x h/2, square
    again = faces.cropped_manifest(small_tree, policy)                   # crops and detections reused
    pd.testing.assert_frame_equal(again, cropped)
    assert len(fake_detector) == 3
    other = faces.cropped_manifest(small_tree, CropPolicy("face", 1.5))
    assert not set(other["sha256"]) & set(cropped["sha256"])
    photo = faces.cropped_manifest(small_tree, CropPolicy())
    pd.testing.assert_frame_equal(photo, small_tree)


def test_cropped_manifest_bad_input(fake_detector, small_tree):
    with pytest.raises(ValueError, match="lacks columns"):
        faces.cropped_manifest(small_tree.drop(columns="relpath"), CropPolicy("face"))
    table = faces.detections_table(small_tree.iloc[:1])
    with pytest.raises(ValueError, match="no detection row"):
        faces.cropped_manifest(small_tree, CropPolicy("face"), table)


def test_importing_faces_does_not_import_tensorflow():
    code = "import sys, helpers.faces; print('tensorflow' in sys.modules, 'mtcnn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=config.PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


# --- Real faces: MTCNN itself --------------------------------------------------------------------


def astronaut() -> np.ndarray:
    from skimage import data as skdata

    return skdata.astronaut()


def three_astronauts() -> np.ndarray:
    """Three copies side by side: 256, 256 and (on the right, off-centre) 384 pixels high."""
    small = np.asarray(Image.fromarray(astronaut()).resize((256, 256), Image.Resampling.LANCZOS))
    large = np.asarray(Image.fromarray(astronaut()).resize((384, 384), Image.Resampling.LANCZOS))
    canvas = np.zeros((384, 256 * 2 + 384, 3), np.uint8)
    canvas[64:320, :256] = small
    canvas[64:320, 256:512] = small
    canvas[:, 512:] = large
    return canvas


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The detections table of real and awkward photos, by MTCNN, in a private cache."""
    root = tmp_path_factory.mktemp("real")
    folder = root / "imgs" / "person"
    folder.mkdir(parents=True)
    Image.fromarray(astronaut()).save(folder / "astronaut.jpg", quality=95)
    Image.fromarray(astronaut()).convert("L").save(folder / "gray.jpg", quality=95)
    Image.fromarray(three_astronauts()).save(folder / "three.png")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(folder / "noise.png")
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(folder / "flat.png")
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(folder / "tiny.png")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(config.ENV_CACHE_DIR, str(root / "cache"))
        manifest = data.load_folder(root / "imgs").manifest
        with warnings.catch_warnings():
            for category in (faces.FaceCacheWarning, faces.DetectorFailedWarning):
                warnings.simplefilter("error", category)   # fall-backs are rows, not detector errors
            table = faces.detections_table(manifest)
        yield manifest, table.set_index("relpath", drop=False)


def test_every_photo_gets_a_row_with_a_listed_status(real):
    manifest, table = real
    assert table["relpath"].tolist() == manifest["relpath"].tolist()
    assert set(table["status"]) <= set(faces.STATUSES)
    status = table.set_index(table["relpath"].str.split("/").str[-1])["status"].to_dict()
    assert status == {"astronaut.jpg": "one face", "gray.jpg": "one face", "three.png": "several faces",
                      "noise.png": "no face", "flat.png": "no face", "tiny.png": "no face"}
    assert sorted(faces.fallbacks(table)["relpath"].str.split("/").str[-1]) == [
        "flat.png", "noise.png", "three.png", "tiny.png"]


def test_astronaut_face_and_landmarks(real):
    _, table = real
    for name in ("person/astronaut.jpg", "person/gray.jpg"):
        row = table.loc[name]
        assert row["n_faces"] == 1 and row["confidence"] > 0.95 and row["reason"] == ""
        # Her face: around x 180-265, y 60-175 in the 512x512 photo.
        assert 170 < row["x"] < 195 and 50 < row["y"] < 75 and 70 < row["w"] < 100 and 95 < row["h"] < 125
        assert row["left_eye_x"] < row["nose_x"] < row["right_eye_x"]
        assert row["left_eye_y"] < row["mouth_left_y"] and abs(row["left_eye_y"] - row["right_eye_y"]) < 6


def test_three_faces_choose_the_rule_s_subject(real):
    _, table = real
    row = table.loc["person/three.png"]
    assert row["n_faces"] == 3 and row["reason"].startswith("3 faces: kept face")
    assert row["x"] > 512 and row["w"] > 55    # the large copy (small ones: ~42 wide), off-centre
    # Independently: the chosen face is the rule's argmax over all three faces found.
    found = faces.read_cached(row["sha256"])[0].faces
    best = found[faces.choose_subject(found, 896, 384)]
    assert best.box[0] == pytest.approx(row["x"])


def test_no_face_rows_keep_the_whole_photo(real):
    manifest, table = real
    for name, reason in [("noise.png", "no face found"), ("flat.png", "no face found"),
                         ("tiny.png", "no face found")]:
        row = table.loc[f"person/{name}"]
        assert row["n_faces"] == 0 and row["reason"] == f"{reason}: whole photo kept"
        path = manifest.set_index("relpath").loc[f"person/{name}", "path"]
        image = faces.load_image(path, CropPolicy("face", 1.3, True), row)
        np.testing.assert_array_equal(image, data.read_rgb(path))


def test_face_crops_of_real_photos(real):
    manifest, table = real
    paths = manifest.set_index("relpath")["path"]
    row = table.loc["person/astronaut.jpg"]
    side = math.floor(1.3 * max(row["w"], row["h"]) + 0.5)
    plain = faces.load_image(paths["person/astronaut.jpg"], CropPolicy("face", 1.3), row)
    aligned = faces.load_image(paths["person/astronaut.jpg"], CropPolicy("face", 1.3, True), row)
    assert plain.shape == aligned.shape == (side, side, 3) and plain.dtype == aligned.dtype == np.uint8
    gray = faces.load_image(paths["person/gray.jpg"], CropPolicy("face"), table.loc["person/gray.jpg"])
    assert gray.ndim == 3 and (gray[..., 0] == gray[..., 2]).all()
    three = faces.load_image(paths["person/three.png"], CropPolicy("face"), table.loc["person/three.png"])
    assert three.shape[0] > 1.3 * 55                          # around the large copy's face


# --- The study's data (skipped without it) ---------------------------------------------------------


# Opt-in (MTCNN on real photos takes a while): only where CELEB_DATA_DIR names the data.
VGG = config.data_dir()


@pytest.mark.realdata
@pytest.mark.skipif(VGG is None or not (VGG / data.VGGFACE2_META).is_file(),
                    reason=f"set CELEB_DATA_DIR to a VGGFace2 root holding identity_meta.csv "
                           f"(got {VGG}) to detect faces on the study's photos")
def test_study_images_each_get_a_row(isolated_env, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.SkippedFilesWarning)
        manifest = data.load_vggface2(VGG).manifest
    sample = manifest.groupby("label").head(2)               # two photos of each identity
    table = faces.detections_table(sample)
    assert table["relpath"].tolist() == sample["relpath"].tolist()
    assert set(table["status"]) <= set(faces.STATUSES)
    assert (table["status"] == faces.ONE_FACE).sum() >= len(sample) // 2
    for (_, row), path in zip(table.iterrows(), sample["path"]):
        image = faces.load_image(path, CropPolicy("face", 1.3, True), row)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    written = pd.read_csv(faces.write_detections(table, tmp_path / "run"))
    assert len(written) == len(sample)


def test_boxes_and_subject_lists_every_face_and_the_chosen_one(isolated_env, small_tree, monkeypatch):
    found = {0: [], 1: [face((0, 0, 10, 10), 0.99), face((10, 10, 20, 20), 0.99)]}
    monkeypatch.setattr(faces, "_run_detector", lambda rgb: found[int(rgb.shape[0] == 40)])
    boxes, chosen = faces.boxes_and_subject(small_tree["path"][1], small_tree["sha256"][1])  # 40 x 40
    assert boxes == [(0, 0, 10, 10), (10, 10, 20, 20)] and chosen == 1  # the larger face
    assert faces.boxes_and_subject(small_tree["path"][0]) == ([], None)
