"""Execute the numbered notebooks, in order, into a run folder (README's first command).

    python -m helpers.runner [--run-dir runs/<name>] [--only 01 02]

Each executed notebook is written to ``<run dir>/<notebook>.ipynb``; the notebooks
themselves write their figures to ``<run dir>/figures`` and their artefacts (the split,
models, metrics) to ``<run dir>`` because the runner sets ``CELEB_RUN_DIR``. The
committed reference notebooks in ``notebooks/`` are never modified. With
``--reference`` the notebooks are executed in place instead and figures go to the
committed ``figures/`` folder: that is how the reference outputs are regenerated.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from helpers import config

NOTEBOOK_DIR = config.PROJECT_ROOT / "notebooks"


def numbered_notebooks(folder: Path = NOTEBOOK_DIR, only: list[str] | None = None) -> list[Path]:
    """The ``NN_*.ipynb`` notebooks of ``folder`` in order, optionally only those whose
    number is in ``only`` (e.g. ``["01", "02"]``)."""
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        unknown = set(only) - {p.name[:2] for p in found}
        if unknown:
            raise ValueError(f"no notebook numbered {sorted(unknown)} in {folder}")
        found = [p for p in found if p.name[:2] in only]
    if not found:
        raise FileNotFoundError(f"no numbered notebooks in {folder}")
    return found


def execute_notebook(source: Path, target: Path, timeout: int = 3600) -> float:
    """Execute ``source`` with the current Python's kernel (working folder: the notebook's
    own folder, as in JupyterLab) and write the executed copy to ``target``; return seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(source, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(source.parent)}})
    try:
        # The kernel process's own stderr carries only start-up chatter (ipykernel's "running
        # over TCP" warning); what a cell writes to stderr still reaches the notebook.
        client.execute(stderr=subprocess.DEVNULL)
    finally:  # keep what ran, even on error, for the user to inspect
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    return time.perf_counter() - start


def epochs_done(run_dir: Path) -> dict[str, int]:
    """Finished epochs per training folder of ``run_dir``, at any depth
    (``{"phase2": 12, "07_chosen/phase1": 50, ...}``), read from the ``history.csv`` files that
    :func:`helpers.training.train_phase` rewrites after every epoch (the run folder's own
    ``history.csv``, both phases combined, is not a training folder)."""
    done = {}
    run_dir = Path(run_dir)
    for history in sorted(run_dir.rglob("history.csv")):
        if history.parent == run_dir:
            continue
        try:
            lines = history.read_text().count("\n")
        except OSError:  # being replaced right now: count it next time
            continue
        done[history.parent.relative_to(run_dir).as_posix()] = max(lines - 1, 0)
    return done


def _watch_training(run_dir: Path, stop: threading.Event, every: float = 20.0) -> None:
    """Print training progress while a notebook runs (a notebook's own progress bars go
    into the notebook, not to this terminal)."""
    seen = epochs_done(run_dir)
    while not stop.wait(every):
        now = epochs_done(run_dir)
        changed = {k: v for k, v in now.items() if seen.get(k) != v}
        if changed:
            text = ", ".join(f"{k} epoch {v}" for k, v in changed.items())
            print(f"\n      training: {text}", end="", flush=True)
        seen = now


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="run folder (default: runs/<date-time>)")
    parser.add_argument("--only", nargs="+", metavar="NN", help="notebook numbers to run")
    parser.add_argument("--reference", action="store_true",
                        help="execute the committed notebooks in place (regenerates figures/)")
    args = parser.parse_args(argv)

    notebooks = numbered_notebooks(only=args.only)
    if args.reference:
        if config.data_dir() is None:
            parser.error("--reference needs the study data: set CELEB_DATA_DIR to a VGGFace2 root")
        os.environ.pop(config.ENV_RUN_DIR, None)
        targets = notebooks
        where = "notebooks/ and figures/ (reference)"
    else:
        run_dir = args.run_dir or config.PROJECT_ROOT / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = run_dir.resolve()
        os.environ[config.ENV_RUN_DIR] = str(run_dir)  # inherited by the kernels
        targets = [run_dir / nb.name for nb in notebooks]
        where = str(run_dir)
    from helpers import data  # noqa: PLC0415 - only a run needs the loaders

    try:  # one plain line before any notebook starts, instead of a traceback from notebook 01
        data.load_default()
    except data.DataNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    source = f"VGGFace2 at {config.data_dir()}" if config.data_dir() else "LFW top-5 (CELEB_DATA_DIR unset)"
    print(f"data: {source}\nbackbone: {config.backbone_name()}\noutput: {where}", flush=True)
    total = time.perf_counter()
    for nb, target in zip(notebooks, targets):
        print(f"  {nb.name} ...", end=" ", flush=True)
        stop = threading.Event()
        watcher = threading.Thread(target=_watch_training, args=(config.run_dir(), stop), daemon=True)
        watcher.start()
        try:
            seconds = execute_notebook(nb, target)
        except Exception as err:  # nbclient's CellExecutionError carries the traceback
            print(f"FAILED\n{err}\nThe partly executed notebook is {target}", file=sys.stderr)
            return 1
        finally:
            stop.set()
            watcher.join()
        print(f" {seconds:.0f} s", flush=True)
    print(f"done in {time.perf_counter() - total:.0f} s: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
