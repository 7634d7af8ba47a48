"""helpers.checks: the shared argument checks and their messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import checks


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(1)])
def test_positive_int_accepts_and_converts(value):
    out = checks.positive_int("epochs", value)
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", [0, -1, 1.0, 2.5, True, False, "3", None, np.float32(2)])
def test_positive_int_rejects(value):
    with pytest.raises(ValueError, match=r"^epochs must be a positive integer, got "):
        checks.positive_int("epochs", value)
    with pytest.raises(ValueError, match=r"^size must be a positive integer \(pixels\), got "):
        checks.positive_int("size", value, " (pixels)")


def test_non_negative_int():
    assert checks.non_negative_int("n", 0) == 0 and checks.non_negative_int("n", np.int32(4)) == 4
    for bad in (-1, 0.0, True, None):
        with pytest.raises(ValueError, match=r"^n must be a non-negative integer, got "):
            checks.non_negative_int("n", bad)


def test_integer_with_minimum_and_note():
    assert checks.integer("seed", -3) == -3
    assert checks.integer("n_classes", 2, minimum=2, note=" >= 2") == 2
    with pytest.raises(ValueError, match=r"^n_classes must be an integer >= 2, got 1$"):
        checks.integer("n_classes", 1, minimum=2, note=" >= 2")
    for bad in (1.5, True, "1"):
        with pytest.raises(ValueError, match=r"^seed must be an integer, got "):
            checks.integer("seed", bad)


def test_is_integer():
    assert checks.is_integer(3) and checks.is_integer(np.int16(3))
    assert not checks.is_integer(True) and not checks.is_integer(3.0)


@pytest.mark.parametrize("value", [0, 1, 0.5, np.float32(0.25), np.int64(1)])
def test_fraction_accepts(value):
    assert checks.fraction("accuracy", value) == float(value)


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), True, "0.9", None])
def test_fraction_rejects(value):
    with pytest.raises(ValueError, match=r"^accuracy must be a number in \[0, 1\], got "):
        checks.fraction("accuracy", value)


def test_columns():
    frame = pd.DataFrame(columns=["path", "label"])
    assert checks.missing_columns(frame, ["split", "path", "sha256"]) == ["split", "sha256"]
    checks.require_columns(frame, ["label", "path"], "data")
    with pytest.raises(ValueError, match=r"^data lacks columns \['split', 'sha256'\]; pass the split$"):
        checks.require_columns(frame, ["split", "path", "sha256"], "data", "; pass the split")
    with pytest.raises(ValueError, match=r"lacks columns \['a', 'b'\]"):
        checks.require_columns(frame, sorted({"b", "a"}), "table")
