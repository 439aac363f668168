import dataclasses

import numpy as np
import pytest

from ssae.config import MasksConfig, TrainConfig
from ssae.corruption import corrupt, gaussian_noise, sample_rng, texture
from ssae.masks import mask_bank

FILLS = ("fill_patch", "fill_elastic", "fill_texture")


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    images = rng.random((5, 3, 32, 32)).astype(np.float32)
    bank = mask_bank(5, 32, MasksConfig(per_image=3), 0, "brick")
    return images, bank


@pytest.mark.parametrize("family", FILLS)
def test_each_fill_changes_only_the_masked_region(setup, family):
    images, bank = setup
    cfg = TrainConfig(corrupt_prob=1.0, **({f: 0.0 for f in FILLS} | {family: 1.0}))
    for i in range(5):
        x, m = corrupt(images[i], images, i, bank, cfg, sample_rng(0, 0, i))
        assert x.shape == (3, 32, 32) and x.dtype == np.float32 and m.any()
        assert np.array_equal(x[:, ~m], images[i][:, ~m])
        assert np.abs(x[:, m] - images[i][:, m]).mean() > 0.01
        assert 0 <= x.min() and x.max() <= 1


def test_patch_fill_comes_from_another_image(setup):
    images, bank = setup
    cfg = TrainConfig(corrupt_prob=1.0, blend=0.0, fill_patch=1.0, fill_elastic=0.0, fill_texture=0.0)
    x, m = corrupt(images[1], images, 1, bank, cfg, sample_rng(0, 0, 1))
    # opaque: every corrupted pixel is a pixel of some other training image (a shifted patch)
    others = np.concatenate([images[j].reshape(3, -1) for j in (0, 2, 3, 4)], axis=1)
    values = {tuple(v) for v in others.T}
    assert all(tuple(v) in values for v in x[:, m].T)


def test_blend_zero_is_opaque_and_blend_mixes_with_the_original(setup):
    images, bank = setup
    base = dict(corrupt_prob=1.0, fill_patch=0.0, fill_elastic=0.0, fill_texture=1.0)
    opaque, m = corrupt(images[0], images, 0, bank, TrainConfig(blend=0.0, **base), sample_rng(0, 0, 0))
    blended, m2 = corrupt(images[0], images, 0, bank, TrainConfig(blend=1.0, **base), sample_rng(0, 0, 0))
    assert np.array_equal(m, m2)
    # the same texture, at opacity 1 and at a random opacity in [0, 1]: blended lies between
    t = opaque[:, m]
    o = images[0][:, m]
    b = blended[:, m]
    assert np.all((b >= np.minimum(t, o) - 1e-6) & (b <= np.maximum(t, o) + 1e-6))
    assert not np.allclose(b, t)


def test_corruption_is_seeded_per_epoch_and_image(setup):
    images, bank = setup
    cfg = TrainConfig(corrupt_prob=1.0)
    a = corrupt(images[2], images, 2, bank, cfg, sample_rng(7, 3, 2))
    b = corrupt(images[2], images, 2, bank, cfg, sample_rng(7, 3, 2))
    c = corrupt(images[2], images, 2, bank, cfg, sample_rng(7, 4, 2))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_clean_probability(setup):
    images, bank = setup
    cfg = dataclasses.replace(TrainConfig(), corrupt_prob=0.0)
    x, m = corrupt(images[0], images, 0, bank, cfg, sample_rng(0, 0, 0))
    assert not m.any() and np.array_equal(x, images[0])
    half = dataclasses.replace(TrainConfig(), corrupt_prob=0.5)
    clean = sum(not corrupt(images[0], images, 0, bank, half, sample_rng(0, e, 0))[1].any() for e in range(200))
    assert 70 < clean < 130


def test_gaussian_noise_is_iid_with_the_given_std():
    clean = np.full((3, 64, 64), 0.5, np.float32)
    cfg = TrainConfig(noise="gaussian", noise_std=0.1, corrupt_prob=1.0)
    x = gaussian_noise(clean, cfg, np.random.default_rng(0))
    d = (x - clean).ravel()
    assert x.dtype == np.float32 and abs(d.std() - 0.1) < 0.005 and abs(d.mean()) < 0.005
    assert abs(np.corrcoef(d[:-1], d[1:])[0, 1]) < 0.05  # no spatial structure
    assert np.array_equal(gaussian_noise(clean, TrainConfig(corrupt_prob=0.0), np.random.default_rng(0)), clean)


def test_texture_is_an_image():
    t = texture((16, 24), np.random.default_rng(0))
    assert t.shape == (3, 16, 24) and 0 <= t.min() and t.max() <= 1 and t.std() > 0
