"""The study's constants and the project's folders: the one place they are defined.

Everything a notebook or helper needs to know about *the study* (class ids,
split fractions, epochs, the 63-layer rule, the seed) lives here, so a change
is made once. Folders are resolved from environment variables at call time,
never cached in module state.
"""

from __future__ import annotations

import os
from pathlib import Path

# --- The study (see ../shared/study/README.md) -------------------------------
#: VGGFace2 class ids of the five identities the study used (folders n000051..n000055).
STUDY_CLASS_IDS: tuple[int, ...] = (51, 52, 53, 54, 55)
#: Their names, as VGGFace2's identity_meta.csv spells them (checked by the loader's tests).
STUDY_NAMES: tuple[str, ...] = (
    "Adam_Gilchrist",
    "Adam_Housley",
    "Adam_Irigoyen",
    "Adam_Johnson",
    "Adam_Lallana",
)
#: Train / validation / test fractions (the study split 80/10/10 by hand).
SPLIT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)
#: Names of the three splits, in the order of SPLIT_FRACTIONS.
SPLIT_NAMES: tuple[str, str, str] = ("train", "val", "test")
#: The study used no seed; this project states one and uses it everywhere.
SEED: int = 42
#: The split seeds notebook 08 and benchmarks/seed_spread.py compare (the course's first).
SPREAD_SEEDS: tuple[int, ...] = (42, 0, 1, 2, 3)
#: Input size of the study's InceptionV3 (pixels, square).
STUDY_INPUT_SIZE: int = 299
#: Epochs of phase 1 (head only) and phase 2 (fine-tuning).
EPOCHS_PHASE1: int = 50
EPOCHS_PHASE2: int = 50
#: Phase 2 unfreezes this many layers at the end of the model (the study's README).
UNFREEZE_LAST: int = 63
#: Batch size and SGD settings of the study (both phases).
BATCH_SIZE: int = 32
LEARNING_RATE: float = 1e-4
MOMENTUM: float = 0.9

# --- Backbone -------------------------------------------------------------------
#: The notebooks' default backbone: genuine ImageNet weights that work offline.
DEFAULT_BACKBONE: str = "efficientnet_lite0"
#: The study's backbone (ImageNet weights need a download or a local file).
STUDY_BACKBONE: str = "inception_v3"

# --- Data ---------------------------------------------------------------------
#: Image file extensions the loaders accept (lower case, with the dot).
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png")
#: Number of LFW people used when no VGGFace2 data is given.
LFW_N_PEOPLE: int = 5

# --- Faces (helpers.faces) ------------------------------------------------------
#: Face crops: crop side = FACE_MARGIN x the face box's longer side (room for hair and chin).
FACE_MARGIN: float = 1.3
#: MTCNN's settings, passed explicitly (they are its defaults) so that the detection cache
#: key records what was used.
FACE_DETECTOR_SETTINGS: tuple[tuple[str, float], ...] = (
    ("min_face_size", 20),
    ("scale_factor", 0.709),
    ("threshold_pnet", 0.6),
    ("threshold_rnet", 0.7),
    ("threshold_onet", 0.8),
)
#: Choosing the subject among several faces: how much an off-centre face loses (a face
#: in a corner of the photo counts 1 - FACE_CENTRE_WEIGHT as much as one at the centre).
FACE_CENTRE_WEIGHT: float = 0.5

# --- How sure (notebook 08) -----------------------------------------------------
#: Two photos whose face descriptors (dlib, Euclidean) are closer than this count as copies of
#: one photo or frames of one shoot (near-duplicates). dlib's same-person threshold is 0.6;
#: copies sit far below it. Chosen by looking at validation/train pairs on both sides of it
#: (notebook 08 shows them), not at the test split.
NEAR_DUPLICATE_DISTANCE: float = 0.225
#: LFW strangers: photos kept per person (notebook 08).
STRANGERS_PER_PERSON: int = 10

# --- Environment variables ----------------------------------------------------
#: A VGGFace2 root (holding identity_meta.csv and train/ and/or test/).
ENV_DATA_DIR = "CELEB_DATA_DIR"
#: Where caches (LFW shadow folder, features, converted weights) go.
ENV_CACHE_DIR = "CELEB_CACHE_DIR"
#: A run folder: when set, notebooks write figures and artefacts there instead of
#: the committed reference folders.
ENV_RUN_DIR = "CELEB_RUN_DIR"
#: A local InceptionV3 ImageNet weights file (or a folder of Keras' weight files) for
#: offline users; see :mod:`helpers.backbones`.
ENV_INCEPTION_WEIGHTS = "CELEB_INCEPTION_WEIGHTS"
#: The backbone the notebooks use: a key of ``helpers.backbones.BACKBONES``.
ENV_BACKBONE = "CELEB_BACKBONE"
#: The folder of the reference run's record that notebooks 04-06 check a run against
#: (default: the committed ``figures/``); see :mod:`helpers.reproduction`.
ENV_REFERENCE_DIR = "CELEB_REFERENCE_DIR"

# --- Files a run writes next to its figures (the reference run's are committed) ------------
#: Test metrics (notebook 06).
METRICS_FILE = "metrics.json"
#: The record :mod:`helpers.reproduction` compares: phase-1 histories (notebook 04),
#: phase-2 history (notebook 05) and test predictions (notebook 06).
RECORD_PHASE1_HISTORIES = "phase1_histories.csv"
RECORD_PHASE2_HISTORY = "phase2_history.csv"
RECORD_TEST_PREDICTIONS = "test_predictions.csv"
#: The same for notebook 07's chosen recipe: its phase histories and its test predictions.
RECORD_CHOSEN_HISTORIES = "chosen_histories.csv"
RECORD_CHOSEN_PREDICTIONS = "chosen_test_predictions.csv"
#: The same for notebook 08's face-embedding baseline (its test predictions).
RECORD_EMBEDDING_PREDICTIONS = "embedding_test_predictions.csv"

#: The repository root when the package is installed in editable mode (as README does).
PROJECT_ROOT: Path = Path(__file__).resolve().parents[1]


def data_dir() -> Path | None:
    """The VGGFace2 root named by ``CELEB_DATA_DIR``, or ``None`` when unset or empty."""
    value = os.environ.get(ENV_DATA_DIR, "").strip()
    return Path(value).expanduser() if value else None


def backbone_name() -> str:
    """The notebooks' backbone: ``CELEB_BACKBONE`` when set, else :data:`DEFAULT_BACKBONE`."""
    return os.environ.get(ENV_BACKBONE, "").strip() or DEFAULT_BACKBONE


def cache_dir() -> Path:
    """The cache folder: ``CELEB_CACHE_DIR``, else ``$XDG_CACHE_HOME/celebrity-classification``,
    else ``~/.cache/celebrity-classification``. Created on demand by the callers that write."""
    value = os.environ.get(ENV_CACHE_DIR, "").strip()
    if value:
        return Path(value).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "celebrity-classification"


def run_dir() -> Path:
    """Where a notebook writes what it produces besides figures (the split CSV, models...).

    ``CELEB_RUN_DIR`` when set (the main job and the tests set it); otherwise
    ``<project>/runs/reference``, the untracked folder of the reference run.
    """
    value = os.environ.get(ENV_RUN_DIR, "").strip()
    return Path(value).expanduser() if value else PROJECT_ROOT / "runs" / "reference"


def figures_dir() -> Path:
    """Where figures go: ``<run dir>/figures`` when ``CELEB_RUN_DIR`` is set, otherwise the
    committed reference folder ``<project>/figures``."""
    value = os.environ.get(ENV_RUN_DIR, "").strip()
    return Path(value).expanduser() / "figures" if value else PROJECT_ROOT / "figures"


def reference_dir() -> Path:
    """The reference run's figures and record, which notebooks 04-06 compare a run with:
    ``CELEB_REFERENCE_DIR`` when set, else the committed ``<project>/figures``."""
    value = os.environ.get(ENV_REFERENCE_DIR, "").strip()
    return Path(value).expanduser() if value else PROJECT_ROOT / "figures"
