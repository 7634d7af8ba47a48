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

Grouped split (``groups=``, e.g. :func:`helpers.near_duplicates.groups`): images of one group
-- near-copies that do not share bytes -- land on one side. The groups are merged with the
identical-bytes groups above, and each identity's unplaced groups are placed largest first
(ties in the seeded content order of step 2) into the split that is relatively least filled
among those with room for the whole group; see :func:`split_dataset`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import checks, config
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
    *,
    groups: Sequence | np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """Return a copy of ``manifest`` with a ``split`` column in {``train``, ``val``, ``test``}.

    Needs the columns ``identity`` and ``sha256`` (every loader provides them). Raises
    ``ValueError`` naming the identity and its count when an identity has too few images
    to appear in every split. Same manifest and seed → same split, on any machine.

    Parameters
    ----------
    manifest : a loader's manifest.
    fractions : ``(train, val, test)``, positive, summing to 1.
    seed : an integer; it orders the groups (step 2 of the module's docstring).
    groups : ``None`` (default): the split described in the module's docstring, unchanged.
        Otherwise one group label per manifest row, in row order (positionally; a Series'
        index is ignored), e.g. :func:`helpers.near_duplicates.groups` of the descriptors of
        these rows. The images of one group then land on one side, as described below.

    Notes
    -----
    With ``groups``, a group is the union of the given groups and the identical-bytes groups
    (images linked by either are together). For each identity in sorted order, with the
    quotas of :func:`split_sizes`:

    1. groups already placed by an earlier identity (a group spanning identities) count
       where they went, as in the ungrouped split;
    2. the remaining groups are taken largest first (its images of this identity), equal
       sizes in the seeded content order (``sha256(f"{seed}:{smallest member sha256}")``);
    3. each goes to the split with the most room *relative to its quota* (``free /
       quota``; ties: test, then validation, then training) among the splits where the whole
       group still fits; when it fits nowhere, to the split with the most room in images.

    Tolerance: single images fill the quotas exactly, so when an identity has enough of them
    its counts equal :func:`split_sizes`. A group that fits nowhere overfills one split by
    at most ``k - 1`` images (``k``: the largest group of the identity), so each count is
    within ``2 (k - 1)`` of its quota; groups spanning identities may add to this for the
    identities that did not place them. ``ValueError`` when an identity ends up with no
    image in some split (its groups are too large: choose a smaller threshold).
    """
    missing = {"identity", "sha256"} - set(manifest.columns)
    if missing:
        raise ValueError(f"manifest lacks column(s) {sorted(missing)}")
    if manifest.empty:
        raise ValueError("manifest is empty")
    checks.integer("seed", seed)
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

    if groups is not None:
        return _grouped_split(manifest, sizes, seed, _check_groups(groups, len(manifest)))
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


def _check_groups(groups, n: int) -> np.ndarray:
    """``groups`` as a 1-D array of one label per manifest row, or a ValueError saying why not."""
    values = np.asarray(groups.to_numpy() if isinstance(groups, pd.Series) else groups, dtype=object)
    if values.ndim != 1:
        raise ValueError(f"groups must be one-dimensional (one label per manifest row), got shape "
                         f"{values.shape}")
    if len(values) != n:
        raise ValueError(f"groups has {len(values)} labels but the manifest {n} rows: pass one label "
                         "per row, in the manifest's order (e.g. helpers.near_duplicates.groups of "
                         "the descriptors of these rows)")
    missing = pd.isna(values)
    if missing.any():
        raise ValueError(f"groups holds {int(missing.sum())} missing label(s) (NaN/None), e.g. at row "
                         f"{int(np.flatnonzero(missing)[0])}: give every image a group (an image on its own "
                         "gets a label of its own)")
    return values


def _merged_groups(groups: np.ndarray, shas: np.ndarray) -> np.ndarray:
    """Component id per row of the graph linking rows with equal ``groups`` or equal ``shas``."""
    by_group = pd.factorize(pd.Series(groups, dtype=object))[0]
    by_sha = pd.factorize(pd.Series(shas, dtype=object))[0]
    labels = pd.Series(np.arange(len(groups)))
    while True:  # propagate the smallest row number along both kinds of link until stable
        new = labels.groupby(by_group).transform("min").groupby(by_sha).transform("min")
        if new.equals(labels):
            return labels.to_numpy()
        labels = new


def _grouped_split(manifest: pd.DataFrame, sizes: dict[str, dict[str, int]], seed: int,
                   groups: np.ndarray) -> pd.DataFrame:
    """:func:`split_dataset` with ``groups`` (its Notes describe the method)."""
    shas = manifest["sha256"].astype(str).to_numpy()
    merged = _merged_groups(groups, shas)
    keys = pd.Series(shas).groupby(merged).min().map(lambda sha: _rank(seed, sha))
    identities = manifest["identity"].to_numpy()
    where: dict[int, str] = {}  # merged group → split
    for ident in sorted(sizes):
        counts = pd.Series(merged[identities == ident]).value_counts()
        free = dict(sizes[ident])
        for group, k in counts.items():
            if group in where:
                free[where[group]] -= int(k)
        todo = sorted((g for g in counts.index if g not in where), key=lambda g: (-counts[g], keys[g]))
        for group in todo:
            k = int(counts[group])
            fits = [name for name in ("test", "val", "train") if free[name] >= k]
            if fits:
                target = max(fits, key=lambda name: free[name] / sizes[ident][name])
            else:
                target = max(("test", "val", "train"), key=lambda name: free[name])
            free[target] -= k
            where[group] = target
    out = manifest.copy()
    out["split"] = [where[g] for g in merged]
    present = out.groupby("identity")["split"].nunique()
    short = sorted(present[present < len(config.SPLIT_NAMES)].index)
    if short:
        raise ValueError(f"with these groups, identity(ies) {short} have no image in some split: their "
                         "groups are too large for the quotas; use a smaller threshold for the groups")
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
