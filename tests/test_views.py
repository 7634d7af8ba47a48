"""helpers.views: deterministic views, their on-disk cache (layout, reuse, corruption,
interrupted builds, float16), and training on them: cached == naive fed the same views,
and an interrupted run resumes bit for bit. All on the 12-layer model of test_training."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from helpers import boundary, training
from helpers import views as hv
from training_support import IMAGE_SIZE, scale, tiny_classifier, tiny_data, weights_of

K = 3


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> pd.DataFrame:
    return tiny_data(tmp_path_factory.mktemp("tiny") / "images")


@pytest.fixture(scope="module")
def train_rows(split) -> pd.DataFrame:
    return split[split["split"] == "train"].reset_index(drop=True)


def spec(**kwargs) -> hv.ViewSpec:
    return hv.ViewSpec(**{"views": K, "seed": 7, **kwargs})


def run(model, split, phase, folder, **kwargs):
    options = dict(image_size=IMAGE_SIZE, preprocess=scale, epochs=3, batch_size=4,
                   n_unfreeze=6, progress=False, cache_dir=folder.parent / "cache", views=K)
    options.update(kwargs)
    return training.train_phase(model, split, phase, folder, **options)


def predict(model, split):
    from helpers.pipeline import make_dataset

    return model.predict(make_dataset(split, IMAGE_SIZE, 8, preprocess=scale, with_labels=False), verbose=0)


def max_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(x - y))) if x.size else 0.0 for x, y in zip(a, b, strict=True))


# --- the specification and the draws --------------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"views": 0}, "views must be a positive integer"),
    ({"views": 2.0}, "views must be a positive integer"),
    ({"dtype": "float64"}, "dtype must be one of"),
    ({"zoom": 1.0}, r"zoom must be a number in \[0, 1\)"),
    ({"rotation": -5}, "rotation must be"),
    ({"flip": 1}, "flip must be True or False"),
    ({"seed": "42"}, "seed must be an integer"),
])
def test_view_spec_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hv.ViewSpec(**kwargs)


def test_as_view_spec():
    assert hv.as_view_spec(None, 42) is None and hv.as_view_spec(0, 42) is None
    assert hv.as_view_spec(8, 42) == hv.ViewSpec(8, seed=42)
    assert hv.as_view_spec(hv.ViewSpec(2), 5).seed == 5
    assert hv.as_view_spec(hv.ViewSpec(2, seed=1), 5).seed == 1
    for bad in (-1, True, "8", 2.5):
        with pytest.raises(ValueError, match="views must be"):
            hv.as_view_spec(bad, 42)
    with pytest.raises(ValueError, match="has no seed"):
        hv.ViewAugmenter(hv.ViewSpec(2))


def test_a_view_depends_on_seed_image_and_index_only():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (3, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    shas = ["a" * 64, "b" * 64, "c" * 64]
    aug = hv.ViewAugmenter(spec())
    out = aug(images, shas, [0, 1, 2])
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    # The same (image, view) alone, in another batch, or from another augmenter: the same.
    np.testing.assert_array_equal(aug(images[2:], shas[2:], [2])[0], out[2])
    np.testing.assert_array_equal(hv.ViewAugmenter(spec())(images[::-1], shas[::-1], [2, 1, 0]), out[::-1])
    # Another view index, image hash or seed: another view.
    assert not np.allclose(aug(images[:1], shas[:1], [1])[0], out[0])
    assert not np.allclose(aug(images[:1], ["d" * 64], [0])[0], out[0])
    assert not np.allclose(hv.ViewAugmenter(spec(seed=8))(images[:1], shas[:1], [0])[0], out[0])
    # No factors: the image itself.
    plain = hv.ViewAugmenter(spec(flip=False, zoom=0, shift=0, rotation=0, brightness=0, contrast=0))
    np.testing.assert_array_equal(plain(images, shas, [0, 1, 2]), images)
    with pytest.raises(ValueError, match="one sha256 and one view"):
        aug(images, shas[:2], [0, 1])


def test_view_layers_follow_the_factors():
    kinds = [type(layer).__name__ for layer in hv.make_view_layers(spec())]
    assert kinds == ["RandomFlip", "RandomZoom", "RandomTranslation", "RandomRotation",
                     "RandomBrightness", "RandomContrast"]
    assert [type(x).__name__ for x in hv.make_view_layers(spec(flip=False, shift=0))] == [
        "RandomZoom", "RandomRotation", "RandomBrightness", "RandomContrast"]


def test_view_choice_is_seeded_and_apart_from_the_order():
    a = hv.view_choice(50, 4, 42, 1, 0)
    assert a.shape == (50,) and set(a) == {0, 1, 2, 3}
    assert np.array_equal(a, hv.view_choice(50, 4, 42, 1, 0))
    for other in (hv.view_choice(50, 4, 42, 1, 1), hv.view_choice(50, 4, 42, 2, 0),
                  hv.view_choice(50, 4, 43, 1, 0)):
        assert not np.array_equal(a, other)


def test_view_images_and_preview_show_the_training_views(train_rows):
    images = hv.view_images(train_rows, [0, 1, 2] * 4, IMAGE_SIZE, spec(), batch_size=5)
    assert images.shape == (len(train_rows), IMAGE_SIZE, IMAGE_SIZE, 3)
    original, views = hv.preview_views(train_rows["path"][1], n_views=3, image_size=IMAGE_SIZE, spec=spec())
    assert original.dtype == np.uint8 and original.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
    assert len(views) == 3 and all(v.dtype == np.uint8 and v.shape == original.shape for v in views)
    assert np.array_equal(views[1], np.clip(np.rint(images[1]), 0, 255).astype(np.uint8))
    assert not any(np.array_equal(v, original) for v in views)
    default_original, default_views = hv.preview_views(train_rows["path"][0], n_views=2, image_size=20)
    assert default_original.shape == (20, 20, 3) and len(default_views) == 2
    with pytest.raises(ValueError, match="n_views"):
        hv.preview_views(train_rows["path"][0], n_views=K + 1, image_size=IMAGE_SIZE, spec=spec())
    with pytest.raises(ValueError, match="'path' and 'sha256' columns"):
        hv.view_images(train_rows.drop(columns="sha256"), [0] * len(train_rows), IMAGE_SIZE, spec())
    with pytest.raises(ValueError, match="one view index per row"):
        hv.view_images(train_rows, [0, 1], IMAGE_SIZE, spec())
    with pytest.raises(ValueError, match=r"view indices must be in \[0, 3\)"):
        hv.view_images(train_rows, [K] * len(train_rows), IMAGE_SIZE, spec())


# --- the cache ---------------------------------------------------------------------------


def test_view_cache_layout_reuse_and_values(train_rows, tmp_path):
    parts = boundary.prepare_phase(tiny_classifier(), 2, n_unfreeze=6)
    built = hv.cached_views(parts.frozen, train_rows, IMAGE_SIZE, scale, spec(), tmp_path, progress=False)
    assert built.info.status == "built" and built.info.path.parent == tmp_path / "views"
    names = sorted(p.name for p in built.info.path.iterdir())
    assert names == ["meta.json"] + sorted(hv.view_file_name(v, j) for v in range(K) for j in (0, 1))
    assert not [p for p in (tmp_path / "views").iterdir() if p.name.startswith(".")]  # no temp folder
    n = len(train_rows)
    assert built.n_rows == n and built.nbytes == hv.view_cache_bytes(n, [(16, 16, 4)] * 2, K)
    assert all(isinstance(a, np.memmap) and not a.flags.writeable for view in built.arrays for a in view)
    again = hv.cached_views(parts.frozen, train_rows, IMAGE_SIZE, scale, spec(), tmp_path, progress=False)
    assert again.info.status == "loaded" and again.info.path == built.info.path
    # The stored features are the frozen part's output on the views of view_images.
    rows, views = np.arange(n), np.arange(n) % K
    expected = parts.frozen(scale(hv.view_images(train_rows, views, IMAGE_SIZE, spec())), training=False)
    for got, want in zip(again.gather(rows[::-1], views[::-1]), expected, strict=True):
        np.testing.assert_allclose(got, np.asarray(want)[::-1], rtol=1e-5, atol=1e-6)


def test_views_of_both_phases_in_one_pass_equal_two_passes(train_rows, tmp_path):
    model = tiny_classifier()
    phase2 = boundary.prepare_phase(model, 2, n_unfreeze=6).frozen
    phase1 = boundary.pooled_part(model)  # the part prepare_phase(model, 1) cuts
    together = hv.cached_views_together([phase1, phase2], train_rows, IMAGE_SIZE, scale, spec(),
                                        tmp_path / "one", progress=False)
    assert [c.info.status for c in together] == ["built", "built"]
    for frozen, joint in zip((phase1, phase2), together, strict=True):
        alone = hv.cached_views(frozen, train_rows, IMAGE_SIZE, scale, spec(), tmp_path / "two", progress=False)
        assert alone.info.key == joint.info.key and alone.info.status == "built"
        for a, b in zip([x for view in alone.arrays for x in view], [x for view in joint.arrays for x in view],
                        strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        # What one pass stored is what cached_views, and so train_phase, loads.
        loaded = hv.cached_views(frozen, train_rows, IMAGE_SIZE, scale, spec(), tmp_path / "one", progress=False)
        assert loaded.info.status == "loaded" and loaded.info.key == joint.info.key
    # A part already stored is loaded; only the missing one is extracted.
    hv.cached_views(phase1, train_rows, IMAGE_SIZE, scale, spec(), tmp_path / "three", progress=False)
    mixed = hv.cached_views_together([phase1, phase2], train_rows, IMAGE_SIZE, scale, spec(),
                                     tmp_path / "three", progress=False)
    assert [c.info.status for c in mixed] == ["loaded", "built"]


def test_views_together_bad_input(train_rows, tmp_path):
    one, other = tiny_classifier(), tiny_classifier()
    parts = [boundary.pooled_part(one), boundary.pooled_part(other)]
    with pytest.raises(ValueError, match="cut from one model"):
        hv.cached_views_together(parts, train_rows, IMAGE_SIZE, scale, spec(), tmp_path, progress=False)
    with pytest.raises(ValueError, match="at least one frozen part"):
        hv.cached_views_together([], train_rows, IMAGE_SIZE, scale, spec(), tmp_path, progress=False)
    with pytest.raises(ValueError, match="nothing to store"):
        training.cache_views_of_both_phases(one, train_rows.assign(split="train"), image_size=IMAGE_SIZE,
                                            preprocess=scale, views=0)


def test_view_cache_key_covers_every_setting(train_rows):
    parts = boundary.prepare_phase(tiny_classifier(), 2, n_unfreeze=6)
    base = hv.view_cache_key(parts.frozen, train_rows, IMAGE_SIZE, scale, spec())
    others = [hv.view_cache_key(parts.frozen, train_rows, IMAGE_SIZE, scale, spec(**change))
              for change in ({"views": K + 1}, {"seed": 8}, {"dtype": "float16"}, {"zoom": 0.1},
                             {"flip": False}, {"contrast": 0.0})]
    others += [hv.view_cache_key(parts.frozen, train_rows.iloc[1:], IMAGE_SIZE, scale, spec()),
               hv.view_cache_key(parts.frozen, train_rows, IMAGE_SIZE, None, spec()),
               hv.view_cache_key(parts.frozen, train_rows, IMAGE_SIZE + 1, scale, spec()),
               training.feature_cache_key(parts.frozen, train_rows, IMAGE_SIZE, scale)]
    assert len({base, *others}) == 1 + len(others)
    assert hv.view_cache_key(parts.frozen, train_rows, IMAGE_SIZE, scale, spec()) == base


def _damage(folder, how):
    victim = folder / hv.view_file_name(1, 0)
    if how == "truncate":
        victim.write_bytes(victim.read_bytes()[:200])
    elif how == "flip_values":  # a valid .npy whose values are not the ones checksummed
        array = np.load(victim)
        np.save(victim, array + 1.0)
    elif how == "missing_file":
        victim.unlink()
    elif how == "garbage_meta":
        (folder / "meta.json").write_text("{not json")
    elif how == "no_meta":  # what an extraction killed before it finished would look like
        (folder / "meta.json").unlink()
    elif how == "other_rows":
        meta = json.loads((folder / "meta.json").read_text())
        meta["sha256"] = meta["sha256"][::-1]
        (folder / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("how", ["truncate", "flip_values", "missing_file", "garbage_meta", "no_meta",
                                 "other_rows"])
def test_damaged_view_cache_is_detected_and_rebuilt(train_rows, tmp_path, how):
    parts = boundary.prepare_phase(tiny_classifier(), 1)
    good = hv.cached_views(parts.frozen, train_rows, IMAGE_SIZE, scale, spec(), tmp_path, progress=False)
    want = [np.array(a) for view in good.arrays for a in view]
    _damage(good.info.path, how)
    with pytest.warns(UserWarning, match="not used: .*rebuilding"):
        rebuilt = hv.cached_views(parts.frozen, train_rows, IMAGE_SIZE, scale, spec(), tmp_path, progress=False)
    assert rebuilt.info.status == "rebuilt" and rebuilt.info.reason
    for a, b in zip(want, [a for view in rebuilt.arrays for a in view], strict=True):
        np.testing.assert_array_equal(a, b)
    assert hv.cached_views(parts.frozen, train_rows, IMAGE_SIZE, scale, spec(), tmp_path,
                           progress=False).info.status == "loaded"


def test_interrupted_extraction_leaves_no_cache(train_rows, tmp_path, monkeypatch):
    parts = boundary.prepare_phase(tiny_classifier(), 1)
    calls = []
    real = hv.ViewAugmenter.__call__

    def flaky(self, *args):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # e.g. the notebook's stop button mid-extraction
        return real(self, *args)

    monkeypatch.setattr(hv.ViewAugmenter, "__call__", flaky)
    with pytest.raises(KeyboardInterrupt):
        hv.cached_views(parts.frozen, train_rows, IMAGE_SIZE, scale, spec(), tmp_path, batch_size=4,
                        progress=False)
    assert list((tmp_path / "views").iterdir()) == []  # neither a cache nor a temporary folder
    monkeypatch.setattr(hv.ViewAugmenter, "__call__", real)
    # A temporary folder left by a killed process (its pid is gone) is removed by the next build.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    key = hv.view_cache_key(parts.frozen, train_rows, IMAGE_SIZE, scale, spec())
    abandoned = tmp_path / "views" / f".{key}.{dead}.0123.tmp"
    abandoned.mkdir()
    (abandoned / hv.view_file_name(0, 0)).write_bytes(b"half")
    built = hv.cached_views(parts.frozen, train_rows, IMAGE_SIZE, scale, spec(), tmp_path, progress=False)
    assert built.info.status == "built"
    assert sorted(os.listdir(tmp_path / "views")) == [key]


def test_float16_cache_halves_the_files(train_rows, tmp_path):
    parts = boundary.prepare_phase(tiny_classifier(), 2, n_unfreeze=6)
    f32 = hv.cached_views(parts.frozen, train_rows, IMAGE_SIZE, scale, spec(), tmp_path, progress=False)
    f16 = hv.cached_views(parts.frozen, train_rows, IMAGE_SIZE, scale, spec(dtype="float16"), tmp_path,
                          progress=False)
    assert f16.info.key != f32.info.key and f16.arrays[0][0].dtype == np.float16
    shapes = [(16, 16, 4)] * 2
    assert f16.nbytes == hv.view_cache_bytes(len(train_rows), shapes, K, "float16")
    assert f16.nbytes - K * 2 * hv.NPY_HEADER_BYTES == (f32.nbytes - K * 2 * hv.NPY_HEADER_BYTES) // 2
    rows, views = np.arange(len(train_rows)), np.zeros(len(train_rows), int)
    for a, b in zip(f32.gather(rows, views), f16.gather(rows, views), strict=True):
        assert b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    # Lite0's phase-2 boundary: two 14x14x112 tensors per image.
    assert hv.view_cache_bytes(1450, [(14, 14, 112)] * 2, 8) == 8 * 2 * (1450 * 21952 * 4 + 128)


def test_cache_bad_input(train_rows, tmp_path):
    parts = boundary.prepare_phase(tiny_classifier(), 1)
    with pytest.raises(ValueError, match="'path' and 'sha256'"):
        hv.cached_views(parts.frozen, train_rows.drop(columns="sha256"), IMAGE_SIZE, scale, spec(), tmp_path)
    with pytest.raises(TypeError, match="ViewSpec"):
        hv.cached_views(parts.frozen, train_rows, IMAGE_SIZE, scale, 3, tmp_path)


# --- training on views ---------------------------------------------------------------


def test_cached_views_equal_naive_views_in_both_phases(split, tmp_path):
    results = {}
    for feed in ("cached", "naive"):
        model = tiny_classifier()
        h1 = run(model, split, 1, tmp_path / feed / "p1", feed=feed)
        h2 = run(model, split, 2, tmp_path / feed / "p2", feed=feed)
        results[feed] = (model, h1, h2)
    cached, naive = results["cached"][0], results["naive"][0]
    assert results["cached"][1].view_cache.status == "built" and results["naive"][1].view_cache is None
    assert results["cached"][1].settings["views"]["views"] == K
    assert max_difference(weights_of(cached), weights_of(naive)) < 1e-5
    np.testing.assert_allclose(predict(cached, split), predict(naive, split), rtol=1e-5, atol=1e-5)
    for i in (1, 2):
        a, b = results["cached"][i].history, results["naive"][i].history
        np.testing.assert_allclose(a[["loss", "val_loss"]], b[["loss", "val_loss"]], rtol=1e-5, atol=1e-6)
    # The views matter: without them the same run ends elsewhere.
    plain = tiny_classifier()
    run(plain, split, 1, tmp_path / "plain" / "p1", views=None)
    run(plain, split, 2, tmp_path / "plain" / "p2", views=None)
    assert max_difference(weights_of(plain), weights_of(cached)) > 1e-4


def test_float16_views_train_almost_the_same_model(split, tmp_path, capsys):
    models = {}
    for dtype in ("float32", "float16"):
        model = tiny_classifier()
        run(model, split, 2, tmp_path / dtype, views=hv.ViewSpec(K, dtype=dtype))
        models[dtype] = model
    weights = max_difference(weights_of(models["float32"]), weights_of(models["float16"]))
    preds = float(np.abs(predict(models["float32"], split) - predict(models["float16"], split)).max())
    with capsys.disabled():
        print(f"\nfloat16 view cache, tiny model, phase 2, 3 epochs: max |dweight| = {weights:.2e}, "
              f"max |dprob| = {preds:.2e}")
    assert weights < 1e-3 and preds < 1e-3


def test_interrupted_run_with_views_resumes_bit_identically(split, tmp_path):
    straight = tiny_classifier()
    run(straight, split, 2, tmp_path / "straight", epochs=4)
    first = run(tiny_classifier(), split, 2, tmp_path / "resumed", epochs=4, stop_after=2)
    assert len(first.history) == 2 and not first.final_weights.exists()
    resumed = tiny_classifier()  # a fresh process would rebuild the model
    second = run(resumed, split, 2, tmp_path / "resumed", epochs=4)
    assert second.resumed_from == 2 and second.view_cache.status == "loaded"
    for a, b in zip(weights_of(straight), weights_of(resumed), strict=True):
        assert np.array_equal(a, b)
    # Other views (K or seed) are other settings: the state is refused, not mixed.
    with pytest.raises(training.StaleStateError, match="other settings"):
        run(tiny_classifier(), split, 2, tmp_path / "resumed", epochs=4, views=K + 1)


def test_train_phase_view_arguments(split, tmp_path):
    with pytest.raises(ValueError, match="not both"):
        run(tiny_classifier(), split, 1, tmp_path / "bad", augment=True)
    with pytest.raises(ValueError, match="views must be"):
        run(tiny_classifier(), split, 1, tmp_path / "bad", views=-2)
    result = run(tiny_classifier(), split, 1, tmp_path / "none", views=0, epochs=1)
    assert result.view_cache is None and "views" not in result.settings


def test_cache_size_table_counts_every_tensor_and_view():
    table = hv.cache_size_table({"two tensors": [(14, 14, 112), (14, 14, 112)], "one": [(2, 3)]},
                                n_images=1000, views=8)
    assert table.loc["two tensors", "cached per image"] == 2 * 14 * 14 * 112
    assert table.loc["two tensors", "float32 (GB)"] == round(8 * 2 * (1000 * 14 * 14 * 112 * 4 + 128) / 1e9, 2)
    assert table.loc["one", "float16 (GB)"] == round(8 * (1000 * 6 * 2 + 128) / 1e9, 2)
