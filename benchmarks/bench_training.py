"""Benchmark: naive versus cached training of the study's recipe, and its FLOP floor.

Run from the repository root (``helpers`` installed in the environment)::

    python benchmarks/bench_training.py --quick              # a few minutes on 2 cores
    python benchmarks/bench_training.py                      # full epochs (long)
    python benchmarks/bench_training.py --quick --markdown   # also the table in Markdown

It prints tables and ends with the line ``speedup: X.X``: naive time / cached time of the
full recipe for ``inception_v3`` at 299 pixels, the study's configuration. Nothing here
asserts a timing; it is a script, not a test.

**What is timed.** For each backbone (``efficientnet_lite0`` at 224, ``inception_v3`` at
299; random weights, ``build_classifier(5, backbone, weights=None)``: the arithmetic is the
same as with ImageNet weights) and each phase (``helpers.boundary.prepare_phase``), five
pieces, batch 32, per image:

* naive train step -- ``model.train_on_batch`` of the *full* model on images (what the
  naive path's ``fit`` runs per batch), compiled as ``helpers.training`` compiles it:
  SGD(lr 1e-4, momentum 0.9), sparse categorical cross-entropy, accuracy;
* naive validation -- ``model.test_on_batch`` on images (``fit``'s validation step);
* cached extraction -- the frozen part, ``parts.frozen``, on images through a
  ``tf.function`` and back to NumPy, as ``helpers.training.extract_features`` does;
* cached train step -- ``parts.top.train_on_batch`` on boundary features;
* cached validation -- ``parts.top.test_on_batch`` on boundary features.

**Data.** Synthetic: one in-memory batch of random float32 images (uniform in [0, 255],
then the backbone's ``preprocess``) and random labels; the cached pieces use the frozen
part's output on that batch as their features. No JPEG is read in the timed pieces. The
real naive path also decodes and resizes a JPEG per image per epoch (``tf.data``, in
parallel with the model); that cost is *excluded* from the table and measured apart on a
few generated JPEGs (``helpers.pipeline.make_dataset``, reported in the header).

**Warm-up.** Every piece runs once per distinct batch size before it is timed (tracing,
oneDNN set-up); that time is reported as "warm-up s" and excluded from the table. The
``*_on_batch`` calls include Keras' per-call overhead, as ``fit`` has per step; for the
tiny phase-1 top it dominates. Extraction is timed at batch 32 (``extract_features``
defaults to 64). Times are wall-clock on a machine that may be busy with other work: the
header prints the load average at the start.

**Full mode** times whole epochs: 1450 training images (45 batches of 32 and one of 10),
179 validation images (5 x 32 + 19) and, for extraction, 1629 images (train + val). **Quick
mode** (``--quick``) times ``--steps`` batches of 32 per piece (default 3, i.e. 96 images)
and extrapolates linearly in the number of images.

**The recipe** (the study's split of 1808 images: 1450 train, 179 val, 179 test; 50 + 50
epochs, ``helpers.config``). An *epoch* is a training pass over 1450 images plus a
validation pass over 179. Per phase:

* naive:  50 x epoch;
* cached: extraction over 1629 images (once per phase: phase 2 caches other tensors)
  + 50 x epoch on the features.

The full recipe is phase 1 + phase 2. Epoch rows exclude the extraction, recipe rows
include it. Checkpoint writing (the same on both paths) is excluded.

**FLOPs** are counted with TensorFlow's profiler
(``tf.compat.v1.profiler.profile`` with ``ProfileOptionBuilder.float_operation()``) on the
graph of a concrete function at batch 1: forward = ``m(x, training=False)``; a training
step = the gradient graph (``tape.gradient`` of the loss with respect to
``trainable_variables``, forward included), restricted to the ops the gradients depend on
(a gradient function also builds input gradients nobody reads). The profiler has no
statistics for ``DepthwiseConv2dNativeBackpropInput/Filter`` (Lite0's gradients); those
are added by hand with the forward formula (2 x filter area x output size). Activations
(ReLU and their gradients), concatenations and the optimizer update are not counted (a
multiply-add counts 2 FLOPs). The **FLOP floor** of a configuration is its FLOPs divided
by the fp32 rate of a 4096 x 4096 ``tf.linalg.matmul`` measured in the same run (median of
the repetitions): the time the work would take at large-matmul speed. "cached/floor" says
how many times the floor the cached recipe takes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import config, training
from helpers.backbones import BACKBONES, BackboneSpec
from helpers.boundary import prepare_phase
from helpers.model import PHASES, build_classifier
from helpers.tf_quiet import import_keras, import_tensorflow
from tables import markdown, plain  # a sibling script (benchmarks/ is on sys.path)

# --- The study's sizes ---------------------------------------------------------------
#: Images in the study's data set, and its split (train / val / test).
N_IMAGES = 1808
N_TRAIN = 1450
N_VAL = 179
N_TEST = 179
#: The cached path extracts features once per phase over train + val.
N_EXTRACT = N_TRAIN + N_VAL
N_CLASSES = len(config.STUDY_CLASS_IDS)
BATCH_SIZE = config.BATCH_SIZE
EPOCHS: dict[int, int] = {1: config.EPOCHS_PHASE1, 2: config.EPOCHS_PHASE2}

# --- What the script measures ----------------------------------------------------------
DEFAULT_BACKBONES: tuple[str, ...] = ("efficientnet_lite0", "inception_v3")
#: The configuration of the final ``speedup:`` line.
STUDY_BACKBONE = config.STUDY_BACKBONE
#: Batches of 32 timed per piece in --quick mode (after the warm-up).
QUICK_STEPS = 3
#: The matmul that sets the fp32 rate, and its timed repetitions (after one warm-up).
MATMUL_N = 4096
MATMUL_REPS = {"quick": 3, "full": 10}
#: Generated JPEGs for the (excluded) decode + resize measurement, and their side.
JPEG_COUNT = 32
JPEG_SIDE = 250
#: Published cross-check: InceptionV3 at 299, forward, 2 FLOPs per multiply-add.
INCEPTION_FORWARD_GFLOP = 11.47

PIECES: tuple[str, ...] = ("naive train", "naive val", "cached extract", "cached train", "cached val")
SEED = config.SEED


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Seconds spent on ``images`` images (after a warm-up of ``warmup_s`` seconds)."""

    seconds: float
    images: int
    warmup_s: float

    @property
    def per_image(self) -> float:
        return self.seconds / self.images


def epoch_batches(n_images: int, batch_size: int = BATCH_SIZE) -> list[int]:
    """Batch sizes of one pass over ``n_images`` (the last batch may be smaller)."""
    full, rest = divmod(n_images, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


def time_batches(step: Callable[[int], Any], sizes: Sequence[int]) -> Timing:
    """Run ``step(n)`` once per distinct size (warm-up), then time it over ``sizes``."""
    tick = time.perf_counter()
    for size in sorted(set(sizes), reverse=True):
        step(size)
    warmup = time.perf_counter() - tick
    tick = time.perf_counter()
    for size in sizes:
        step(size)
    return Timing(time.perf_counter() - tick, int(sum(sizes)), warmup)


@dataclass(frozen=True)
class Plan:
    """Batch sizes timed per piece: whole passes (full mode) or a few batches (quick)."""

    mode: str
    train: list[int]
    val: list[int]
    extract: list[int]

    @classmethod
    def make(cls, quick: bool, steps: int) -> Plan:
        if quick:
            few = [BATCH_SIZE] * steps
            return cls("quick", few, few, few)
        return cls("full", epoch_batches(N_TRAIN), epoch_batches(N_VAL), epoch_batches(N_EXTRACT))

    def describe(self) -> str:
        if self.mode == "quick":
            return (f"quick: {len(self.train)} batches x {BATCH_SIZE} = {sum(self.train)} images "
                    "timed per piece, extrapolated linearly to the recipe's image counts")
        return (f"full: whole passes timed ({sum(self.train)} train, {sum(self.val)} val, "
                f"{sum(self.extract)} extraction images per phase)")


def matmul_rate(n: int, reps: int) -> float:
    """fp32 FLOP/s of an ``n x n`` matmul: 2 n^3 / median time of ``reps`` runs (after one)."""
    tf = import_tensorflow()
    rng = np.random.default_rng(SEED)
    a = tf.constant(rng.standard_normal((n, n), dtype=np.float32))
    b = tf.constant(rng.standard_normal((n, n), dtype=np.float32))

    def run() -> float:
        tick = time.perf_counter()
        np.asarray(tf.linalg.matmul(a, b)[0, 0])  # eager CPU ops finish before returning
        return time.perf_counter() - tick

    run()
    return 2.0 * n**3 / statistics.median(run() for _ in range(reps))


def decode_cost(spec: BackboneSpec) -> float:
    """Seconds per image to read, decode and resize generated JPEGs with ``make_dataset``.

    Random-noise JPEGs of ``JPEG_SIDE`` pixels (noise compresses badly, so this errs high);
    excluded from the table, reported for scale.
    """
    from PIL import Image  # noqa: PLC0415 - only here

    from helpers.pipeline import make_dataset  # noqa: PLC0415 - TF-heavy

    rng = np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i in range(JPEG_COUNT):
            path = Path(folder) / f"{i}.jpg"
            pixels = rng.integers(0, 256, (JPEG_SIDE, JPEG_SIDE, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(path, quality=90)
            paths.append(str(path))
        manifest = pd.DataFrame({"path": paths, "label": np.zeros(JPEG_COUNT, dtype=int)})
        dataset = make_dataset(manifest, spec.input_size, BATCH_SIZE, preprocess=spec.preprocess)
        for _ in dataset:  # warm-up
            pass
        tick = time.perf_counter()
        for _ in dataset:
            pass
        return (time.perf_counter() - tick) / JPEG_COUNT


# --------------------------------------------------------------------------------------
# FLOPs
# --------------------------------------------------------------------------------------

#: Gradient ops the profiler has no statistics for, counted like the forward op.
_DEPTHWISE_GRADS = ("DepthwiseConv2dNativeBackpropInput", "DepthwiseConv2dNativeBackpropFilter")


def _input_specs(model: Any) -> list[Any]:
    tf = import_tensorflow()
    return [tf.TensorSpec([1, *t.shape[1:]], t.dtype) for t in model.inputs]


def _as_model_input(xs: Sequence[Any]) -> Any:
    return xs[0] if len(xs) == 1 else list(xs)


def _needed_ops(outputs: Sequence[Any]) -> set[str]:
    """Names of the ops that ``outputs`` depend on (data and control inputs)."""
    seen: set[str] = set()
    stack = [t.op for t in outputs]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return seen


def _profiled_flops(graph: Any) -> dict[str, int]:
    """FLOPs per op name of ``graph``, from TensorFlow's profiler (``float_operation``)."""
    tf = import_tensorflow()
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # the profiler's statistics use a deprecated TF1 helper and say so
    try:
        root = tf.compat.v1.profiler.profile(graph=graph, cmd="scope", options=options)
    finally:
        logger.setLevel(level)
    flops: dict[str, int] = {}
    stack = list(root.children)
    while stack:
        node = stack.pop()
        flops[node.name] = int(node.float_ops)
        stack.extend(node.children)
    return flops


def _depthwise_grad_flops(op: Any) -> int:
    out_backprop = op.inputs[2].shape  # (batch, h_out, w_out, channels x multiplier)
    kernel = op.inputs[1].shape if op.type.endswith("Input") else op.outputs[0].shape
    return 2 * int(kernel[0]) * int(kernel[1]) * int(np.prod(out_backprop.as_list()))


def graph_flops(concrete: Any) -> float:
    """FLOPs of a concrete function: profiler counts of the ops its outputs need, plus the
    depthwise-convolution gradients the profiler does not count."""
    graph = concrete.graph
    needed = _needed_ops(concrete.outputs)
    counted = _profiled_flops(graph)
    total = sum(f for name, f in counted.items() if name in needed)
    total += sum(_depthwise_grad_flops(op) for op in graph.get_operations()
                 if op.type in _DEPTHWISE_GRADS and op.name in needed)
    return float(total)


def forward_flops(model: Any) -> float:
    """FLOPs of one image through ``model(x, training=False)``."""
    tf = import_tensorflow()
    run = tf.function(lambda *xs: model(_as_model_input(xs), training=False))
    return graph_flops(run.get_concrete_function(*_input_specs(model)))


def train_step_flops(model: Any) -> float:
    """FLOPs of one image's training step: forward (training=True), loss and the gradients
    with respect to ``model.trainable_variables`` (the optimizer update not counted)."""
    tf = import_tensorflow()
    keras = import_keras()
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    def step(*xs: Any) -> list[Any]:
        with tf.GradientTape() as tape:
            loss = loss_fn(tf.zeros([1], tf.int32), model(_as_model_input(xs), training=True))
        return tape.gradient(loss, model.trainable_variables)

    return graph_flops(tf.function(step).get_concrete_function(*_input_specs(model)))


@dataclass(frozen=True)
class PhaseFlops:
    """Per-image FLOPs of one phase's pieces."""

    naive_train: float
    naive_val: float
    extract: float
    cached_train: float
    cached_val: float

    def epoch(self, path: str) -> float:
        train, val = (self.naive_train, self.naive_val) if path == "naive" else (
            self.cached_train, self.cached_val)
        return N_TRAIN * train + N_VAL * val


# --------------------------------------------------------------------------------------
# One backbone
# --------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    phase: int
    timings: dict[str, Timing]
    flops: PhaseFlops
    boundary: list[str]

    def epoch_seconds(self, path: str) -> float:
        t = self.timings
        return N_TRAIN * t[f"{path} train"].per_image + N_VAL * t[f"{path} val"].per_image

    def recipe_seconds(self, path: str) -> float:
        extraction = N_EXTRACT * self.timings["cached extract"].per_image if path == "cached" else 0.0
        return extraction + EPOCHS[self.phase] * self.epoch_seconds(path)

    def recipe_flops(self, path: str) -> float:
        extraction = N_EXTRACT * self.flops.extract if path == "cached" else 0.0
        return extraction + EPOCHS[self.phase] * self.flops.epoch(path)


@dataclass
class BackboneResult:
    name: str
    input_size: int
    forward_flops: float
    phases: list[PhaseResult]

    def recipe_seconds(self, path: str) -> float:
        return sum(p.recipe_seconds(path) for p in self.phases)

    def recipe_flops(self, path: str) -> float:
        return sum(p.recipe_flops(path) for p in self.phases)


def synthetic_batch(spec: BackboneSpec, rng: np.random.Generator) -> tuple[Any, Any]:
    """A batch of random preprocessed images and random labels, as tensors."""
    tf = import_tensorflow()
    pixels = rng.uniform(0.0, 255.0, (BATCH_SIZE, spec.input_size, spec.input_size, 3))
    images = np.asarray(spec.preprocess(pixels.astype(np.float32)), dtype=np.float32)
    labels = rng.integers(0, N_CLASSES, BATCH_SIZE).astype(np.int32)
    return tf.constant(images), tf.constant(labels)


def _compile(model: Any) -> None:
    model.compile(optimizer=training.STUDY_OPTIMIZER.build(),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def _prefix_batches(tensors: Sequence[Any], sizes: set[int]) -> dict[int, Any]:
    """The first ``n`` rows of ``tensors`` for each ``n`` in ``sizes``, sliced once (not per
    step), as one model input (a list when there are several tensors)."""
    return {n: _as_model_input([t[:n] for t in tensors]) for n in sizes}


def measure_phase(model: Any, phase: int, images: Any, labels: Any, plan: Plan,
                  log: Callable[[str], None]) -> PhaseResult:
    """Time the five pieces of ``phase`` and count their FLOPs (``model`` is mutated)."""
    tf = import_tensorflow()
    parts = prepare_phase(model, phase)
    sizes = set(plan.train) | set(plan.val) | set(plan.extract) | {BATCH_SIZE}
    x, y = _prefix_batches([images], sizes), _prefix_batches([labels], sizes)
    timings: dict[str, Timing] = {}

    def timed(piece: str, step: Callable[[int], Any], batches: list[int]) -> None:
        timings[piece] = time_batches(step, batches)
        log(f"{piece} {timings[piece].per_image * 1e3:.2f} ms/img")

    _compile(model)
    timed("naive train", lambda n: model.train_on_batch(x[n], y[n]), plan.train)
    timed("naive val", lambda n: model.test_on_batch(x[n], y[n]), plan.val)

    frozen = tf.function(lambda batch: parts.frozen(batch, training=False), reduce_retracing=True)

    def extract(n: int) -> list[np.ndarray]:
        out = frozen(x[n])
        return [np.asarray(o, dtype=np.float32) for o in (out if isinstance(out, (list, tuple)) else [out])]

    timed("cached extract", extract, plan.extract)
    features = _prefix_batches([tf.constant(f) for f in extract(BATCH_SIZE)], sizes)

    _compile(parts.top)
    timed("cached train", lambda n: parts.top.train_on_batch(features[n], y[n]), plan.train)
    timed("cached val", lambda n: parts.top.test_on_batch(features[n], y[n]), plan.val)

    flops = PhaseFlops(
        naive_train=train_step_flops(model),
        naive_val=forward_flops(model),
        extract=forward_flops(parts.frozen),
        cached_train=train_step_flops(parts.top),
        cached_val=forward_flops(parts.top),
    )
    log("FLOPs counted")
    return PhaseResult(phase, timings, flops, parts.boundary)


def measure_backbone(name: str, plan: Plan, log: Callable[[str], None]) -> BackboneResult:
    """Build ``name``'s classifier (random weights) and measure both phases."""
    spec = BACKBONES[name]
    model = build_classifier(N_CLASSES, name, weights=None)
    images, labels = synthetic_batch(spec, np.random.default_rng(SEED))
    phases = []
    for phase in PHASES:
        phases.append(measure_phase(model, phase, images, labels, plan,
                                    lambda msg, p=phase: log(f"{name} phase {p}: {msg}")))
    return BackboneResult(name, spec.input_size, phases[0].flops.naive_val, phases)


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------


def summary_table(results: Sequence[BackboneResult], rate: float) -> pd.DataFrame:
    """Rows backbone x {phase 1 epoch, phase 2 epoch, full recipe}."""
    rows = []
    for r in results:
        label = f"{r.name} @{r.input_size}"
        entries = [(f"phase {p.phase} epoch", p.epoch_seconds("naive"), p.epoch_seconds("cached"),
                    p.flops.epoch("cached")) for p in r.phases]
        entries.append(("full recipe", r.recipe_seconds("naive"), r.recipe_seconds("cached"),
                        r.recipe_flops("cached")))
        for what, naive, cached, flops in entries:
            floor = flops / rate
            rows.append({"backbone": label, "what": what, "naive s": naive, "cached s": cached,
                         "speedup": naive / cached, "FLOP floor s": floor,
                         "cached/floor": cached / floor})
    return pd.DataFrame(rows)


def pieces_table(results: Sequence[BackboneResult]) -> pd.DataFrame:
    """Per-image time and FLOPs of every measured piece."""
    rows = []
    for r in results:
        for p in r.phases:
            flops = {"naive train": p.flops.naive_train, "naive val": p.flops.naive_val,
                     "cached extract": p.flops.extract, "cached train": p.flops.cached_train,
                     "cached val": p.flops.cached_val}
            for piece in PIECES:
                t = p.timings[piece]
                rows.append({"backbone": r.name, "phase": p.phase, "piece": piece,
                             "ms/img": t.per_image * 1e3, "GFLOP/img": flops[piece] / 1e9,
                             "GFLOP/s": flops[piece] / t.per_image / 1e9,
                             "images timed": t.images, "warm-up s": t.warmup_s})
    return pd.DataFrame(rows)


def flops_table(results: Sequence[BackboneResult], rate: float) -> pd.DataFrame:
    """Recipe FLOPs and floors, naive and cached."""
    rows = []
    for r in results:
        for path in ("naive", "cached"):
            flops, seconds = r.recipe_flops(path), r.recipe_seconds(path)
            rows.append({"backbone": r.name, "path": path, "recipe TFLOP": flops / 1e12,
                         "floor s": flops / rate, "measured s": seconds,
                         "measured/floor": seconds / (flops / rate)})
    return pd.DataFrame(rows)


def header(plan: Plan, rate: float, decode: dict[str, float], load: tuple[float, float, float],
           tf_version: str, threads: tuple[int, int]) -> str:
    intra, inter = threads
    lines = [
        "Naive versus cached training, the study's recipe "
        f"({N_IMAGES} images: {N_TRAIN} train / {N_VAL} val / {N_TEST} test; "
        f"{EPOCHS[1]} + {EPOCHS[2]} epochs; batch {BATCH_SIZE})",
        f"machine   : {platform.machine()}, os.cpu_count() = {os.cpu_count()}, "
        f"usable cores = {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}, "
        f"load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
        f"software  : Python {platform.python_version()}, TensorFlow {tf_version}, "
        f"intra-op threads {intra or 'default (0)'}, inter-op threads {inter or 'default (0)'}",
        f"matmul    : {MATMUL_N} x {MATMUL_N} fp32 tf.linalg.matmul, {rate / 1e9:.1f} GFLOP/s "
        "(median) -- the FLOP floor's rate",
        f"mode      : {plan.describe()}",
        "data      : synthetic in-memory images (random, then the backbone's preprocess), "
        "random weights, 5 classes",
        "excluded  : warm-up/tracing, checkpoints, JPEG decode + resize of the naive path "
        "(measured on generated JPEGs: "
        + ", ".join(f"{name} {s * 1e3:.2f} ms/img" for name, s in decode.items()) + ")",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time naive versus cached training (phase 1 and 2 epochs, the full 50 + 50 "
        "epoch recipe on 1808 images) and compare with the FLOP floor. The last line printed is "
        "'speedup: X.X', naive / cached full-recipe time for inception_v3 at 299.")
    parser.add_argument("--quick", action="store_true",
                        help="time --steps batches per piece and extrapolate (a few minutes) "
                        "instead of whole epochs")
    parser.add_argument("--steps", type=int, default=QUICK_STEPS,
                        help=f"batches of {BATCH_SIZE} timed per piece in --quick mode "
                        f"(default {QUICK_STEPS})")
    parser.add_argument("--backbones", nargs="+", choices=sorted(BACKBONES), default=list(DEFAULT_BACKBONES),
                        metavar="NAME", help="backbones to measure (default: %(default)s)")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the summary table as Markdown (for a README)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tf = import_tensorflow()
    tf.get_logger().setLevel("ERROR")  # Keras' retracing notices: every piece is traced on purpose
    started = time.perf_counter()
    load = os.getloadavg()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    plan = Plan.make(args.quick, args.steps)
    rate = matmul_rate(MATMUL_N, MATMUL_REPS[plan.mode])
    log(f"matmul {rate / 1e9:.1f} GFLOP/s")
    decode = {f"{name} @{BACKBONES[name].input_size}": decode_cost(BACKBONES[name])
              for name in args.backbones}
    results = [measure_backbone(name, plan, log) for name in args.backbones]
    threads = (tf.config.threading.get_intra_op_parallelism_threads(),
               tf.config.threading.get_inter_op_parallelism_threads())

    print(header(plan, rate, decode, load, tf.__version__, threads))
    for r in results:
        if r.name == "inception_v3" and r.input_size == 299:
            print(f"cross-check: inception_v3 @299 forward = {r.forward_flops / 1e9:.2f} GFLOP/img "
                  f"(published {INCEPTION_FORWARD_GFLOP})")
    for r in results:
        bounds = "; ".join(f"phase {p.phase}: {', '.join(p.boundary)}" for p in r.phases)
        print(f"cached boundary, {r.name}: {bounds}")
    print("\nPer piece (per image, batch 32; warm-up = first call of each batch size, excluded):")
    print(plain(pieces_table(results)))
    print("\nRecipe FLOPs (naive and cached) against the FLOP floor:")
    print(plain(flops_table(results, rate)))
    summary = summary_table(results, rate)
    print("\nSummary (epoch rows: one epoch, no extraction; full recipe: extraction per phase "
          "+ 50 + 50 epochs; FLOP floor = cached path's FLOPs / matmul rate):")
    print(plain(summary))
    if args.markdown:
        print()
        print(markdown(summary))
    print(f"\nwall time {time.perf_counter() - started:.0f} s")
    study = [r for r in results if r.name == STUDY_BACKBONE]
    if study:
        print(f"speedup: {study[0].recipe_seconds('naive') / study[0].recipe_seconds('cached'):.1f}")
    else:
        print(f"speedup: n/a ({STUDY_BACKBONE} not measured)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
