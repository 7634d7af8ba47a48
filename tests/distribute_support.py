"""One training run of the tiny classifier under a ``tf.distribute`` strategy, in a process of
its own (logical devices and workers must be set up before TensorFlow starts). Run by
``test_distribute.py``::

    python distribute_support.py MODE DATA_ROOT OUT [--index I --workers H:P,H:P] [--epochs E]
                                 [--phases 1,2] [--feed cached|naive]

MODE: ``none`` (no strategy), ``mirrored`` (two logical CPUs), ``multiworker`` (worker ``I``
of ``--workers``) or ``plain-multiworker`` (TensorFlow's own class, which must be refused).
Writes ``OUT/weights.npz`` (every weight, in order), ``OUT/run.json`` (the replicas) and ``OUT/features.npz`` (phase 2's
features extracted under the strategy).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["none", "mirrored", "multiworker", "plain-multiworker"])
    parser.add_argument("data_root", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--workers", default="")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--phases", default="1,2")
    parser.add_argument("--feed", default="cached", choices=["cached", "naive"])
    args = parser.parse_args()

    from helpers import distribute

    if args.mode == "mirrored":
        devices = distribute.split_cpu(2)
    if args.mode == "multiworker":
        os.environ["TF_CONFIG"] = distribute.tf_config(args.workers.split(","), args.index)

    import numpy as np

    from helpers import boundary, training
    from helpers.tf_quiet import import_tensorflow
    from training_support import IMAGE_SIZE, scale, tiny_classifier, tiny_data

    tf = import_tensorflow()
    strategy = {"none": lambda: None,
                "mirrored": lambda: distribute.mirrored_strategy(devices),
                "multiworker": distribute.multi_worker_strategy,
                "plain-multiworker": tf.distribute.MultiWorkerMirroredStrategy}[args.mode]()
    split = tiny_data(args.data_root)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = tiny_classifier(clear=False)  # clearing the session would leave the scope
    sgd = training.OptimizerSpec("sgd", learning_rate=1e-2, momentum=0.9)  # moves the weights visibly
    options = dict(image_size=IMAGE_SIZE, preprocess=scale, epochs=args.epochs, batch_size=4, optimizer=sgd,
                   progress=False, cache_dir=args.out / "cache", strategy=strategy, feed=args.feed)
    try:
        for phase in (int(p) for p in args.phases.split(",")):
            # Phase 2 from the Add after the Dropout: a training Dropout draws its masks per replica.
            training.train_phase(model, split, phase, args.out / f"p{phase}", n_unfreeze=5, **options)
    except TypeError as exc:
        print(exc, file=sys.stderr)
        return 3
    np.savez(args.out / "weights.npz", *[w.numpy() for w in model.weights])
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    (args.out / "run.json").write_text(json.dumps({"replicas": replicas}))
    frozen = boundary.prepare_phase(model, 2, n_unfreeze=6).frozen
    features = training.extract_features(frozen, training.train_val_rows(split), IMAGE_SIZE, scale,
                                         batch_size=5, progress=False, strategy=strategy)
    np.savez(args.out / "features.npz", *features)
    return 0


if __name__ == "__main__":
    sys.exit(main())
