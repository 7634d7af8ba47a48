"""helpers.distribute and train_phase under tf.distribute: two logical CPUs mirrored, two local
worker processes, a killed run resumed under a strategy, and the bad inputs. Each run is a
process of its own (``distribute_support.py``): devices and workers are fixed when TensorFlow
starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import distribute, training
from training_support import tiny_data

TESTS = Path(__file__).resolve().parent
SCRIPT = TESTS / "distribute_support.py"
#: Same recipe with and without a strategy: the replicas sum the same per-row gradients in
#: another order, so weights agree to float32 rounding, not bit for bit.
TOLERANCE = 1e-5


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}


def _start(mode: str, root: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), mode, str(root), str(out), *extra], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, timeout: float = 600) -> int:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode in (0, 3), err[-3000:]
    return proc.returncode


def _arrays(path: Path) -> list[np.ndarray]:
    with np.load(path) as npz:
        return [npz[f"arr_{i}"] for i in range(len(npz.files))]


def _assert_close(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=TOLERANCE, atol=TOLERANCE)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny") / "images"
    tiny_data(folder)  # made once here: the workers only read it
    return folder


@pytest.fixture(scope="module")
def reference(root, tmp_path_factory) -> Path:
    """Both phases without a strategy."""
    out = tmp_path_factory.mktemp("none")
    _finish(_start("none", root, out))
    return out


def test_mirrored_over_two_logical_cpus_trains_the_same_weights(root, reference, tmp_path):
    _finish(_start("mirrored", root, tmp_path))
    assert _replicas(tmp_path) == 2
    ours = _arrays(tmp_path / "weights.npz")
    _assert_close(ours, _arrays(reference / "weights.npz"))
    # Not vacuous: training moved the weights by far more than the tolerance.
    from training_support import tiny_classifier

    start = [w.numpy() for w in tiny_classifier().weights]
    assert max(np.abs(a - b).max() for a, b in zip(ours, start, strict=True)) > 100 * TOLERANCE
    # Features extracted with each batch split across the two devices: same rows, same order.
    _assert_close(_arrays(tmp_path / "features.npz"), _arrays(reference / "features.npz"))


def test_mirrored_naive_path_trains_the_same_weights(root, reference, tmp_path):
    """Images through the whole model, each batch split across the devices."""
    _finish(_start("mirrored", root, tmp_path, "--feed", "naive"))
    _assert_close(_arrays(tmp_path / "weights.npz"), _arrays(reference / "weights.npz"))


def _replicas(out: Path) -> int:
    return json.loads((out / "run.json").read_text())["replicas"]


def test_two_local_workers_train_the_same_weights(root, reference, tmp_path):
    workers = ",".join(f"localhost:{p}" for p in _free_ports(2))
    procs = [_start("multiworker", root, tmp_path / f"w{i}", "--index", str(i), "--workers", workers)
             for i in range(2)]
    for proc in procs:
        assert _finish(proc) == 0
    theirs = _arrays(reference / "weights.npz")
    for i in range(2):
        assert _replicas(tmp_path / f"w{i}") == 2
        _assert_close(_arrays(tmp_path / f"w{i}" / "weights.npz"), theirs)
        # Each worker wrote its own checkpoints, as on machines with their own disks.
        assert training.read_history(tmp_path / f"w{i}" / "p2" / "history.csv")["phase_epoch"].tolist() == [1, 2]


def test_killed_run_under_a_strategy_resumes_where_it_stopped(root, tmp_path):
    epochs = 20
    killed = _start("mirrored", root, tmp_path / "killed", "--epochs", str(epochs), "--phases", "1")
    history = tmp_path / "killed" / "p1" / "history.csv"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and killed.poll() is None:
        if history.exists() and len(training.read_history(history)) >= 2:
            break
        time.sleep(0.05)
    assert killed.poll() is None, killed.stderr.read()[-3000:]
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    stopped_at = len(training.read_history(history))
    assert 2 <= stopped_at < epochs
    _finish(_start("mirrored", root, tmp_path / "killed", "--epochs", str(epochs), "--phases", "1"))
    resumed = training.read_history(history)
    assert resumed["phase_epoch"].tolist() == list(range(1, epochs + 1))
    _finish(_start("none", root, tmp_path / "straight", "--epochs", str(epochs), "--phases", "1"))
    _assert_close(_arrays(tmp_path / "killed" / "weights.npz"), _arrays(tmp_path / "straight" / "weights.npz"))


def test_plain_multi_worker_strategy_is_refused_with_the_fix_named(root, tmp_path):
    proc = _start("plain-multiworker", root, tmp_path)
    assert _finish(proc) == 3


# --- the small helpers ---------------------------------------------------------------


def test_tf_config_names_the_cluster_and_the_task():
    config = json.loads(distribute.tf_config(["a:1", "b:2"], 1))
    assert config == {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}
    with pytest.raises(ValueError, match="host:port"):
        distribute.tf_config(["a"], 0)
    with pytest.raises(ValueError, match="host:port"):
        distribute.tf_config([], 0)
    with pytest.raises(ValueError, match=r"index must be in \[0, 2\)"):
        distribute.tf_config(["a:1", "b:2"], 2)


def test_scaled_recipe_applies_the_linear_scaling_rule():
    sgd = training.OptimizerSpec("sgd", 1e-4, 0.9)
    assert distribute.scaled_recipe(32, sgd, 1) == (32, sgd)
    batch, scaled = distribute.scaled_recipe(32, sgd, 4)
    assert batch == 128 and scaled == training.OptimizerSpec("sgd", 4e-4, 0.9)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            distribute.scaled_recipe(32, sgd, bad)
    with pytest.raises(TypeError, match="OptimizerSpec"):
        distribute.scaled_recipe(32, "sgd", 2)


def test_split_cpu_after_start_says_to_call_it_first():
    import tensorflow as tf

    tf.constant(1.0) + 1  # TensorFlow has started in this process
    if len(tf.config.list_logical_devices("CPU")) == 3:
        pytest.skip("this process already has 3 CPU devices")
    with pytest.raises(RuntimeError, match="before anything else runs TensorFlow"):
        distribute.split_cpu(3)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            distribute.split_cpu(bad)


def test_check_strategy_refuses_a_model_built_outside_its_scope():
    import tensorflow as tf

    from training_support import tiny_classifier

    model = tiny_classifier()
    with pytest.raises(ValueError, match="inside `with strategy.scope\\(\\):`"):
        distribute.check_strategy(tf.distribute.MirroredStrategy(["/cpu:0"]), model)
    with pytest.raises(TypeError, match="tf.distribute.Strategy"):
        distribute.check_strategy("mirrored", model)
