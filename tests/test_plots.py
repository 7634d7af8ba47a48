"""helpers.plots: each figure is built from data and saved with the one helper."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from helpers import config, data, plots, splitting
from tests.conftest import make_identity_tree


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = make_identity_tree(tmp_path_factory.mktemp("plots"), {"a": 10, "b": 12})
    return data.load_folder(root).manifest


def test_save_figure_writes_png_to_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(config.ENV_RUN_DIR, str(tmp_path / "run"))
    fig, ax = plt.subplots()
    path = plots.save_figure(fig, "demo")
    assert path == tmp_path / "run" / "figures" / "demo.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plots.save_figure(fig, "other", tmp_path / "x") == tmp_path / "x" / "other.png"


@pytest.mark.parametrize("bad", ["", "a.png", "a/b", "a b"])
def test_save_figure_rejects_bad_names(tmp_path, bad):
    with pytest.raises(ValueError, match="figure name"):
        plots.save_figure(plt.figure(), bad, tmp_path)


def test_plot_functions_return_figures(manifest, tmp_path):
    figs = {
        "grid": plots.sample_grid(manifest, per_identity=3),
        "counts": plots.class_counts_bar(data.identity_table(manifest)),
        "sizes": plots.image_size_plot(manifest, input_size=224),
        "split": plots.split_bar(splitting.split_table(splitting.split_dataset(manifest))),
    }
    for name, fig in figs.items():
        assert isinstance(fig, plt.Figure)
        assert plots.save_figure(fig, name, tmp_path).stat().st_size > 1000
    assert len(figs["grid"].axes) == 2 * 3
    with pytest.raises(ValueError, match="per_identity"):
        plots.sample_grid(manifest, per_identity=0)


def _block_table(trainable):
    return pd.DataFrame({"block": ["stem", "block1", "head"], "layers": [3, 4, 3],
                         "params": [100, 400, 50], "trainable_params": trainable,
                         "frozen_params": [100 - trainable[0], 400 - trainable[1], 50 - trainable[2]],
                         "slice_layers": [0 if t == 0 else 1 for t in trainable]})


def test_plot_model_blocks_one_panel_per_phase(tmp_path):
    fig = plots.plot_model_blocks({"phase 1": _block_table([0, 0, 50]),
                                   "phase 2": _block_table([0, 300, 50])}, title="demo")
    assert len(fig.axes) == 2 and "trainable 350 of 550" in fig.axes[1].get_title()
    assert plots.save_figure(fig, "blocks", tmp_path).is_file()


def test_plot_model_blocks_bad_input():
    with pytest.raises(ValueError, match="empty"):
        plots.plot_model_blocks({})
    with pytest.raises(ValueError, match="lacks columns"):
        plots.plot_model_blocks({"p": _block_table([0, 0, 50]).drop(columns="layers")})
    other = _block_table([0, 0, 50]).assign(block=["a", "b", "c"])
    with pytest.raises(ValueError, match="other blocks"):
        plots.plot_model_blocks({"p": _block_table([0, 0, 50]), "q": other})
