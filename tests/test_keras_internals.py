"""Tests of helpers.keras_internals: each private Keras internal the project uses, on a tiny model.

A Keras upgrade that moves one of them fails here, with the name of the function that broke,
instead of somewhere deep in the boundary split or the feature cache.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest

from helpers import keras_internals as ki


@pytest.fixture(scope="module")
def keras():
    from helpers.tf_quiet import import_keras

    return import_keras()


@pytest.fixture(scope="module")
def tiny(keras):
    """input -> a -> (b, c) -> add: a branch, so that order and fan-out matter."""
    x = keras.Input(shape=(4,), name="tiny_input")
    a = keras.layers.Dense(3, name="a")(x)
    b = keras.layers.Dense(2, name="b")(a)
    c = keras.layers.Dense(2, name="c")(a)
    out = keras.layers.Add(name="add")([b, c])
    return keras.Model(x, out, name="tiny")


@contextlib.contextmanager
def loudly(function: str, keras):
    """Turn any failure inside into one that names the broken function and the Keras version."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - reported, not swallowed
        pytest.fail(
            f"helpers.keras_internals.{function} no longer works with Keras {keras.__version__} "
            f"(checked with {ki.CHECKED_KERAS_VERSION}): {type(exc).__name__}: {exc}. Find the "
            "new home of the private attribute it reads and update that function.",
            pytrace=True,
        )


def test_keras_version_is_the_checked_one(keras):
    major_minor = ".".join(keras.__version__.split(".")[:2])
    assert major_minor == ki.CHECKED_KERAS_VERSION, (
        f"Keras is {keras.__version__} but helpers.keras_internals was checked with "
        f"{ki.CHECKED_KERAS_VERSION}: if the other tests of this file pass, set "
        "CHECKED_KERAS_VERSION to the new version"
    )


def test_graph_nodes_node_layer_and_node_inputs(keras, tiny):
    with loudly("graph_nodes / node_layer / node_inputs", keras):
        nodes = ki.graph_nodes(tiny)
        layers = [ki.node_layer(node) for node in nodes]
        inputs = [ki.node_inputs(node) for node in nodes]
    assert len(nodes) == len(tiny.layers), "graph_nodes: one node per layer of a model without sharing"
    assert {id(layer) for layer in layers} == {id(layer) for layer in tiny.layers}, "node_layer"
    names = [layer.name for layer in layers]
    assert names[0] == "tiny_input" and names[-1] == "add", f"graph_nodes not topological: {names}"
    assert names.index("a") < min(names.index("b"), names.index("c")), f"graph_nodes order: {names}"
    assert [len(i) for i in inputs] == [0, 1, 1, 1, 2], "node_inputs"


def test_producing_layer(keras, tiny):
    with loudly("producing_layer", keras):
        assert ki.producing_layer(tiny.outputs[0]) is tiny.get_layer("add")
        assert ki.producing_layer(tiny.inputs[0]) is tiny.get_layer("tiny_input")
        add_node = ki.graph_nodes(tiny)[-1]
        producers = [ki.producing_layer(t).name for t in ki.node_inputs(add_node)]
    assert producers == ["b", "c"]


def test_replay_node_rebuilds_the_graph(keras, tiny):
    fresh = keras.Input(shape=(4,), name="fresh_input")
    with loudly("replay_node", keras):
        computed = {id(tiny.inputs[0]): fresh}
        for node in ki.graph_nodes(tiny):
            if ki.node_inputs(node):  # the Input layer's node is not a call
                ki.replay_node(node, computed)
        rebuilt = keras.Model(fresh, computed[id(tiny.outputs[0])])
    assert [layer.name for layer in rebuilt.layers[1:]] == ["a", "b", "c", "add"]
    same = all(rebuilt.get_layer(n) is tiny.get_layer(n) for n in ("a", "b", "c", "add"))
    assert same, "replay_node must reuse the layer objects"
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    np.testing.assert_array_equal(rebuilt.predict(x, verbose=0), tiny.predict(x, verbose=0))


def test_keras_home(keras):
    with loudly("keras_home", keras):
        home = ki.keras_home()
    assert isinstance(home, str) and home, f"keras_home returned {home!r}"
    assert os.path.basename(os.path.normpath(home)) == ".keras" or "KERAS_HOME" in os.environ, home
