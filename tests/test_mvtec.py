"""Verification of an MVTec AD tree against the expected counts, and the greyscale quirk."""

import os
import shutil
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from conftest import TINY, write_fake_category
from ssae.data.dataset_format import DatasetError, load_image
from ssae.data.mvtec_source import place_category
from ssae.core.mvtec import OFFICIAL, CategorySpec
from ssae.data.mvtec_verify import verify_category


def test_the_official_table_matches_the_published_totals():
    assert len(OFFICIAL) == 15
    assert sum(s.train for s in OFFICIAL.values()) == 3629
    assert sum(s.test_good + s.test_anomalous for s in OFFICIAL.values()) == 1725
    assert {s.side for s in OFFICIAL.values()} == {700, 800, 840, 900, 1000, 1024}


def test_a_complete_category_passes_and_every_count_is_checked(fake_category):
    verify_category(fake_category, TINY)  # the counts it has: no error
    for field, value in [("train", 5), ("test_good", 3), ("test_anomalous", 2), ("defect_types", 3), ("side", 64)]:
        with pytest.raises(DatasetError, match="bottle"):  # any other count is one
            verify_category(fake_category, replace(TINY, **{field: value}), "bottle")


def test_a_real_layout_category_passes_with_the_official_counts(toothbrush):
    verify_category(toothbrush.tree / "toothbrush", OFFICIAL["toothbrush"])
    with pytest.raises(DatasetError, match=r"toothbrush: 60 train images, expected 209 \(149 missing\)"):
        verify_category(toothbrush.tree / "toothbrush", replace(OFFICIAL["toothbrush"], train=209))


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda r: (r / "train/good/002.png").unlink(),
            r"bottle: 3 train images, expected 4 \(1 missing\); found train/good: 3 \(missing \['002'\]\)",
        ),
        (
            lambda r: [(r / "test/scratch/000.png").unlink(), (r / "ground_truth/scratch/000_mask.png").unlink()],
            r"bottle: 2 test anomalous images, expected 3 \(1 missing\); found test/combined: 1; test/scratch: 1 "
            r"\(missing \['000'\]\)",
        ),
        (
            lambda r: (r / "ground_truth/scratch/001_mask.png").unlink(),
            r"bottle/scratch: images without a mask in .*: \['001.png'\]",
        ),
        (
            lambda r: shutil.rmtree(r / "ground_truth/scratch"),
            r"bottle: no ground_truth/scratch folder for .*test/scratch/000.png",
        ),
        (
            lambda r: (r / "ground_truth/combined/000_mask.png").rename(r / "ground_truth/combined/005_mask.png"),
            r"bottle/combined: images without a mask",
        ),
        (
            lambda r: (r / "test/scratch/001.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated"),
            r"bottle: cannot decode test/scratch/001.png",
        ),
        (
            lambda r: Image.new("RGB", (31, 32)).save(r / "train/good/001.png"),
            r"bottle: train/good/001.png is 31x32 px, expected 32x32",
        ),
        (
            lambda r: Image.new("L", (16, 16)).save(r / "ground_truth/combined/000_mask.png"),
            r"bottle: ground_truth/combined/000_mask.png is 16x16 px but its image is 32x32",
        ),
    ],
)
def test_a_broken_category_is_named_with_what_is_wrong(fake_category, edit, message):
    edit(fake_category)
    with pytest.raises(DatasetError, match=message):
        verify_category(fake_category, TINY, "bottle")


def test_a_missing_defect_type_is_counted(tmp_path):
    root = write_fake_category(tmp_path / "pill", defects={"crack": 3})
    with pytest.raises(DatasetError, match=r"pill: 1 defect types, expected 2; found test/\{crack\}"):
        verify_category(root, TINY)


def test_an_extra_image_is_reported_as_extra(fake_category):
    Image.new("RGB", (32, 32)).save(fake_category / "train" / "good" / "004.png")
    with pytest.raises(
        DatasetError, match=r"5 train images, expected 4 \(1 extra\); found train/good: 5 \(extra \['004.png'\]\)"
    ):
        verify_category(fake_category, TINY)


def test_greyscale_images_load_as_three_equal_channels(tmp_path):
    root = write_fake_category(tmp_path / "screw", grey=True)
    verify_category(root, TINY)
    with Image.open(root / "train/good/000.png") as im:
        assert im.mode == "L"
    x = load_image(root / "train/good/000.png", 16)
    assert x.shape == (3, 16, 16) and x.dtype == np.float32
    assert np.array_equal(x[0], x[1]) and np.array_equal(x[1], x[2])


def test_place_category_links_files_and_leaves_the_source_alone(fake_category, tmp_path):
    before = {p: p.read_bytes() for p in fake_category.rglob("*") if p.is_file()}
    assert place_category(fake_category, tmp_path / "raw" / "bottle") == "linked"
    placed = tmp_path / "raw" / "bottle" / "train" / "good" / "000.png"
    assert os.path.samefile(placed, fake_category / "train" / "good" / "000.png")
    assert {p: p.read_bytes() for p in fake_category.rglob("*") if p.is_file()} == before
    verify_category(tmp_path / "raw" / "bottle", CategorySpec(4, 2, 3, 2, 32))
