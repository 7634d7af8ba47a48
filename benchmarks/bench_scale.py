"""Benchmark: how the cached training pipeline scales with the number of images.

Run from the repository root (``helpers`` installed in the environment)::

    python benchmarks/bench_scale.py --quick                 # a few minutes on 2 cores
    python benchmarks/bench_scale.py                         # 5, 50, 500 identities x 100 (long)
    python benchmarks/bench_scale.py --identities 5 50 500 1000 --markdown

It prints one table row per configuration and ends with the two lines
``time exponent: X.XX`` and ``memory exponent: X.XX``. Nothing here asserts a timing or a
memory figure; it is a script, not a test.

**Data.** Synthetic identities, generated once and reused (no download): ``--per-identity``
JPEG files of ``--jpeg-side`` pixels (default 64; the pipeline resizes them) per identity,
in an identity-per-folder tree ``<work-dir>/tree_<side>px_<m>per/id<i>/<k>.jpg``. Identity
``i`` has its own colour and stripe pattern (``numpy.random.default_rng([SEED, i])``), every
image adds its own shift and Gaussian noise (``default_rng([SEED, i, k])``), so every file
is distinct and the tree is the same on every machine. A configuration with ``n``
identities reads a folder of symbolic links to the first ``n`` identity folders
(``<work-dir>/roots_<side>px_<m>per/<n>ids``) with ``helpers.data.load_folder`` and splits
it with ``helpers.splitting.split_dataset(fractions=(0.8, 0.1, 0.1), seed=42)``. Generation
is not timed. ``--work-dir`` defaults to ``$CELEB_CACHE_DIR/bench_scale`` (else the
project's cache folder, :func:`helpers.config.cache_dir`), never inside the repository.

**One child process per configuration.** Each configuration runs in a fresh Python process
(``bench_scale.py --child``) with its own empty cache folder, so its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, KiB on Linux) is that configuration's alone
and the extraction really computes the features. The child prints one JSON line; the
parent collects the lines, prints the table and fits the exponents. The child's cache
folder is deleted after it ends (``--keep-caches`` keeps it).

**What is timed, in the child** (wall clock, ``time.perf_counter``):

1. the classifier: ``efficientnet_lite0`` (``helpers.model.attach_head`` on
   ``helpers.efficientnet_lite.build_efficientnet_lite`` at ``--image-size``; with
   ``--weights imagenet``, the default, the ImageNet weights of
   ``helpers.backbones.load_backbone`` are copied in layer by layer, which works at any
   input size since the network is fully convolutional; ``--weights random`` skips the
   copy; the arithmetic is the same). Not timed.
2. phase 1 extraction: ``helpers.training.cached_feature_store(parts.frozen, rows, image_size,
   preprocess, cache_dir=..., shard_bytes=...)`` (the features go to disk shard by shard;
   nothing is loaded into memory) with ``parts = helpers.boundary.prepare_phase(model, 1)``
   and ``rows = helpers.training.train_val_rows(split)`` (the train + val images, JPEG
   decoding and resizing included, the tf.function trace included, the cache file write
   included). Then the cache size on disk: the sizes of all files under
   ``<cache>/features/``.
3. phase 1 training: ``helpers.training.train_phase(model, split, 1, ...,
   epochs=--epochs, cache_dir=<same cache>)``, which finds the features of step 2 in the
   cache (its ``cache.status`` is reported; ``loaded`` means nothing was re-extracted). The
   figure reported is the ``seconds`` of the *last* epoch of its history (default
   ``--epochs 2``: the first epoch also traces Keras' train and validation functions). An
   epoch is one pass over the training split plus one validation pass, checkpoint writing
   excluded (``seconds`` stops at ``on_epoch_end``, before the files are saved).
4. and 5. the same for phase 2 (``prepare_phase(model, 2)``: the last 63 layers learn; the
   cache then holds the boundary tensors, much larger than phase 1's pooled vectors).

Peak RSS is sampled (``ru_maxrss``, a high-water mark) after imports and loading, after each
extraction and after each phase's training; the table's "peak RSS" is the last, the whole
child. Training then opens the store as it would in a fresh session and streams it batch by
batch. ``--shard-mb`` sets the shard size (``shard_bytes=``; default 64 MiB).

**The fit.** The exponents are the least-squares slopes of ``log(y)`` against
``log(images)`` (``images`` = identities x per-identity, all splits): the time exponent from
each configuration's total (both extractions + one epoch of each phase), the memory exponent
from its peak RSS. Linear time gives 1.00; memory bounded by shard and batch size gives
about 0.00. Small configurations are dominated by fixed costs (the process, tracing, the
model), so only configurations with at least ``--fit-min-images`` images (default 1000)
enter the fit; if fewer than two do, all of them do. The rows used are marked in the
table and listed before the exponents.

**Sizes.** Full mode: ``--identities 5 50 500 --per-identity 100`` at the backbone's own
input size (224). ``--quick``: identities 5 10 20 50 x 100 images at ``--image-size 128``
(phase 2's boundary tensors are then 8 x 8 x 112 instead of 14 x 14 x 112 per image), the
fit over 1000, 2000 and 5000 images; under 10 minutes on 2 cores including data
generation. Any explicit ``--identities``, ``--per-identity`` or ``--image-size`` wins over
what ``--quick`` picks.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import config
from tables import markdown, plain  # a sibling script (benchmarks/ is on sys.path)

BACKBONE = "efficientnet_lite0"
SEED = config.SEED
FRACTIONS = (0.8, 0.1, 0.1)
BATCH_SIZE = config.BATCH_SIZE

FULL_IDENTITIES: tuple[int, ...] = (5, 50, 500)
QUICK_IDENTITIES: tuple[int, ...] = (5, 10, 20, 50)
PER_IDENTITY = 100
QUICK_IMAGE_SIZE = 128
JPEG_SIDE = 64
FIT_MIN_IMAGES = 1000
#: Marks the child's result line on its standard output (TensorFlow may print there too).
RESULT_MARK = "BENCH_SCALE_RESULT "


# --------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------


def identity_name(i: int) -> str:
    return f"id{i:05d}"


def synthetic_image(i: int, k: int, side: int) -> np.ndarray:
    """Image ``k`` of identity ``i``: the identity's colour and stripes, shifted, plus noise."""
    base = np.random.default_rng([SEED, i])
    colour = base.uniform(40, 215, 3)
    angle, freq = base.uniform(0, np.pi), base.uniform(2, 8)
    rng = np.random.default_rng([SEED, i, k])
    yy, xx = np.mgrid[0:side, 0:side] / side
    shift = rng.uniform(0, 2 * np.pi)
    stripes = np.sin(2 * np.pi * freq * (np.cos(angle) * xx + np.sin(angle) * yy) + shift)
    pixels = colour[None, None, :] + 40.0 * stripes[..., None] + rng.normal(0, 20, (side, side, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def ensure_tree(work: Path, n_identities: int, per_identity: int, side: int) -> Path:
    """The generated tree with at least ``n_identities`` identities (missing files written)."""
    from PIL import Image  # noqa: PLC0415 - only here

    tree = work / f"tree_{side}px_{per_identity}per"
    for i in range(n_identities):
        folder = tree / identity_name(i)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(".*.tmp"):
            stale.unlink()
        for k in range(per_identity):
            path = folder / f"{k:03d}.jpg"
            if path.exists():
                continue
            tmp = folder / f".{k:03d}.jpg.tmp"
            Image.fromarray(synthetic_image(i, k, side)).save(tmp, format="JPEG", quality=90)
            tmp.replace(path)
    return tree


def config_root(work: Path, tree: Path, n_identities: int, per_identity: int, side: int) -> Path:
    """A folder of links to the first ``n_identities`` identity folders of ``tree``."""
    root = work / f"roots_{side}px_{per_identity}per" / f"{n_identities}ids"
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_identities):
        link = root / identity_name(i)
        if not link.is_symlink():
            link.symlink_to(tree / identity_name(i), target_is_directory=True)
    return root


# --------------------------------------------------------------------------------------
# The child: one configuration
# --------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, MB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def build_model(n_classes: int, image_size: int, weights: str) -> Any:
    from helpers.backbones import load_backbone  # noqa: PLC0415 - TF-heavy
    from helpers.efficientnet_lite import build_efficientnet_lite  # noqa: PLC0415
    from helpers.model import attach_head  # noqa: PLC0415

    base = build_efficientnet_lite(BACKBONE, include_top=False, input_size=image_size)
    if weights == "imagenet":
        trained = load_backbone(BACKBONE, weights="imagenet")
        for layer in base.layers:
            for target, source in zip(layer.weights, trained.get_layer(layer.name).weights, strict=True):
                target.assign(source)
        del trained
    return attach_head(base, n_classes, name=f"{BACKBONE}_classifier")


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    from helpers import training  # noqa: PLC0415 - TF-heavy
    from helpers.backbones import BACKBONES  # noqa: PLC0415
    from helpers.boundary import prepare_phase  # noqa: PLC0415
    from helpers.data import load_folder  # noqa: PLC0415
    from helpers.splitting import split_dataset  # noqa: PLC0415
    from helpers.tf_quiet import import_tensorflow  # noqa: PLC0415

    import_tensorflow().get_logger().setLevel("ERROR")
    started = time.perf_counter()
    cache = Path(args.cache_dir)
    spec = BACKBONES[BACKBONE]
    manifest = load_folder(args.root).manifest
    split = split_dataset(manifest, fractions=FRACTIONS, seed=SEED)
    rows = training.train_val_rows(split)
    model = build_model(int(manifest["label"].nunique()), args.image_size, args.weights)
    out: dict[str, Any] = {
        "identities": int(manifest["identity"].nunique()), "images": len(manifest),
        "train": int((split["split"] == "train").sum()), "val": int((split["split"] == "val").sum()),
        "extracted": len(rows), "rss_start_mb": peak_rss_mb(),
    }
    shard_bytes = int(args.shard_mb * 2**20) if args.shard_mb is not None else None
    for phase in (1, 2):
        frozen = prepare_phase(model, phase).frozen
        before = folder_bytes(cache / "features")
        tick = time.perf_counter()
        store, _info = training.cached_feature_store(frozen, rows, args.image_size, spec.preprocess,
                                                     cache_dir=cache, progress=False, shard_bytes=shard_bytes)
        out[f"extract{phase}_s"] = time.perf_counter() - tick
        del store, _info, frozen
        gc.collect()
        out[f"cache{phase}_mb"] = (folder_bytes(cache / "features") - before) / 2**20
        out[f"rss_extract{phase}_mb"] = peak_rss_mb()
        result = training.train_phase(
            model, split, phase, cache / "runs" / f"phase{phase}", image_size=args.image_size,
            preprocess=spec.preprocess, epochs=args.epochs, batch_size=args.batch_size,
            cache_dir=cache, progress=False, resume=False)
        out[f"epoch{phase}_s"] = float(result.history["seconds"].iloc[-1])
        out[f"epochs{phase}_s"] = [float(s) for s in result.history["seconds"]]
        out[f"cache{phase}_status"] = getattr(result.cache, "status", None)
        out[f"rss_phase{phase}_mb"] = peak_rss_mb()
        del result
        gc.collect()
    out["cache_mb"] = folder_bytes(cache / "features") / 2**20
    out["child_s"] = time.perf_counter() - started
    out["peak_rss_mb"] = peak_rss_mb()
    return out


# --------------------------------------------------------------------------------------
# The parent
# --------------------------------------------------------------------------------------


def run_config(args: argparse.Namespace, root: Path, cache: Path, log: Any) -> dict[str, Any] | None:
    """Run one configuration in a fresh process; its result, or ``None`` if it failed."""
    if cache.exists():
        shutil.rmtree(cache)
    cache.mkdir(parents=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--root", str(root),
               "--cache-dir", str(cache), "--image-size", str(args.image_size),
               "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
               "--weights", args.weights]
    if args.shard_mb is not None:
        command += ["--shard-mb", str(args.shard_mb)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    tick = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - tick
    if not args.keep_caches:
        shutil.rmtree(cache, ignore_errors=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        log(f"{root.name}: child failed (exit code {proc.returncode}"
            f"{', killed: out of memory?' if proc.returncode in (-9, 137) else ''}) after {wall:.0f} s:\n{tail}")
        return None
    result = json.loads(lines[-1][len(RESULT_MARK):])
    result["process_s"] = wall
    return result


def table(results: Sequence[dict[str, Any]], fit_rows: set[int]) -> pd.DataFrame:
    rows = []
    for r in results:
        n = r["images"]
        extract = r["extract1_s"] + r["extract2_s"]
        total = extract + r["epoch1_s"] + r["epoch2_s"]
        rows.append({
            "identities": r["identities"], "images": n,
            "extraction s": extract, "cache MB": r["cache_mb"], "peak RSS MB": r["peak_rss_mb"],
            "phase-1 epoch s": r["epoch1_s"], "phase-2 epoch s": r["epoch2_s"], "total s": total,
            "extraction ms/img": 1e3 * extract / r["extracted"],
            "phase-2 epoch ms/img": 1e3 * r["epoch2_s"] / (r["train"] + r["val"]),
            "total ms/img": 1e3 * total / n,
            "fit": "yes" if n in fit_rows else "no",
        })
    return pd.DataFrame(rows)


def detail_table(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{
        "images": r["images"], "train / val": f"{r['train']} / {r['val']}",
        "extract 1 s": r["extract1_s"], "extract 2 s": r["extract2_s"],
        "cache 1 MB": r["cache1_mb"], "cache 2 MB": r["cache2_mb"],
        "RSS MB: loaded": r["rss_start_mb"], "after extract 1": r["rss_extract1_mb"],
        "after phase 1": r["rss_phase1_mb"], "after extract 2": r["rss_extract2_mb"],
        "after phase 2": r["rss_phase2_mb"],
        "training read cache": f"{r['cache1_status']} / {r['cache2_status']}",
        "process s": r["process_s"],
    } for r in results])


def exponent(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log(y) against log(x)."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def default_work_dir() -> Path:
    return config.cache_dir() / "bench_scale"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time feature extraction and one epoch of each phase, and measure cache size "
        "and peak memory, for growing numbers of synthetic identities; fit the growth exponents. "
        "The last two lines printed are 'time exponent: X.XX' and 'memory exponent: X.XX'.")
    parser.add_argument("--quick", action="store_true",
                        help=f"identities {' '.join(map(str, QUICK_IDENTITIES))} at --image-size "
                        f"{QUICK_IMAGE_SIZE} (under 10 minutes on 2 cores)")
    parser.add_argument("--identities", type=int, nargs="+", metavar="N",
                        help=f"identity counts (default {' '.join(map(str, FULL_IDENTITIES))})")
    parser.add_argument("--per-identity", type=int, default=PER_IDENTITY,
                        help="images per identity (default %(default)s)")
    parser.add_argument("--image-size", type=int,
                        help="the network's input side (default: the backbone's, 224; "
                        f"{QUICK_IMAGE_SIZE} with --quick)")
    parser.add_argument("--jpeg-side", type=int, default=JPEG_SIDE,
                        help="side of the generated JPEG files (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=2,
                        help="epochs per phase; the last one is reported (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="default %(default)s")
    parser.add_argument("--weights", choices=("imagenet", "random"), default="imagenet",
                        help="backbone weights (default %(default)s; the arithmetic is the same)")
    parser.add_argument("--shard-mb", type=float,
                        help="shard size of the feature store in MiB (default: 64)")
    parser.add_argument("--fit-min-images", type=int, default=FIT_MIN_IMAGES,
                        help="only configurations with at least this many images enter the fit "
                        "(default %(default)s)")
    parser.add_argument("--work-dir", type=Path,
                        help=f"generated data and per-configuration caches (default {default_work_dir()})")
    parser.add_argument("--keep-caches", action="store_true", help="keep each configuration's cache")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    parser.add_argument("--json", type=Path,
                        help="also write the raw per-configuration results here (after each one)")
    # The child's own arguments (internal).
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.identities is None:
        args.identities = list(QUICK_IDENTITIES if args.quick else FULL_IDENTITIES)
    if args.image_size is None:
        args.image_size = QUICK_IMAGE_SIZE if args.quick else 224
    if min(args.identities) < 2 or args.per_identity < 10:
        parser.error("need at least 2 identities and 10 images per identity (every split non-empty)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(RESULT_MARK + json.dumps(run_child(args)), flush=True)
        return 0
    started = time.perf_counter()
    load = os.getloadavg()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    work = (args.work_dir or default_work_dir()).expanduser().resolve()
    counts = sorted(set(args.identities))
    tree = ensure_tree(work, counts[-1], args.per_identity, args.jpeg_side)
    log(f"data ready in {tree} ({counts[-1]} identities x {args.per_identity})")
    results = []
    for n in counts:
        root = config_root(work, tree, n, args.per_identity, args.jpeg_side)
        log(f"{n} identities x {args.per_identity} images: running")
        result = run_config(args, root, work / "caches" / f"{n}ids", log)
        if result is not None:
            log(f"{n} identities: {result['process_s']:.0f} s, peak RSS {result['peak_rss_mb']:.0f} MB")
            results.append(result)
            if args.json:  # after every configuration, so a long run leaves what it finished
                args.json.write_text(json.dumps(results, indent=1))

    wall = time.perf_counter() - started
    print(f"Scaling of the cached pipeline with the number of images ({BACKBONE} at "
          f"{args.image_size} px, {args.weights} weights, batch {args.batch_size}; synthetic "
          f"{args.jpeg_side} px JPEGs, {args.per_identity} per identity, split "
          f"{'/'.join(str(f) for f in FRACTIONS)})")
    print(f"machine   : {platform.machine()}, os.cpu_count() = {os.cpu_count()}, load average at "
          f"start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; Python {platform.python_version()}")
    shard = "the default (helpers.feature_store.DEFAULT_SHARD_BYTES)" if args.shard_mb is None \
        else f"{args.shard_mb} MB"
    print(f"shard size: {shard}")
    print(f"epochs    : {args.epochs} per phase, the last one's seconds reported "
          "(one training pass + one validation pass)")
    print("each row  : one fresh process; extraction = both phases' cached_feature_store on train + val; "
          "total = extraction + one epoch of each phase")
    if not results:
        print("\nno configuration finished")
        print("time exponent: nan")
        print("memory exponent: nan")
        return 1
    sizes = [r["images"] for r in results]
    fit_rows = {n for n in sizes if n >= args.fit_min_images}
    if len(fit_rows) < 2:
        fit_rows = set(sizes)
    frame = table(results, fit_rows)
    print()
    print(plain(frame))
    print("\nDetail (peak RSS, MB, after each step; 'training read cache' = train_phase's cache status):")
    print(plain(detail_table(results)))
    if args.markdown:
        print()
        print(markdown(frame))
    used = frame[frame["fit"] == "yes"]
    print(f"\nwall time {wall:.0f} s")
    fallback = "" if min(fit_rows) >= args.fit_min_images else \
        f"; fewer than two had >= {args.fit_min_images}, so all rows"
    print(f"fit over {len(used)} configuration(s): {', '.join(str(n) for n in used['images'])} images "
          f"(those with >= {args.fit_min_images} images{fallback})")
    if len(used) < 2:
        time_exp = memory_exp = math.nan
    else:
        time_exp = exponent(used["images"], used["total s"])
        memory_exp = exponent(used["images"], used["peak RSS MB"])
    print(f"time exponent: {time_exp:.2f}")
    print(f"memory exponent: {memory_exp:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
