"""Project-wide pytest hooks.

The committed notebooks hold the outputs of the reference run on the study's data
(VGGFace2 ids 51-55). nbval can only reproduce them on that data, so the notebook
checks are skipped, with the reason, when ``CELEB_DATA_DIR`` does not point to it.
CI sets ``CELEB_REQUIRE_NOTEBOOKS=1``: then a session whose notebooks were not
collected, or were collected but skipped, fails instead of passing quietly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOK_SKIP_REASON = (
    "nbval compares the notebooks with the reference run on the study data: set "
    "CELEB_DATA_DIR to a VGGFace2 root holding identity_meta.csv and n000051..n000055"
)


#: When "1", the notebooks must be collected and run (CI sets it).
ENV_REQUIRE_NOTEBOOKS = "CELEB_REQUIRE_NOTEBOOKS"


def notebooks_required() -> bool:
    return os.environ.get(ENV_REQUIRE_NOTEBOOKS, "").strip() == "1"


def _is_notebook(nodeid: str) -> bool:
    return ".ipynb::" in nodeid or nodeid.endswith(".ipynb")


def study_data_available() -> bool:
    value = os.environ.get("CELEB_DATA_DIR", "").strip()
    return bool(value) and (Path(value) / "identity_meta.csv").is_file()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "after_notebooks: runs after nbval has executed the notebooks (uses their run folder)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that need the notebooks' outputs (the trained model) go last, after nbval.
    items.sort(key=lambda item: item.get_closest_marker("after_notebooks") is not None)
    if notebooks_required():
        if not study_data_available():
            raise pytest.UsageError(f"{ENV_REQUIRE_NOTEBOOKS}=1 but {NOTEBOOK_SKIP_REASON}")
        if not any(_is_notebook(item.nodeid) for item in items):
            raise pytest.UsageError(f"{ENV_REQUIRE_NOTEBOOKS}=1 but no notebook was collected: "
                                    "run pytest with --nbval and the notebooks folder (see `make test`)")
    if study_data_available():
        return
    skip = pytest.mark.skip(reason=NOTEBOOK_SKIP_REASON)
    for item in items:
        if str(item.path).endswith(".ipynb"):
            item.add_marker(skip)


_notebook_outcomes: dict[str, int] = {"ran": 0, "skipped": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not _is_notebook(report.nodeid):
        return
    if report.skipped:
        _notebook_outcomes["skipped"] += 1
    elif report.when == "call":
        _notebook_outcomes["ran"] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A CI run must not pass on notebooks that were collected but never executed.
    if notebooks_required() and exitstatus == pytest.ExitCode.OK and (
            _notebook_outcomes["skipped"] or not _notebook_outcomes["ran"]):
        session.config.get_terminal_writer().line(
            f"{ENV_REQUIRE_NOTEBOOKS}=1: {_notebook_outcomes['skipped']} notebook cells were skipped "
            f"and {_notebook_outcomes['ran']} ran; every notebook cell must run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
