"""Test accuracy over several split seeds: the study's recipe, the chosen recipe and the embedding.

    CELEB_DATA_DIR=/path/to/vggface2 python benchmarks/seed_spread.py \
        [--seeds 42 0 1 2 3] [--methods study_recipe chosen_recipe embedding] \
        [--out runs/seed_spread] [--csv benchmarks/results/seed_spread.csv] \
        [--epochs P1 P2] [--limit N] [--jitters 0]

For each seed the study's data is split as notebook 02 splits it
(:func:`helpers.splitting.split_dataset`, the study's fractions) but with that seed, and the same
seed trains: it seeds the new head's weights, the batch order, the stored views
(:func:`helpers.recipes.train_recipe`) and the embedding's classifiers. So a row is what a user who
changed the course's seed (``helpers.config.SEED``, 42) would get, split and training both. Seed 42
trains with the reference run's settings, so its rows should repeat it within two test images
(``figures/metrics.json``; ``benchmarks/results/embedding_baseline.csv`` for the embedding).

Methods (``--methods``):

- ``study_recipe``: :data:`helpers.recipes.STUDY_RECIPE` (notebooks 04-06) on the photos.
- ``chosen_recipe``: :data:`helpers.recipes.CHOSEN_RECIPE` (notebook 07) on MTCNN's face crops
  (:func:`helpers.faces.detections_table`, cached per image, so only the first run pays).
- ``embedding``: dlib's descriptor of the subject's face and a classifier chosen on validation
  (``benchmarks/embedding_baseline.py``'s :func:`choose_and_test`).

The two recipes train into ``<out>/seed<seed>/<method>`` (``phase1``, ``phase2``; an interrupted run
resumes there) and keep phase 2's checkpoint with the lowest validation loss. Then, for every
method, the test split is read once. Each (method, seed) becomes one row of
:data:`helpers.seed_spread.COLUMNS` (test images right, test accuracy and its Wilson 95% interval,
validation images right, best epochs, minutes, machine, date) appended to ``--csv`` as soon as it
is done; a (method, seed) already in the CSV is skipped, so rerunning the command resumes. One CSV
holds one setting of ``--epochs`` and ``--limit`` (another is refused): smoke rows never mix with
full ones. The end prints :func:`helpers.seed_spread.summarise` (mean, sample std with ``ddof=1``,
min, max per method over the CSV's seeds); a notebook reads the CSV with the same module.

``--from-run RUN_DIR`` (with ``--run-figures``, the run's figures folder) takes seed 42's two recipe
rows from a run of notebooks 04-07, which trained exactly these recipes on that seed's split, instead
of training them again (:func:`rows_from_run`).

``--epochs P1 P2`` replaces both recipes' 50 + 50 epochs and ``--limit N`` keeps the first N
images of each split, every identity in turn (``embedding_baseline.first_per_split``): smoke runs
only. Needs ``CELEB_DATA_DIR`` and, for ``embedding``, the ``embeddings`` extra.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark, run from anywhere

from embedding_baseline import append_row, choose_and_test, first_per_split  # noqa: E402

from helpers import config, data, embeddings, evaluation, faces, recipes, reproduction, splitting, training  # noqa: E402
from helpers import seed_spread as ss  # noqa: E402

DEFAULT_SEEDS = config.SPREAD_SEEDS
RECIPES = {"study_recipe": recipes.STUDY_RECIPE, "chosen_recipe": recipes.CHOSEN_RECIPE}


def split_for(manifest: pd.DataFrame, seed: int, limit: int | None) -> pd.DataFrame:
    """``manifest`` split as notebook 02 splits it, with ``seed``; the first ``limit`` images of each
    split when ``limit`` is set."""
    split = splitting.split_dataset(manifest, fractions=config.SPLIT_FRACTIONS, seed=seed)
    return first_per_split(split, limit)


def run_recipe(recipe: recipes.Recipe, split: pd.DataFrame, folder: Path, seed: int) -> dict:
    """Train ``recipe`` on ``split`` (train and val rows) into ``folder`` with ``seed``, then score its
    test rows once with the model kept. Returns the keyword arguments of
    :func:`helpers.seed_spread.result_row` that depend on the run."""
    class_names = split.drop_duplicates("label").sort_values("label")["name"].tolist()
    if recipe.crop == "photo":
        seen = recipes.recipe_data(recipe, split)
    else:
        detections = faces.detections_table(split, progress=True)
        seen = recipes.recipe_data(recipe, split, detections)
        print(f"faces: {detections['status'].value_counts().to_dict()}", flush=True)
    run = recipes.train_recipe(recipe, seen, folder, seed=seed)
    n_val = int((seen["split"] == "val").sum())
    best = [recipes.validation_summary(r.history, n_val)["best epoch"] if r is not None else None
            for r in (run.phase1, run.phase2)]
    test = seen[seen["split"] == "test"].reset_index(drop=True)
    proba = evaluation.predict_proba(run.model, test, recipe.spec.input_size, recipe.spec.preprocess,
                                     flip=recipe.flip)
    table = evaluation.predictions_table(test, proba, class_names)
    return {"val_right": recipes.validation_summary(run.kept.history, n_val)["val images right"],
            "n_val": n_val, "test_right": int(table["correct"].sum()), "n_test": len(test),
            "recipe": recipe.label(), "best_epochs": tuple(best)}


def run_embedding(split: pd.DataFrame, seed: int, num_jitters: int) -> dict:
    """The embedding baseline on ``split`` with its classifiers seeded by ``seed``; the same keyword
    arguments as :func:`run_recipe`. ``n_val`` counts every validation image (one without a
    descriptor counts as wrong, as on test)."""
    result = choose_and_test(split, num_jitters, seed=seed)
    jitters = f", {num_jitters} jitters" if num_jitters else ""
    return {"val_right": result["val images right"], "n_val": int((split["split"] == "val").sum()),
            "test_right": result["test images right"], "n_test": result["test images"],
            "recipe": f"dlib descriptor ({embeddings.model_key()}{jitters}) | {result['classifier']}"}


#: Where a run folder made by the notebooks keeps each recipe's phase histories (relative to it) and
#: which record of its figures folder holds the recipe's test predictions.
RUN_FOLDER_FILES = {
    "study_recipe": ("phase1_selected.json", "phase2/history.csv", config.RECORD_TEST_PREDICTIONS),
    "chosen_recipe": (f"07_levers/{recipes.folder_name(recipes.CHOSEN_RECIPE)}/phase1/history.csv",
                      "07_chosen/phase2/history.csv", config.RECORD_CHOSEN_PREDICTIONS),
}


def rows_from_run(run_dir: Path, figures_dir: Path, machine: str) -> list[dict]:
    """The two recipes' rows of seed ``config.SEED`` read from a run of notebooks 04-07 (which train
    exactly these recipes on that seed's split) instead of training them again: validation images
    right and best epochs from the phases' ``history.csv``, test images right from the test
    predictions notebooks 06 and 07 recorded in ``figures_dir``. ``minutes`` is the training time the
    histories record (extraction and scoring not included)."""
    rows = []
    for method, (phase1, phase2, predictions) in RUN_FOLDER_FILES.items():
        if phase1.endswith(".json"):  # notebook 04 names the phase-1 run it selected
            phase1 = json.loads((run_dir / phase1).read_text())["phase1_folder"] + "/history.csv"
        h1, h2 = (training.read_history(run_dir / name) for name in (phase1, phase2))
        test = reproduction.read_predictions(figures_dir / predictions)
        n_val = len(pd.read_csv(run_dir / "split.csv").query("split == 'val'"))
        summary = recipes.validation_summary(h2, n_val)
        rows.append(ss.result_row(
            method, config.SEED, val_right=summary["val images right"], n_val=n_val,
            test_right=int((test["label"] == test["predicted"]).sum()), n_test=len(test),
            minutes=float(h1["seconds"].sum() + h2["seconds"].sum()) / 60,
            recipe=f"{RECIPES[method].label()} (read from the run folder of notebooks 04-07)",
            best_epochs=(recipes.validation_summary(h1, n_val)["best epoch"], summary["best epoch"]),
            machine=machine))
    return rows


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS),
                        help="split (and training) seeds; 42 is the course's")
    parser.add_argument("--methods", nargs="+", default=list(ss.METHODS), choices=list(ss.METHODS))
    parser.add_argument("--out", type=Path, default=Path("runs/seed_spread"),
                        help="training folders, <out>/seed<seed>/<method> (a rerun resumes them)")
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/seed_spread.csv"),
                        help="one row per (method, seed), appended as each is done; rows there are skipped")
    parser.add_argument("--epochs", type=int, nargs=2, metavar=("P1", "P2"), default=None,
                        help="both recipes' phase-1 and phase-2 epochs instead of 50 50 (smoke runs)")
    parser.add_argument("--limit", type=int, default=None,
                        help="keep the first N images of each split (smoke runs)")
    parser.add_argument("--jitters", type=int, default=0, help="the embedding's dlib num_jitters")
    parser.add_argument("--from-run", type=Path, default=None, metavar="RUN_DIR",
                        help=f"take seed {config.SEED}'s two recipe rows from a run of notebooks 04-07 "
                             "instead of training them again")
    parser.add_argument("--run-figures", type=Path, default=None, metavar="DIR",
                        help="that run's figures folder (default RUN_DIR/figures; the committed figures/ "
                             "for the reference run)")
    args = parser.parse_args(argv)
    if config.data_dir() is None:
        parser.error("set CELEB_DATA_DIR to a VGGFace2 root: the spread is measured on the study's data")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be a positive number of images per split")
    if args.epochs is not None and min(args.epochs) < 1:
        parser.error("--epochs takes two positive numbers: phase 1's and phase 2's")
    if args.jitters < 0:
        parser.error("--jitters must be >= 0")
    if args.from_run is not None and (args.epochs is not None or args.limit is not None):
        parser.error("--from-run reads the course's own run (50 + 50 epochs, every image): "
                     "it cannot be combined with --epochs or --limit")
    seeds, methods = list(dict.fromkeys(args.seeds)), list(dict.fromkeys(args.methods))
    epochs = tuple(args.epochs) if args.epochs is not None else None
    try:
        done = ss.completed(ss.read_rows(args.csv), epochs, args.limit)
    except ValueError as err:
        parser.error(f"{args.csv}: {err}")
    started = time.perf_counter()
    machine = ss.machine_name()
    print(f"seeds {seeds} | methods {methods} | epochs {ss.setting_values(epochs, args.limit)['epochs']} | "
          f"limit {args.limit or 'none'} | {machine}", flush=True)

    if args.from_run is not None:
        for row in rows_from_run(args.from_run, args.run_figures or args.from_run / "figures", machine):
            if (row["method"], row["seed"]) in done:
                print(f"skip: {row['method']}, seed {row['seed']}: already in {args.csv}", flush=True)
                continue
            append_row(args.csv, row)
            done.add((row["method"], row["seed"]))
            print(f"{row['method']}, seed {row['seed']}, from {args.from_run}: test {row['test images right']} "
                  f"of {row['test images']} right; val {row['val images right']}", flush=True)
    manifest = None
    for seed in seeds:
        for method in methods:
            if (method, seed) in done:
                print(f"skip: {method}, seed {seed}: already in {args.csv}", flush=True)
                continue
            if manifest is None:
                manifest = data.load_default()[0]
            split = split_for(manifest, seed, args.limit)
            print(f"--- {method}, seed {seed}: {split['split'].value_counts().to_dict()} images", flush=True)
            tick = time.perf_counter()
            if method == "embedding":
                result = run_embedding(split, seed, args.jitters)
            else:
                recipe = RECIPES[method]
                if epochs is not None:
                    recipe = replace(recipe, phase1_epochs=epochs[0], phase2_epochs=epochs[1])
                result = run_recipe(recipe, split, args.out / f"seed{seed}" / method, seed)
            row = ss.result_row(method, seed, minutes=(time.perf_counter() - tick) / 60, epochs=epochs,
                                limit=args.limit, machine=machine, **result)
            append_row(args.csv, row)
            print(f"{method}, seed {seed}: test {row['test images right']} of {row['test images']} right "
                  f"(accuracy {row['test accuracy']:.4f}, Wilson 95% {row['wilson low']:.3f}-"
                  f"{row['wilson high']:.3f}); val {row['val images right']} of {row['val images']}; "
                  f"{row['minutes']:.2f} min; row appended to {args.csv}", flush=True)

    rows = ss.read_rows(args.csv)
    rows = rows[rows["method"].isin(methods) & rows["seed"].isin(seeds)]
    print(f"\ntest accuracy over the seeds (std: sample, ddof=1; {(time.perf_counter() - started) / 60:.2f} "
          "min in this run):")
    summary = ss.summarise(rows) if len(rows) else pd.DataFrame(columns=list(ss.SUMMARY_COLUMNS))
    print(summary.round(4).to_string())
    return summary


if __name__ == "__main__":
    main()
