"""The notebook check can fail: a changed stored output makes nbval report a mismatch.

This guards the guard: if the sanitizer, a cell tag or a conftest hook ever made nbval
compare nothing, this test would notice. Needs the study data (like nbval itself).
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
