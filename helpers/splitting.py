"""The reproducible 80/10/10 split: stratified per identity, duplicate-aware, saved as CSV.

How images are assigned
-----------------------
1. Rounding rule: an identity with ``n`` images gets ``floor(n * f_val)`` validation and
   ``floor(n * f_test)`` test images; training gets the rest. On the study data this
   gives test supports 32/21/38/43/45 -- exactly the supports of the study's published
   report -- and 1450/179/179 images in all.
2. Order: images with identical bytes (same SHA-256) form one group. Groups are ranked
   by ``sha256(f"{seed}:{group_sha256}")``: a keyed hash of the *content*, so the split
   depends on the seed and the pictures only -- not on file names, file-system order,
   the machine, or the NumPy version.
3. Filling: in rank order, a group goes to test while it fits, then to validation while
   it fits, otherwise to training. A duplicate group therefore never straddles splits.
   A group spanning several identities (the same picture under two labels) is placed
   once, by the first identity in sorted order, and the others count it where it went.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from helpers import config
from helpers.data import MANIFEST_COLUMNS

SPLIT_COLUMNS = ["relpath", "identity", "name", "label", "sha256", "split"]


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Validate ``(train, val, test)`` fractions: three positive numbers summing to 1."""
    if len(fractions) != 3:
        raise ValueError(f"fractions must be (train, val, test), got {fractions!r}")
    fr = tuple(float(f) for f in fractions)
    if any(not f > 0 for f in fr) or not math.isclose(sum(fr), 1.0, abs_tol=1e-9):
        raise ValueError(f"fractions must be positive and sum to 1, got {fractions!r}")
    return fr  # type: ignore[return-value]


def split_sizes(n: int, fractions: Sequence[float] = config.SPLIT_FRACTIONS) -> dict[str, int]:
    """Images per split for an identity with ``n`` images (the rounding rule above)."""
    _, f_val, f_test = check_fractions(fractions)
    n_val, n_test = math.floor(n * f_val), math.floor(n * f_test)
    return {"train": n - n_val - n_test, "val": n_val, "test": n_test}


def _rank(seed: int, sha: str) -> str:
    return hashlib.sha256(f"{seed}:{sha}".encode()).hexdigest()


def split_dataset(
    manifest: pd.DataFrame,
    fractions: Sequence[float] = config.SPLIT_FRACTIONS,
    seed: int = config.SEED,
) -> pd.DataFrame:
    """Return a copy of ``manifest`` with a ``split`` column in {``train``, ``val``, ``test``}.

    Needs the columns ``identity`` and ``sha256`` (every loader provides them). Raises
    ``ValueError`` naming the identity and its count when an identity has too few images
    to appear in every split. Same manifest and seed → same split, on any machine.
    """
    missing = {"identity", "sha256"} - set(manifest.columns)
    if missing:
        raise ValueError(f"manifest lacks column(s) {sorted(missing)}")
    if manifest.empty:
        raise ValueError("manifest is empty")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    fractions = check_fractions(fractions)
    counts = manifest["identity"].value_counts()
    sizes = {ident: split_sizes(int(n), fractions) for ident, n in counts.items()}
    too_small = {i: int(counts[i]) for i, s in sizes.items() if min(s.values()) < 1}
    if too_small:
        need = math.ceil(1 / min(fractions))
        raise ValueError(
            "too few images to appear in every split (train/val/test with fractions "
            f"{fractions}; at least {need} needed): "
            + ", ".join(f"{i} has {n}" for i, n in sorted(too_small.items()))
        )

    where: dict[str, str] = {}  # sha256 → split, decided once per duplicate group
    for ident in sorted(sizes):
        shas = manifest.loc[manifest["identity"] == ident, "sha256"]
        group_size = shas.value_counts()
        free = dict(sizes[ident])
        for sha, k in group_size.items():  # groups another identity already placed
            if sha in where:
                free[where[sha]] -= int(k)
        for sha in sorted((s for s in group_size.index if s not in where),
                          key=lambda s: _rank(seed, s)):
            k = int(group_size[sha])
            target = next((name for name in ("test", "val") if free[name] >= k), "train")
            free[target] -= k
            where[sha] = target
    out = manifest.copy()
    out["split"] = out["sha256"].map(where)
    return out


def split_table(split: pd.DataFrame) -> pd.DataFrame:
    """Images per identity and split, with a ``total`` column and a ``total`` row."""
    table = pd.crosstab([split["label"], split["name"]], split["split"])
    table = table.reindex(columns=list(config.SPLIT_NAMES), fill_value=0)
    table["total"] = table.sum(axis=1)
    table.loc[("", "total"), :] = table.sum(axis=0)
    return table.astype(int)


def leaking_groups(split: pd.DataFrame) -> pd.DataFrame:
    """Duplicate groups (same ``sha256``) found in more than one split; empty when none."""
    n_splits = split.groupby("sha256")["split"].nunique()
    bad = n_splits[n_splits > 1].index
    return split[split["sha256"].isin(bad)].sort_values(["sha256", "relpath"])


def save_split(split: pd.DataFrame, path: str | Path) -> Path:
    """Write the split as CSV (paths relative to the data root) and return the path."""
    missing = set(SPLIT_COLUMNS) - set(split.columns)
    if missing:
        raise ValueError(f"split lacks column(s) {sorted(missing)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    split[SPLIT_COLUMNS].to_csv(tmp, index=False)
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


def load_split(path: str | Path, root: str | Path, check_files: bool = True) -> pd.DataFrame:
    """Read a split CSV written by :func:`save_split`; ``path`` becomes ``root/relpath``.

    With ``check_files`` a missing image is an error naming it (the split belongs to
    another copy of the data, or the data moved).
    """
    path, root = Path(path), Path(root)
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path} (run notebook 02 first)")
    df = pd.read_csv(path, dtype={"relpath": str, "identity": str, "name": str, "sha256": str,
                                  "split": str})
    missing = set(SPLIT_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"{path} is not a split file: missing column(s) {sorted(missing)}")
    bad = sorted(set(df["split"]) - set(config.SPLIT_NAMES))
    if bad:
        raise ValueError(f"{path}: unknown split name(s) {bad}")
    df.insert(0, "path", [str(root / p) for p in df["relpath"]])
    if check_files:
        absent = [p for p in df["path"] if not Path(p).is_file()]
        if absent:
            raise FileNotFoundError(
                f"{len(absent)} image(s) of {path} are not under {root}, e.g. {absent[0]}")
    return df


def attach_split(manifest: pd.DataFrame, split: pd.DataFrame) -> pd.DataFrame:
    """Add the ``split`` column of a saved split to a freshly loaded manifest.

    Rows are matched by ``relpath``; every manifest row must be in the split and have the
    same ``sha256`` (else the data changed since the split was made: a clear error).
    """
    merged = manifest.merge(split[["relpath", "sha256", "split"]], on="relpath", how="left",
                            suffixes=("", "_saved"), validate="one_to_one")
    unknown = merged["split"].isna()
    if unknown.any():
        raise ValueError(f"{int(unknown.sum())} image(s) are not in the saved split, "
                         f"e.g. {merged.loc[unknown, 'relpath'].iloc[0]}")
    changed = merged["sha256"] != merged["sha256_saved"]
    if changed.any():
        raise ValueError(f"{int(changed.sum())} image(s) changed since the split was saved, "
                         f"e.g. {merged.loc[changed, 'relpath'].iloc[0]}")
    return merged[MANIFEST_COLUMNS + ["split"]]
