"""Project-wide pytest hooks.

The committed notebooks hold the outputs of the reference run on the study's data
(VGGFace2 ids 51-55). nbval can only reproduce them on that data, so the notebook
checks are skipped, with the reason, when ``CELEB_DATA_DIR`` does not point to it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOK_SKIP_REASON = (
    "nbval compares the notebooks with the reference run on the study data: set "
    "CELEB_DATA_DIR to a VGGFace2 root holding identity_meta.csv and n000051..n000055 "
    "(in this workspace: ../shared/data/vggface2)"
)


def study_data_available() -> bool:
    value = os.environ.get("CELEB_DATA_DIR", "").strip()
    return bool(value) and (Path(value) / "identity_meta.csv").is_file()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "after_notebooks: runs after nbval has executed the notebooks (uses their run folder)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that need the notebooks' outputs (the trained model) go last, after nbval.
    items.sort(key=lambda item: item.get_closest_marker("after_notebooks") is not None)
    if study_data_available():
        return
    skip = pytest.mark.skip(reason=NOTEBOOK_SKIP_REASON)
    for item in items:
        if str(item.path).endswith(".ipynb"):
            item.add_marker(skip)
