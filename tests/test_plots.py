"""helpers.plots: each figure is built from data and saved with the one helper."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from helpers import config, data, evaluation, plots, splitting, study
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


def _legend_texts(ax):
    """The entries of every legend of ``ax``, in the order the legends were added."""
    from matplotlib.legend import Legend

    return [t.get_text() for leg in ax.get_children() if isinstance(leg, Legend) for t in leg.get_texts()]


def _size_lines(ax):
    return [line for line in ax.lines if str(line.get_gid()).startswith("input size")]


def test_image_size_plot_marks_each_input_size(manifest):
    one = plots.image_size_plot(manifest, input_size=224).axes[0]
    assert "input 224px" in _legend_texts(one) and len(_size_lines(one)) == 2  # a vertical and a horizontal line
    sizes = {"efficientnet_lite0 input": 224, "study's InceptionV3 input": 299}
    ax = plots.image_size_plot(manifest, input_sizes=sizes).axes[0]
    texts = _legend_texts(ax)
    assert texts[-2:] == ["efficientnet_lite0 input (224 px)", "study's InceptionV3 input (299 px)"]
    assert set(texts[:-2]) == set(manifest["name"])
    lines = _size_lines(ax)
    assert [line.get_xdata()[0] for line in lines[::2]] == [224, 299]  # the vertical lines
    assert lines[0].get_color() != lines[2].get_color()
    same = plots.image_size_plot(manifest, input_sizes={"a": 299, "b": 299}).axes[0]
    assert len(_size_lines(same)) == 2 and _legend_texts(same)[-1] == "a / b (299 px)"
    assert _size_lines(plots.image_size_plot(manifest).axes[0]) == []
    plt.close("all")


def test_image_size_plot_bad_input(manifest):
    with pytest.raises(ValueError, match="not both"):
        plots.image_size_plot(manifest, input_size=224, input_sizes={"a": 299})
    for bad in (0, -5, 22.5, True):
        with pytest.raises(ValueError, match="must be a positive integer"):
            plots.image_size_plot(manifest, input_sizes={"a": bad})
    with pytest.raises(ValueError, match="at most 4"):
        plots.image_size_plot(manifest, input_sizes={str(k): 100 + k for k in range(5)})
    with pytest.raises(ValueError, match="lacks columns"):
        plots.image_size_plot(manifest.drop(columns="width"), input_size=224)


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


def test_plot_model_blocks_labels_readable_and_inside_the_axes():
    long = _block_table([0, 0, 50]).assign(params=[100, 400, 1000], frozen_params=[100, 400, 950])
    fig = plots.plot_model_blocks({"phase 1": long, "phase 2": long})
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        assert ax.texts and all(t.get_fontsize() >= 9 for t in ax.texts)
        right = ax.get_window_extent(renderer).x1
        assert all(t.get_window_extent(renderer).x1 <= right for t in ax.texts)  # axis widened to fit
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim()
    plt.close("all")


def test_plot_model_blocks_bad_input():
    with pytest.raises(ValueError, match="empty"):
        plots.plot_model_blocks({})
    with pytest.raises(ValueError, match="lacks columns"):
        plots.plot_model_blocks({"p": _block_table([0, 0, 50]).drop(columns="layers")})
    other = _block_table([0, 0, 50]).assign(block=["a", "b", "c"])
    with pytest.raises(ValueError, match="other blocks"):
        plots.plot_model_blocks({"p": _block_table([0, 0, 50]), "q": other})


# --- Evaluation figures (notebook 06) ----------------------------------------------------------


def _eval_table(manifest):
    """A predictions table over ``manifest`` (identities a, b) with three mistakes."""
    predicted = manifest["label"].to_numpy().copy()
    predicted[[0, 3, 15]] = 1 - predicted[[0, 3, 15]]
    conf = 0.55 + 0.1 * (np.arange(len(manifest)) % 5)
    proba = np.column_stack([np.where(predicted == 0, conf, 1 - conf), np.where(predicted == 1, conf, 1 - conf)])
    return evaluation.predictions_table(manifest, proba, ["a", "b"])


def test_confusion_heatmap(manifest, tmp_path):
    conf = evaluation.confusion_frame(_eval_table(manifest), ["a", "b"])
    fig = plots.confusion_heatmap(conf)
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 1  # no colour bar
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == sorted(str(v) for v in conf.to_numpy().ravel())
    assert ax.get_title() == f"Confusion matrix ({len(manifest)} test images)"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    assert plots.confusion_heatmap(conf, title="demo").axes[0].get_title() == "demo"
    assert plots.save_figure(fig, "confusion", tmp_path).is_file()
    with pytest.raises(ValueError, match="square"):
        plots.confusion_heatmap(conf.iloc[:, :1])
    with pytest.raises(ValueError, match="integer counts"):
        plots.confusion_heatmap(conf / 2)


def test_misclassified_gallery(manifest, tmp_path):
    wrong = evaluation.misclassified(_eval_table(manifest))
    assert len(wrong) == 3
    fig = plots.misclassified_gallery(wrong, max_images=12, columns=2)
    assert len(fig.axes) == 3  # 2 x 2 grid, the unused axes removed
    first = wrong.iloc[0]
    assert fig.axes[0].get_title() == f"{first['name']} →\n{first['predicted_name']} (conf {first['confidence']:.2f})"
    assert "3 of 3" in fig._suptitle.get_text()
    assert all(ax.title.get_fontsize() >= 10 for ax in fig.axes)
    small = plots.misclassified_gallery(wrong, max_images=2, columns=4)
    assert len(small.axes) == 2 and "2 of 3" in small._suptitle.get_text()
    assert plots.save_figure(fig, "misclassified", tmp_path).is_file()


def test_misclassified_gallery_without_mistakes_and_bad_input(manifest):
    empty = evaluation.misclassified(_eval_table(manifest).iloc[1:3])
    fig = plots.misclassified_gallery(empty)
    assert len(fig.axes) == 1 and [t.get_text() for t in fig.axes[0].texts] == ["no misclassified images"]
    for kwargs in ({"max_images": 0}, {"columns": 0}):
        with pytest.raises(ValueError, match="positive integer"):
            plots.misclassified_gallery(empty, **kwargs)
    with pytest.raises(ValueError, match="lack columns"):
        plots.misclassified_gallery(empty.drop(columns="path"))


def test_prediction_gallery_correct_least_confident_first(manifest, tmp_path):
    table = _eval_table(manifest)
    right = table[table["correct"]]
    fig = plots.prediction_gallery(table, correct=True, max_images=5, columns=3)
    assert len(fig.axes) == 5  # 2 x 3 grid, the unused axes removed
    expected = right.sort_values("confidence", kind="stable").head(5)
    assert [ax.get_title() for ax in fig.axes] == [f"{r.name}\nconf {r.confidence:.2f}" for r in expected.itertuples()]
    assert fig._suptitle.get_text() == f"Correct: the 5 least confident of {len(right)}"
    assert all(ax.title.get_fontsize() >= 10 for ax in fig.axes)
    assert plots.save_figure(fig, "correct", tmp_path).is_file()
    most = plots.prediction_gallery(table, pick="most confident", max_images=2)
    assert [ax.get_title() for ax in most.axes] == [
        f"{r.name}\nconf {r.confidence:.2f}" for r in right.sort_values("confidence", ascending=False,
                                                                    kind="stable").head(2).itertuples()]
    plt.close("all")


def test_prediction_gallery_random_is_seeded_and_wrong_ones_match_the_misclassified_gallery(manifest):
    table = _eval_table(manifest)
    titles = [[ax.get_title() for ax in plots.prediction_gallery(table, pick="random", max_images=4, seed=s).axes]
              for s in (0, 0, 1)]
    assert titles[0] == titles[1] != titles[2]
    assert "drawn at random (seed 0)" in plots.prediction_gallery(table, pick="random", seed=0)._suptitle.get_text()
    wrong = plots.prediction_gallery(table, correct=False, pick="most confident")
    gallery = plots.misclassified_gallery(evaluation.misclassified(table))
    assert [ax.get_title() for ax in wrong.axes] == [ax.get_title() for ax in gallery.axes]
    plt.close("all")


def test_prediction_gallery_none_to_show_and_bad_input(manifest):
    table = _eval_table(manifest)
    empty = plots.prediction_gallery(table[table["correct"]], correct=False)
    assert len(empty.axes) == 1 and [t.get_text() for t in empty.axes[0].texts] == ["no misclassified images"]
    with pytest.raises(ValueError, match="pick must be one of"):
        plots.prediction_gallery(table, pick="least_confident")
    with pytest.raises(ValueError, match="correct must be True or False"):
        plots.prediction_gallery(table, correct="yes")
    with pytest.raises(ValueError, match=r"lacks columns \['correct'\]"):
        plots.prediction_gallery(table.drop(columns="correct"))
    for kwargs in ({"max_images": 0}, {"columns": -1}, {"size": 2.5}):
        with pytest.raises(ValueError, match="positive integer"):
            plots.prediction_gallery(table, **kwargs)


def _batch(n=5, size=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, size, size, 3)).astype("float32"), np.arange(n) % 2


def test_batch_grid_shows_pixels_with_their_names(tmp_path):
    images, labels = _batch()
    fig = plots.batch_grid(images, labels, ["a", "b"], columns=3)
    assert len(fig.axes) == 5 and [ax.get_title() for ax in fig.axes] == ["a", "b", "a", "b", "a"]
    assert np.allclose(fig.axes[1].images[0].get_array(), images[1] / 255)  # (0, 255) -> (0, 1)
    assert fig._suptitle.get_text() == "A batch of 5 images (6×6 px), with their labels"
    assert all(ax.title.get_fontsize() >= 9 for ax in fig.axes)
    assert plots.save_figure(fig, "batch", tmp_path).is_file()
    first = plots.batch_grid(images, labels, ["a", "b"], max_images=2, title="demo")
    assert len(first.axes) == 2 and first._suptitle.get_text() == "demo"
    assert "first 2 of a batch of 5" in plots.batch_grid(images, labels, ["a", "b"], max_images=2)._suptitle.get_text()
    plt.close("all")


def test_batch_grid_undoes_the_backbone_scaling():
    from helpers.efficientnet_lite import preprocess_efficientnet_lite

    images, labels = _batch()
    images = np.rint(images)
    raw = plots.batch_grid(images, labels, ["a", "b"]).axes[0].images[0].get_array()
    lite = plots.batch_grid(preprocess_efficientnet_lite(images), labels, ["a", "b"],
                            value_range=(-127 / 128, 1.0)).axes[0].images[0].get_array()
    assert np.abs(lite - raw).max() < 1e-6  # the exact inverse of (x - 127) / 128
    stretched = plots.batch_grid(images / 1000 + 3, labels, ["a", "b"], value_range=None).axes
    for ax in stretched:  # min-max per image: each spans 0..1
        picture = ax.images[0].get_array()
        assert picture.min() == pytest.approx(0) and picture.max() == pytest.approx(1)
    flat = plots.batch_grid(np.full((1, 4, 4, 3), 7.0), [0], ["a"], value_range=None).axes[0]
    assert np.all(flat.images[0].get_array() == 0)  # a constant image does not divide by zero
    plt.close("all")


def test_batch_grid_bad_input():
    images, labels = _batch()
    cases = [
        ((images[0], labels, ["a", "b"]), {}, "non-empty \\(n, h, w, 3\\) batch"),
        ((images[:0], labels[:0], ["a", "b"]), {}, "non-empty"),
        ((images[..., :1], labels, ["a", "b"]), {}, "non-empty"),
        ((images, labels[:3], ["a", "b"]), {}, "one label per image"),
        ((images, labels + 1, ["a", "b"]), {}, "integers in 0..1"),
        ((images, labels.astype(float), ["a", "b"]), {}, "integers in 0..1"),
        ((np.where(images > 100, np.nan, images), labels, ["a", "b"]), {}, "NaN"),
        ((images, labels, ["a", "b"]), {"value_range": (1, 1)}, "low < high"),
        ((images, labels, ["a", "b"]), {"value_range": (0, np.inf)}, "low < high"),
        ((images, labels, ["a", "b"]), {"columns": 0}, "columns must be a positive integer"),
        ((images, labels, ["a", "b"]), {"max_images": 0}, "max_images must be a positive integer"),
    ]
    for args, kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            plots.batch_grid(*args, **kwargs)


def _study_like_report(f1):
    names = list(config.STUDY_NAMES)
    support = study.study_report()["support"].tolist()
    rows = {n: {"precision": f, "recall": f, "f1-score": f, "support": s}
            for n, f, s in zip(names, f1, support, strict=True)}
    rows["macro avg"] = {"precision": 0.9, "recall": 0.9, "f1-score": 0.9, "support": sum(support)}
    return pd.DataFrame.from_dict(rows, orient="index")


def test_f1_bar_ours_vs_study_and_ours_only(tmp_path):
    report = _study_like_report([0.9, 0.8, 1.0, 0.95, 0.85])
    comparison = study.compare_with_study(report, 0.9, 179)
    fig = plots.f1_bar(comparison)
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and len(ax.patches) == 2 * 5  # the accuracy row is left out
    assert [t.get_text() for t in ax.get_yticklabels()] == list(config.STUDY_NAMES)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["this project", "study (published)"]
    assert sorted(p.get_width() for p in ax.patches[:5]) == [0.8, 0.85, 0.9, 0.95, 1.0]
    assert plots.save_figure(fig, "f1", tmp_path).is_file()
    ours_only = plots.f1_bar(report, title="LFW")  # a plain report: our bars only
    assert len(ours_only.axes[0].patches) == 5 and ours_only.axes[0].get_title() == "LFW"
    with pytest.raises(ValueError, match="f1-score"):
        plots.f1_bar(report.drop(columns="f1-score"))
    with pytest.raises(ValueError, match="no identity rows"):
        plots.f1_bar(report.loc[["macro avg"]])


def _history(phases=(1, 2), epochs=3):
    from helpers import training

    rows = [dict(zip(training.HISTORY_COLUMNS, (e, p, e, 1.0 / e, 0.5, 1.1 / e, 0.4, 0.1), strict=True))
            for p in phases for e in range(1, epochs + 1)]
    return training.combine_histories(training.history_frame(rows))


def test_training_curves_mark_the_phase_change(tmp_path):
    fig = plots.training_curves(_history(), "loss")
    ax = fig.axes[0]
    assert len(ax.lines) == 3  # train, validation, the phase boundary
    assert ax.lines[2].get_xdata()[0] == pytest.approx(3.5)
    assert [t.get_text() for t in ax.texts] == ["phase 1", "phase 2"]
    assert plots.save_figure(fig, "curves", tmp_path).exists()
    assert len(plots.training_curves(_history(phases=(1,)), "accuracy").axes[0].lines) == 2
    plt.close("all")


def test_training_curves_from_the_checkpoint_phase_2_started_from(tmp_path):
    history = _history(epochs=5)
    fig = plots.training_curves(history, "accuracy", start_epoch=2)
    ax = fig.axes[0]
    # per metric: phase 1 kept, phase 1 not kept (faint), phase 2 from the checkpoint; then the line and marker
    assert len(ax.lines) == 3 * 2 + 2
    phase2 = ax.lines[2]
    assert list(phase2.get_xdata()) == [2, 3, 4, 5, 6, 7]  # starts at the checkpoint, epoch 2
    assert ax.lines[1].get_alpha() == 0.3 and list(ax.lines[1].get_xdata()) == [2, 3, 4, 5]
    assert ax.lines[-1].get_xdata()[0] == 2 and "phase-1 epoch 2" in ax.lines[-1].get_label()
    low, high = ax.get_ylim()
    assert 0.35 < low < 0.4 and 0.5 < high <= 1.005  # zoomed to the values (0.4 and 0.5)
    assert plots.save_figure(fig, "from_checkpoint", tmp_path).exists()
    with pytest.raises(ValueError, match="not an epoch of phase 1"):
        plots.training_curves(history, "accuracy", start_epoch=9)
    with pytest.raises(ValueError, match="lacks columns"):
        plots.training_curves(history.drop(columns="phase_epoch"), "accuracy", start_epoch=2)
    plt.close("all")


def test_training_curves_bad_input():
    with pytest.raises(ValueError, match="lacks columns"):
        plots.training_curves(_history(), "auc")
    with pytest.raises(ValueError, match="empty"):
        plots.training_curves(_history().iloc[:0])


def test_compare_histories_one_panel_per_metric_one_line_per_run():
    fig = plots.compare_histories({"a": _history(), "b": _history()})
    assert len(fig.axes) == 2 and all(len(ax.lines) == 2 for ax in fig.axes)
    with pytest.raises(ValueError, match="at least one"):
        plots.compare_histories({})
    with pytest.raises(ValueError, match="lacks columns"):
        plots.compare_histories({"a": _history()}, metrics=("val_auc",))
    marked = plots.compare_histories({"a": _history(), "b": _history()}, selected=("b", 2))
    assert all(ax.lines[-1].get_label() == "kept: epoch 2" and ax.lines[-1].get_xdata()[0] == 2
               for ax in marked.axes)
    with pytest.raises(ValueError, match="must name a run"):
        plots.compare_histories({"a": _history()}, selected=("c", 2))
    with pytest.raises(ValueError, match="must name a run"):
        plots.compare_histories({"a": _history()}, selected=("a", 99))
    plt.close("all")


def test_augmentation_preview_grid_and_bad_input(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    views = [rng.integers(0, 256, (24, 24, 3), dtype=np.uint8) for _ in range(5)]
    fig = plots.augmentation_preview(image, views, columns=4)
    assert len(fig.axes) == 6  # 2 x 4 grid, the unused axes removed
    assert [ax.get_title() for ax in fig.axes] == ["original"] + [f"view {k}" for k in range(1, 6)]
    assert "5 of its views" in fig._suptitle.get_text()
    assert plots.save_figure(fig, "augmentation", tmp_path).is_file()
    with pytest.raises(ValueError, match="at least one view"):
        plots.augmentation_preview(image, [])
    with pytest.raises(ValueError, match="view 2 must be a uint8"):
        plots.augmentation_preview(image, [views[0], views[1].astype("float32")])
    with pytest.raises(ValueError, match="columns"):
        plots.augmentation_preview(image, views, columns=0)


def test_detection_gallery_boxes_every_face_and_marks_the_subject(tmp_path):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(3)]
    boxes = [[(5, 5, 10, 12)], [(1, 2, 8, 8), (20, 10, 15, 15), (30, 30, 5, 5)], []]
    fig = plots.detection_gallery(images, boxes, [0, 1, None], ["one", "three", "none"], columns=2)
    assert len(fig.axes) == 3  # 2 x 2 grid, the unused axes removed
    patches = [ax.patches for ax in fig.axes]
    assert [len(p) for p in patches] == [1, 3, 0]
    widths = [p.get_linewidth() for p in patches[1]]
    assert widths[1] > widths[0] == widths[2]  # the subject stands out
    assert patches[1][1].get_edgecolor() != patches[1][0].get_edgecolor()
    assert [t.get_text() for t in fig.axes[2].texts] == ["no face: whole photo kept"]
    assert plots.save_figure(fig, "faces", tmp_path).is_file()


def test_detection_gallery_bad_input():
    image = np.zeros((10, 10, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="at least one image"):
        plots.detection_gallery([], [], [], [])
    with pytest.raises(ValueError, match="differ in length"):
        plots.detection_gallery([image], [[]], [None, None], ["a"])
    with pytest.raises(ValueError, match="chosen=1 but it has 1 boxes"):
        plots.detection_gallery([image], [[(0, 0, 2, 2)]], [1], ["a"])
    with pytest.raises(ValueError, match="columns must be a positive integer"):
        plots.detection_gallery([image], [[]], [None], ["a"], columns=0)


def test_image_pairs_grid_and_bad_input(tmp_path):
    rng = np.random.default_rng(2)
    pairs = [(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
             for _ in range(4)]
    fig = plots.image_pairs(pairs, columns=3)
    assert len(fig.axes) == 12  # 2 rows x 3 pairs x 2 images; the last two cells stay blank
    assert [ax.get_title() for ax in fig.axes[:2]] == ["photo", "face crop"]
    assert sum(bool(ax.images) for ax in fig.axes) == 8
    assert plots.save_figure(fig, "pairs", tmp_path).is_file()
    with pytest.raises(ValueError, match="at least one pair"):
        plots.image_pairs([])
    with pytest.raises(ValueError, match="size must be a positive integer"):
        plots.image_pairs(pairs, size=0)


def test_ablation_bars_marks_the_chosen_row_and_bad_input(tmp_path):
    table = pd.DataFrame({"best val loss": [0.39, 0.37, 0.42], "val accuracy at best": [0.86, 0.89, 0.85]},
                         index=["a", "b", "c"])
    fig = plots.ablation_bars(table, highlight="b")
    bars = fig.axes[0].patches
    assert len(bars) == 3 and [round(b.get_width(), 2) for b in bars] == [0.39, 0.37, 0.42]
    colours = [b.get_facecolor() for b in bars]
    assert colours[0] == colours[2] != colours[1]
    ticks = dict(zip(fig.axes[0].get_yticks(), [t.get_text() for t in fig.axes[0].get_yticklabels()]))
    assert [ticks[y] for y in sorted(ticks, reverse=True)] == ["a", "b", "c"]  # first row on top
    assert fig.axes[0].get_xlim()[0] > 0  # zoomed to where the values are
    assert plots.save_figure(fig, "ablation", tmp_path).is_file()
    with pytest.raises(ValueError, match="not a row"):
        plots.ablation_bars(table, highlight="z")
    with pytest.raises(ValueError, match="lacks columns"):
        plots.ablation_bars(table.drop(columns="best val loss"))
    with pytest.raises(ValueError, match="empty"):
        plots.ablation_bars(table.iloc[:0])


def test_image_gallery_captions_and_bad_input(tmp_path):
    images = [np.full((20, 30, 3), 40 * k, np.uint8) for k in range(5)]
    fig = plots.image_gallery(images, [f"image {k}\nline 2" for k in range(5)], columns=2, title="demo")
    assert len(fig.axes) == 6 and fig.axes[0].get_title() == "image 0\nline 2"
    assert not fig.axes[5].images  # the empty cell of the last row
    assert plots.save_figure(fig, "gallery", tmp_path).exists()
    with pytest.raises(ValueError, match="at least one image"):
        plots.image_gallery([], [])
    with pytest.raises(ValueError, match="one caption per image"):
        plots.image_gallery(images, ["a"])
    with pytest.raises(ValueError, match="columns must be a positive integer"):
        plots.image_gallery(images, ["a"] * 5, columns=0)


def test_distance_histogram_marks_and_counts_the_threshold(tmp_path):
    fig = plots.distance_histogram(np.array([0.1, 0.15, 0.4, 0.5, 0.6]), threshold=0.2)
    ax = fig.axes[0]
    assert ax.get_legend().get_texts()[0].get_text() == "threshold 0.2: 2 of 5 below"
    assert ax.get_xlim()[0] == 0
    for bad, match in (([], "non-empty"), ([0.1, np.nan], "finite"), ([[0.1]], "1-D")):
        with pytest.raises(ValueError, match=match):
            plots.distance_histogram(np.array(bad), threshold=0.2)
    with pytest.raises(ValueError, match="threshold must be a positive number"):
        plots.distance_histogram(np.array([0.1]), threshold=0)

