"""Data sources as manifests: VGGFace2 (the study's data), LFW (the fallback) and any folder.

Every loader returns a :class:`LoadResult`: ``(manifest, skipped, root)``.

``manifest`` -- a DataFrame, one row per usable image, ordered by ``(identity, relpath)``:

=========  =====================================================================
path       absolute path of the image file (str)
relpath    path relative to ``root`` with ``/`` separators (what split CSVs store)
identity   identity key: VGGFace2 folder (``n000051``) or LFW/folder name
name       human-readable name (``Adam_Gilchrist``)
label      0..k-1, in sorted order of ``identity``
sha256     SHA-256 of the file's bytes (duplicates, cache keys)
width      pixels
height     pixels
mode       PIL mode of the file (``RGB``, ``L``, ``CMYK``, ``P``, ``RGBA`` ...)
format     ``JPEG`` or ``PNG`` (the content, not the extension)
bytes      file size in bytes
=========  =====================================================================

``skipped`` -- a DataFrame (``path``, ``identity``, ``reason``) of every file or folder
that was *not* used, with the reason. Nothing is dropped silently: a non-empty
``skipped`` also raises a :class:`SkippedFilesWarning`.

Every decodable image is usable whatever its mode: the input pipeline
(:mod:`helpers.pipeline`) and :func:`read_rgb` convert it to 3-channel RGB.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from helpers import checks, config

MANIFEST_COLUMNS = [
    "path", "relpath", "identity", "name", "label",
    "sha256", "width", "height", "mode", "format", "bytes",
]
SKIPPED_COLUMNS = ["path", "identity", "reason"]
#: Formats the TensorFlow input pipeline decodes (by content, whatever the extension).
PIPELINE_FORMATS = ("JPEG", "PNG")
VGGFACE2_META = "identity_meta.csv"
VGGFACE2_SUBSETS = ("train", "test")


class DataNotFoundError(FileNotFoundError):
    """No data where it was looked for; the message says how to provide some."""


class SkippedFilesWarning(UserWarning):
    """Some files were not used; the loader's ``skipped`` table lists them with reasons."""


class LoadResult(NamedTuple):
    """What every loader returns. Unpack it: ``manifest, skipped, root = load_...(...)``."""

    manifest: pd.DataFrame
    skipped: pd.DataFrame
    root: Path


# --- Inspecting single files ------------------------------------------------------


def inspect_image(path: str | Path) -> dict:
    """Read and fully decode one file; return its facts, or raise ``ValueError(reason)``.

    Returns a dict with ``sha256``, ``width``, ``height``, ``mode``, ``format``, ``bytes``.
    The reason in a ``ValueError`` is a short sentence meant for the skipped table.
    """
    path = Path(path)
    if path.suffix.lower() not in config.IMAGE_EXTENSIONS:
        raise ValueError(
            f"extension {path.suffix or '(none)'!r} is not one of {', '.join(config.IMAGE_EXTENSIONS)}"
        )
    data = path.read_bytes()
    if not data:
        raise ValueError("empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, mode, (width, height) = img.format, img.mode, img.size
            img.load()  # a full decode: truncated files fail here, not in training
    except UnidentifiedImageError:
        raise ValueError("not an image (content not recognised)") from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"corrupt or truncated image ({err})") from None
    if fmt not in PIPELINE_FORMATS:
        raise ValueError(f"format {fmt} is not JPEG or PNG")
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "width": width,
        "height": height,
        "mode": mode,
        "format": fmt,
        "bytes": len(data),
    }


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file to a ``uint8`` RGB array of shape ``(height, width, 3)``.

    Grayscale, palette, CMYK and RGBA files are converted (alpha is dropped, as
    TensorFlow's ``decode_image(channels=3)`` does in the training pipeline).
    """
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


# --- Scanning folders ---------------------------------------------------------------


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _skip(entry: Path, identity: str, reason: str) -> dict:
    return {"path": str(entry), "identity": identity, "reason": reason}


def _hidden_reason(entry: Path) -> str:
    return "hidden folder" if entry.is_dir() else "hidden file"


def scan_identity_folder(folder: Path, identity: str) -> tuple[list[dict], list[dict]]:
    """Inspect every entry of one identity folder, in sorted order.

    Returns ``(rows, skipped)``: ``rows`` hold ``path`` and :func:`inspect_image`'s facts
    for usable images; ``skipped`` hold ``path``, ``identity`` and ``reason``.
    """
    rows, skipped = [], []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if _is_hidden(entry.name):
            skipped.append(_skip(entry, identity, _hidden_reason(entry)))
        elif entry.is_dir():
            skipped.append(_skip(entry, identity, "sub-folder inside an identity folder (not scanned)"))
        else:
            try:
                rows.append({"path": str(entry), **inspect_image(entry)})
            except (ValueError, OSError) as err:
                skipped.append(_skip(entry, identity, str(err)))
    if not rows:
        skipped.append(_skip(folder, identity, "identity folder has no usable image"))
    return rows, skipped


def build_manifest(
    rows: Iterable[dict], root: Path, names: dict[str, str] | None = None
) -> pd.DataFrame:
    """Turn scanned rows (each with ``path`` and ``identity``) into a manifest DataFrame.

    ``names`` maps identity → display name (identity itself when missing). Labels are
    0..k-1 in sorted identity order; rows are sorted by ``(identity, relpath)`` so the
    result never depends on file-system order.
    """
    df = pd.DataFrame(list(rows))
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in MANIFEST_COLUMNS})
    root = Path(root)
    df["relpath"] = [Path(p).relative_to(root).as_posix() for p in df["path"]]
    names = names or {}
    df["name"] = [names.get(i, i) for i in df["identity"]]
    identities = sorted(df["identity"].unique())
    df["label"] = df["identity"].map({ident: k for k, ident in enumerate(identities)}).astype(int)
    df = df.sort_values(["identity", "relpath"], kind="stable").reset_index(drop=True)
    return df[MANIFEST_COLUMNS]


def _skipped_frame(skipped: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(skipped, columns=SKIPPED_COLUMNS)


def _finish(rows: list[dict], skipped: list[dict], root: Path, names: dict[str, str],
            source: str) -> LoadResult:
    manifest = build_manifest(rows, root, names)
    skipped_df = _skipped_frame(skipped)
    if len(skipped_df):
        reasons = skipped_df["reason"].value_counts().to_dict()
        warnings.warn(
            f"{source}: {len(skipped_df)} file(s) or folder(s) skipped ({reasons}); "
            "see the `skipped` table for each path and reason.",
            SkippedFilesWarning,
            stacklevel=3,
        )
    return LoadResult(manifest, skipped_df, root)


def _require_dir(root: str | Path, what: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataNotFoundError(f"{what} folder not found: {root}")
    return root.resolve()


# --- Any folder of identity folders ----------------------------------------------------


def load_folder(root: str | Path) -> LoadResult:
    """Load any ``root/<identity>/*.{jpg,jpeg,png}`` tree.

    Identity = folder name = display name. Files directly in ``root`` and identity
    folders without a usable image are listed in ``skipped``.
    """
    root = _require_dir(root, "image")
    rows, skipped = [], []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if _is_hidden(entry.name):
            skipped.append(_skip(entry, "", _hidden_reason(entry)))
        elif not entry.is_dir():
            skipped.append(_skip(entry, "", "file outside an identity folder"))
        else:
            found, bad = scan_identity_folder(entry, entry.name)
            rows += [{**r, "identity": entry.name} for r in found]
            skipped += bad
    if not rows:
        raise DataNotFoundError(f"no usable image under {root} (expected root/<identity>/*.jpg)")
    return _finish(rows, skipped, root, {}, f"load_folder({root})")


# --- VGGFace2 ----------------------------------------------------------------------------


def vggface2_identity(class_id: int) -> str:
    """VGGFace2 folder name of a class id: ``51`` → ``'n000051'``."""
    if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)) or class_id < 0:
        raise ValueError(f"a VGGFace2 class id is a non-negative integer, got {class_id!r}")
    return f"n{int(class_id):06d}"


def read_identity_meta(path: str | Path) -> pd.DataFrame:
    """Parse VGGFace2's ``identity_meta.csv``, with or without its header line.

    Handles the file's odd quoting (in some copies the name field is a quoted field whose
    content is itself quoted, with a leading space) and the spaces after commas.
    Returns columns ``identity``, ``name``, ``sample_num``, ``flag``, ``gender``, one row
    per identity, in file order.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"VGGFace2 metadata not found: {path}")
    records = []
    with path.open(newline="", encoding="utf-8") as fh:
        for lineno, fields in enumerate(csv.reader(fh, skipinitialspace=True), start=1):
            fields = [f.strip().strip('"').strip() for f in fields]
            if not any(fields):
                continue
            if lineno == 1 and fields[0].lower() == "class_id":
                continue  # the official header line
            if len(fields) < 2 or not fields[0].startswith("n"):
                raise ValueError(f"{path}:{lineno}: not a VGGFace2 metadata line: {fields!r}")
            fields += [""] * (5 - len(fields))
            records.append({
                "identity": fields[0], "name": fields[1],
                "sample_num": int(fields[2]) if fields[2].isdigit() else None,
                "flag": fields[3], "gender": fields[4],
            })
    return pd.DataFrame(records, columns=["identity", "name", "sample_num", "flag", "gender"])


def load_vggface2(
    root: str | Path, class_ids: Sequence[int] = config.STUDY_CLASS_IDS
) -> LoadResult:
    """Load chosen identities of a VGGFace2 tree.

    Layout: ``root/identity_meta.csv`` and ``root/{train,test}/n<6 digits>/*.jpg``
    (either subset or both). ``class_ids`` defaults to the study's 51..55.
    An id missing from the metadata, without a folder, or without a usable image
    raises ``ValueError`` naming it.
    """
    root = _require_dir(root, "VGGFace2")
    if len(class_ids) == 0:
        raise ValueError("class_ids is empty")
    if len(set(class_ids)) != len(class_ids):
        raise ValueError(f"class_ids has duplicates: {list(class_ids)}")
    meta = read_identity_meta(root / VGGFACE2_META).set_index("identity")
    rows, skipped, names = [], [], {}
    for cid in class_ids:
        ident = vggface2_identity(cid)
        if ident not in meta.index:
            raise ValueError(f"class id {cid} ({ident}) is not in {root / VGGFACE2_META}")
        folders = [root / sub / ident for sub in VGGFACE2_SUBSETS if (root / sub / ident).is_dir()]
        if not folders:
            raise ValueError(
                f"class id {cid} ({ident}) has no folder: looked for "
                + " and ".join(str(root / sub / ident) for sub in VGGFACE2_SUBSETS)
            )
        names[ident] = meta.loc[ident, "name"]
        found_any = False
        for folder in folders:
            found, bad = scan_identity_folder(folder, ident)
            found_any |= bool(found)
            rows += [{**r, "identity": ident} for r in found]
            skipped += [b for b in bad if b["reason"] != "identity folder has no usable image"]
        if not found_any:
            raise ValueError(f"class id {cid} ({ident}) has no usable image in {folders[0]}")
    return _finish(rows, skipped, root, names, f"load_vggface2({root})")


# --- LFW through scikit-learn -----------------------------------------------------------


def lfw_data_home(data_home: str | Path | None = None) -> Path:
    """scikit-learn's data home: ``data_home``, else ``SCIKIT_LEARN_DATA``, else its default."""
    from sklearn.datasets import get_data_home

    if data_home is None:
        # get_data_home creates the folder; only do that for the default location.
        return Path(os.environ.get("SCIKIT_LEARN_DATA") or get_data_home()).expanduser()
    return Path(data_home).expanduser()


def lfw_folder(data_home: str | Path | None = None) -> Path:
    """LFW's folder of people: ``<data home>/lfw_home/lfw_funneled``, the data home as in
    :func:`lfw_data_home`. Nothing is downloaded or checked here."""
    return lfw_data_home(data_home) / "lfw_home" / "lfw_funneled"


def _lfw_shadow(home: Path) -> Path:
    """A writable stand-in for a (possibly read-only) data home.

    scikit-learn writes a joblib cache into ``<data_home>/lfw_home`` on every call. The
    shadow lives in the cache folder and holds symbolic links to the real files, so
    scikit-learn reads the real images and writes its cache here instead.
    """
    key = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:12]
    shadow = config.cache_dir() / "lfw_shadow" / key
    (shadow / "lfw_home").mkdir(parents=True, exist_ok=True)
    for entry in (home / "lfw_home").iterdir():
        if entry.name == "joblib":
            continue
        link, target = shadow / "lfw_home" / entry.name, entry.resolve()
        # A link left by an earlier call may dangle or point elsewhere: make it point here.
        if os.path.lexists(link) and (not link.is_symlink() or Path(os.readlink(link)) != target):
            link.unlink()
        if not os.path.lexists(link):
            link.symlink_to(target, target_is_directory=entry.is_dir())
    return shadow


def _fetch_lfw(data_home: Path, min_faces: int, download: bool):
    from sklearn.datasets import fetch_lfw_people

    # Small, grey thumbnails: this call selects people and checks the data; the manifest
    # points at the full-size colour JPEG files themselves.
    return fetch_lfw_people(data_home=str(data_home), funneled=True, resize=0.1, color=False,
                            min_faces_per_person=min_faces, download_if_missing=download)


def load_lfw(
    n_people: int = config.LFW_N_PEOPLE,
    data_home: str | Path | None = None,
    download_if_missing: bool = True,
) -> LoadResult:
    """The ``n_people`` LFW people with most images (ties broken by name), full-size colour.

    Uses scikit-learn's ``fetch_lfw_people``: it downloads LFW (deep-funneled, ~200 MB)
    once when online; offline it reads ``data_home`` or ``SCIKIT_LEARN_DATA``. The data
    home may be read-only: scikit-learn's cache is written to a shadow folder in
    :func:`helpers.config.cache_dir`. The manifest points to the 250×250 JPEG files.
    """
    checks.integer("n_people", n_people, minimum=2, note=" >= 2")
    home = lfw_data_home(data_home)
    folder = lfw_folder(home)
    if not folder.is_dir():
        if not download_if_missing:
            raise DataNotFoundError(f"LFW not found in {home} (expected {folder})")
        try:
            _fetch_lfw(home, min_faces=0, download=True)
        except OSError as err:  # offline: urllib's URLError is an OSError
            raise DataNotFoundError(f"LFW not in {home} and could not be downloaded: {err}") from err
    counts = {p.name: sum(1 for f in p.iterdir() if f.suffix.lower() == ".jpg" and not _is_hidden(f.name))
              for p in folder.iterdir() if p.is_dir() and not _is_hidden(p.name)}
    if len(counts) < n_people:
        raise ValueError(f"LFW in {folder} has {len(counts)} people, fewer than n_people={n_people}")
    chosen = sorted(counts, key=lambda name: (-counts[name], name))[:n_people]
    bunch = _fetch_lfw(_lfw_shadow(home), min_faces=counts[chosen[-1]], download=False)
    seen = dict(zip(bunch.target_names, np.bincount(bunch.target, minlength=len(bunch.target_names))))
    for name in chosen:  # scikit-learn's names use spaces, folders underscores
        if seen.get(name.replace("_", " ")) != counts[name]:
            raise ValueError(f"scikit-learn and the folder disagree about {name}: "
                             f"{seen.get(name.replace('_', ' '))} vs {counts[name]} images")
    rows, skipped = [], []
    for name in chosen:
        found, bad = scan_identity_folder(folder / name, name)
        rows += [{**r, "identity": name} for r in found]
        skipped += bad
    return _finish(rows, skipped, folder, {}, f"load_lfw({home})")


# --- The notebooks' default ---------------------------------------------------------------


def load_default() -> LoadResult:
    """The data the notebooks use.

    1. ``CELEB_DATA_DIR`` set → that VGGFace2 root, the study's ids 51–55;
    2. otherwise LFW's top 5 people (from ``SCIKIT_LEARN_DATA``/scikit-learn's data home,
       downloaded when online);
    3. otherwise one error naming both ways to provide data.
    """
    root = config.data_dir()
    if root is not None:
        return load_vggface2(root)
    try:
        return load_lfw()
    except DataNotFoundError as err:
        raise DataNotFoundError(
            "No data found. Either set CELEB_DATA_DIR to a VGGFace2 root (holding "
            "identity_meta.csv and train/n000051 ... n000055), or make LFW available: "
            "connect to the internet once (scikit-learn downloads it), or set "
            f"SCIKIT_LEARN_DATA to a folder holding lfw_home/lfw_funneled. ({err})"
        ) from err


def identity_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """Images per identity: columns ``label``, ``identity``, ``name``, ``images``."""
    return (manifest.groupby(["label", "identity", "name"]).size()
            .rename("images").reset_index())


def find_duplicates(manifest: pd.DataFrame) -> pd.DataFrame:
    """Groups of files with identical bytes (same ``sha256``).

    Returns one row per file in a duplicate group: ``sha256``, ``relpath``, ``identity``,
    ``name``, and ``cross_identity`` (True when the group spans several identities,
    i.e. the same picture carries two labels).
    """
    dup = manifest[manifest.duplicated("sha256", keep=False)]
    cols = ["sha256", "relpath", "identity", "name"]
    if dup.empty:
        return pd.DataFrame(columns=cols + ["cross_identity"])
    out = dup[cols].sort_values(["sha256", "relpath"]).reset_index(drop=True)
    out["cross_identity"] = out.groupby("sha256")["identity"].transform("nunique") > 1
    return out
