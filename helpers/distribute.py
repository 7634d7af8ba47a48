"""Training on several devices or machines with ``tf.distribute``.

:func:`helpers.training.train_phase` takes a ``strategy``: build the classifier inside
``with strategy.scope():`` and pass the same strategy. ``batch_size`` stays the *global*
batch: each of the ``R`` replicas computes ``batch_size / R`` rows and the gradients are
averaged over the whole batch, so the recipe is unchanged (:func:`scaled_recipe` says how to
change it on purpose). This module makes the strategies:

* :func:`mirrored_strategy` -- several GPUs (or logical CPUs) of one machine;
* :func:`multi_worker_strategy` -- several machines, each configured by ``TF_CONFIG``
  (:func:`tf_config`), with a fix for Keras 3 that plain ``MultiWorkerMirroredStrategy`` needs;
* :func:`split_cpu` -- two or more logical CPU devices, to run the mirrored path without GPUs.
"""

from __future__ import annotations

import functools
import json
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from helpers.tf_quiet import import_tensorflow

if TYPE_CHECKING:  # pragma: no cover - type hints only
    import tensorflow as tf

    from helpers.training import OptimizerSpec


def split_cpu(n: int) -> list[str]:
    """Split the machine's CPU into ``n`` logical devices and return their names.

    TensorFlow allows this only before it first runs an operation, so call it at the top of
    a script (or a fresh process). ``MirroredStrategy(split_cpu(2))`` then mirrors the model
    on two CPU devices exactly as it would on two GPUs, which is how the tests check the
    mirrored path on machines without GPUs (it is no faster: the devices share the cores).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    tf = import_tensorflow()
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(n))
    except RuntimeError as exc:  # already initialised
        found = tf.config.list_logical_devices("CPU")
        if len(found) != n:
            raise RuntimeError(
                f"TensorFlow has already started with {len(found)} CPU device(s); call split_cpu({n}) "
                "before anything else runs TensorFlow (at the top of the script or in a new process)"
            ) from exc
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def mirrored_strategy(devices: Sequence[str] | None = None) -> tf.distribute.MirroredStrategy:
    """``tf.distribute.MirroredStrategy`` over ``devices`` (default: every GPU, else the CPU).

    One machine, one copy of the model per device, gradients summed across them after
    every batch.
    """
    tf = import_tensorflow()
    return tf.distribute.MirroredStrategy(list(devices) if devices is not None else None)


def tf_config(workers: Sequence[str], index: int) -> str:
    """The ``TF_CONFIG`` value of worker ``index`` of a cluster of ``workers`` (``"host:port"``).

    Set it in each worker's environment before TensorFlow starts, e.g.
    ``TF_CONFIG='{"cluster": {"worker": ["a:12345", "b:12345"]}, "task": {"type": "worker", "index": 0}}'``;
    worker 0 is the chief.
    """
    workers = [str(w) for w in workers]
    if not workers or any(":" not in w for w in workers):
        raise ValueError(f"workers must be a non-empty list of 'host:port' strings, got {workers!r}")
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < len(workers):
        raise ValueError(f"index must be in [0, {len(workers)}), got {index!r}")
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": int(index)}})


@functools.cache
def _keras_multi_worker_class() -> type:
    tf = import_tensorflow()

    class KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        """``MultiWorkerMirroredStrategy`` whose ``reduce`` accepts what Keras 3's ``fit`` gives it.

        Keras 3 (up to at least 3.15, keras-team/keras#20585) calls ``strategy.reduce`` on a
        whole ``(x, y)`` batch and on scalar logs with ``axis=0``; the multi-worker strategy
        accepts neither. This reduces each tensor on its own, and scalars without an axis.
        """

        keras_fit_fix = True

        def reduce(self, reduce_op: Any, value: Any, axis: int | None) -> Any:
            def one(v: Any) -> Any:
                first = self.experimental_local_results(v)[0]
                rank = getattr(getattr(first, "shape", None), "rank", None)
                return super(KerasMultiWorkerMirroredStrategy, self).reduce(
                    reduce_op, v, axis if axis is None or rank else None)

            return tf.nest.map_structure(one, value)

    return KerasMultiWorkerMirroredStrategy


def multi_worker_strategy() -> tf.distribute.MultiWorkerMirroredStrategy:
    """A ``MultiWorkerMirroredStrategy`` that Keras 3's ``fit`` can train with.

    Every machine runs the same script with its own ``TF_CONFIG`` (:func:`tf_config`); the
    call blocks until all workers have started. Each worker reads its share of every
    global batch; gradients are all-reduced across the workers after every batch.
    """
    return _keras_multi_worker_class()()


def is_multi_worker(strategy: Any) -> bool:
    """Whether ``strategy`` is a multi-worker strategy (its replicas may live on other machines)."""
    return isinstance(strategy, import_tensorflow().distribute.MultiWorkerMirroredStrategy)


def check_strategy(strategy: Any, model: Any) -> None:
    """Raise a clear error unless ``model`` can be trained under ``strategy``."""
    tf = import_tensorflow()
    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(f"strategy must be a tf.distribute.Strategy, got {type(strategy).__name__}")
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) \
            and not getattr(strategy, "keras_fit_fix", False):
        raise TypeError("Keras 3's fit fails under a plain MultiWorkerMirroredStrategy "
                        "(keras-team/keras#20585): make it with helpers.distribute.multi_worker_strategy()")
    variables = [getattr(w, "value", w) for w in model.weights]
    if variables and not strategy.extended.variable_created_in_scope(variables[0]):
        raise ValueError("the model was built outside this strategy's scope: build it inside "
                         "`with strategy.scope():` (helpers.model.build_classifier or your own) "
                         "and pass the same strategy")


def scaled_recipe(batch_size: int, optimizer: OptimizerSpec, factor: int) -> tuple[int, OptimizerSpec]:
    """Batch size and optimizer for a global batch ``factor`` times larger.

    The linear scaling rule (Goyal et al., 2017, "Accurate, Large Minibatch SGD"):
    multiply the learning rate by the same factor as the batch, so that an epoch moves the
    weights about as far with ``factor`` times fewer steps. Use it to give each of ``R``
    replicas the original batch (``factor=R``); it changes the recipe, so compare on the
    validation split. ``factor=1`` returns the recipe unchanged, which is what
    :func:`helpers.training.train_phase` keeps by default under any strategy.
    """
    from dataclasses import replace  # noqa: PLC0415

    from helpers.training import OptimizerSpec  # noqa: PLC0415 - training imports TF lazily

    if isinstance(factor, bool) or not isinstance(factor, numbers.Integral) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    if not isinstance(optimizer, OptimizerSpec):
        raise TypeError("optimizer must be an OptimizerSpec")
    return int(batch_size) * int(factor), replace(optimizer, learning_rate=optimizer.learning_rate * factor)
