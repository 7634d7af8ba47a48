"""The published study's facts and results, as data (source: ``../shared/study/README.md``).

Kept apart from :mod:`helpers.config` (the constants this project *uses*) because these
are figures to *compare with*: the study's per-identity test report and its accuracy.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

#: The test accuracy the study printed (942/959 from a cycling test iterator; see notebook 06).
STUDY_TEST_ACCURACY: float = 0.982
#: Test images in the study's report (sum of its supports).
STUDY_TEST_IMAGES: int = 179


def study_report() -> pd.DataFrame:
    """The study's published test report: one row per identity, columns ``identity``,
    ``precision``, ``recall``, ``f1-score`` (rounded to 2 decimals as published), ``support``."""
    with resources.files("helpers.resources").joinpath("study_results.csv").open() as fh:
        return pd.read_csv(fh, comment="#")
