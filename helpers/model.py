"""The classifier: a pretrained backbone, a small head, and the study's two training phases.

The study (see ``shared/study``) put a new head on an ImageNet InceptionV3 and trained in
two phases:

* **phase 1** -- the pretrained base is frozen, only the head learns
  (:func:`freeze_base`);
* **phase 2** -- the last 63 layers of the model are unfrozen and fine-tuned together with
  the head (:func:`unfreeze_last`, ``n = config.UNFREEZE_LAST``).

"The last 63 layers" is counted in the *flat* list ``model.layers`` of a model whose
graph holds the base's layers directly (Input layer included, as Keras lists it), followed
by the three head layers. :func:`build_classifier` therefore builds the classifier flat,
by attaching the head to ``base.output``, instead of nesting the base as a single layer
(nested, ``model.layers`` would have 4 entries and "63 layers" would mean nothing).

BatchNormalization layers are kept frozen in both phases. In Keras 3 a frozen
BatchNormalization layer (``trainable = False``) runs in inference mode even when the
model is called with ``training=True``: it normalises with its moving statistics and
does not update them. That is what the Keras fine-tuning guide obtains by calling the base
with ``training=False``, here obtained in a flat graph. Dropout layers of the frozen part
(Lite0's drop-connect) are likewise switched off (rate 0) while frozen, so that the frozen
part computes the same features in training and in inference.

The frozen part of a model and its trainable top meet at a few tensors (the *boundary*,
:func:`trainable_boundary`); :func:`split_at_boundary` cuts the model there into
``frozen_model`` (images -> boundary tensors) and ``top_model`` (boundary tensors ->
class probabilities) that share their layers with the model, so the frozen part's output
can be computed once and cached.

TensorFlow/Keras are imported inside the functions (through :mod:`helpers.tf_quiet`),
never at module level, so importing this module stays cheap and quiet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from helpers import config
from helpers import keras_internals as ki
from helpers.tf_quiet import import_keras

if TYPE_CHECKING:  # pragma: no cover - type hints only
    import keras

#: Names of the head layers :func:`build_classifier` adds, in graph order. They identify
#: the head in a flat model (everything else is the base).
HEAD_LAYER_NAMES: tuple[str, str, str] = ("head_pool", "head_dense", "head_output")
#: Block name given to the head layers.
HEAD_BLOCK = "head"
#: Block name of InceptionV3's layers before ``mixed0`` (and of a backbone's first layers).
STEM_BLOCK = "stem"

# InceptionV3 ends each block with a Concatenate layer named mixed0..mixed10
# (mixed9_0 / mixed9_1 are inner concatenations, hence the anchors).
_INCEPTION_BLOCK_END = re.compile(r"^mixed\d+$")
# EfficientNet-style layer names: block1a_dwconv, block6d_project_bn, stem_conv, top_bn...
_EFFICIENTNET_BLOCK = re.compile(r"^(block\d+[a-z]?)_")
# Prefix -> block for layers outside the numbered blocks. Lite0 calls its final 1x1 conv
# "head_conv"; it is reported as block "top" (Keras' EfficientNet name) so that "head"
# means only the classifier head added here.
_PREFIX_BLOCKS = {"stem": "stem", "top": "top", "head": "top"}


# --------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------


def _is_batch_norm(layer: Any) -> bool:
    keras = import_keras()
    return isinstance(layer, keras.layers.BatchNormalization)


def attach_head(
    base: keras.Model,
    n_classes: int,
    dense_units: int = 1024,
    name: str | None = None,
) -> keras.Model:
    """Put the study's head on ``base`` and return the flat classifier in phase 1 state.

    Parameters
    ----------
    base : a flat functional model, images ``(batch, size, size, 3)`` -> last feature map
        ``(batch, h, w, channels)`` (e.g. InceptionV3 at 299: ``(batch, 8, 8, 2048)``).
    n_classes : number of identities, at least 2.
    dense_units : width of the hidden Dense layer (the study: 1024).
    name : model name; defaults to ``"<base name>_classifier"``.

    Returns
    -------
    keras.Model
        ``base.input`` -> GlobalAveragePooling2D ``(batch, channels)`` -> Dense(dense_units,
        relu) -> Dense(n_classes, softmax) ``(batch, n_classes)``, probabilities summing to 1.
        Its ``layers`` are the base's layers followed by the three head layers
        (:data:`HEAD_LAYER_NAMES`). The base is frozen (:func:`freeze_base`); compile it
        before training.

    The study used ``sigmoid`` on the output with categorical cross-entropy. Sigmoid
    scores each class independently, so the five outputs are not a distribution (they need
    not sum to 1; Keras's cross-entropy silently divides them by their sum). The classes
    are mutually exclusive -- each face is exactly one person -- which is what softmax
    models, so this project uses softmax.
    """
    keras = import_keras()
    if not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    if not isinstance(dense_units, int) or dense_units < 1:
        raise ValueError(f"dense_units must be a positive integer, got {dense_units!r}")
    if len(base.outputs) != 1 or len(base.outputs[0].shape) != 4:
        raise ValueError(
            "base must have one 4-D output (batch, height, width, channels), got "
            f"{[tuple(t.shape) for t in base.outputs]}"
        )
    clashes = {layer.name for layer in base.layers} & set(HEAD_LAYER_NAMES)
    if clashes:
        raise ValueError(f"base already has layers named {sorted(clashes)}")

    pool_name, dense_name, out_name = HEAD_LAYER_NAMES
    x = keras.layers.GlobalAveragePooling2D(name=pool_name)(base.output)
    x = keras.layers.Dense(dense_units, activation="relu", name=dense_name)(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name=out_name)(x)
    # Flat on purpose: the base's layers become the classifier's own layers (see module doc).
    # A single input is passed bare so that calling the model with one array does not warn.
    inputs = base.inputs[0] if len(base.inputs) == 1 else base.inputs
    model = keras.Model(inputs, outputs, name=name or f"{base.name}_classifier")
    return freeze_base(model)


def build_classifier(
    n_classes: int,
    backbone: str = "efficientnet_lite0",
    weights: str | None = "imagenet",
    dense_units: int = 1024,
) -> keras.Model:
    """Build the study's classifier on a registered backbone, ready for phase 1.

    Parameters
    ----------
    n_classes : number of identities (the study: 5), at least 2.
    backbone : a name in :data:`helpers.backbones.BACKBONES` (``"efficientnet_lite0"``,
        the default, ``"efficientnet_lite1"``, ``"efficientnet_lite2"``, or
        ``"inception_v3"``, the study's).
    weights : ``"imagenet"`` for the pretrained base, ``None`` for random initialisation
        (structure only: layer lists and parameter counts are the same).
    dense_units : width of the hidden Dense layer (the study: 1024).

    Returns
    -------
    keras.Model
        Input ``(batch, size, size, 3)`` float, *already preprocessed* with
        ``BACKBONES[backbone].preprocess`` (e.g. [-1, 1] for InceptionV3), ``size`` =
        ``BACKBONES[backbone].input_size`` -> class probabilities ``(batch, n_classes)``
        (softmax). Flat: ``model.layers`` = base layers + the 3 head layers. The base is
        frozen (phase 1) and every BatchNormalization layer is frozen, hence always in
        inference mode. Compile before training.

    See :func:`attach_head` for why softmax rather than the study's sigmoid.
    """
    # Validate cheap arguments before loading weights.
    if not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    from helpers.backbones import BACKBONES, load_backbone  # noqa: PLC0415 - lazy, TF-heavy

    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {sorted(BACKBONES)}")
    base = load_backbone(backbone, weights=weights, include_top=False)
    return attach_head(base, n_classes, dense_units=dense_units, name=f"{backbone}_classifier")


# --------------------------------------------------------------------------------------
# The two phases
# --------------------------------------------------------------------------------------


# Attribute holding a Dropout layer's own rate while the layer is frozen (rate set to 0).
_SAVED_RATE = "_celeb_saved_rate"


def _set_dropout_mode(layer: Any, active: bool) -> None:
    """Switch a Dropout layer off (rate 0) while frozen, back to its own rate when trainable.

    Unlike BatchNormalization, a Keras Dropout layer ignores ``trainable``: inside a flat
    graph a frozen drop-connect layer (EfficientNet-Lite0's ``*_drop``) would still drop
    residual branches during ``fit``, making the frozen features random. The Keras guide
    avoids that by running the whole base with ``training=False``; here the frozen part's
    Dropout layers get rate 0 (identity), so the frozen part is deterministic and its
    output can be cached. Dropout inside the trainable slice keeps its rate.
    """
    if active:
        if hasattr(layer, _SAVED_RATE):
            layer.rate = getattr(layer, _SAVED_RATE)
            delattr(layer, _SAVED_RATE)
    elif not hasattr(layer, _SAVED_RATE):
        setattr(layer, _SAVED_RATE, layer.rate)
        layer.rate = 0.0


def _set_trainable_from(model: keras.Model, start: int) -> keras.Model:
    """Layers ``model.layers[start:]`` trainable, earlier ones frozen, BatchNorm always frozen."""
    keras = import_keras()
    for index, layer in enumerate(model.layers):
        # Frozen BatchNorm = inference mode (moving statistics used and kept), both phases.
        layer.trainable = index >= start and not _is_batch_norm(layer)
        if isinstance(layer, keras.layers.Dropout):
            _set_dropout_mode(layer, active=layer.trainable)
    return model


def _head_start(model: keras.Model) -> int:
    names = [layer.name for layer in model.layers]
    if tuple(names[-len(HEAD_LAYER_NAMES) :]) != HEAD_LAYER_NAMES:
        raise ValueError(
            f"model {model.name!r} does not end with the head {HEAD_LAYER_NAMES}; "
            "build it with build_classifier or attach_head"
        )
    return len(names) - len(HEAD_LAYER_NAMES)


def freeze_base(model: keras.Model) -> keras.Model:
    """Phase 1: freeze every base layer, so that only the head trains.

    Mutates and returns ``model``. Trainable flags are read when a model is compiled:
    call ``model.compile(...)`` again after this. InceptionV3 with 5 classes then has
    2,103,301 trainable parameters (the two Dense layers).
    """
    return _set_trainable_from(model, _head_start(model))


def unfreeze_from(model: keras.Model, index: int) -> keras.Model:
    """Make ``model.layers[index:]`` trainable and freeze the layers before ``index``.

    BatchNormalization layers stay frozen (inference mode) wherever they are. The study's
    code did ``for layer in model.layers[249:]: layer.trainable = True`` -- on InceptionV3
    that is ``unfreeze_from(model, 249)``, 65 layers (all of ``mixed9`` and ``mixed10``
    plus the head), while its README says 63 (:func:`unfreeze_last`).

    Parameters
    ----------
    index : flat layer index, ``0 <= index < len(model.layers)`` (negative not accepted).

    Mutates and returns ``model``; recompile it before training.
    """
    n_layers = len(model.layers)
    if not isinstance(index, int) or not 0 <= index < n_layers:
        raise ValueError(f"index must be an integer in [0, {n_layers - 1}], got {index!r}")
    return _set_trainable_from(model, index)


def unfreeze_last(model: keras.Model, n: int = config.UNFREEZE_LAST) -> keras.Model:
    """Phase 2: make the last ``n`` layers of the flat list ``model.layers`` trainable.

    Counted as the study counted them: ``model.layers`` lists the base's layers (its
    Input layer first) followed by the head's three layers, and the slice is
    ``model.layers[-n:]``. Layers before it are frozen; BatchNormalization layers inside
    it stay frozen (inference mode), as the Keras fine-tuning guide advises. With
    InceptionV3 and ``n = 63`` (the default, ``config.UNFREEZE_LAST``) the slice starts at
    flat index 251 (``activation_80``, inside block ``mixed9``) and 5 classes give
    12,638,213 trainable parameters.

    Parameters
    ----------
    n : number of layers, ``1 <= n <= len(model.layers)``.

    Mutates and returns ``model``; recompile it before training.
    """
    n_layers = len(model.layers)
    if not isinstance(n, int) or not 1 <= n <= n_layers:
        raise ValueError(f"n must be an integer in [1, {n_layers}], got {n!r}")
    return _set_trainable_from(model, n_layers - n)


def trainable_start(model: keras.Model) -> int:
    """Flat index where the trainable slice begins, read from the layers' flags.

    It is one past the last frozen layer that is not BatchNormalization, moved past any
    BatchNormalization layers that follow it (frozen BatchNorm layers *inside* the slice
    belong to it: gradients flow through them; one at its very start computes the same
    whichever side it is counted on, and the study's counting puts it outside). 0 when
    nothing is frozen; ``len(model.layers)`` when everything is.
    """
    layers = model.layers
    start = 0
    for index, layer in enumerate(layers):
        if not layer.trainable and not _is_batch_norm(layer):
            start = index + 1
    while start < len(layers) and start > 0 and _is_batch_norm(layers[start]):
        start += 1
    return start


# --------------------------------------------------------------------------------------
# Describing a phase
# --------------------------------------------------------------------------------------


def layer_blocks(model: keras.Model) -> list[str]:
    """The named block of each layer of ``model.layers``, in order.

    InceptionV3: ``"stem"`` before ``mixed0``, then ``"mixed0"`` .. ``"mixed10"`` (a block
    is the layers up to and including its Concatenate ``mixedN``). EfficientNet-style
    backbones: ``"stem"``, ``"block1a"`` .. ``"block7a"``, ``"top"`` (Lite0's ``head_conv``,
    ``head_bn``, ``head_relu6``) from the layer-name prefixes; a layer without a prefix
    joins the block before it (the Input layer: ``"stem"``). The classifier head added by
    :func:`attach_head` is ``"head"``.
    """
    layers = model.layers
    names = [layer.name for layer in layers]
    head_names = set(HEAD_LAYER_NAMES)
    blocks: list[str] = [""] * len(layers)
    if any(_INCEPTION_BLOCK_END.match(name) for name in names):
        # Walk backwards: each layer belongs to the next mixedN at or after it.
        current = None
        for index in range(len(layers) - 1, -1, -1):
            name = names[index]
            if name in head_names:
                blocks[index] = HEAD_BLOCK
                continue
            if _INCEPTION_BLOCK_END.match(name):
                current = name
            blocks[index] = current if current is not None else "top"
        # The stem is the single chain before the first branching: everything up to the
        # first layer whose output feeds several layers (max_pooling2d_1 in InceptionV3).
        fan_out = _fan_out(model)
        stem_end = next((i for i, count in enumerate(fan_out) if count > 1), -1)
        for index in range(stem_end + 1):
            blocks[index] = STEM_BLOCK
        return blocks
    current = STEM_BLOCK
    for index, name in enumerate(names):
        if name in head_names:
            blocks[index] = HEAD_BLOCK
            continue
        match = _EFFICIENTNET_BLOCK.match(name)
        if match:
            current = match.group(1)
        else:
            for prefix, block in _PREFIX_BLOCKS.items():
                if name == prefix or name.startswith(prefix + "_"):
                    current = block
        blocks[index] = current
    return blocks


def _count(weights: Sequence[Any]) -> int:
    total = 0
    for w in weights:
        size = 1
        for dim in w.shape:
            size *= int(dim)
        total += size
    return total


def layer_table(model: keras.Model) -> pd.DataFrame:
    """One row per layer of the flat list ``model.layers``.

    Columns: ``index`` (flat position), ``name``, ``type`` (class name), ``block``
    (:func:`layer_blocks`), ``trainable`` (the layer's flag), ``in_slice`` (index at or
    after :func:`trainable_start`), ``params`` (all weights, including BatchNorm moving
    statistics), ``trainable_params`` (weights that train in the current state).
    """
    start = trainable_start(model)
    rows = []
    for (index, layer), block in zip(enumerate(model.layers), layer_blocks(model), strict=True):
        rows.append(
            {
                "index": index,
                "name": layer.name,
                "type": type(layer).__name__,
                "block": block,
                "trainable": bool(layer.trainable),
                "in_slice": index >= start,
                "params": _count(layer.weights),
                "trainable_params": _count(layer.trainable_weights),
            }
        )
    return pd.DataFrame(rows)


def block_table(model: keras.Model) -> pd.DataFrame:
    """Per named block, in graph order: layer count, parameters, trainable parameters.

    Columns: ``block``, ``first_index``, ``layers``, ``params``, ``trainable_params``,
    ``frozen_params`` (= params - trainable_params), ``slice_layers`` (layers of the block
    inside the trainable slice). Used by :func:`helpers.plots.plot_model_blocks`.
    """
    table = layer_table(model)
    grouped = table.groupby("block", sort=False).agg(
        first_index=("index", "min"),
        layers=("index", "size"),
        params=("params", "sum"),
        trainable_params=("trainable_params", "sum"),
        slice_layers=("in_slice", "sum"),
    )
    grouped["frozen_params"] = grouped["params"] - grouped["trainable_params"]
    grouped = grouped.reset_index().sort_values("first_index", kind="stable").reset_index(drop=True)
    cols = ["block", "first_index", "layers", "params", "trainable_params", "frozen_params", "slice_layers"]
    return grouped[cols].astype({c: "int64" for c in cols[1:]})


@dataclass(frozen=True)
class PhaseSummary:
    """What trains in a model's current state (see :func:`describe_phase`).

    ``layers`` counts ``model.layers``; ``slice_layers`` the trainable slice (from
    ``slice_start`` to the end, frozen BatchNorm layers inside it included);
    ``trainable_layers`` layers whose flag is on; ``frozen_layers`` the others.
    Parameter counts are numbers of scalars: ``trainable_params`` +
    ``non_trainable_params`` = ``total_params`` (BatchNorm moving statistics are
    non-trainable). ``slice_blocks`` lists the blocks the slice touches, in order; the
    first may be covered only partly (``slice_start_block``).
    """

    model: str
    layers: int
    slice_start: int
    slice_start_layer: str
    slice_start_block: str
    slice_layers: int
    trainable_layers: int
    frozen_layers: int
    trainable_params: int
    non_trainable_params: int
    total_params: int
    slice_blocks: tuple[str, ...]

    def as_series(self) -> pd.Series:
        """The fields as a pandas Series (blocks joined with ", "), for tables."""
        data = asdict(self)
        data["slice_blocks"] = ", ".join(self.slice_blocks)
        return pd.Series(data, name=self.model)


def describe_phase(model: keras.Model) -> PhaseSummary:
    """Summarise the current trainable state of a flat classifier (see :class:`PhaseSummary`)."""
    table = layer_table(model)
    start = trainable_start(model)
    in_slice = table[table["in_slice"]]
    total = int(table["params"].sum())
    trainable = _count(model.trainable_weights)
    start_row = table.iloc[start] if start < len(table) else None
    return PhaseSummary(
        model=model.name,
        layers=len(table),
        slice_start=start,
        slice_start_layer=str(start_row["name"]) if start_row is not None else "",
        slice_start_block=str(start_row["block"]) if start_row is not None else "",
        slice_layers=len(in_slice),
        trainable_layers=int(table["trainable"].sum()),
        frozen_layers=int((~table["trainable"]).sum()),
        trainable_params=trainable,
        non_trainable_params=total - trainable,
        total_params=total,
        slice_blocks=tuple(dict.fromkeys(in_slice["block"])),
    )


# --------------------------------------------------------------------------------------
# The boundary between the frozen part and the trainable top
# --------------------------------------------------------------------------------------


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


def _fan_out(model: keras.Model) -> list[int]:
    """For each layer of ``model.layers``, how many layer calls of this graph read its output."""
    position = {id(layer): index for index, layer in enumerate(model.layers)}
    counts = [0] * len(model.layers)
    for node in ki.graph_nodes(model):
        for tensor in ki.node_inputs(node):
            counts[position[id(ki.producing_layer(tensor))]] += 1
    return counts


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
    :func:`trainable_start`'s, read from the layers' trainable flags.
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
