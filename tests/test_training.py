"""helpers.training: cached == naive, determinism, the feature cache, resume (also after a
real kill), and every bad input. All on a 12-layer model and tiny generated images."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import boundary, training
from helpers.model import unfreeze_last
from helpers.tf_quiet import import_keras
from training_support import IMAGE_SIZE, scale, tiny_classifier, tiny_data, weights_of

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> pd.DataFrame:
    return tiny_data(tmp_path_factory.mktemp("tiny") / "images")


def run(model, split, phase, folder, **kwargs):
    options = dict(image_size=IMAGE_SIZE, preprocess=scale, epochs=3, batch_size=4,
                   n_unfreeze=6, progress=False, cache_dir=folder.parent / "cache")
    options.update(kwargs)
    return training.train_phase(model, split, phase, folder, **options)


def predict(model, split):
    from helpers.pipeline import make_dataset

    ds = make_dataset(split, IMAGE_SIZE, 8, preprocess=scale, with_labels=False)
    return model.predict(ds, verbose=0)


def assert_close(a: list[np.ndarray], b: list[np.ndarray], rtol=1e-5, atol=1e-6):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


# --- the fast path gives the model the slow path gives ----------------------------------


def test_cached_path_equals_naive_path_in_both_phases(split, tmp_path):
    results = {}
    for feed in ("cached", "naive"):
        model = tiny_classifier()
        h1 = run(model, split, 1, tmp_path / feed / "p1", feed=feed).history
        h2 = run(model, split, 2, tmp_path / feed / "p2", feed=feed).history
        results[feed] = (model, h1, h2)
    cached, naive = results["cached"][0], results["naive"][0]
    assert_close(weights_of(cached), weights_of(naive))
    np.testing.assert_allclose(predict(cached, split), predict(naive, split), rtol=1e-5, atol=1e-6)
    for i in (1, 2):
        a, b = results["cached"][i], results["naive"][i]
        np.testing.assert_allclose(a[["loss", "val_loss"]], b[["loss", "val_loss"]], rtol=1e-5)
    # Phase 2 really trained the slice (c3 changed), phase 1 left the base alone.
    assert not np.allclose(np.asarray(cached.get_layer("c3").kernel),
                           np.asarray(tiny_classifier().get_layer("c3").kernel))


def test_cached_path_streaming_small_shards_equals_naive_path(split, tmp_path):
    """Both phases' stores made first in 3-row shards (several per epoch and batch): training
    finds them under its own keys, streams them batch by batch and ends where the naive path ends."""
    fresh = tiny_classifier()  # the frozen parts' weights: phase 1 trains only the head
    rows = training.train_val_rows(split)
    for phase in (1, 2):
        frozen = boundary.prepare_phase(fresh, phase, n_unfreeze=6).frozen
        row_bytes = sum(4 * int(np.prod(t.shape[1:])) for t in frozen.outputs)
        store, _ = training.cached_feature_store(frozen, rows, IMAGE_SIZE, scale, tmp_path / "cached" / "cache",
                                                 progress=False, shard_bytes=3 * row_bytes)
        assert store.shard_rows == 3 and store.n_shards > 3
    model = tiny_classifier()
    for phase in (1, 2):
        result = run(model, split, phase, tmp_path / "cached" / f"p{phase}")
        assert result.cache.status == "loaded"
    naive = tiny_classifier()
    for phase in (1, 2):
        run(naive, split, phase, tmp_path / "naive" / f"p{phase}", feed="naive")
    assert_close(weights_of(model), weights_of(naive))


def test_two_runs_are_bit_identical(split, tmp_path):
    weights = []
    for k in range(2):
        model = tiny_classifier()
        run(model, split, 1, tmp_path / f"r{k}" / "p1")
        run(model, split, 2, tmp_path / f"r{k}" / "p2")
        weights.append(weights_of(model))
    for a, b in zip(*weights, strict=True):
        assert np.array_equal(a, b)


def test_history_checkpoints_and_final_weights(split, tmp_path):
    model = tiny_classifier()
    result = run(model, split, 2, tmp_path / "p2", epochs=2)
    h = result.history
    assert list(h.columns) == list(training.HISTORY_COLUMNS)
    assert h["phase_epoch"].tolist() == [1, 2] and (h["phase"] == 2).all()
    assert h[["loss", "accuracy", "val_loss", "val_accuracy"]].notna().all().all()
    pd.testing.assert_frame_equal(training.read_history(result.folder / "history.csv"), h,
                                  check_exact=False)
    best = import_keras().models.load_model(result.best_path)
    assert best.output_shape == (None, 3)
    assert result.final_weights.exists()
    assert not [p for p in result.folder.iterdir() if p.name.startswith(".")]  # no temp files


def test_combine_histories_renumbers_epochs():
    rows = [dict(zip(training.HISTORY_COLUMNS, (e, p, e, 1.0, 0.5, 1.0, 0.5, 0.1), strict=True))
            for p in (1, 2) for e in (1, 2)]
    h1, h2 = training.history_frame(rows[:2]), training.history_frame(rows[2:])
    both = training.combine_histories(h1, h2)
    assert both["epoch"].tolist() == [1, 2, 3, 4]
    assert both["phase"].tolist() == [1, 1, 2, 2] and both["phase_epoch"].tolist() == [1, 2, 1, 2]
    with pytest.raises(ValueError, match="at least one"):
        training.combine_histories()
    with pytest.raises(ValueError, match="lacks columns"):
        training.combine_histories(h1.drop(columns="val_loss"))


def test_read_history_rejects_other_csv(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a training history"):
        training.read_history(tmp_path / "x.csv")


def test_epoch_order_is_a_seeded_permutation():
    a = training.epoch_order(10, 42, 1, 0)
    assert sorted(a) == list(range(10))
    assert np.array_equal(a, training.epoch_order(10, 42, 1, 0))
    assert not np.array_equal(a, training.epoch_order(10, 42, 1, 1))
    assert not np.array_equal(a, training.epoch_order(10, 42, 2, 0))


# --- the feature cache ---------------------------------------------------------------


def test_feature_cache_is_reused_and_keyed_by_content(split, tmp_path):
    model = tiny_classifier()
    parts = boundary.prepare_phase(model, 2, n_unfreeze=6)
    assert parts.boundary == ["r1", "bn2"]
    rows = split[split["split"] != "test"]
    first, info = training.cached_features(parts.frozen, rows, IMAGE_SIZE, scale, tmp_path, progress=False)
    assert info.status == "built" and info.path.parent == tmp_path / "features"
    assert [a.shape for a in first] == [(len(rows), 16, 16, 4)] * 2
    again, info2 = training.cached_features(parts.frozen, rows, IMAGE_SIZE, scale, tmp_path, progress=False)
    assert info2.status == "loaded" and info2.path == info.path
    assert_close(first, again, rtol=0, atol=0)
    direct = training.extract_features(parts.frozen, rows, IMAGE_SIZE, scale, progress=False)
    assert_close(first, direct, rtol=0, atol=0)
    # Other images, other weights, other size or preprocessing -> other keys.
    keys = {info.key,
            training.feature_cache_key(parts.frozen, rows.iloc[1:], IMAGE_SIZE, scale),
            training.feature_cache_key(parts.frozen, rows, IMAGE_SIZE + 1, scale),
            training.feature_cache_key(parts.frozen, rows, IMAGE_SIZE, None)}
    model.get_layer("c1").kernel.assign(np.zeros(model.get_layer("c1").kernel.shape))
    keys.add(training.feature_cache_key(parts.frozen, rows, IMAGE_SIZE, scale))
    assert len(keys) == 5


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip_values", "unfinished"])
def test_corrupt_cache_is_detected_and_rebuilt(split, tmp_path, damage):
    parts = boundary.prepare_phase(tiny_classifier(), 1)
    rows = split[split["split"] == "train"]
    good, info = training.cached_features(parts.frozen, rows, IMAGE_SIZE, scale, tmp_path, progress=False)
    shard = info.path / "shard-00000.t0.npy"
    if damage == "truncate":
        shard.write_bytes(shard.read_bytes()[:100])
    elif damage == "garbage":
        shard.write_bytes(b"not a cache")
    elif damage == "flip_values":  # a valid file whose values are not what its checksum says
        np.save(shard, np.load(shard) + 1.0)
    else:  # an extraction killed before its last step
        (info.path / "meta.json").unlink()
    with pytest.warns(UserWarning, match="not used as it is: .*rebuilding"):
        rebuilt, info2 = training.cached_features(parts.frozen, rows, IMAGE_SIZE, scale, tmp_path,
                                                  progress=False)
    # Every shard of the unfinished one was whole: it is finished, not extracted again.
    assert info2.status == ("resumed" if damage == "unfinished" else "rebuilt") and info2.reason
    assert_close(good, rebuilt, rtol=0, atol=0)
    assert training.cached_features(parts.frozen, rows, IMAGE_SIZE, scale, tmp_path,
                                    progress=False)[1].status == "loaded"


def test_cache_of_other_rows_under_the_same_name_is_rebuilt(split, tmp_path):
    parts = boundary.prepare_phase(tiny_classifier(), 1)
    rows = split[split["split"] == "train"]
    _, info = training.cached_features(parts.frozen, rows, IMAGE_SIZE, scale, tmp_path, progress=False)
    other = rows.iloc[::-1]
    other_key = training.feature_cache_key(parts.frozen, other, IMAGE_SIZE, scale)
    shutil.copytree(info.path, training.feature_cache_folder(other_key, tmp_path))
    with pytest.warns(UserWarning, match="key does not match"):
        features, again = training.cached_features(parts.frozen, other, IMAGE_SIZE, scale, tmp_path,
                                                   progress=False)
    assert again.status == "rebuilt"
    assert_close(features, training.extract_features(parts.frozen, other, IMAGE_SIZE, scale, progress=False),
                 rtol=0, atol=0)


def test_cache_in_shards_smaller_than_the_data_equals_extraction(split, tmp_path):
    """Phase 2's two boundary tensors in 5-row shards (several per split, the last one short)."""
    parts = boundary.prepare_phase(tiny_classifier(), 2, n_unfreeze=6)
    rows = training.train_val_rows(split)
    row_bytes = sum(4 * int(np.prod(t.shape[1:])) for t in parts.frozen.outputs)
    store, info = training.cached_feature_store(parts.frozen, rows, IMAGE_SIZE, scale, tmp_path,
                                                batch_size=3, progress=False, shard_bytes=5 * row_bytes)
    assert store.shard_rows == 5 and store.n_shards == -(-len(rows) // 5) > 2
    direct = training.extract_features(parts.frozen, rows, IMAGE_SIZE, scale, progress=False)
    assert_close(store.load(), direct, rtol=0, atol=0)
    picked = np.array([len(rows) - 1, 0, 7, 7, 3])
    assert_close(store.read(picked), [a[picked] for a in direct], rtol=0, atol=0)


def test_interrupted_extraction_resumes_at_the_next_unwritten_shard(split, tmp_path, monkeypatch):
    parts = boundary.prepare_phase(tiny_classifier(), 1)
    rows = training.train_val_rows(split)
    row_bytes = 4 * int(np.prod(parts.frozen.outputs[0].shape[1:]))
    real, seen = training.feature_batches, []

    def dies_after_two_batches(frozen, manifest, *args, **kwargs):
        seen.append(len(manifest))
        for k, batch in enumerate(real(frozen, manifest, *args, **kwargs)):
            if len(seen) == 1 and k == 2:
                raise KeyboardInterrupt  # the user stops the extraction
            yield batch

    monkeypatch.setattr(training, "feature_batches", dies_after_two_batches)
    options = dict(cache_dir=tmp_path, batch_size=2, progress=False, shard_bytes=3 * row_bytes)
    with pytest.raises(KeyboardInterrupt):
        training.cached_feature_store(parts.frozen, rows, IMAGE_SIZE, scale, **options)
    with pytest.warns(UserWarning, match="did not finish"):
        store, info = training.cached_feature_store(parts.frozen, rows, IMAGE_SIZE, scale, **options)
    assert info.status == "resumed"
    assert seen == [len(rows), len(rows) - 3]  # 4 rows extracted, 1 shard of 3 written, resumed at row 3
    monkeypatch.undo()
    assert_close(store.load(), training.extract_features(parts.frozen, rows, IMAGE_SIZE, scale,
                                                         progress=False), rtol=0, atol=0)


def test_store_batches_follow_the_order_given(split, tmp_path):
    parts = boundary.prepare_phase(tiny_classifier(), 1)
    rows = training.train_val_rows(split)
    store, _ = training.cached_feature_store(parts.frozen, rows, IMAGE_SIZE, scale, tmp_path, progress=False)
    order = np.random.default_rng(0).permutation(len(rows))
    labels = np.arange(len(rows))[order]
    batches = training.store_batches(store, order, labels, batch_size=4)
    assert len(batches) == -(-len(rows) // 4)
    x = np.concatenate([batches[i][0] for i in range(len(batches))])
    y = np.concatenate([batches[i][1] for i in range(len(batches))])
    np.testing.assert_array_equal(x, store.load()[0][order])
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(IndexError):
        batches[len(batches)]
    with pytest.raises(ValueError, match="differ in length"):
        training.store_batches(store, order, labels[:-1], batch_size=4)


def test_cached_features_bad_input(tmp_path):
    parts = boundary.prepare_phase(tiny_classifier(), 1)
    with pytest.raises(ValueError, match="sha256"):
        training.cached_features(parts.frozen, pd.DataFrame({"path": []}), IMAGE_SIZE, scale, tmp_path)


# --- resume -------------------------------------------------------------------------


def test_interrupted_phase_resumes_to_the_same_result(split, tmp_path):
    straight = tiny_classifier()
    run(straight, split, 2, tmp_path / "straight", epochs=4)
    resumed = tiny_classifier()
    first = run(resumed, split, 2, tmp_path / "resumed", epochs=4, stop_after=2)
    assert len(first.history) == 2 and not first.final_weights.exists()
    resumed = tiny_classifier()  # a fresh process would rebuild the model
    second = run(resumed, split, 2, tmp_path / "resumed", epochs=4)
    assert second.resumed_from == 2 and len(second.history) == 4
    for a, b in zip(weights_of(straight), weights_of(resumed), strict=True):
        assert np.array_equal(a, b)
    # Finished: a re-run (e.g. the notebook again) only restores the final state.
    again_model = tiny_classifier()
    again = run(again_model, split, 2, tmp_path / "resumed", epochs=4)
    assert again.resumed_from == 4 and len(again.history) == 4
    for a, b in zip(weights_of(straight), weights_of(again_model), strict=True):
        assert np.array_equal(a, b)
    # The trained model is not the starting point of that state: refused, not mixed.
    with pytest.raises(training.StaleStateError):
        run(resumed, split, 2, tmp_path / "resumed", epochs=4)


def test_state_from_other_settings_is_refused(split, tmp_path):
    run(tiny_classifier(), split, 1, tmp_path / "p1", epochs=1)
    with pytest.raises(training.StaleStateError, match="other settings"):
        run(tiny_classifier(), split, 1, tmp_path / "p1", epochs=1,
            optimizer=training.OptimizerSpec("adam", 1e-3))
    fresh = run(tiny_classifier(), split, 1, tmp_path / "p1", epochs=1, resume=False,
                optimizer=training.OptimizerSpec("adam", 1e-3))
    assert fresh.resumed_from == 0


def test_killed_training_process_resumes_without_losing_epochs(tmp_path):
    root, folder, epochs = tmp_path / "images", tmp_path / "run", 60
    script = [sys.executable, str(TESTS / "training_support.py"), str(root), str(folder), str(epochs)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(script, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    history = folder / "history.csv"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if history.exists() and len(training.read_history(history)) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(training.read_history(history))
    assert 3 <= finished < epochs  # killed mid-phase
    done = subprocess.run(script, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = training.read_history(history)
    assert resumed["phase_epoch"].tolist() == list(range(1, epochs + 1))

    # An uninterrupted run in one process gives the same weights, bit for bit.
    straight = subprocess.run([*script[:3], str(tmp_path / "straight"), str(epochs)], env=env,
                              capture_output=True, text=True, timeout=600)
    assert straight.returncode == 0, straight.stderr[-2000:]
    a, b = tiny_classifier(), tiny_classifier()
    a.load_weights(folder / "final.weights.h5")
    b.load_weights(tmp_path / "straight" / "final.weights.h5")
    for x, y in zip(weights_of(a), weights_of(b), strict=True):
        assert np.array_equal(x, y)
    pd.testing.assert_frame_equal(resumed.drop(columns="seconds"),
                                  training.read_history(tmp_path / "straight" / "history.csv")
                                  .drop(columns="seconds"))


# --- augmentation --------------------------------------------------------------------


def test_augmenter_keeps_shape_and_changes_images():
    aug = training.make_augmenter(seed=0)
    x = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    y = np.asarray(aug(x, training=True))
    assert y.shape == x.shape and not np.allclose(x, y)
    assert np.allclose(np.asarray(aug(x, training=False)), x)
    kinds = [type(layer).__name__ for layer in training.make_augmenter(flip=False, zoom=0).layers]
    assert kinds == ["RandomShear"]
    assert [type(layer).__name__ for layer in aug.layers] == ["RandomShear", "RandomZoom", "RandomFlip"]


def test_augmented_training_uses_the_naive_path(split, tmp_path):
    result = run(tiny_classifier(), split, 1, tmp_path / "aug", epochs=1, augment=True)
    assert result.feed == "naive" and result.cache is None and len(result.history) == 1


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"phase": 3}, ValueError, "phase must be 1 or 2"),
    ({"epochs": 0}, ValueError, "epochs must be a positive integer"),
    ({"batch_size": 2.5}, ValueError, "batch_size must be a positive integer"),
    ({"stop_after": 0}, ValueError, "stop_after"),
    ({"feed": "fast"}, ValueError, "feed must be"),
    ({"augment": True, "feed": "cached"}, ValueError, "cannot be cached"),
    ({"optimizer": "sgd"}, TypeError, "OptimizerSpec"),
    ({"label_smoothing": 1.0}, ValueError, "label_smoothing must be"),
    ({"label_smoothing": -0.1}, ValueError, "label_smoothing must be"),
    ({"label_smoothing": True}, ValueError, "label_smoothing must be"),
    ({"patience": 0}, ValueError, "patience must be a positive integer"),
])
def test_train_phase_rejects_bad_arguments(split, tmp_path, kwargs, error, match):
    options = {"phase": 1, **kwargs}
    phase = options.pop("phase")
    with pytest.raises(error, match=match):
        run(tiny_classifier(), split, phase, tmp_path / "bad", **options)


def test_train_phase_rejects_bad_data(split, tmp_path):
    with pytest.raises(ValueError, match="lacks columns"):
        run(tiny_classifier(), split.drop(columns="split"), 1, tmp_path / "bad")
    with pytest.raises(ValueError, match="'train' and 'val' rows"):
        run(tiny_classifier(), split[split["split"] != "val"], 1, tmp_path / "bad")
    with pytest.raises(TypeError, match="DataFrame"):
        run(tiny_classifier(), split.to_dict(), 1, tmp_path / "bad")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"name": "rmsprop"}, "optimizer name"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"momentum": 1.0}, "momentum"),
])
def test_optimizer_spec_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        training.OptimizerSpec(**kwargs)


def test_optimizer_spec_builds_and_labels():
    sgd = training.STUDY_OPTIMIZER.build()
    assert type(sgd).__name__ == "SGD" and float(sgd.learning_rate) == pytest.approx(1e-4)
    assert training.STUDY_OPTIMIZER.label() == "SGD(lr=0.0001, momentum=0.9)"
    assert training.OptimizerSpec("adam", 1e-3).label() == "Adam(lr=0.001)"


def test_augmenter_rejects_bad_factors():
    with pytest.raises(ValueError, match="zoom"):
        training.make_augmenter(zoom=1.5)


def test_prepare_phase_cuts_where_the_cache_cuts():
    model = tiny_classifier()
    p1 = boundary.prepare_phase(model, 1)
    assert p1.boundary == ["head_pool"] and p1.frozen.output_shape == (None, 6)
    assert [layer.name for layer in p1.top.layers][1:] == ["head_dense", "head_output"]
    p2 = boundary.prepare_phase(model, 2, n_unfreeze=6)
    assert p2.boundary == ["r1", "bn2"]
    x = np.random.default_rng(0).uniform(-1, 1, (2, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(p2.top(p2.frozen(x))), np.asarray(model(x)), atol=1e-6)
    unfreeze_last(model, 6)
    with pytest.raises(ValueError, match="phase"):
        boundary.prepare_phase(model, 0)


def test_cache_key_survives_rebuilding_the_model_in_one_session(split):
    """Keras renames auto-named layers and tensors on every build; the key must not care."""
    rows = split[split["split"] != "test"]
    keys = []
    for clear in (True, False):
        parts = boundary.prepare_phase(tiny_classifier(clear=clear), 2, n_unfreeze=6)
        keys.append(training.feature_cache_key(parts.frozen, rows, IMAGE_SIZE, scale))
    assert keys[0] == keys[1]


def test_lowest_val_loss_picks_the_run_with_the_lowest_best_epoch():
    a = pd.DataFrame({"val_loss": [0.9, 0.5, 0.7]})
    b = pd.DataFrame({"val_loss": [0.6, 0.55, 0.52]})
    assert training.lowest_val_loss({"a": a, "b": b}) == "a"
    assert training.lowest_val_loss({"b": b, "a2": a.assign(val_loss=[0.52, 0.6, 0.7])}) == "b"  # tie: first
    with pytest.raises(ValueError, match="empty"):
        training.lowest_val_loss({})
    with pytest.raises(ValueError, match="no val_loss"):
        training.lowest_val_loss({"a": pd.DataFrame({"loss": [1.0]})})


def test_features_cached_for_train_val_rows_are_the_ones_training_reads(tmp_path, split):
    """Notebook 04 extracts features before training; in train_val_rows' order, the
    training run then reads that file instead of extracting again."""
    model, data = tiny_classifier(), split
    parts = boundary.prepare_phase(model, phase=1)
    _, first = training.cached_features(parts.frozen, training.train_val_rows(data), IMAGE_SIZE, scale,
                                        cache_dir=tmp_path, progress=False)
    result = training.train_phase(model, data, phase=1, folder=tmp_path / "run", image_size=IMAGE_SIZE,
                                  preprocess=scale, epochs=1, cache_dir=tmp_path, progress=False)
    assert first.status == "built" and result.cache.status == "loaded"
    assert result.cache.path == first.path


# --- phase-2 options: early stopping and label smoothing ----------------------------------------


def test_epochs_since_best_counts_epochs_after_the_lowest_val_loss():
    rows = [{"val_loss": v} for v in (1.0, 0.5, 0.7, 0.6)]
    assert training.epochs_since_best(rows) == 2
    assert training.epochs_since_best(rows[:2]) == 0
    assert training.epochs_since_best([]) == 0


def test_early_stopping_stops_once_patience_epochs_bring_no_improvement(split, tmp_path):
    # A learning rate far too high makes the validation loss bounce, so patience 1 stops early.
    result = run(tiny_classifier(), split, 1, tmp_path / "p1", epochs=12, patience=1,
                 optimizer=training.OptimizerSpec("adam", 0.5))
    rows = result.history.to_dict("records")
    assert len(rows) < 12
    assert training.epochs_since_best(rows) == 1
    assert all(training.epochs_since_best(rows[:k]) < 1 for k in range(1, len(rows)))
    assert result.final_weights.exists()
    # The same call again resumes, finds the stop and trains nothing more.
    again = run(tiny_classifier(), split, 1, tmp_path / "p1", epochs=12, patience=1,
                optimizer=training.OptimizerSpec("adam", 0.5))
    assert len(again.history) == len(rows) and again.resumed_from == len(rows)


def test_smoothed_loss_is_keras_categorical_crossentropy_on_one_hot_labels():
    keras = import_keras()
    y = np.array([0, 2, 1])
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]], dtype="float32")
    one_hot = np.eye(3, dtype="float32")[y]
    expected = keras.losses.categorical_crossentropy(one_hot, p, label_smoothing=0.1)
    np.testing.assert_allclose(training.smoothed_loss(0.1)(y, p), expected, rtol=1e-6)
    plain = keras.losses.sparse_categorical_crossentropy(y, p)
    np.testing.assert_allclose(training.smoothed_loss(1e-12)(y, p), plain, rtol=1e-5)


def test_label_smoothing_changes_the_loss_and_is_part_of_the_run(split, tmp_path):
    plain = run(tiny_classifier(), split, 1, tmp_path / "plain")
    smooth = run(tiny_classifier(), split, 1, tmp_path / "smooth", label_smoothing=0.2)
    assert smooth.settings["label_smoothing"] == 0.2 and "label_smoothing" not in plain.settings
    assert not np.allclose(plain.history["loss"], smooth.history["loss"])
    with pytest.raises(training.StaleStateError):  # a state without smoothing is not resumed with it
        run(tiny_classifier(), split, 1, tmp_path / "plain", label_smoothing=0.2)


def _plain_keras_flags(model, trainable_from: int):
    """What notebooks 04 and 05 show in plain Keras: layers from ``trainable_from`` on train,
    BatchNorm stays frozen, and a frozen Dropout is switched off by hand (it has no weights, so
    ``trainable`` alone would not stop it)."""
    keras = import_keras()
    for index, layer in enumerate(model.layers):
        frozen = index < trainable_from or isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = not frozen
        if isinstance(layer, keras.layers.Dropout) and frozen:
            layer.rate = 0.0


def test_plain_keras_fit_equals_train_phase(split, tmp_path):
    """The notebooks' plain freeze / compile / fit, one ``fit`` per epoch over the images in
    ``epoch_order``, ends where ``train_phase`` ends on both of its paths, in both phases (1e-5).
    Phase 2 unfreezes the last 5 layers, from the ``Add`` after the Dropout: a Dropout that trains
    draws its masks from a per-layer seed state the two ways do not share."""
    from helpers.pipeline import make_dataset

    keras = import_keras()
    sgd = training.OptimizerSpec("sgd", learning_rate=1e-2, momentum=0.9)  # the study's 1e-4 barely moves
    trained = {}
    for feed in ("naive", "cached"):
        model = tiny_classifier()
        run(model, split, 1, tmp_path / feed / "p1", epochs=2, feed=feed, optimizer=sgd)
        run(model, split, 2, tmp_path / feed / "p2", epochs=2, feed=feed, n_unfreeze=5, optimizer=sgd)
        trained[feed] = [w.numpy() for w in model.weights]

    train = split[split["split"] == "train"].reset_index(drop=True)
    plain = None
    for phase, trainable_from in ((1, -3), (2, -5)):
        # Phase 2 starts from a new model holding phase 1's weights, as notebook 05 loads phase 1's
        # checkpoint.
        fresh = tiny_classifier(clear=plain is None)
        if plain is not None:
            fresh.set_weights(plain.get_weights())
        plain = fresh
        keras.utils.set_random_seed(42)  # train_phase's default seed (config.SEED)
        _plain_keras_flags(plain, len(plain.layers) + trainable_from)
        plain.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-2, momentum=0.9),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        for epoch in range(2):
            order = training.epoch_order(len(train), 42, phase, epoch)
            plain.fit(make_dataset(train.iloc[order], IMAGE_SIZE, 4, preprocess=scale), epochs=1, verbose=0)
    # Weights only (not model.variables): a Dropout's seed counter differs between the ways.
    ours = [w.numpy() for w in plain.weights]
    for feed in ("naive", "cached"):
        assert_close(ours, trained[feed])
    # Not vacuous: both phases moved the weights by far more than the tolerance.
    start = {w.path: w.numpy() for w in tiny_classifier().weights}
    for name in ("c3/kernel", "head_dense/kernel"):
        moved = np.abs(dict(zip([w.path for w in plain.weights], ours, strict=True))[name] - start[name]).max()
        assert moved > 1e-4, name


# --- callbacks: the checkpoint callback and the caller's own ------------------------------


def _recorder():
    keras = import_keras()

    class Recorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.calls = []

        def on_epoch_end(self, epoch, logs=None):
            self.calls.append((epoch, dict(logs)))

    return Recorder()


def test_user_callbacks_see_each_epoch_once_with_its_metrics(split, tmp_path):
    recorder = _recorder()
    run(tiny_classifier(), split, 1, tmp_path / "p1", stop_after=2, callbacks=[recorder])
    model = tiny_classifier()  # a fresh process would rebuild the model
    history = run(model, split, 1, tmp_path / "p1", callbacks=(recorder,)).history  # resumes at epoch 3
    assert [epoch for epoch, _ in recorder.calls] == [0, 0, 0]  # one-epoch fit calls
    assert [logs["phase_epoch"] for _, logs in recorder.calls] == [1, 2, 3] == history["phase_epoch"].tolist()
    for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [logs[column] for _, logs in recorder.calls] == history[column].tolist()
    # Watching changes nothing: the same run without callbacks ends on the same weights, bit for bit.
    trained = weights_of(model)
    plain = tiny_classifier()
    run(plain, split, 1, tmp_path / "plain")
    for a, b in zip(trained, weights_of(plain), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize(("callbacks", "match"), [
    ("not a callback", "list of keras.callbacks.Callback, got str"),
    (None, "list of keras.callbacks.Callback, got NoneType"),
    ([lambda epoch, logs: None], "Callback instances, got function"),
    ("single", "wrap the single callback in a list"),
])
def test_train_phase_rejects_what_is_not_callbacks(split, tmp_path, callbacks, match):
    if callbacks == "single":
        callbacks = import_keras().callbacks.Callback()
    with pytest.raises(TypeError, match=match):
        run(tiny_classifier(), split, 1, tmp_path / "bad", callbacks=callbacks)
    assert not (tmp_path / "bad").exists()  # refused before anything is written


def test_phase_checkpoint_writes_best_only_when_val_loss_improves(tmp_path):
    from helpers.checkpoints import PhaseCheckpoint

    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.random.default_rng(0).normal(size=(12, 4)).astype("float32"), np.arange(12) % 3
    checkpoint = PhaseCheckpoint(model, tmp_path, phase=1, fingerprint="f")
    best = tmp_path / "best.keras"

    checkpoint.start_epoch(0)  # a real one-epoch fit: the first epoch is always the best so far
    model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0, callbacks=[checkpoint])
    assert best.exists()
    first = checkpoint.rows[0]["val_loss"]
    for epoch, val_loss, written in ((1, first + 1, False), (2, first, False), (3, first - 0.5, True)):
        best.unlink(missing_ok=True)
        checkpoint.start_epoch(epoch)
        checkpoint.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5, "val_loss": val_loss, "val_accuracy": 0.5})
        assert best.exists() == written, epoch
    assert checkpoint.best == first - 0.5
    history = training.read_history(tmp_path / "history.csv")
    assert history["phase_epoch"].tolist() == [1, 2, 3, 4] and (history["phase"] == 1).all()
    with np.load(tmp_path / "state.npz") as npz:
        meta = json.loads(str(npz["meta"]))
    assert (meta["epoch"], meta["best_val_loss"], meta["fingerprint"]) == (4, first - 0.5, "f")
    with pytest.raises(RuntimeError, match="start_epoch"):  # each epoch must be announced
        checkpoint.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5, "val_loss": 0.0, "val_accuracy": 0.5})
