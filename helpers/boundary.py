"""Where each phase cuts the classifier: its frozen part and its trainable top.

The frozen part of a model and its trainable top meet at a few tensors, the *boundary*
(:func:`trainable_boundary`). :func:`split_at_boundary` cuts the model there into
``frozen_model`` (images -> boundary tensors) and ``top_model`` (boundary tensors -> class
probabilities), which share their layers with the model, so the frozen part's output can be
computed once and cached. :func:`prepare_phase` sets a phase's trainable flags and makes its
cut: phase 1 at the head's pooled vector (:func:`pooled_part`), phase 2 at the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from helpers import config
from helpers import keras_internals as ki
from helpers.model import HEAD_LAYER_NAMES, check_phase, freeze_base, trainable_start, unfreeze_last
from helpers.tf_quiet import import_keras

if TYPE_CHECKING:  # pragma: no cover - type hints only
    import keras


@dataclass(frozen=True)
class BoundaryTensor:
    """One tensor crossing from the frozen part into the trainable slice.

    ``layer`` is the frozen layer producing it, ``index`` that layer's flat index,
    ``shape`` the tensor's shape without the batch axis, ``consumers`` the slice layers
    reading it.
    """

    layer: str
    index: int
    shape: tuple[int, ...]
    consumers: tuple[str, ...]


def _boundary(model: keras.Model) -> tuple[list[Any], list[BoundaryTensor]]:
    """Boundary KerasTensors (ordered by producer index) and their descriptions."""
    layers = model.layers
    position = {id(layer): index for index, layer in enumerate(layers)}
    start = trainable_start(model)
    if start >= len(layers):
        raise ValueError(f"model {model.name!r} has no trainable slice (every layer is frozen)")
    if start == 0:
        inputs = list(model.inputs)
        return inputs, [
            BoundaryTensor("input", -1, tuple(int(d) for d in t.shape[1:]), ()) for t in inputs
        ]
    found: dict[int, tuple[Any, int, list[str]]] = {}
    for node in ki.graph_nodes(model):
        consumer = ki.node_layer(node)
        if position.get(id(consumer), -1) < start:
            continue
        for tensor in ki.node_inputs(node):
            producer_index = position[id(ki.producing_layer(tensor))]
            if producer_index < start:
                entry = found.setdefault(id(tensor), (tensor, producer_index, []))
                entry[2].append(consumer.name)
    ordered = sorted(found.values(), key=lambda item: item[1])
    tensors = [tensor for tensor, _, _ in ordered]
    described = [
        BoundaryTensor(
            layer=layers[index].name,
            index=index,
            shape=tuple(int(d) for d in tensor.shape[1:]),
            consumers=tuple(sorted(consumers, key=lambda n: position[id(model.get_layer(n))])),
        )
        for tensor, index, consumers in ordered
    ]
    return tensors, described


def trainable_boundary(model: keras.Model) -> list[BoundaryTensor]:
    """The tensors that cross from the frozen part into the trainable slice.

    Ordered by the flat index of the frozen layer producing them. InceptionV3 (5 classes):
    phase 1 -> ``mixed10`` (8, 8, 2048), the base's output; phase 2 with the last 63
    layers -> ``mixed8`` (8, 8, 1280) and ``batch_normalization_80`` (8, 8, 448), because
    the slice starts between a BatchNorm layer and its activation. The boundary is
    :func:`helpers.model.trainable_start`'s, read from the layers' trainable flags.
    """
    return _boundary(model)[1]


def split_at_boundary(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """Cut ``model`` at its trainable boundary into ``(frozen_model, top_model)``.

    ``frozen_model``: the model's input -> the boundary tensors, a list ordered as
    :func:`trainable_boundary` (a single tensor when there is one).
    ``top_model``: those tensors (same order; its inputs are named
    ``"<producing layer>_features"``, e.g. ``mixed8_features``) -> class probabilities
    ``(batch, n_classes)``.

    Both reuse the layer objects of ``model`` (no copies), so training ``top_model`` trains
    ``model``'s trainable slice, and ``top_model(frozen_model(x))`` equals ``model(x)``.
    The frozen part's output can thus be computed once per image and cached. Take the
    split after choosing the phase (it is read from the trainable flags); the returned
    models need compiling before training.
    """
    keras = import_keras()
    tensors, described = _boundary(model)
    single_input = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    name = model.name
    frozen = keras.Model(
        single_input, tensors[0] if len(tensors) == 1 else tensors, name=f"{name}_frozen"
    )
    if trainable_start(model) == 0:  # nothing frozen: the "top" is the whole model
        return frozen, model

    # Replay the slice's layer calls on fresh, named Inputs (what Keras does for a model
    # built from intermediate tensors, but with stable input names). Nodes are visited by
    # decreasing depth, i.e. in topological order.
    position = {id(layer): index for index, layer in enumerate(model.layers)}
    start = trainable_start(model)
    computed: dict[int, Any] = {}
    new_inputs = []
    for tensor, info in zip(tensors, described, strict=True):
        new_input = keras.Input(shape=info.shape, dtype=tensor.dtype, name=f"{info.layer}_features")
        computed[id(tensor)] = new_input
        new_inputs.append(new_input)
    for node in ki.graph_nodes(model):
        if position[id(ki.node_layer(node))] >= start:
            ki.replay_node(node, computed)
    top_outputs = [computed[id(t)] for t in model.outputs]
    top = keras.Model(
        new_inputs[0] if len(new_inputs) == 1 else new_inputs,
        top_outputs[0] if len(top_outputs) == 1 else top_outputs,
        name=f"{name}_top",
    )
    return frozen, top



# --------------------------------------------------------------------------------------
# Each phase's cut
# --------------------------------------------------------------------------------------


@dataclass
class PhaseParts:
    """A model prepared for one phase and cut where the cached path cuts it.

    ``frozen``: images -> cached features (a list when several tensors cross).
    ``top``: cached features -> probabilities; shares its layers with ``model``.
    ``boundary``: names of the frozen layers whose outputs are cached.
    """

    model: Any
    phase: int
    frozen: Any
    top: Any
    boundary: list[str]


def prepare_phase(model: keras.Model, phase: int, n_unfreeze: int = config.UNFREEZE_LAST) -> PhaseParts:
    """Set ``model``'s trainable flags for ``phase`` and cut it for the cached path.

    Phase 1 freezes the base (:func:`helpers.model.freeze_base`); its frozen part ends with
    the head's global average pooling (which has no weights), so one vector per image is
    cached and the top is ``head_dense -> head_output``. Phase 2 unfreezes the last
    ``n_unfreeze`` layers (:func:`helpers.model.unfreeze_last`) and cuts at the boundary
    (:func:`split_at_boundary`). Mutates ``model``.
    """
    keras = import_keras()
    check_phase(phase)
    if phase == 1:
        freeze_base(model)
        pool, dense, output = (model.get_layer(n) for n in HEAD_LAYER_NAMES)
        frozen = pooled_part(model)
        features = keras.Input(shape=tuple(pool.output.shape[1:]), name="head_pool_features")
        top = keras.Model(features, output(dense(features)), name=f"{model.name}_top")
        return PhaseParts(model, 1, frozen, top, [pool.name])
    unfreeze_last(model, n_unfreeze)
    frozen, top = split_at_boundary(model)
    return PhaseParts(model, 2, frozen, top, [b.layer for b in trainable_boundary(model)])


def pooled_part(model: keras.Model) -> keras.Model:
    """Phase 1's frozen part: the model's input -> the head's pooled vector."""
    pool = model.get_layer(HEAD_LAYER_NAMES[0])
    return import_keras().Model(model.inputs[0], pool.output, name=f"{model.name}_frozen")
