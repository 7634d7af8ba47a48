"""The few private Keras internals this project relies on, each behind one small function.

Keras 3 has no public API for walking a functional model's graph or for its home folder,
so these functions reach into private attributes. They are kept here, and only here, so
that a Keras upgrade that moves them breaks one module; ``tests/test_keras_internals.py``
exercises each on a tiny model and names the function that broke. Checked with Keras
:data:`CHECKED_KERAS_VERSION`.

* :func:`graph_nodes` -- ``model._nodes_by_depth``: the layer calls of *this* graph. A
  layer shared with a sub-model (a model cut into its frozen part and its top) has further
  calls in the other graph, so the layer's own ``_inbound_nodes`` would not do.
* :func:`node_layer`, :func:`node_inputs`, :func:`replay_node` -- the attributes of a Keras
  ``Node`` (``operation``, ``input_tensors``, ``outputs``, ``arguments``), the class behind
  :func:`graph_nodes`: which layer a call is, what it reads, and calling it again on other
  tensors (how a model's top is rebuilt on fresh inputs).
* :func:`producing_layer` -- ``tensor._keras_history``: the layer whose output a symbolic
  tensor is.
* :func:`keras_home` -- ``keras.src.backend.config.keras_home``: the folder Keras fixed as its
  home when it was imported (``$KERAS_HOME``, else ``~/.keras``, else ``/tmp/.keras``), where
  ``keras.utils.get_file`` caches downloads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helpers.tf_quiet import import_keras

if TYPE_CHECKING:  # pragma: no cover - type hints only
    import keras

#: The Keras version (major.minor) these functions were last checked against.
CHECKED_KERAS_VERSION = "3.15"


def graph_nodes(model: keras.Model) -> list[Any]:
    """The layer calls (Keras ``Node`` objects) of ``model``'s own graph, inputs first.

    Ordered by decreasing depth, which is a topological order: a node comes after every
    node producing one of its inputs.
    """
    nodes = []
    for depth in sorted(model._nodes_by_depth, reverse=True):  # noqa: SLF001 - Keras graph map
        nodes.extend(model._nodes_by_depth[depth])  # noqa: SLF001
    return nodes


def node_layer(node: Any) -> Any:
    """The layer (operation) that a node of :func:`graph_nodes` calls."""
    return node.operation


def node_inputs(node: Any) -> list[Any]:
    """The symbolic tensors a node of :func:`graph_nodes` reads, in call order."""
    return list(node.input_tensors)


def producing_layer(tensor: Any) -> Any:
    """The layer (operation) whose output the symbolic tensor ``tensor`` is."""
    return tensor._keras_history.operation  # noqa: SLF001 - Keras graph history


def replay_node(node: Any, computed: dict[int, Any]) -> None:
    """Call ``node``'s layer again, on the tensors that ``computed`` maps its inputs to.

    ``computed`` maps ``id(old tensor)`` to its replacement; it must hold every input of
    ``node``. The call's outputs are added to it (``id(old output)`` -> new output), so
    replaying a graph's nodes in :func:`graph_nodes` order rebuilds it on new inputs, with
    the same layer objects (hence the same weights).
    """
    args, kwargs = node.arguments.fill_in(computed)
    outputs = node.operation(*args, **kwargs)
    flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    for old, new in zip(node.outputs, flat, strict=True):
        computed[id(old)] = new


def keras_home() -> str:
    """Keras' home folder as fixed when Keras was imported (``$KERAS_HOME`` then, else
    ``~/.keras``, or ``/tmp/.keras`` when home is read-only)."""
    import_keras()  # first, so that TensorFlow's start-up lines stay silenced
    from keras.src.backend.config import keras_home as _keras_home  # noqa: PLC0415 - private

    return _keras_home()
