"""Which levers speed up the cached phase-2 step of EfficientNet-Lite0 on this CPU?

Usage (from the repository root, with the project installed)::

    python benchmarks/bench_levers.py [--steps 10]

The cached phase 2 trains only the top of the network (``block5b_add`` to the head) on
cached boundary tensors; that step is most of the default recipe's time. This script times
it, per training image, under each lever the training issue named:

* ``fp32, batch 32``  -- the recipe as run (the study's batch size);
* ``fp32, batch 64``  -- a larger batch (fewer, bigger matrix products);
* ``bf16, batch 32``  -- Keras ``mixed_bfloat16`` (this CPU has AVX512-BF16);
* ``fp32, batch 32, XLA`` -- ``jit_compile=True``.

Each setting builds the model afresh (random weights; timing does not depend on them),
warms up (tracing and compilation excluded, reported separately), then times ``--steps``
``train_on_batch`` calls on random boundary tensors. The input pipeline is not a lever
here: the cached path reads NumPy arrays already in memory. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from helpers.tf_quiet import import_keras


def time_setting(policy: str, batch: int, xla: bool, steps: int) -> tuple[float, float]:
    """(ms per image, warm-up seconds) of the cached phase-2 train step under one setting."""
    keras = import_keras()
    from helpers import training  # noqa: PLC0415 - after Keras is quiet
    from helpers.boundary import prepare_phase  # noqa: PLC0415
    from helpers.model import build_classifier  # noqa: PLC0415

    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        parts = prepare_phase(build_classifier(5, "efficientnet_lite0", weights=None), 2)
        top = parts.top
        top.compile(optimizer=training.STUDY_OPTIMIZER.build(), loss="sparse_categorical_crossentropy",
                    jit_compile=xla)
        rng = np.random.default_rng(0)
        xs = [rng.standard_normal((batch, *t.shape[1:])).astype("float32") for t in top.inputs]
        y = rng.integers(0, 5, batch)
        start = time.perf_counter()
        top.train_on_batch(xs, y)
        warm = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(steps):
            top.train_on_batch(xs, y)
        per_image = (time.perf_counter() - start) / (steps * batch) * 1e3
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return per_image, warm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed batches per setting")
    args = parser.parse_args(argv)
    settings = [("fp32, batch 32", "float32", 32, False), ("fp32, batch 64", "float32", 64, False),
                ("bf16, batch 32", "mixed_bfloat16", 32, False), ("fp32, batch 32, XLA", "float32", 32, True)]
    rows = []
    for label, policy, batch, xla in settings:
        ms, warm = time_setting(policy, batch, xla, args.steps)
        rows.append((label, ms, warm))
        print(f"  {label}: {ms:.2f} ms/img (warm-up {warm:.1f} s)", flush=True)
    base = rows[0][1]
    print(f"\nEfficientNet-Lite0, cached phase-2 train step, {args.steps} timed batches per setting")
    print("| setting | ms per image | vs fp32 batch 32 | phase-2 epoch of 1450 images, s |")
    print("|:---|---:|---:|---:|")
    for label, ms, _ in rows:
        print(f"| {label} | {ms:.2f} | {base / ms:.2f}x | {ms * 1450 / 1e3:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
