"""How the benchmark scripts print their tables: plain text and GitHub Markdown, floats with 3
significant digits (thousands separated). Imported by its sibling scripts."""

from __future__ import annotations

from typing import Any

import pandas as pd


def fmt(value: Any) -> str:
    """Floats with 3 significant digits (thousands separated), the rest as they are."""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 99.95 else f"{value:#.3g}"
    return str(value)


def plain(frame: pd.DataFrame) -> str:
    """``frame`` as plain text, without its index."""
    return frame.to_string(index=False, formatters={c: fmt for c in frame.columns})


def markdown(frame: pd.DataFrame) -> str:
    """``frame`` as a GitHub Markdown table (no tabulate needed)."""
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = ["| " + " | ".join(frame.columns) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
