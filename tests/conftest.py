"""Shared fixtures: tiny generated images and folder trees, and the real shared data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import config

SHARED_DATA = config.PROJECT_ROOT.parent / "shared" / "data"


def write_image(path: Path, mode: str = "RGB", size: tuple[int, int] = (12, 10),
                fmt: str | None = None, seed: int = 0) -> Path:
    """Write a small random image (width, height = ``size``) in ``mode``; return its path."""
    rng = np.random.default_rng(seed)
    rgb = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    img = rgb.convert(mode) if mode != "P" else rgb.convert("P", palette=Image.Palette.ADAPTIVE)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt or ("PNG" if path.suffix.lower() == ".png" else "JPEG"))
    return path


def make_identity_tree(root: Path, counts: dict[str, int], size=(12, 10), seed0: int = 0) -> Path:
    """``root/<identity>/<k>.jpg`` with distinct random images (distinct bytes)."""
    seed = seed0
    for ident, n in counts.items():
        for k in range(n):
            write_image(root / ident / f"{k:04d}_01.jpg", size=size, seed=seed)
            seed += 1
    return root


@pytest.fixture
def bad_input_tree(tmp_path: Path) -> Path:
    """An identity tree holding every kind of awkward input the loaders must handle."""
    root = tmp_path / "faces"
    good = root / "alice"
    write_image(good / "rgb.jpg", "RGB", seed=1)
    write_image(good / "gray.jpg", "L", seed=2)
    write_image(good / "cmyk.jpg", "CMYK", seed=3)
    write_image(good / "rgba.png", "RGBA", seed=4)
    write_image(good / "palette.png", "P", seed=5)
    write_image(good / "upper.JPEG", "RGB", seed=6)
    bad = root / "bob"
    write_image(bad / "ok.jpg", "RGB", seed=7)
    (bad / "zero.jpg").write_bytes(b"")
    full = write_image(bad / "full.jpg", "RGB", size=(64, 64), seed=8).read_bytes()
    (bad / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (bad / "notes.jpg").write_text("this is text, not a JPEG")
    (bad / "readme.txt").write_text("not an image extension")
    write_image(bad / "anim.png", "RGB", fmt="GIF", seed=9)  # GIF content behind .png
    (bad / ".DS_Store").write_bytes(b"\x00\x01")
    write_image(bad / ".ipynb_checkpoints" / "x.jpg", seed=10)
    (root / "carol").mkdir()  # empty identity folder
    write_image(root / ".ipynb_checkpoints" / "y.jpg", seed=11)
    (root / "stray.jpg").write_bytes(full)
    return root


@pytest.fixture
def vggface2_root(tmp_path: Path) -> Path:
    """A tiny VGGFace2 tree: ids 1 and 2 in train/, id 3 in test/, headerless metadata."""
    root = tmp_path / "vgg"
    make_identity_tree(root / "train", {"n000001": 12, "n000002": 11})
    make_identity_tree(root / "test", {"n000003": 10}, seed0=100)
    (root / "identity_meta.csv").write_text(
        'n000001," ""Ann_One""",12,1, f\n'
        'n000002," ""Bob_Two""",11,1, m\n'
        'n000003," ""Cy_Three""",10,0, m\n'
        'n000004," ""Di_Four""",5,1, f\n'
    )
    return root


@pytest.fixture
def lfw_home(tmp_path: Path) -> Path:
    """A tiny LFW data home in scikit-learn's layout (250x250 images, as LFW ships)."""
    home = tmp_path / "sk"
    folder = home / "lfw_home" / "lfw_funneled"
    counts = {"Ann_A": 4, "Bob_B": 6, "Cy_C": 3, "Di_D": 3, "Ed_E": 2}
    seed = 0
    for name, n in counts.items():
        for k in range(1, n + 1):
            write_image(folder / name / f"{name}_{k:04d}.jpg", size=(250, 250), seed=seed)
            seed += 1
    for fname in ("pairsDevTrain.txt", "pairsDevTest.txt", "pairs.txt"):
        (home / "lfw_home" / fname).write_text("1\n")
    return home


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No project environment variables; caches in a temporary folder."""
    for var in (config.ENV_DATA_DIR, config.ENV_RUN_DIR, config.ENV_BACKBONE, "SCIKIT_LEARN_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(config.ENV_CACHE_DIR, str(tmp_path / "cache"))
    return tmp_path


def real_vggface2() -> Path:
    value = os.environ.get(config.ENV_DATA_DIR, "").strip()
    return Path(value) if value else SHARED_DATA / "vggface2"


def real_lfw() -> Path:
    value = os.environ.get("SCIKIT_LEARN_DATA", "").strip()
    return Path(value) if value else SHARED_DATA / "lfw"
