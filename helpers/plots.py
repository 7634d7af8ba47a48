"""Figures for the notebooks, each saved with one helper to the figures folder.

Every plotting function takes data (DataFrames) and returns the Matplotlib
``Figure``; :func:`save_figure` writes it to :func:`helpers.config.figures_dir`
(the committed ``figures/`` folder for the reference run, ``<run>/figures``
when ``CELEB_RUN_DIR`` is set).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib
import pandas as pd
from PIL import Image

from helpers import config
from helpers.data import read_rgb

# A file-only backend unless one was chosen already (Jupyter's inline backend is kept).
if matplotlib.get_backend().lower() in {"agg", ""}:
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

FIGURE_DPI = 100


def save_figure(fig: plt.Figure, name: str, folder: str | Path | None = None) -> Path:
    """Save ``fig`` as ``<folder>/<name>.png`` and return the path.

    Parameters
    ----------
    fig : matplotlib Figure
    name : file stem, letters, digits, ``-`` and ``_`` only (no extension).
    folder : defaults to :func:`helpers.config.figures_dir`; created if missing.
    """
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"figure name must be letters, digits, '-' or '_' (no extension), got {name!r}")
    out_dir = Path(folder) if folder is not None else config.figures_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    # Fixed metadata keeps the PNG bytes stable from run to run on one machine.
    fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight", metadata={"Software": None})
    return path


def _sns():
    import seaborn as sns  # noqa: PLC0415 - only the plotting functions need it

    sns.set_theme(style="whitegrid", context="notebook")
    return sns


def sample_grid(
    manifest: pd.DataFrame, per_identity: int = 6, seed: int = config.SEED, size: int = 112
) -> plt.Figure:
    """A grid of images: one row per identity, ``per_identity`` images each.

    Images are picked reproducibly (``DataFrame.sample(random_state=seed)``) and shown
    stretched to ``size × size`` pixels, as the network sees them.
    """
    if per_identity < 1:
        raise ValueError(f"per_identity must be >= 1, got {per_identity}")
    groups = [(name, g) for (_, name), g in manifest.groupby(["label", "name"])]
    fig, axes = plt.subplots(len(groups), per_identity, squeeze=False,
                             figsize=(1.6 * per_identity, 1.75 * len(groups)))
    for row, (name, group) in enumerate(groups):
        picks = group.sample(n=min(per_identity, len(group)), random_state=seed)
        for col, ax in enumerate(axes[row]):
            ax.set_axis_off()
            if col < len(picks):
                img = Image.fromarray(read_rgb(picks["path"].iloc[col])).resize((size, size))
                ax.imshow(img)
        axes[row][0].set_title(name, loc="left", fontsize=10)
    fig.tight_layout()
    return fig


def class_counts_bar(table: pd.DataFrame) -> plt.Figure:
    """Bar chart of images per identity from :func:`helpers.data.identity_table`."""
    sns = _sns()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    sns.barplot(data=table, x="images", y="name", hue="name", legend=False, ax=ax,
                palette="deep")
    for container in ax.containers:
        ax.bar_label(container, padding=3)
    ax.set(xlabel="images", ylabel="", title="Images per identity")
    fig.tight_layout()
    return fig


def image_size_plot(manifest: pd.DataFrame, input_size: int | None = None) -> plt.Figure:
    """Scatter of image width × height (pixels), with the network's input size marked."""
    sns = _sns()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sns.scatterplot(data=manifest, x="width", y="height", hue="name", s=12, alpha=0.6, ax=ax)
    if input_size:
        ax.axvline(input_size, color="grey", ls="--", lw=1)
        ax.axhline(input_size, color="grey", ls="--", lw=1, label=f"input {input_size}px")
    # Log axes: most crops are ~100-400 px but a few are over 2000 px.
    ax.set(title="Image sizes (pixels, log scale)", xscale="log", yscale="log")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def split_bar(table: pd.DataFrame) -> plt.Figure:
    """Stacked horizontal bars of train/val/test images per identity.

    ``table`` is :func:`helpers.splitting.split_table` (its ``total`` row is left out).
    """
    _sns()
    body = table.drop(index=("", "total"), errors="ignore")
    body = body[list(config.SPLIT_NAMES)]
    body.index = [name for _, name in body.index]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    body.plot.barh(stacked=True, ax=ax, color=["#4C72B0", "#DD8452", "#55A868"])
    for container in ax.containers:
        ax.bar_label(container, label_type="center", fontsize=8, color="white")
    ax.invert_yaxis()
    ax.set(xlabel="images", title="Split per identity (train / val / test)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


# --- The model's structure (notebook 03) ------------------------------------------------

#: Colours of the frozen and the trainable parameters.
FROZEN_COLOUR = "#b0b0b0"
TRAINABLE_COLOUR = "#d95f02"
#: Outline of the blocks that the trainable slice reaches.
SLICE_EDGE_COLOUR = "#1b4f72"

_REQUIRED = {"block", "params", "trainable_params", "frozen_params", "slice_layers", "layers"}


def plot_model_blocks(
    phases: Mapping[str, pd.DataFrame],
    title: str | None = None,
    scale: float = 1e6,
    unit: str = "M",
) -> plt.Figure:
    """One panel per phase: a horizontal bar per named block, split frozen / trainable.

    Parameters
    ----------
    phases : ordered mapping ``panel title -> block table`` (from
        :func:`helpers.model.block_table`, taken after :func:`~helpers.model.freeze_base`
        or :func:`~helpers.model.unfreeze_last`); all tables list the same blocks.
    title : figure title (optional).
    scale, unit : parameters are divided by ``scale`` and labelled in ``unit``
        (default millions, "M").

    Returns
    -------
    Figure
        Blocks run top (stem) to bottom (head). Each bar's grey part is the block's frozen
        parameters (BatchNorm statistics included), its coloured part the trainable ones;
        a dark outline marks the blocks that the trainable slice reaches, and the label on
        the right gives ``trainable / total`` parameters (only the total for a fully
        frozen block) and, for blocks in the slice, their slice layers / all layers.
    """
    if not phases:
        raise ValueError("phases is empty: give at least one block table")
    tables = list(phases.items())
    for label, table in tables:
        missing = _REQUIRED - set(table.columns)
        if missing:
            raise ValueError(f"block table {label!r} lacks columns {sorted(missing)}")
    blocks = list(tables[0][1]["block"])
    for label, table in tables[1:]:
        if list(table["block"]) != blocks:
            raise ValueError(f"block table {label!r} lists other blocks than {tables[0][0]!r}")

    n_blocks = len(blocks)
    fig, axes = plt.subplots(
        1, len(tables), figsize=(5.2 * len(tables), 0.9 + 0.36 * n_blocks), sharey=True, squeeze=False
    )
    positions = list(range(n_blocks))
    x_max = max(float(table["params"].max()) for _, table in tables) / scale
    for ax, (label, table) in zip(axes[0], tables, strict=True):
        frozen = table["frozen_params"].to_numpy() / scale
        trainable = table["trainable_params"].to_numpy() / scale
        ax.barh(positions, frozen, color=FROZEN_COLOUR, label="frozen")
        ax.barh(positions, trainable, left=frozen, color=TRAINABLE_COLOUR, label="trainable")
        for pos, row in zip(positions, table.itertuples(index=False), strict=True):
            in_slice = row.slice_layers > 0
            if in_slice:
                ax.barh(pos, row.params / scale, fill=False, edgecolor=SLICE_EDGE_COLOUR, linewidth=1.4)
            text = (
                f"{row.trainable_params / scale:.2f} / {row.params / scale:.2f}{unit}"
                if row.trainable_params
                else f"{row.params / scale:.2f}{unit}"
            )
            if in_slice:
                text += f"  ({row.slice_layers}/{row.layers} layers)"
            ax.text(row.params / scale + 0.01 * x_max, pos, text, va="center", fontsize=7.5)
        total_trainable = int(table["trainable_params"].sum())
        total = int(table["params"].sum())
        ax.set_title(f"{label}\ntrainable {total_trainable:,} of {total:,} parameters", fontsize=10)
        ax.set_xlim(0, x_max * 1.6)
        ax.set_xlabel(f"parameters ({unit})")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(positions, blocks)
    axes[0][0].invert_yaxis()
    axes[0][0].set_ylabel("block (input at the top)")
    axes[0][-1].legend(loc="upper right", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
