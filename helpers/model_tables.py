"""What trains in each phase, as tables: layers, named blocks, a phase's summary (notebook 03).

Every table reads the flat list ``model.layers`` of a classifier from :mod:`helpers.model`
and its current trainable flags: set the phase first (``freeze_base``, ``unfreeze_last``),
then describe it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from helpers import keras_internals as ki
from helpers.model import HEAD_LAYER_NAMES, trainable_start

if TYPE_CHECKING:  # pragma: no cover - type hints only
    import keras

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


def layer_blocks(model: keras.Model) -> list[str]:
    """The named block of each layer of ``model.layers``, in order.

    InceptionV3: ``"stem"`` before ``mixed0``, then ``"mixed0"`` .. ``"mixed10"`` (a block
    is the layers up to and including its Concatenate ``mixedN``). EfficientNet-style
    backbones: ``"stem"``, ``"block1a"`` .. ``"block7a"``, ``"top"`` (Lite0's ``head_conv``,
    ``head_bn``, ``head_relu6``) from the layer-name prefixes; a layer without a prefix
    joins the block before it (the Input layer: ``"stem"``). The classifier head added by
    :func:`helpers.model.attach_head` is ``"head"``.
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


def _fan_out(model: keras.Model) -> list[int]:
    """For each layer of ``model.layers``, how many layer calls of this graph read its output."""
    position = {id(layer): index for index, layer in enumerate(model.layers)}
    counts = [0] * len(model.layers)
    for node in ki.graph_nodes(model):
        for tensor in ki.node_inputs(node):
            counts[position[id(ki.producing_layer(tensor))]] += 1
    return counts


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
    after :func:`helpers.model.trainable_start`), ``params`` (all weights, including BatchNorm moving
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
