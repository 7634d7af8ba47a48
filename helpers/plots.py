"""Figures for the notebooks, each saved with one helper to the figures folder.

Every plotting function takes data (DataFrames) and returns the Matplotlib
``Figure``; :func:`save_figure` writes it to :func:`helpers.config.figures_dir`
(the committed ``figures/`` folder for the reference run, ``<run>/figures``
when ``CELEB_RUN_DIR`` is set).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from PIL import Image

from helpers import checks, config
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


#: Colours and dash patterns of the reference lines of :func:`image_size_plot`, in order.
_SIZE_LINE_STYLES = (("black", "--"), ("tab:red", ":"), ("tab:purple", "-."), ("tab:brown", (0, (5, 1))))


def image_size_plot(
    manifest: pd.DataFrame, input_size: int | None = None, input_sizes: Mapping[str, int] | None = None
) -> plt.Figure:
    """Scatter of image width × height (pixels, log axes), with input sizes marked.

    Parameters
    ----------
    manifest : a loader's manifest (columns ``width``, ``height``, ``name``).
    input_size : one input size, drawn as a dashed vertical and horizontal line labelled
        ``input <size>px`` (the older form; give ``input_sizes`` to mark several).
    input_sizes : ordered mapping ``label -> side in pixels``, e.g. ``{"efficientnet_lite0
        input": 224, "study's InceptionV3 input": 299}``: each size gets its own colour and
        dash pattern (a vertical and a horizontal line, ``gid`` ``"input size <size>"``)
        and an entry ``<label> (<size> px)`` in a legend of their own (lower right; the
        identities' legend is upper left); labels of equal sizes share one line
        (``"a / b (299 px)"``). At most four sizes.

    Returns
    -------
    Figure
        One axes; an image left of and below a size's lines is smaller than that input on
        both sides, so the network upsamples it.
    """
    if input_size is not None and input_sizes is not None:
        raise ValueError("give input_size or input_sizes, not both")
    if input_size is not None:
        input_sizes = {"input": input_size}
    marks: dict[int, list[str]] = {}
    for label, size in (input_sizes or {}).items():
        checks.positive_int(f"input size {label!r}", size, " (pixels)")
        marks.setdefault(int(size), []).append(str(label))
    if len(marks) > len(_SIZE_LINE_STYLES):
        raise ValueError(f"at most {len(_SIZE_LINE_STYLES)} different input sizes, got {len(marks)}")
    checks.require_columns(manifest, sorted({"width", "height", "name"}), "manifest")
    sns = _sns()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sns.scatterplot(data=manifest, x="width", y="height", hue="name", s=12, alpha=0.6, ax=ax)
    for (size, labels), (colour, dashes) in zip(marks.items(), _SIZE_LINE_STYLES, strict=False):
        text = f"input {size}px" if labels == ["input"] else f"{' / '.join(labels)} ({size} px)"
        ax.axvline(size, color=colour, ls=dashes, lw=1.2, gid=f"input size {size}")
        ax.axhline(size, color=colour, ls=dashes, lw=1.2, label=text, gid=f"input size {size}")
    # Log axes: most crops are ~100-400 px but a few are over 2000 px.
    ax.set(title="Image sizes (pixels, log scale)", xscale="log", yscale="log")
    handles, entries = ax.get_legend_handles_labels()
    is_size = [str(h.get_gid()).startswith("input size") for h in handles]
    names = ax.legend([h for h, s in zip(handles, is_size, strict=True) if not s],
                      [t for t, s in zip(entries, is_size, strict=True) if not s], fontsize=9, loc="upper left")
    if any(is_size):  # the sizes in the corner that the diagonal cloud of points leaves empty
        ax.add_artist(names)
        ax.legend([h for h, s in zip(handles, is_size, strict=True) if s],
                  [t for t, s in zip(entries, is_size, strict=True) if s], fontsize=9, loc="lower right")
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
#: Font size (points) of the labels at the bars' ends.
BLOCK_TEXT_SIZE = 9

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
        :func:`helpers.model_tables.block_table`, taken after :func:`~helpers.model.freeze_base`
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
        frozen block) and, for blocks in the slice, their slice layers / all layers, in
        :data:`BLOCK_TEXT_SIZE` points; the x axes (one limit for all panels) reach far
        enough for every label to end inside them.
    """
    if not phases:
        raise ValueError("phases is empty: give at least one block table")
    tables = list(phases.items())
    for label, table in tables:
        checks.require_columns(table, sorted(_REQUIRED), f"block table {label!r}")
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
            ax.text(row.params / scale + 0.01 * x_max, pos, text, va="center", fontsize=BLOCK_TEXT_SIZE)
        total_trainable = int(table["trainable_params"].sum())
        total = int(table["params"].sum())
        ax.set_title(f"{label}\ntrainable {total_trainable:,} of {total:,} parameters", fontsize=10)
        ax.set_xlim(0, x_max * 1.6)
        ax.set_xlabel(f"parameters ({unit})")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(positions, blocks)
    axes[0][0].invert_yaxis()
    axes[0][0].set_ylabel("block (input at the top)")
    axes[0][-1].legend(loc="upper right", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _fit_texts_right(fig, list(axes[0]))
    return fig


def _fit_texts_right(fig: plt.Figure, axes: list) -> None:
    """Widen the x axes (all to the same limit) until every text in them ends inside."""
    get_renderer = getattr(fig.canvas, "get_renderer", None)
    if get_renderer is None:  # not an Agg canvas: keep the limits
        return
    renderer = get_renderer()
    right = max(ax.get_xlim()[1] for ax in axes)
    for ax in axes:
        width = ax.get_window_extent(renderer).width
        for text in ax.texts:
            share = text.get_window_extent(renderer).width / width + 0.02  # of the axes' width
            if share < 0.9:
                right = max(right, text.get_position()[0] / (1 - share))
    for ax in axes:
        ax.set_xlim(0, right)


# --- Evaluation (notebook 06) --------------------------------------------------------------

#: Colours of our bars and the study's in :func:`f1_bar`.
OURS_COLOUR = "#4C72B0"
STUDY_COLOUR = "#b0b0b0"
VAL_COLOUR = "#DD8452"


def confusion_heatmap(confusion: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Heatmap of a confusion matrix with the image count written in every cell.

    Parameters
    ----------
    confusion : square DataFrame of non-negative integer counts, rows the true identity and
        columns the predicted one (:func:`helpers.evaluation.confusion_frame`).
    title : defaults to ``Confusion matrix (<total> test images)``.

    Returns
    -------
    Figure
        One axes, no colour bar; the diagonal holds the correctly classified images.
    """
    if confusion.shape[0] == 0 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"confusion must be a non-empty square table, got shape {confusion.shape}")
    values = confusion.to_numpy()
    if not np.issubdtype(values.dtype, np.integer) or (values < 0).any():
        raise ValueError("confusion must hold non-negative integer counts")
    sns = _sns()
    n = confusion.shape[0]
    fig, ax = plt.subplots(figsize=(1.1 * n + 2.6, 0.9 * n + 1.6))
    sns.heatmap(confusion, annot=True, fmt="d", cmap="Blues", cbar=False, square=True,
                linewidths=0.5, linecolor="white", ax=ax)
    ax.set(xlabel=confusion.columns.name or "predicted", ylabel=confusion.index.name or "true",
           title=title or f"Confusion matrix ({int(values.sum())} test images)")
    ax.tick_params(axis="x", labelrotation=30)
    ax.tick_params(axis="y", labelrotation=0)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    fig.tight_layout()
    return fig


#: Font size (points) of the image titles in the prediction galleries.
GALLERY_TITLE_SIZE = 10


def _check_positive_ints(**values) -> None:
    for arg, value in values.items():
        checks.positive_int(arg, value)


def _path_gallery(paths: list, titles: list[str], columns: int, size: int, suptitle: str) -> plt.Figure:
    """Images read from ``paths`` in a grid, stretched to ``size × size``, each titled;
    unused grid cells are removed."""
    n_cols = min(columns, len(paths))
    n_rows = math.ceil(len(paths) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, squeeze=False, figsize=(3.0 * n_cols, 3.5 * n_rows + 0.5))
    flat = axes.ravel()
    for ax, path, title in zip(flat, paths, titles, strict=False):
        ax.imshow(Image.fromarray(read_rgb(path)).resize((size, size)))
        ax.set_axis_off()
        ax.set_title(title, fontsize=GALLERY_TITLE_SIZE)
    for ax in flat[len(paths):]:
        fig.delaxes(ax)
    fig.suptitle(suptitle, fontsize=12)
    fig.tight_layout()
    return fig


def _empty_gallery(text: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(4, 1.5))
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, transform=ax.transAxes)
    return fig


def misclassified_gallery(
    rows: pd.DataFrame, max_images: int = 12, columns: int = 4, size: int = 112
) -> plt.Figure:
    """The misclassified images, each titled ``true →`` / ``predicted (conf 0.87)``.

    Parameters
    ----------
    rows : :func:`helpers.evaluation.misclassified` (columns ``path``, ``name``,
        ``predicted_name``, ``confidence``), shown in its order (most confident first).
    max_images : show at most this many (the title says how many there are).
    columns : images per row of the grid.
    size : images are stretched to ``size × size`` pixels, as the network sees them.

    Returns
    -------
    Figure
        One axes per image shown (3 × 3.5 inches each, titles at
        :data:`GALLERY_TITLE_SIZE` points); with no rows, a single empty axes that says
        "no misclassified images". :func:`prediction_gallery` shows the correct ones.
    """
    _check_positive_ints(max_images=max_images, columns=columns, size=size)
    missing = {"path", "name", "predicted_name", "confidence"} - set(rows.columns)
    if missing:
        raise ValueError(f"rows lack columns {sorted(missing)} (see helpers.evaluation.misclassified)")
    if len(rows) == 0:
        return _empty_gallery("no misclassified images")
    shown = rows.head(max_images)
    titles = [f"{r.name} →\n{r.predicted_name} (conf {r.confidence:.2f})" for r in shown.itertuples(index=False)]
    return _path_gallery(list(shown["path"]), titles, columns, size,
                         f"Misclassified: {len(shown)} of {len(rows)}, most confident first")


#: The orders :func:`prediction_gallery` can pick images in.
GALLERY_PICKS = ("least confident", "most confident", "random")


def prediction_gallery(
    table: pd.DataFrame, correct: bool = True, pick: str = "least confident", max_images: int = 12,
    columns: int = 4, size: int = 112, seed: int = config.SEED,
) -> plt.Figure:
    """Test images with the model's answer: the correct predictions (or the wrong ones).

    Parameters
    ----------
    table : :func:`helpers.evaluation.predictions_table` (columns ``path``, ``name``,
        ``predicted_name``, ``confidence``, ``correct``).
    correct : ``True``: the correctly classified images, each titled ``name`` /
        ``conf 0.87``; ``False``: the misclassified ones, titled as in
        :func:`misclassified_gallery`.
    pick : which ``max_images`` to show and in what order: ``"least confident"`` (lowest
        confidence first: for correct answers, the ones nearest to being wrong),
        ``"most confident"`` (highest first), or ``"random"`` (a sample drawn with
        ``DataFrame.sample(random_state=seed)``, shown most confident first). Ties keep the
        table's order.
    max_images, columns, size : as in :func:`misclassified_gallery`.
    seed : the sample's seed when ``pick="random"``.

    Returns
    -------
    Figure
        One axes per image shown; the title says which images of how many; with none to
        show, a single empty axes that says so.
    """
    _check_positive_ints(max_images=max_images, columns=columns, size=size)
    if not isinstance(correct, (bool, np.bool_)):
        raise ValueError(f"correct must be True or False, got {correct!r}")
    if pick not in GALLERY_PICKS:
        raise ValueError(f"pick must be one of {GALLERY_PICKS}, got {pick!r}")
    checks.require_columns(table, sorted({"path", "name", "predicted_name", "confidence", "correct"}), "table",
                           " (see helpers.evaluation.predictions_table)")
    rows = table[table["correct"].astype(bool) == bool(correct)]
    kind = "correct" if correct else "misclassified"
    if len(rows) == 0:
        return _empty_gallery(f"no {kind} images")
    n = min(max_images, len(rows))
    if pick == "random":
        shown = rows.sample(n=n, random_state=seed).sort_values("confidence", ascending=False, kind="stable")
        what = f"{n} of {len(rows)} drawn at random (seed {seed}), most confident first"
    else:
        shown = rows.sort_values("confidence", ascending=pick == "least confident", kind="stable").head(n)
        what = f"the {n} {pick} of {len(rows)}"
    if correct:
        titles = [f"{r.name}\nconf {r.confidence:.2f}" for r in shown.itertuples(index=False)]
    else:
        titles = [f"{r.name} →\n{r.predicted_name} (conf {r.confidence:.2f})" for r in shown.itertuples(index=False)]
    return _path_gallery(list(shown["path"]), titles, columns, size, f"{kind.capitalize()}: {what}")


def batch_grid(
    images, labels, class_names: list[str] | tuple[str, ...], value_range: tuple[float, float] | None = (0, 255),
    max_images: int | None = None, columns: int = 8, title: str | None = None,
) -> plt.Figure:
    """A batch from the input pipeline as pictures, each titled with its identity.

    Parameters
    ----------
    images : ``(n, h, w, 3)`` array or tensor (anything ``numpy.asarray`` reads, e.g. the
        first element of a :func:`helpers.pipeline.make_dataset` batch).
    labels : ``(n,)`` integer labels, ``0 <= label < len(class_names)``.
    class_names : the identity of each label, in label order.
    value_range : ``(low, high)``, the values shown as black and white: the display
        undoes a linear scaling by mapping ``low..high`` to ``0..1`` (values outside are
        clipped). ``(0, 255)`` (default) for the pipeline's own batches, which keep pixel
        values (the backbone's scaling happens later); for a batch after a backbone's
        ``preprocess``: ``(-1, 1)`` for InceptionV3 (``x / 127.5 - 1``), ``(-127 / 128, 1)``
        for EfficientNet-Lite (``(x - 127) / 128``, see
        :func:`helpers.efficientnet_lite.preprocess_efficientnet_lite`). ``None``: rescale
        each image on its own from its minimum to its maximum (any scaling, but the
        contrast is stretched, so brightness is not comparable between images).
    max_images : show the first this many (``None``: the whole batch).
    columns : images per row of the grid.
    title : the figure's title (default: how many images, their size and the batch size).

    Returns
    -------
    Figure
        One axes per image shown, titled with its identity's name; unused grid cells are
        removed.
    """
    _check_positive_ints(columns=columns, **({} if max_images is None else {"max_images": max_images}))
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 4 or x.shape[-1] != 3 or x.shape[0] == 0:
        raise ValueError(f"images must be a non-empty (n, h, w, 3) batch, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("images hold NaN or infinite values")
    y = np.asarray(labels)
    if y.shape != (x.shape[0],):
        raise ValueError(f"give one label per image: {x.shape[0]} images, labels of shape {y.shape}")
    names = [str(n) for n in class_names]
    if not np.issubdtype(y.dtype, np.integer) or (len(y) and (y.min() < 0 or y.max() >= len(names))):
        raise ValueError(f"labels must be integers in 0..{len(names) - 1} (one per class name), "
                         f"got {sorted(set(y.tolist()))}")
    if value_range is not None:
        low, high = (float(v) for v in value_range)
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}")
    n = len(x) if max_images is None else min(max_images, len(x))
    shown = x[:n]
    if value_range is None:
        lo = shown.min(axis=(1, 2, 3), keepdims=True)
        span = shown.max(axis=(1, 2, 3), keepdims=True) - lo
        pictures = (shown - lo) / np.where(span > 0, span, 1.0)
    else:
        pictures = np.clip((shown - low) / (high - low), 0.0, 1.0)
    n_cols = min(columns, n)
    n_rows = math.ceil(n / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, squeeze=False, figsize=(1.8 * n_cols, 2.0 * n_rows + 0.5))
    flat = axes.ravel()
    for ax, picture, label in zip(flat, pictures, y[:n], strict=False):
        ax.imshow(picture)
        ax.set_axis_off()
        ax.set_title(names[int(label)], fontsize=9)
    for ax in flat[n:]:
        fig.delaxes(ax)
    shape = f"{x.shape[1]}×{x.shape[2]} px"
    fig.suptitle(title or (f"The first {n} of a batch of {len(x)} images ({shape}), with their labels"
                           if n < len(x) else f"A batch of {len(x)} images ({shape}), with their labels"),
                 fontsize=12)
    fig.tight_layout()
    return fig


def augmentation_preview(
    image: np.ndarray, views: list[np.ndarray] | tuple[np.ndarray, ...], columns: int = 4,
    title: str | None = None,
) -> plt.Figure:
    """The original image and its augmented views, in a grid titled "original", "view 1", ...

    Parameters
    ----------
    image : uint8 ``(h, w, 3)``, the image as the network sees it, before augmentation.
    views : its views, uint8 arrays of the same shape (:func:`helpers.views.preview_views`).
    columns : images per row of the grid.
    title : the figure's title (default: how many views are shown).

    Returns
    -------
    Figure
        One axes per image (the original first); unused grid cells are removed.
    """
    checks.positive_int("columns", columns)
    images = [np.asarray(image), *[np.asarray(v) for v in views]]
    if len(images) == 1:
        raise ValueError("give at least one view (helpers.views.preview_views returns them)")
    for k, img in enumerate(images):
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[-1] != 3 or img.shape != images[0].shape:
            what = "image" if k == 0 else f"view {k}"
            raise ValueError(f"{what} must be a uint8 (h, w, 3) array shaped like the image, "
                             f"got {img.dtype} {img.shape}")
    n_cols = min(columns, len(images))
    n_rows = math.ceil(len(images) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, squeeze=False, figsize=(2.3 * n_cols, 2.4 * n_rows + 0.4))
    flat = axes.ravel()
    for k, (ax, img) in enumerate(zip(flat, images, strict=False)):
        ax.imshow(img)
        ax.set_axis_off()
        ax.set_title("original" if k == 0 else f"view {k}", fontsize=10)
    for ax in flat[len(images):]:
        fig.delaxes(ax)
    fig.suptitle(title or f"Augmentation: the image and {len(images) - 1} of its views", fontsize=11)
    fig.tight_layout()
    return fig

def f1_bar(comparison_or_report: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Horizontal bars of the f1-score per identity: ours, next to the study's when given.

    Parameters
    ----------
    comparison_or_report : either :func:`helpers.study.compare_with_study` (columns
        ``(metric, source)``: grouped bars, ours and the study's published ones) or
        :func:`helpers.evaluation.classification_report_frame` (flat columns: our bars only,
        e.g. on LFW, whose identities the study did not use). Rows ``accuracy``,
        ``macro avg`` and ``weighted avg`` are left out.
    title : defaults to ``f1-score per identity (test set)``.

    Returns
    -------
    Figure
        One axes; one bar per identity and source (``ax.patches``), each labelled with its
        value to 2 decimals; identities run top to bottom in the table's order.
    """
    frame = comparison_or_report.drop(index=["accuracy", "macro avg", "weighted avg", "micro avg"],
                                      errors="ignore")
    if isinstance(frame.columns, pd.MultiIndex):
        if ("f1-score", "ours") not in frame.columns or ("f1-score", "study") not in frame.columns:
            raise ValueError("comparison lacks ('f1-score', 'ours') or ('f1-score', 'study') columns")
        series = {"ours": frame[("f1-score", "ours")], "study": frame[("f1-score", "study")]}
    elif "f1-score" in frame.columns:
        series = {"ours": frame["f1-score"]}
    else:
        raise ValueError("expected a report (f1-score column) or a comparison with the study")
    if frame.empty:
        raise ValueError("no identity rows to plot")
    _sns()
    n = len(frame)
    height = 0.8 / len(series)
    colours = {"ours": OURS_COLOUR, "study": STUDY_COLOUR}
    labels = {"ours": "this project", "study": "study (published)"}
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.35 * n * len(series)))
    positions = np.arange(n)
    for k, (source, values) in enumerate(series.items()):
        offset = (k - (len(series) - 1) / 2) * height
        bars = ax.barh(positions + offset, values.to_numpy(dtype=float), height=height,
                       color=colours[source], label=labels[source])
        ax.bar_label(bars, fmt="%.2f", padding=3, fontsize=8)
    ax.set_yticks(positions, [str(i) for i in frame.index])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set(xlabel="f1-score", title=title or "f1-score per identity (test set)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


def _zoomed(ax, values: np.ndarray, top: float | None = None) -> None:
    """The y axis where the values are (a little room around them), capped at ``top``."""
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    pad = max(hi - lo, 0.01) * 0.08
    ax.set_ylim(lo - pad, hi + pad if top is None else min(top, hi + pad))


def training_curves(history: pd.DataFrame, metric: str = "accuracy", title: str | None = None,
                    start_epoch: int | None = None) -> plt.Figure:
    """Training and validation ``metric`` per epoch over both phases.

    Parameters
    ----------
    history : :func:`helpers.training.combine_histories` (columns ``epoch``, ``phase``,
        ``phase_epoch``, ``<metric>`` and ``val_<metric>``), or a single phase's history.
    metric : ``"accuracy"`` or ``"loss"`` (like the study's accuracy.png and loss.png,
        which showed phase 2 only).
    start_epoch : the phase-1 epoch whose checkpoint phase 2 started from (the one with the
        lowest validation loss). Given, the figure shows what happened: phase 1 up to that
        epoch, its later epochs faint (their weights were not kept), and phase 2 drawn from
        that epoch on, the checkpoint marked. ``None``: the phases one after the other, as
        the history numbers them, a dashed line where each phase after the first begins.

    Returns
    -------
    Figure
        One axes; the y axis zoomed to where the values are.
    """
    needed = {"epoch", "phase", metric, f"val_{metric}"} | ({"phase_epoch"} if start_epoch is not None else set())
    checks.require_columns(history, sorted(needed), "history")
    if history.empty:
        raise ValueError("history is empty")
    _sns()
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    columns = (metric, f"val_{metric}")
    if start_epoch is None:
        for column, label, colour in zip(columns, ("train", "validation"), (OURS_COLOUR, VAL_COLOUR), strict=True):
            ax.plot(history["epoch"], history[column], label=label, color=colour)
        for phase, rows in history.groupby("phase", sort=True):
            first = rows["epoch"].min()
            if first > history["epoch"].min():
                ax.axvline(first - 0.5, color="grey", linestyle="--", linewidth=1)
            ax.text(rows["epoch"].mean(), 1.02, f"phase {phase}", transform=ax.get_xaxis_transform(),
                    ha="center", fontsize=10, color="grey")
        ax.set_xlabel("epoch", fontsize=11)
        shown = history[list(columns)].to_numpy(float)
    else:
        one, two = history[history["phase"] == 1], history[history["phase"] == 2]
        if start_epoch not in set(one["phase_epoch"]):
            raise ValueError(f"start_epoch {start_epoch!r} is not an epoch of phase 1 "
                             f"(1..{int(one['phase_epoch'].max()) if len(one) else 0})")
        kept, dropped = one[one["phase_epoch"] <= start_epoch], one[one["phase_epoch"] >= start_epoch]
        start_row = one[one["phase_epoch"] == start_epoch]
        for column, label, colour in zip(columns, ("train", "validation"), (OURS_COLOUR, VAL_COLOUR), strict=True):
            ax.plot(kept["phase_epoch"], kept[column], color=colour, label=label)
            ax.plot(dropped["phase_epoch"], dropped[column], color=colour, alpha=0.3, linestyle=":",
                    label=f"{label}, phase 1 after the checkpoint (not kept)")
            ax.plot(np.r_[start_epoch, start_epoch + two["phase_epoch"].to_numpy()],
                    np.r_[start_row[column].to_numpy(), two[column].to_numpy()], color=colour)
        ax.axvline(start_epoch, color="grey", linestyle="--", linewidth=1)
        ax.plot(start_epoch, float(start_row[f"val_{metric}"].iloc[0]), "o", color="black", markersize=6,
                label=f"phase 2 starts from phase-1 epoch {start_epoch}")
        for text, x in (("phase 1", (1 + start_epoch) / 2), ("phase 2", start_epoch + len(two) / 2)):
            ax.text(x, 1.02, text, transform=ax.get_xaxis_transform(), ha="center", fontsize=10, color="grey")
        ax.set_xlabel(f"epoch (phase 2 counted on from phase-1 epoch {start_epoch})", fontsize=11)
        shown = np.concatenate([kept[list(columns)].to_numpy(float).ravel(), two[list(columns)].to_numpy(float).ravel()])
    ax.set_ylabel(metric, fontsize=11)
    ax.set_title(title or f"{metric} per epoch", pad=18, fontsize=12)  # room for the phase labels
    _zoomed(ax, shown, top=1.005 if metric == "accuracy" else None)
    ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    return fig


def compare_histories(
    histories: Mapping[str, pd.DataFrame], metrics: tuple[str, ...] = ("val_loss", "val_accuracy"),
    selected: tuple[str, int] | None = None,
) -> plt.Figure:
    """One panel per metric, one line per run: e.g. two optimizers on the validation split.

    Parameters
    ----------
    histories : run label -> history (:data:`helpers.training.HISTORY_COLUMNS`).
    metrics : history columns to plot, one panel each.
    selected : ``(run label, epoch)`` of the checkpoint kept (e.g. the run and epoch with the
        lowest validation loss), marked on every panel.
    """
    if not histories:
        raise ValueError("give at least one history")
    for label, history in histories.items():
        checks.require_columns(history, sorted({"epoch", *metrics}), f"history {label!r}")
    if selected is not None:
        run, epoch = selected
        if run not in histories or epoch not in set(histories[run]["epoch"]):
            raise ValueError(f"selected {selected!r} must name a run of histories and one of its epochs")
    _sns()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for label, history in histories.items():
            ax.plot(history["epoch"], history[metric], label=label)
        if selected is not None:
            history = histories[selected[0]]
            value = float(history.loc[history["epoch"] == selected[1], metric].iloc[0])
            ax.axvline(selected[1], color="grey", linestyle="--", linewidth=1)
            ax.plot(selected[1], value, "o", color="black", markersize=6, label=f"kept: epoch {selected[1]}")
        ax.set_xlabel("epoch", fontsize=11)
        ax.set_ylabel(metric, fontsize=11)
        ax.set_title(metric.replace("_", " "), fontsize=12)
        ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def detection_gallery(
    images: list[np.ndarray], boxes: list[list[tuple[float, float, float, float]]],
    chosen: list[int | None], titles: list[str], columns: int = 4,
) -> plt.Figure:
    """Photos with every detected face boxed: the chosen subject in a thick green box,
    the other faces in thin orange ones; a photo without a face says so.

    Parameters
    ----------
    images : uint8 RGB arrays ``(h, w, 3)``.
    boxes : for each image, its faces' ``(x, y, w, h)`` boxes in pixels (may be empty).
    chosen : for each image, the index of the subject's box, or ``None`` when there is none.
    titles : one short title per image.
    columns : images per row of the grid.
    """
    from matplotlib.patches import Rectangle  # noqa: PLC0415 - only this figure needs it

    checks.positive_int("columns", columns)
    if not images:
        raise ValueError("give at least one image")
    if not len(images) == len(boxes) == len(chosen) == len(titles):
        raise ValueError(f"images, boxes, chosen and titles differ in length: "
                         f"{len(images)}, {len(boxes)}, {len(chosen)}, {len(titles)}")
    for k, (faces, pick) in enumerate(zip(boxes, chosen, strict=True)):
        if pick is not None and not 0 <= pick < len(faces):
            raise ValueError(f"image {k}: chosen={pick} but it has {len(faces)} boxes")
    n_cols = min(columns, len(images))
    n_rows = math.ceil(len(images) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, squeeze=False, figsize=(3.2 * n_cols, 3.4 * n_rows + 0.4))
    flat = axes.ravel()
    for ax, image, faces, pick, title in zip(flat, images, boxes, chosen, titles, strict=False):
        ax.imshow(image)
        ax.set_axis_off()
        for k, (x, y, w, h) in enumerate(faces):
            subject = k == pick
            ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="limegreen" if subject else "orange",
                                   linewidth=3 if subject else 1.5))
        if not faces:
            ax.text(0.5, 0.05, "no face: whole photo kept", transform=ax.transAxes, ha="center",
                    va="bottom", fontsize=10, color="white", backgroundcolor="black")
        ax.set_title(title, fontsize=10)
    for ax in flat[len(images):]:
        fig.delaxes(ax)
    fig.suptitle("Faces found by MTCNN: the subject in green, other faces in orange", fontsize=12)
    fig.tight_layout()
    return fig


def image_pairs(pairs: list[tuple[np.ndarray, np.ndarray]], titles: tuple[str, str] = ("photo", "face crop"),
                columns: int = 3, size: int = 160) -> plt.Figure:
    """Pairs of images side by side (e.g. a photo and its face crop), each shown at
    ``size × size`` pixels as the network would see it.

    Parameters
    ----------
    pairs : ``(left, right)`` uint8 RGB arrays.
    titles : the titles over the left and right image of every pair.
    columns : pairs per row.
    """
    _check_positive_ints(columns=columns, size=size)
    if not pairs:
        raise ValueError("give at least one pair")
    n_cols = min(columns, len(pairs))
    n_rows = math.ceil(len(pairs) / n_cols)
    fig, axes = plt.subplots(n_rows, 2 * n_cols, squeeze=False, figsize=(2.4 * 2 * n_cols, 2.6 * n_rows))
    for k in range(n_rows * n_cols):
        for side in (0, 1):
            ax = axes[k // n_cols, 2 * (k % n_cols) + side]
            ax.set_axis_off()
            if k < len(pairs):
                ax.imshow(Image.fromarray(np.asarray(pairs[k][side], dtype=np.uint8)).resize((size, size)))
                ax.set_title(titles[side], fontsize=10)
    fig.tight_layout()
    return fig


def ablation_bars(table: pd.DataFrame, highlight: str | None = None, title: str | None = None) -> plt.Figure:
    """An ablation table as horizontal bars: the best validation loss of each row (lower is
    better), its validation accuracy written at the bar's end; ``highlight`` (a row label) in
    green.

    Parameters
    ----------
    table : index the configurations' labels; columns ``best val loss`` and
        ``val accuracy at best`` (:func:`helpers.recipes.phase1_ablation`).
    highlight : the row to mark (e.g. the configuration chosen), or ``None``.
    """
    checks.require_columns(table, sorted({"best val loss", "val accuracy at best"}), "table",
                           " (see helpers.recipes.phase1_ablation)")
    if len(table) == 0:
        raise ValueError("table is empty: nothing to plot")
    if highlight is not None and highlight not in table.index:
        raise ValueError(f"highlight {highlight!r} is not a row of the table")
    labels = [str(label) for label in table.index]
    loss = table["best val loss"].to_numpy(float)
    colours = ["tab:green" if label == highlight else "tab:gray" for label in labels]
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(labels) + 1.2))
    positions = np.arange(len(labels))[::-1]
    ax.barh(positions, loss, color=colours)
    ax.set_yticks(positions, labels, fontsize=10)
    for y, value, acc in zip(positions, loss, table["val accuracy at best"], strict=True):
        ax.text(value, y, f" {value:.3f}  (acc {acc:.3f})", va="center", fontsize=10)
    lo, hi = float(loss.min()), float(loss.max())
    pad = max(hi - lo, 0.01)
    ax.set_xlim(max(0.0, lo - pad), hi + 0.9 * pad)  # the axis where the values are
    ax.set_xlabel("best validation loss (lower is better)", fontsize=11)
    ax.set_title(title or "Validation loss of each configuration" + (" (chosen in green)" if highlight else ""),
                 fontsize=12)
    fig.tight_layout()
    return fig


def image_gallery(images: list[np.ndarray], captions: list[str], columns: int = 4, size: int = 150,
                  title: str | None = None) -> plt.Figure:
    """Images in a grid, each with its caption (a few short lines) above it, shown at
    ``size × size`` pixels; e.g. near-duplicate pairs, or strangers with what each model
    called them."""
    _check_positive_ints(columns=columns, size=size)
    if not images:
        raise ValueError("give at least one image")
    if len(captions) != len(images):
        raise ValueError(f"give one caption per image: {len(images)} images, {len(captions)} captions")
    n_cols = min(columns, len(images))
    n_rows = math.ceil(len(images) / n_cols)
    lines = max(str(c).count("\n") + 1 for c in captions)
    fig, axes = plt.subplots(n_rows, n_cols, squeeze=False,
                             figsize=(2.6 * n_cols, (2.5 + 0.4 * lines) * n_rows))
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < len(images):
            ax.imshow(Image.fromarray(np.asarray(images[k], dtype=np.uint8)).resize((size, size)))
            ax.set_title(str(captions[k]), fontsize=10)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return fig


def distance_histogram(distances: np.ndarray, threshold: float, bins: int = 40,
                       title: str | None = None) -> plt.Figure:
    """The histogram of each test image's distance to its nearest training image, with the
    near-duplicate ``threshold`` marked and the images below it counted."""
    values = np.asarray(distances, dtype=float)
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
        raise ValueError("distances must be a non-empty 1-D array of finite numbers")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    below = int((values < threshold).sum())
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.hist(values, bins=bins, color="tab:gray")
    ax.axvline(threshold, color="tab:red", linestyle="--",
               label=f"threshold {threshold:g}: {below} of {values.size} below")
    ax.set_xlabel("distance to the nearest training image (face descriptor)", fontsize=11)
    ax.set_ylabel("test images", fontsize=11)
    ax.set_xlim(0, float(values.max()) * 1.05)
    ax.legend(fontsize=10)
    ax.set_title(title or "How close each test face is to a training face", fontsize=12)
    fig.tight_layout()
    return fig

