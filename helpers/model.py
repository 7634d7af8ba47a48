"""The classifier: a pretrained backbone, the study's head, and its two training phases.

* **phase 1** -- the pretrained base is frozen, only the head learns (:func:`freeze_base`);
* **phase 2** -- the last ``config.UNFREEZE_LAST`` layers of ``model.layers`` are fine-tuned
  with the head (:func:`unfreeze_last`).

"The last n layers" is counted in the *flat* list ``model.layers``: :func:`attach_head` puts
the head on ``base.output``, so the base's layers are the classifier's own (nested, the base
would be one layer and the count would mean nothing).

BatchNormalization layers stay frozen in both phases: a frozen BatchNormalization layer
runs in inference mode in Keras 3, even under ``training=True`` (what the Keras fine-tuning
guide gets by calling the base with ``training=False``). Dropout layers of the frozen part
are switched off while frozen, so the frozen part computes the same features in training
and in inference and its output can be cached.

Where each phase cuts the model is :mod:`helpers.boundary`; the tables notebook 03 prints
are :mod:`helpers.model_tables`. TensorFlow/Keras are imported inside the functions
(through :mod:`helpers.tf_quiet`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helpers import checks, config
from helpers.tf_quiet import import_keras

if TYPE_CHECKING:  # pragma: no cover - type hints only
    import keras

#: Names of the head layers :func:`build_classifier` adds, in graph order. They identify
#: the head in a flat model (everything else is the base).
HEAD_LAYER_NAMES: tuple[str, str, str] = ("head_pool", "head_dense", "head_output")
#: The two phases.
PHASES: tuple[int, int] = (1, 2)


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
    checks.integer("n_classes", n_classes, minimum=2, note=" >= 2")
    checks.positive_int("dense_units", dense_units)
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
    checks.integer("n_classes", n_classes, minimum=2, note=" >= 2")  # cheap, before loading weights
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


def check_phase(phase: int) -> int:
    """``phase`` if it is one of :data:`PHASES`, else ``ValueError``."""
    if phase not in PHASES:
        raise ValueError(f"phase must be 1 or 2, got {phase!r}")
    return phase
