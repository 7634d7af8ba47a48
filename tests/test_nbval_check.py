"""The notebook checks can fail: a changed stored output, or a run that no longer
reproduces the reference report, makes nbval report a mismatch.

This guards the guard: if the sanitizer, a cell tag or a conftest hook ever made nbval
compare nothing, these tests would notice. They need the study data (like nbval itself);
the notebook-06 test also needs the model that nbval's run of notebooks 01-05 trained, so
it runs after the notebooks (``after_notebooks``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import config

NOTEBOOK = config.PROJECT_ROOT / "notebooks" / "02_splitting.ipynb"
SANITIZE = config.PROJECT_ROOT / "notebooks" / "nbval_sanitize.cfg"


STUDY_DATA = Path(os.environ.get(config.ENV_DATA_DIR, "").strip() or "/nonexistent")


@pytest.mark.skipif(not (STUDY_DATA / "identity_meta.csv").is_file(),
                    reason="nbval needs the study data: set CELEB_DATA_DIR (../shared/data/vggface2)")
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


EVALUATION = config.PROJECT_ROOT / "notebooks" / "06_evaluation.ipynb"


def _trained_run_dir() -> Path | None:
    value = os.environ.get(config.ENV_RUN_DIR, "").strip()
    run = Path(value) if value else None
    return run if run and (run / "phase2" / "best.keras").is_file() and (run / "split.csv").is_file() else None


@pytest.mark.after_notebooks
@pytest.mark.parametrize("regression", ["two test images fewer", "a report value 0.01 lower"])
def test_nbval_fails_when_the_evaluation_no_longer_reproduces_the_reference(tmp_path, regression):
    """Notebook 06 re-scores the trained model; against a reference that differs from it by
    more than the policy allows, its verdict cell changes and nbval fails."""
    run = _trained_run_dir()
    if run is None or not (STUDY_DATA / "identity_meta.csv").is_file():
        pytest.skip("needs the study data and a run folder (CELEB_RUN_DIR) where notebooks 01-05 "
                    "trained the model, i.e. nbval's run of the notebooks in the same session")
    reference = json.loads(config.reference_metrics_path().read_text())
    if regression == "two test images fewer":
        reference["test_accuracy"] = (round(reference["test_accuracy"] * reference["n_test"]) + 2) \
            / reference["n_test"]
    else:
        first = next(k for k in reference["report"] if k not in ("macro avg", "weighted avg"))
        reference["report"][first]["recall"] = round(reference["report"][first]["recall"] + 0.01, 4)
    forged = tmp_path / "forged_metrics.json"
    forged.write_text(json.dumps(reference))
    copy = tmp_path / EVALUATION.name
    copy.write_text(EVALUATION.read_text())

    env = {**os.environ, config.ENV_RUN_DIR: str(run), config.ENV_REFERENCE_METRICS: str(forged)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
         "--nbval-sanitize-with", str(SANITIZE), "--rootdir", str(tmp_path), str(copy)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "1 failed" in done.stdout and "passed" in done.stdout, done.stdout[-3000:]
    assert "reference_metrics_path()" in done.stdout  # the failing cell is the verdict cell


def test_nbval_markers_in_the_notebooks_are_ones_nbval_recognises():
    """nbval only honours a comment that is exactly a marker ("# NBVAL_IGNORE_OUTPUT");
    a marker with text after it is silently ignored and the cell compared after all."""
    from nbval.plugin import comment_markers

    for path in sorted(NOTEBOOK.parent.glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            for line in "".join(cell["source"]).splitlines():
                if "NBVAL_" in line and line.strip().startswith("#"):
                    assert line.strip().lstrip("#").strip() in comment_markers, (path.name, line)
