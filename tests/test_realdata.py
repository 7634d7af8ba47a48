"""The real shared data (../shared/data): the study's counts, LFW's top 5, the study's split.

Skipped with a reason when the data is absent (a user's clone without it).
"""

from __future__ import annotations

import pytest

from helpers import config, data, splitting, study
from tests.conftest import real_lfw, real_vggface2

pytestmark = pytest.mark.realdata
VGG = real_vggface2()
LFW = real_lfw()
needs_vgg = pytest.mark.skipif(not (VGG / "identity_meta.csv").is_file(),
                               reason=f"study data not found at {VGG} (set CELEB_DATA_DIR)")
needs_lfw = pytest.mark.skipif(not (LFW / "lfw_home" / "lfw_funneled").is_dir(),
                               reason=f"LFW not found at {LFW} (set SCIKIT_LEARN_DATA)")


@pytest.fixture(scope="module")
def study_manifest():
    return data.load_vggface2(VGG).manifest


@needs_vgg
def test_study_identities_and_counts(study_manifest):
    table = data.identity_table(study_manifest)
    assert table["identity"].tolist() == [f"n0000{i}" for i in config.STUDY_CLASS_IDS]
    assert table["name"].tolist() == list(config.STUDY_NAMES)
    assert table["images"].tolist() == [327, 212, 381, 438, 450]
    assert len(study_manifest) == 1808


@needs_vgg
def test_study_split_reproduces_the_published_test_support(study_manifest):
    split = splitting.split_dataset(study_manifest)
    table = splitting.split_table(split)
    published = study.study_report().set_index("identity")["support"]
    ours = table.drop(index=("", "total"))["test"].droplevel("label")
    assert ours.to_dict() == published.to_dict()  # 32/21/38/43/45, the study's report
    assert table.loc[("", "total")].tolist() == [1450, 179, 179, 1808]
    assert splitting.leaking_groups(split).empty
    shuffled = splitting.split_dataset(study_manifest.sample(frac=1, random_state=0))
    assert shuffled.set_index("relpath")["split"].sort_index().equals(
        split.set_index("relpath")["split"].sort_index())


@needs_lfw
def test_lfw_top5(isolated_env):
    before = sorted(p.name for p in (LFW / "lfw_home").iterdir())
    manifest = data.load_lfw(data_home=LFW).manifest
    table = data.identity_table(manifest).sort_values("images", ascending=False)
    assert list(zip(table["name"], table["images"])) == [
        ("George_W_Bush", 530), ("Colin_Powell", 236), ("Tony_Blair", 144),
        ("Donald_Rumsfeld", 121), ("Gerhard_Schroeder", 109)]
    assert sorted(p.name for p in (LFW / "lfw_home").iterdir()) == before  # nothing written
