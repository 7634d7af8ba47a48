"""helpers.imagenet: the class names, top-k from logits, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import imagenet


def test_the_classes_are_imagenet_1k_in_classifier_order():
    names = imagenet.imagenet_classes()
    assert len(names) == 1000 and len(set(names)) == 1000  # torchvision names the two "crane"s and "maillot"s apart
    assert names[0] == "tench" and names[834] == "suit" and names[906] == "Windsor tie" and names[999] == "toilet tissue"


def test_top_k_ranks_by_softmax_probability():
    logits = np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]])
    table = imagenet.top_k(logits, k=2, classes=["a", "b", "c"])
    assert table["class"].tolist() == ["b", "c", "a", "b"]
    assert table["rank"].tolist() == [1, 2, 1, 2]
    expected = np.exp([2.0, 1.0]) / np.exp([0.0, 2.0, 1.0]).sum()
    np.testing.assert_allclose(table["probability"][:2], expected)
    # A shift of all logits changes nothing (softmax), large ones do not overflow.
    np.testing.assert_allclose(imagenet.top_k(logits + 1000, k=2, classes=["a", "b", "c"])["probability"],
                               table["probability"])


def test_top_k_defaults_to_imagenet_names():
    logits = np.zeros((1, 1000))
    logits[0, 834] = 5.0
    assert imagenet.top_k(logits, k=1)["class"].tolist() == ["suit"]


def test_guesses_writes_one_line_per_image():
    table = imagenet.top_k(np.array([[0.0, 2.0, 1.0]]), k=2, classes=["a", "b", "c"])
    assert imagenet.guesses(table).tolist() == ["b 0.67, c 0.24"]


@pytest.mark.parametrize(("logits", "kwargs", "message"), [
    (np.zeros(3), {}, "n_images, n_classes"),
    (np.zeros((0, 3)), {}, "non-empty"),
    (np.zeros((1, 3)), {"classes": ["a", "b"]}, "3 classes but 2 names"),
    (np.zeros((1, 3)), {"classes": ["a", "b", "c"], "k": 0}, "positive integer"),
    (np.zeros((1, 3)), {"classes": ["a", "b", "c"], "k": 4}, "at most"),
    (np.zeros((1, 3)), {"classes": ["a", "b", "c"], "k": 1.5}, "positive integer"),
])
def test_top_k_bad_input(logits, kwargs, message):
    with pytest.raises(ValueError, match=message):
        imagenet.top_k(logits, **kwargs)


def test_guesses_needs_top_k_columns():
    with pytest.raises(ValueError, match="top_k"):
        imagenet.guesses(pd.DataFrame({"image": [0]}))
