"""helpers.config: the study's constants and the folders resolved from the environment."""

from __future__ import annotations

from pathlib import Path

from helpers import config


def test_study_constants_are_consistent():
    assert config.STUDY_CLASS_IDS == (51, 52, 53, 54, 55)
    assert len(config.STUDY_NAMES) == len(config.STUDY_CLASS_IDS)
    assert abs(sum(config.SPLIT_FRACTIONS) - 1.0) < 1e-12
    assert (config.EPOCHS_PHASE1, config.EPOCHS_PHASE2, config.UNFREEZE_LAST) == (50, 50, 63)


def test_folders_follow_the_environment(monkeypatch, tmp_path):
    for var in (config.ENV_DATA_DIR, config.ENV_RUN_DIR, config.ENV_CACHE_DIR,
                config.ENV_BACKBONE, "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert config.data_dir() is None
    assert config.run_dir() == config.PROJECT_ROOT / "runs" / "reference"
    assert config.figures_dir() == config.PROJECT_ROOT / "figures"
    assert config.cache_dir() == Path.home() / ".cache" / "celebrity-classification"
    assert config.backbone_name() == config.DEFAULT_BACKBONE

    monkeypatch.setenv(config.ENV_DATA_DIR, str(tmp_path / "vgg"))
    monkeypatch.setenv(config.ENV_RUN_DIR, str(tmp_path / "run"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv(config.ENV_BACKBONE, "inception_v3")
    assert config.data_dir() == tmp_path / "vgg"
    assert config.run_dir() == tmp_path / "run"
    assert config.figures_dir() == tmp_path / "run" / "figures"
    assert config.cache_dir() == tmp_path / "xdg" / "celebrity-classification"
    assert config.backbone_name() == "inception_v3"
    monkeypatch.setenv(config.ENV_CACHE_DIR, str(tmp_path / "c"))
    assert config.cache_dir() == tmp_path / "c"
    monkeypatch.setenv(config.ENV_DATA_DIR, "  ")
    assert config.data_dir() is None


def test_reference_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(config.ENV_REFERENCE_DIR, raising=False)
    assert config.reference_dir() == config.PROJECT_ROOT / "figures"
    monkeypatch.setenv(config.ENV_REFERENCE_DIR, str(tmp_path))
    assert config.reference_dir() == tmp_path
