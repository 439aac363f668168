import numpy as np
import pytest

from ssae.data.dataset_format import DatasetError, image_shape, index_category, load_image, load_mask
from conftest import write_fake_category


def test_index_pairs_images_and_masks(fake_category):
    t = index_category(fake_category)
    assert (t.split == "train").sum() == 4
    test = t[t.split == "test"]
    assert sorted(test.defect.unique()) == ["combined", "good", "scratch"]
    assert test.label.tolist() == [1, 0, 0, 1, 1]  # folders sorted: combined, good, scratch
    for _, row in test[test.label == 1].iterrows():
        assert row["mask"].name == f"{row.image.stem}_mask.png"
    assert test[test.label == 0]["mask"].isna().all()


def test_missing_mask_is_an_error(fake_category):
    (fake_category / "ground_truth" / "scratch" / "001_mask.png").unlink()
    with pytest.raises(DatasetError, match=r"scratch: images without a mask .*\['001.png'\]"):
        index_category(fake_category)


def test_mask_without_image_is_an_error(fake_category):
    (fake_category / "test" / "scratch" / "000.png").unlink()
    with pytest.raises(DatasetError, match=r"masks without an image .*\['000_mask.png'\]"):
        index_category(fake_category)


def test_missing_split_is_an_error(fake_category):
    for p in (fake_category / "train" / "good").iterdir():
        p.unlink()
    with pytest.raises(DatasetError, match="no training images in .*train.good"):
        index_category(fake_category)


def test_greyscale_loads_as_three_equal_channels(tmp_path):
    root = write_fake_category(tmp_path / "screw", grey=True)
    x = load_image(root / "train" / "good" / "000.png", 16)
    assert x.shape == (3, 16, 16) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1
    assert np.array_equal(x[0], x[1]) and np.array_equal(x[1], x[2])


def test_masks_load_as_bool_at_their_resolution(fake_category):
    m = load_mask(fake_category / "ground_truth" / "scratch" / "000_mask.png", (32, 32))
    assert m.dtype == bool and m.sum() == 64
    assert not load_mask(None, (32, 32)).any()
    assert image_shape(fake_category / "test" / "good" / "000.png") == (32, 32)
    with pytest.raises(DatasetError, match="mask is"):
        load_mask(fake_category / "ground_truth" / "scratch" / "000_mask.png", (64, 64))
