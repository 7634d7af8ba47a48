"""Descriptors of 60 real photos (12 per study identity), shared by the real-data tests of
helpers.near_duplicates and helpers.splitting; computed once per test process.

The sample holds, for each identity, one pair of photos that the full-data measurement found
closer than 0.2 (the same picture recropped or recompressed, checked by eye), filled up with
that identity's first photos in path order. The tests check what they find; they do not
assume these pairs are near-copies.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import config, data
from tests.conftest import real_vggface2

VGG = real_vggface2()
#: Per identity, two photos found very close to each other in the full study data.
CLOSE_PAIRS: dict[str, tuple[str, str]] = {
    "n000051": ("train/n000051/0330_01.jpg", "train/n000051/0061_01.jpg"),
    "n000052": ("train/n000052/0006_01.jpg", "train/n000052/0004_01.jpg"),
    "n000053": ("train/n000053/0107_03.jpg", "train/n000053/0029_02.jpg"),
    "n000054": ("train/n000054/0274_01.jpg", "train/n000054/0112_01.jpg"),
    "n000055": ("train/n000055/0086_01.jpg", "train/n000055/0119_01.jpg"),
}
PER_IDENTITY = 12

needs_vgg = pytest.mark.skipif(
    not (VGG / data.VGGFACE2_META).is_file(),
    reason=f"study data not found at {VGG} (set CELEB_DATA_DIR to a VGGFace2 root)")


def needs_dlib() -> None:
    """Skip (with the reason) without dlib or its model files."""
    pytest.importorskip("dlib",
                        reason="the embeddings extra is not installed (pip install -e '.[embeddings]')")
    from helpers import embeddings  # noqa: PLC0415

    try:
        embeddings.model_paths()
    except ImportError as err:
        pytest.skip(str(err))


def study_sample() -> pd.DataFrame:
    """The 60 photos: each identity's close pair, then its first photos in path order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.SkippedFilesWarning)
        manifest = data.load_vggface2(VGG).manifest
    picked = []
    for ident, rows in manifest.sort_values("relpath").groupby("identity", sort=True):
        pair = list(CLOSE_PAIRS.get(ident, ()))
        rest = [p for p in rows["relpath"] if p not in pair]
        picked += pair + rest[:PER_IDENTITY - len(pair)]
    return manifest[manifest["relpath"].isin(picked)].reset_index(drop=True)


@functools.lru_cache(maxsize=2)
def sample_descriptors(cache_root: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The sample and its descriptors (MTCNN boxes, then dlib), cached under ``cache_root``."""
    from helpers import embeddings, faces  # noqa: PLC0415

    sample = study_sample()
    with pytest.MonkeyPatch.context() as patch:  # helpers.faces caches under config.cache_dir()
        patch.setenv(config.ENV_CACHE_DIR, cache_root)
        detections = faces.detections_table(sample)
        X, status = embeddings.descriptors_table(sample, detections, progress=False)
    assert (status["status"] != embeddings.FAILED).all(), status[status["status"] == embeddings.FAILED]
    return sample, X


@pytest.fixture
def real_sample(tmp_path_factory) -> tuple[pd.DataFrame, np.ndarray]:
    """The 60 photos and their descriptors; cached under ``CELEB_CACHE_DIR`` when it is set,
    else in a temporary folder (so a test run never writes into a user's default cache)."""
    needs_dlib()
    root = os.environ.get(config.ENV_CACHE_DIR, "").strip() or str(tmp_path_factory.getbasetemp() / "cache")
    Path(root).mkdir(parents=True, exist_ok=True)
    return sample_descriptors(root)
