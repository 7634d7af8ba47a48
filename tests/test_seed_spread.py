"""helpers.seed_spread: the rows of benchmarks/seed_spread.py, the resume check, the summary over
seeds (against hand-computed values) and the figure, on tiny hand-made tables; bad inputs."""

from __future__ import annotations

import importlib.util
import math
import statistics

import pandas as pd
import pytest

from helpers import config, intervals
from helpers import seed_spread as ss


def row(method: str, seed: int, right: int, n: int = 179, **kw) -> dict:
    """A row as the benchmark writes it, with fixed machine and date."""
    return ss.result_row(method, seed, val_right=kw.pop("val_right", 170), n_val=179, test_right=right,
                         n_test=n, minutes=kw.pop("minutes", 1.5), recipe=kw.pop("recipe", "r"),
                         machine="cpu", date="2024-01-01T00:00:00", **kw)


@pytest.fixture
def table() -> pd.DataFrame:
    """Two methods over three seeds and one method over one seed (hand-made counts)."""
    rows = [row("embedding", 42, 175), row("study_recipe", 42, 165), row("study_recipe", 0, 160),
            row("study_recipe", 1, 170), row("embedding", 0, 171), row("embedding", 1, 179),
            row("chosen_recipe", 42, 171)]
    return pd.DataFrame(rows)


# --- result_row ------------------------------------------------------------------------------


def test_result_row_holds_every_column_with_the_wilson_interval():
    r = row("chosen_recipe", 7, 171, best_epochs=(9, 48), epochs=(1, 2), limit=20)
    assert list(r) == list(ss.COLUMNS)
    low, high = intervals.wilson_interval(171, 179)
    assert r["test accuracy"] == round(171 / 179, 4) == 0.9553
    assert (r["wilson low"], r["wilson high"]) == (round(low, 4), round(high, 4))
    assert r["wilson low"] < r["test accuracy"] < r["wilson high"]
    assert (r["best epoch phase 1"], r["best epoch phase 2"]) == (9, 48)
    assert (r["epochs"], r["limit"]) == ("1 2", "20")
    assert (r["seed"], r["val images right"], r["minutes"]) == (7, 170, 1.5)


def test_result_row_defaults_say_recipe_epochs_all_images_and_this_machine():
    r = ss.result_row("embedding", 42, val_right=1, n_val=2, test_right=2, n_test=2, minutes=0.0, recipe="x")
    assert (r["epochs"], r["limit"]) == (ss.RECIPE_EPOCHS, ss.ALL_IMAGES)
    assert r["best epoch phase 1"] is None and r["best epoch phase 2"] is None
    assert r["wilson high"] == 1.0 and r["machine"] == ss.machine_name() and r["date"][:2] == "20"


@pytest.mark.parametrize("bad, message", [
    ({"method": ""}, "method"),
    ({"seed": 1.5}, "seed"),
    ({"seed": True}, "seed"),
    ({"test_right": 180}, "right"),
    ({"test_right": -1}, "test_right"),
    ({"n_test": 0}, "n must be at least 1"),
    ({"val_right": 180}, "exceeds n_val"),
    ({"minutes": -1.0}, "minutes"),
    ({"minutes": float("nan")}, "minutes"),
    ({"best_epochs": (0, None)}, "best_epochs"),
    ({"best_epochs": (1.5, None)}, "best_epochs"),
])
def test_result_row_rejects_bad_values(bad, message):
    kw = {"method": "embedding", "seed": 1, "val_right": 170, "n_val": 179, "test_right": 171,
          "n_test": 179, "minutes": 1.0, "recipe": "r", **bad}
    method, seed = kw.pop("method"), kw.pop("seed")
    with pytest.raises(ValueError, match=message):
        ss.result_row(method, seed, **kw)


# --- read_rows and completed (resume) ----------------------------------------------------------


def test_read_rows_of_a_missing_file_is_empty_with_the_columns(tmp_path):
    rows = ss.read_rows(tmp_path / "none.csv")
    assert rows.empty and list(rows.columns) == list(ss.COLUMNS)
    assert ss.completed(rows, None, None) == set()


def test_completed_round_trips_through_a_csv(tmp_path):
    path = tmp_path / "spread.csv"
    pd.DataFrame([row("study_recipe", 42, 160, epochs=(1, 1), limit=20),
                  row("embedding", 0, 20, n=20, epochs=(1, 1), limit=20)]).to_csv(path, index=False)
    rows = ss.read_rows(path)
    assert ss.completed(rows, (1, 1), 20) == {("study_recipe", 42), ("embedding", 0)}
    with pytest.raises(ValueError, match=r"other settings.*\('1 1', '20'\).*another --csv"):
        ss.completed(rows, None, None)  # a full run must not skip smoke rows
    with pytest.raises(ValueError, match="other settings"):
        ss.completed(rows, (1, 1), 10)


def test_completed_needs_the_columns():
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['epochs', 'limit'\]"):
        ss.completed(pd.DataFrame({"method": ["embedding"], "seed": [1]}), None, None)
    with pytest.raises(ValueError, match="needs a DataFrame"):
        ss.completed([{"method": "embedding"}], None, None)


def test_append_row_of_the_benchmarks_keeps_whole_numbers(tmp_path):
    """embedding_baseline.append_row, which seed_spread.py uses: an empty best epoch in one row
    does not turn the others' into 8.0, and the rows read back as written."""
    spec = importlib.util.spec_from_file_location(
        "embedding_baseline", config.PROJECT_ROOT / "benchmarks" / "embedding_baseline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = tmp_path / "rows.csv"
    first, second = row("study_recipe", 42, 165, best_epochs=(8, 50)), row("embedding", 42, 175)
    module.append_row(path, first)
    module.append_row(path, second)
    module.append_row(path, row("study_recipe", 0, 160, best_epochs=(9, 49)))
    text = path.read_text()
    assert ",8,50," in text and ",9,49," in text and ".0," not in text.replace("1.5,", "")
    rows = ss.read_rows(path)
    assert list(rows.columns) == list(ss.COLUMNS) and len(rows) == 3
    assert rows["test images right"].tolist() == [165, 175, 160]
    assert ss.completed(rows, None, None) == {("study_recipe", 42), ("embedding", 42), ("study_recipe", 0)}


# --- summarise --------------------------------------------------------------------------------


def test_summarise_by_hand(table):
    out = ss.summarise(table)
    assert list(out.index) == ["study_recipe", "chosen_recipe", "embedding"]  # METHODS order
    assert list(out.columns) == list(ss.SUMMARY_COLUMNS) and out.index.name == "method"
    study = [round(r / 179, 4) for r in (165, 160, 170)]
    assert out.loc["study_recipe", "seeds"] == 3
    assert out.loc["study_recipe", "mean"] == pytest.approx(statistics.mean(study))
    assert out.loc["study_recipe", "std"] == pytest.approx(statistics.stdev(study))  # ddof=1
    assert out.loc["study_recipe", "std"] > statistics.pstdev(study)
    assert (out.loc["study_recipe", "min"], out.loc["study_recipe", "max"]) == (min(study), max(study))
    assert out.loc["study_recipe", "mean test images right"] == pytest.approx(165)
    assert out.loc["embedding", "max"] == 1.0 and out.loc["embedding", "test images"] == 179
    # One seed: mean = min = max, and no sample standard deviation.
    chosen = out.loc["chosen_recipe"]
    assert chosen["seeds"] == 1 and chosen["mean"] == chosen["min"] == chosen["max"] == 0.9553
    assert math.isnan(chosen["std"])


def test_summarise_keeps_unknown_methods_after_the_known_ones(table):
    extra = pd.concat([table, pd.DataFrame([row("another", 42, 100), row("a_method", 42, 90)])])
    assert list(ss.summarise(extra).index) == ["study_recipe", "chosen_recipe", "embedding",
                                               "a_method", "another"]


def test_summarise_reads_the_columns_it_needs_only(table):
    slim = table[["method", "seed", "test accuracy", "test images right", "test images"]]
    pd.testing.assert_frame_equal(ss.summarise(slim), ss.summarise(table))


@pytest.mark.parametrize("drop", ["method", "seed", "test accuracy", "test images right", "test images"])
def test_summarise_names_a_missing_column(table, drop):
    with pytest.raises(ValueError, match=rf"lacks column\(s\) \['{drop}'\]"):
        ss.summarise(table.drop(columns=drop))


def test_summarise_rejects_empty_duplicate_and_bad_tables(table):
    with pytest.raises(ValueError, match="no rows"):
        ss.summarise(table.iloc[:0])
    with pytest.raises(ValueError, match="no rows"):
        ss.summarise(ss.read_rows("/nonexistent/spread.csv"))
    with pytest.raises(ValueError, match=r"\('study_recipe', 42\)\] appear more than once"):
        ss.summarise(pd.concat([table, table.iloc[[1]]]))
    for bad in (1.2, -0.1, float("nan"), "high"):
        broken = table.astype({"test accuracy": object})
        broken.loc[0, "test accuracy"] = bad
        with pytest.raises(ValueError, match="test accuracy"):
            ss.summarise(broken)
    with pytest.raises(ValueError, match="needs a DataFrame"):
        ss.summarise(table.to_dict("records"))


# --- the figure and the machine ---------------------------------------------------------------


def test_spread_figure_draws_each_method(table):
    fig = ss.spread_figure(table)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["42", "0", "1"]  # first-appearance order
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["study recipe", "chosen recipe", "embedding"]
    assert len(ax.lines) >= 3  # one dashed mean per method
    slim = ss.spread_figure(table[["method", "seed", "test accuracy"]], title="t")  # no intervals
    assert slim.axes[0].get_title() == "t"


def test_spread_figure_rejects_bad_input(table):
    with pytest.raises(ValueError, match="no rows"):
        ss.spread_figure(table.iloc[:0])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['test accuracy'\]"):
        ss.spread_figure(table.drop(columns="test accuracy"))


def test_machine_name_names_a_cpu_and_its_cores():
    name = ss.machine_name()
    assert name.endswith(" cores)") and len(name) > len(" (1 cores)")


# --- rows from a run folder (benchmarks/seed_spread.py --from-run) ---------------------------------


def _benchmark(name: str):
    import sys

    sys.path.insert(0, str(config.PROJECT_ROOT / "benchmarks"))  # seed_spread imports its sibling
    spec = importlib.util.spec_from_file_location(name, config.PROJECT_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _history(path, val_accuracy, val_loss):
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(val_loss)
    pd.DataFrame({"epoch": range(1, n + 1), "phase": 1, "phase_epoch": range(1, n + 1), "loss": 0.1,
                  "accuracy": 0.9, "val_loss": val_loss, "val_accuracy": val_accuracy,
                  "seconds": 6.0}).to_csv(path, index=False)


def test_rows_from_run_read_the_notebooks_run_folder(tmp_path):
    import json

    bench = _benchmark("seed_spread")
    run, figures = tmp_path / "run", tmp_path / "figures"
    pd.DataFrame({"split": ["train"] * 6 + ["val"] * 4, "relpath": [f"{i}.jpg" for i in range(10)]}).to_csv(
        tmp_path / "split.csv", index=False)
    run.mkdir()
    (run / "split.csv").write_text((tmp_path / "split.csv").read_text())
    (run / "phase1_selected.json").write_text(json.dumps({"phase1_folder": "phase1_adam"}))
    _history(run / "phase1_adam" / "history.csv", [0.5, 0.75], [0.9, 0.8])          # best epoch 2
    _history(run / "phase2" / "history.csv", [0.75, 1.0, 0.5], [0.7, 0.6, 0.65])    # best 2: 4 of 4
    levers = bench.RUN_FOLDER_FILES["chosen_recipe"][0]
    _history(run / levers, [0.25, 0.5], [0.8, 0.9])                                    # best epoch 1
    _history(run / "07_chosen" / "phase2" / "history.csv", [0.5, 0.75], [0.5, 0.4])  # best 2: 3 of 4
    figures.mkdir()
    for name, right in ((config.RECORD_TEST_PREDICTIONS, 2), (config.RECORD_CHOSEN_PREDICTIONS, 3)):
        pd.DataFrame({"relpath": list("abc"), "name": "x", "label": [0, 1, 2], "predicted": [0, 1, 2][:right]
                      + [9] * (3 - right), "confidence": 0.9}).to_csv(figures / name, index=False)
    rows = bench.rows_from_run(run, figures, machine="test machine")
    assert [(r["method"], r["seed"]) for r in rows] == [("study_recipe", config.SEED), ("chosen_recipe", config.SEED)]
    assert [(r["val images right"], r["val images"]) for r in rows] == [(4, 4), (3, 4)]
    assert [(r["test images right"], r["test images"]) for r in rows] == [(2, 3), (3, 3)]
    assert [(r["best epoch phase 1"], r["best epoch phase 2"]) for r in rows] == [(2, 2), (1, 2)]
    assert rows[0]["minutes"] == round(5 * 6.0 / 60, 2) and rows[0]["machine"] == "test machine"
    assert "read from the run folder" in rows[1]["recipe"]
