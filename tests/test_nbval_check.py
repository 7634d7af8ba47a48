"""The notebook checks fail when they should and pass when they should.

- A changed stored output, or a run moved just beyond a reproduction tolerance, makes
  nbval fail (if the sanitizer, a cell tag or a conftest hook ever made nbval compare
  nothing, these tests would notice).
- Notebooks 04-06 retrained under another floating-point path still pass: what a CI
  machine with another CPU does, shown on this one (opt-in, ``CELEB_FP_PATH_TEST=1``: it
  costs a second training run).

They need the study data (like nbval itself); most also need the model that nbval's run
of notebooks 01-05 trained, so they run after the notebooks (``after_notebooks``) and
through README's own `make test`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import config, reproduction

NOTEBOOK = config.PROJECT_ROOT / "notebooks" / "02_splitting.ipynb"
SANITIZE = config.PROJECT_ROOT / "notebooks" / "nbval_sanitize.cfg"


STUDY_DATA = Path(os.environ.get(config.ENV_DATA_DIR, "").strip() or "/nonexistent")


@pytest.mark.skipif(not (STUDY_DATA / "identity_meta.csv").is_file(),
                    reason="nbval needs the study data: set CELEB_DATA_DIR to a VGGFace2 root")
def test_nbval_fails_when_a_stored_number_changes(tmp_path):
    nb = json.loads(NOTEBOOK.read_text())
    # The first printed line of the duplicate check: "... in more than one split: 0".
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code"
                and any("more than one split: 0" in "".join(o.get("text", "")) for o in c["outputs"]))
    out = next(o for o in cell["outputs"] if "more than one split: 0" in "".join(o["text"]))
    out["text"] = ["duplicate groups in more than one split: 1\n"]
    forged = tmp_path / NOTEBOOK.name
    forged.write_text(json.dumps(nb))

    env = {**os.environ, config.ENV_RUN_DIR: str(tmp_path / "run")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
         "--nbval-sanitize-with", str(SANITIZE), "--rootdir", str(tmp_path), str(forged)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "more than one split: 1" in done.stdout and "1 failed" in done.stdout


def _trained_run_dir() -> Path | None:
    value = os.environ.get(config.ENV_RUN_DIR, "").strip()
    run = Path(value) if value else None
    return run if run and (run / "phase2" / "best.keras").is_file() and (run / "split.csv").is_file() else None


def _make_test(notebooks: list[str], run_dir: Path, env: dict[str, str], timeout: int,
               prefix: tuple[str, ...] | list[str] = ()) -> subprocess.CompletedProcess:
    """README's test command (`make test`: the Makefile's flags, pyproject's settings, the
    root conftest.py), narrowed to some notebooks and pointed at a run folder."""
    args = " ".join(f"notebooks/{name}" for name in notebooks)
    return subprocess.run(
        [*prefix, "make", "--no-print-directory", "test", f"PYTEST_ARGS=-p no:cacheprovider {args}",
         f"TEST_RUN_DIR={run_dir}"],
        capture_output=True, text=True, cwd=config.PROJECT_ROOT, env={**os.environ, **env}, timeout=timeout)


def _needs_a_trained_run() -> Path:
    run = _trained_run_dir()
    if run is None or not (STUDY_DATA / "identity_meta.csv").is_file():
        pytest.skip("needs the study data and a run folder (CELEB_RUN_DIR) where notebooks 01-05 "
                    "trained the model, i.e. nbval's run of the notebooks in the same `make test`")
    if not (config.PROJECT_ROOT / ".venv" / ".installed").is_file():
        pytest.skip("runs README's `make test`, which needs the project's .venv (made by `make install`)")
    return run


def _forged_reference(folder: Path, regression: str) -> Path:
    """A copy of the committed reference record, moved just beyond one tolerance."""
    folder.mkdir()
    for name in (config.METRICS_FILE, config.RECORD_PHASE1_HISTORIES, config.RECORD_PHASE2_HISTORY,
                 config.RECORD_TEST_PREDICTIONS):
        shutil.copy(config.PROJECT_ROOT / "figures" / name, folder / name)
    if regression == "predictions":
        table = reproduction.read_predictions(folder / config.RECORD_TEST_PREDICTIONS)
        right = table.index[table["label"] == table["predicted"]][: reproduction.MAX_CHANGED_PREDICTIONS + 1]
        table.loc[right, "predicted"] = (table.loc[right, "label"] + 1) % (table["label"].max() + 1)
        reproduction.write_predictions(folder / config.RECORD_TEST_PREDICTIONS, table)
    else:
        histories = reproduction.read_histories(folder / config.RECORD_PHASE2_HISTORY)
        histories["phase2"].loc[20, "val_accuracy"] += 2 * reproduction.HISTORY_TOLERANCE
        reproduction.write_histories(folder / config.RECORD_PHASE2_HISTORY, histories)
    return folder


@pytest.mark.after_notebooks
@pytest.mark.parametrize(("regression", "notebook"), [
    ("predictions", "06_evaluation.ipynb"),   # one image more than the tolerance predicted differently
    ("history", "05_phase2_finetune.ipynb"),  # one epoch's val_accuracy twice the tolerance away
])
def test_nbval_fails_when_a_run_no_longer_reproduces_the_reference(tmp_path, regression, notebook):
    """Against a reference record moved just beyond a tolerance, the notebook's verdict
    changes and README's `make test` fails on exactly that cell."""
    run = _needs_a_trained_run()
    forged = _forged_reference(tmp_path / "reference", regression)
    done = _make_test([notebook], run, {config.ENV_REFERENCE_DIR: str(forged)}, timeout=1200)
    assert done.returncode != 0, done.stdout[-3000:]
    assert "1 failed" in done.stdout, done.stdout[-3000:]
    assert "record_and_check_" in done.stdout  # the failing cell is the verdict cell


# A convolution and a matrix product whose float32 results change with the kernels used.
_PROBE = """
import hashlib, numpy as np
from helpers.tf_quiet import import_keras
import_keras()
import tensorflow as tf
rng = np.random.default_rng(0)
x, w = rng.normal(size=(4, 28, 28, 64)), rng.normal(size=(3, 3, 64, 64))
a, b = rng.normal(size=(64, 1280)), rng.normal(size=(1280, 256))
y = tf.nn.conv2d(x.astype("float32"), w.astype("float32"), 1, "SAME").numpy()
m = tf.matmul(a.astype("float32"), b.astype("float32")).numpy()
print(hashlib.sha256(y.tobytes() + m.tobytes()).hexdigest())
"""


def _probe(prefix: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([*prefix, sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=config.PROJECT_ROOT, timeout=300, check=True)
    return done.stdout.strip().splitlines()[-1]


def _other_floating_point_path() -> tuple[list[str], dict[str, str], str]:
    """A way to run TensorFlow whose float32 results differ from this process's: oneDNN
    switched on or off (which one is this machine's default depends on its CPU), else one
    core instead of all. Measured with a probe, not assumed."""
    here = _probe([], {})
    for value in ("1", "0"):
        env = {"TF_ENABLE_ONEDNN_OPTS": value}
        if _probe([], env) != here:
            return [], env, f"TF_ENABLE_ONEDNN_OPTS={value}"
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1 and _probe(["taskset", "-c", "0"], {}) != here:
        return ["taskset", "-c", "0"], {}, "one core"
    pytest.skip("found no other floating-point path on this machine: oneDNN on, off and one core agree")


#: Set to "1" to run the floating-point-path test: it retrains notebooks 04-06, which costs
#: as much as nbval's own run of them (minutes to most of an hour, by CPU).
ENV_FP_PATH_TEST = "CELEB_FP_PATH_TEST"


@pytest.mark.after_notebooks
@pytest.mark.skipif(os.environ.get(ENV_FP_PATH_TEST, "").strip() != "1",
                    reason=f"retrains notebooks 04-06 on another floating-point path, as long as nbval's "
                           f"own run of them: set {ENV_FP_PATH_TEST}=1 to run it")
def test_nbval_passes_under_another_floating_point_path(tmp_path):
    """What another CPU does, shown on this one: notebooks 04-06 retrained from scratch
    (own feature cache, own run folder) on another floating-point path still pass nbval."""
    run = _needs_a_trained_run()
    prefix, env, path = _other_floating_point_path()
    other = tmp_path / "run"
    other.mkdir()
    shutil.copy(run / "split.csv", other / "split.csv")  # notebook 02's output, which 04 reads
    env = {**env, config.ENV_CACHE_DIR: str(tmp_path / "cache")}
    done = _make_test(["04_phase1_head.ipynb", "05_phase2_finetune.ipynb", "06_evaluation.ipynb"],
                      other, env, timeout=3000, prefix=prefix)
    assert done.returncode == 0, f"{path}:\n{done.stdout[-5000:]}"
    assert " passed" in done.stdout and "failed" not in done.stdout, f"{path}:\n{done.stdout[-3000:]}"


def test_notebooks_use_nbval_tags_that_nbval_recognises_and_no_comment_markers():
    """Learner-facing cells carry no test markers: nbval's cell tags say which outputs are
    not compared. A misspelt tag would be ignored silently and the cell compared after all."""
    from nbval.plugin import metadata_tags

    tagged = 0
    for path in sorted(NOTEBOOK.parent.glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            assert "NBVAL_" not in "".join(cell["source"]), (path.name, "use a cell tag, not a comment")
            for tag in cell.get("metadata", {}).get("tags", []):
                if tag.startswith("nbval"):
                    assert tag in metadata_tags, (path.name, tag)
                    tagged += 1
    assert tagged > 0
