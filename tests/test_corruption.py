import dataclasses

import numpy as np
import pytest

from ssae.config import MasksConfig, TrainConfig
from ssae.corruption import corrupt, mask_bank, sample_rng, texture

MCFG = MasksConfig(per_image=3)


def test_mask_bank_is_bit_identical_for_the_same_seed():
    a = mask_bank(4, 32, MCFG, seed=0, category="brick")
    b = mask_bank(4, 32, MCFG, seed=0, category="brick")
    assert a.shape == (12, 32, 32) and a.dtype == bool
    assert np.array_equal(a, b)
    assert not np.array_equal(a, mask_bank(4, 32, MCFG, seed=1, category="brick"))
    assert not np.array_equal(a, mask_bank(4, 32, MCFG, seed=0, category="grass"))


def test_masks_are_non_empty_blobs_of_bounded_size():
    bank = mask_bank(20, 64, MCFG, 0, "brick")
    cover = bank.reshape(len(bank), -1).mean(axis=1)
    assert (cover > 0).all()
    # at most max_blobs discs of (1 + harmonics) * max_radius
    assert cover.max() < MCFG.max_blobs * np.pi * (1.7 * MCFG.max_radius) ** 2
    assert len({m.tobytes() for m in bank}) == len(bank)  # no repeats


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    images = rng.random((5, 3, 32, 32)).astype(np.float32)
    bank = mask_bank(5, 32, MCFG, 0, "brick")
    return images, bank


@pytest.mark.parametrize("family", ["fill_patch", "fill_elastic", "fill_texture"])
def test_each_fill_changes_only_the_masked_region(setup, family):
    images, bank = setup
    only = {f: 0.0 for f in ("fill_patch", "fill_elastic", "fill_texture")} | {family: 1.0}
    cfg = TrainConfig(corrupt_prob=1.0, **only)
    for i in range(5):
        x, m = corrupt(images, i, bank, cfg, sample_rng(0, 0, i))
        assert x.shape == (3, 32, 32) and x.dtype == np.float32 and m.any()
        assert np.array_equal(x[:, ~m], images[i][:, ~m])
        assert np.abs(x[:, m] - images[i][:, m]).mean() > 0.01
        assert 0 <= x.min() and x.max() <= 1


def test_corruption_is_seeded_per_epoch_and_image(setup):
    images, bank = setup
    cfg = TrainConfig(corrupt_prob=1.0)
    a = corrupt(images, 2, bank, cfg, sample_rng(7, 3, 2))
    b = corrupt(images, 2, bank, cfg, sample_rng(7, 3, 2))
    c = corrupt(images, 2, bank, cfg, sample_rng(7, 4, 2))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_clean_probability(setup):
    images, bank = setup
    cfg = dataclasses.replace(TrainConfig(), corrupt_prob=0.0)
    x, m = corrupt(images, 0, bank, cfg, sample_rng(0, 0, 0))
    assert not m.any() and np.array_equal(x, images[0])


def test_texture_is_an_image():
    t = texture((16, 24), np.random.default_rng(0))
    assert t.shape == (3, 16, 24) and 0 <= t.min() and t.max() <= 1 and t.std() > 0
