"""Training batches: the corruption plan, each fill, blending, noise modes, seeding, augmentation."""

import numpy as np
import pytest
import torch

from ssae.method.augment import TRANSFORMS
from ssae.core.config import MasksConfig, TrainConfig
from ssae.method.corruption import ELASTIC, TEXTURE, batch_generator, make_batch, plan_batch
from ssae.method.corruption_masks import mask_bank

FILLS = ("fill_patch", "fill_elastic", "fill_texture")
CPU = torch.device("cpu")
N = 6


@pytest.fixture(scope="module")
def data():
    images = torch.from_numpy(np.random.default_rng(0).random((N, 3, 32, 32), dtype=np.float32))
    bank = torch.from_numpy(mask_bank(N, 32, MasksConfig(per_image=3), 0, "brick").astype(np.uint8))
    return images, bank


def build(data, cfg, idx=range(N), epoch=0, policy="none", step=0):
    images, bank = data
    plan = plan_batch(np.asarray(idx), len(images), len(bank), cfg, 7, epoch, policy)
    return plan, make_batch(images, bank, plan, cfg, policy, batch_generator(7, epoch, step, CPU))


@pytest.mark.parametrize("family", FILLS)
def test_each_fill_changes_only_the_masked_region(data, family):
    cfg = TrainConfig(corrupt_prob=1.0, **({f: 0.0 for f in FILLS} | {family: 1.0}))
    plan, (x, y, m) = build(data, cfg)
    assert set(plan.fill) == {FILLS.index(family)} and plan.corrupted.all()
    assert x.shape == y.shape == (N, 3, 32, 32) and m.shape == (N, 1, 32, 32) and x.dtype == torch.float32
    assert torch.equal(y, data[0])  # no augmentation: the targets are the clean images
    inside = m.expand_as(x).bool()
    assert torch.equal(x[~inside], y[~inside])
    assert (x[inside] - y[inside]).abs().mean() > 0.01
    assert 0 <= x.min() and x.max() <= 1


def test_patch_fill_comes_from_another_image(data):
    cfg = TrainConfig(corrupt_prob=1.0, blend=0.0, fill_patch=1.0, fill_elastic=0.0, fill_texture=0.0)
    plan, (x, _, m) = build(data, cfg)
    images = data[0]
    for b in range(N):
        assert plan.other[b] != b
        # opaque: every corrupted pixel is the pixel of the other image, cyclically shifted
        sy, sx = (plan.shift[b] * 32).astype(int)
        rolled = torch.roll(images[plan.other[b]], (int(sy), int(sx)), dims=(1, 2))
        sel = m[b, 0].bool()
        assert torch.equal(x[b][:, sel], rolled[:, sel])


def test_elastic_fill_is_the_image_itself_moved():
    # a smooth ramp: the warped copy stays close to a shifted ramp, in range, never constant
    ramp = torch.linspace(0, 1, 32).expand(1, 3, 32, 32).contiguous()
    bank = torch.ones((1, 32, 32), dtype=torch.uint8)
    cfg = TrainConfig(corrupt_prob=1.0, blend=0.0, fill_patch=0.0, fill_elastic=1.0, fill_texture=0.0)
    plan = plan_batch(np.array([0]), 1, 1, cfg, 0, 0, "none")
    x, y, m = make_batch(ramp, bank, plan, cfg, "none", batch_generator(0, 0, 0, CPU))
    assert plan.fill[0] == ELASTIC and m.all()
    assert x.std() > 0.1 and 0 <= x.min() and x.max() <= 1 and not torch.equal(x, y)


def test_texture_fill_is_in_range_and_varies(data):
    cfg = TrainConfig(corrupt_prob=1.0, blend=0.0, fill_patch=0.0, fill_elastic=0.0, fill_texture=1.0)
    plan, (x, _, m) = build(data, cfg)
    assert (plan.fill == TEXTURE).all()
    for b in range(N):
        vals = x[b][:, m[b, 0].bool()]
        assert vals.numel() and vals.std() > 0 and 0 <= vals.min() and vals.max() <= 1


@pytest.mark.parametrize("noise", ["structured", "gaussian"])
@pytest.mark.parametrize("family", FILLS)
def test_a_greyscale_image_is_corrupted_in_grey(family, noise):
    # coloured fills or noise on a grey category would teach a colour cue its real defects lack
    rng = np.random.default_rng(1)
    grey = torch.from_numpy(rng.random((N, 1, 32, 32), dtype=np.float32)).expand(N, 3, 32, 32).contiguous()
    colour = torch.from_numpy(rng.random((N, 3, 32, 32), dtype=np.float32))
    images = torch.cat([grey, colour])
    bank = torch.from_numpy(mask_bank(2 * N, 32, MasksConfig(per_image=3), 0, "brick").astype(np.uint8))
    cfg = TrainConfig(noise=noise, corrupt_prob=1.0, input_noise_std=0.02, **({f: 0.0 for f in FILLS} | {family: 1.0}))
    plan = plan_batch(np.arange(2 * N), 2 * N, len(bank), cfg, 7, 0, "none")
    x, y, _ = make_batch(images, bank, plan, cfg, "none", batch_generator(7, 0, 0, CPU))
    assert not torch.equal(x[:N], y[:N])
    assert torch.equal(x[:N, 0], x[:N, 1]) and torch.equal(x[:N, 0], x[:N, 2])
    assert (x[N:, 0] - x[N:, 1]).abs().max() > 0.01


def test_blend_zero_is_opaque_and_blend_mixes_with_the_original(data):
    base = dict(corrupt_prob=1.0, fill_patch=1.0, fill_elastic=0.0, fill_texture=0.0)
    _, (opaque, y, m) = build(data, TrainConfig(blend=0.0, **base))
    _, (blended, _, m2) = build(data, TrainConfig(blend=1.0, **base))
    assert torch.equal(m, m2)  # the same plan but for the opacity
    sel = m.expand_as(y).bool()
    t, o, b = opaque[sel], y[sel], blended[sel]
    assert torch.all((b >= torch.minimum(t, o) - 1e-6) & (b <= torch.maximum(t, o) + 1e-6))
    assert not torch.allclose(b, t)


def test_a_sample_is_seeded_by_epoch_and_image_not_by_its_batch(data):
    cfg = TrainConfig(corrupt_prob=1.0, fill_texture=0.0)  # texture grain is drawn per batch
    _, a = build(data, cfg, epoch=3)
    _, b = build(data, cfg, epoch=3)
    _, c = build(data, cfg, epoch=4)
    _, alone = build(data, cfg, idx=[4], epoch=3, step=5)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], c[0])
    assert all(torch.equal(u[4:5], v) for u, v in zip(a, alone))


def test_clean_probability(data):
    _, (x, y, m) = build(data, TrainConfig(corrupt_prob=0.0))
    assert not m.any() and torch.equal(x, y)
    half = TrainConfig(corrupt_prob=0.5)
    corrupted = sum(plan_batch(np.arange(N), N, 10, half, 0, e, "none").corrupted.sum() for e in range(200))
    assert 0.42 < corrupted / (200 * N) < 0.58


@pytest.mark.parametrize("noise", ["gaussian", "none"])
def test_baselines_mark_no_corrupted_pixels(data, noise):
    _, (x, y, m) = build(data, TrainConfig(noise=noise, corrupt_prob=1.0))
    assert not m.any() and torch.equal(y, data[0])
    if noise == "none":
        assert torch.equal(x, y)
    else:
        assert (x != y).float().mean() > 0.9  # nearly every pixel moved


def test_gaussian_noise_is_iid_with_the_given_std():
    flat = torch.full((4, 3, 64, 64), 0.5)
    bank = torch.zeros((1, 64, 64), dtype=torch.uint8)
    cfg = TrainConfig(noise="gaussian", noise_std=0.1, corrupt_prob=1.0)
    plan = plan_batch(np.arange(4), 4, 1, cfg, 0, 0, "none")
    x, _, _ = make_batch(flat, bank, plan, cfg, "none", batch_generator(0, 0, 0, CPU))
    d = (x - flat).flatten().numpy()
    assert abs(d.std() - 0.1) < 0.005 and abs(d.mean()) < 0.005
    assert abs(np.corrcoef(d[:-1], d[1:])[0, 1]) < 0.05  # no spatial structure


@pytest.mark.parametrize("target", ["noisy", "clean"])
def test_input_noise_lies_on_top_of_the_occlusions(data, target):
    base = dict(corrupt_prob=1.0, fill_texture=0.0)
    _, (occluded, y, m) = build(data, TrainConfig(**base))
    _, (noisy, y2, m2) = build(data, TrainConfig(input_noise_std=0.05, input_noise_target=target, **base))
    assert torch.equal(m, m2)  # the same occlusions
    d = (noisy - occluded)[(occluded > 0.2) & (occluded < 0.8)]  # away from the clipping
    assert abs(float(d.std()) - 0.05) < 0.005 and abs(float(d.mean())) < 0.005
    outside = ~m.expand_as(y).bool()
    assert (noisy - occluded)[outside].abs().max() > 0  # everywhere, not only in the masks
    if target == "clean":  # a denoising term: the clean image is still the target
        assert torch.equal(y, y2)
    else:  # Noise & Pattern: the target keeps the noise, so outside the occlusions it is the input
        assert torch.equal(y2[outside], noisy[outside])
        inside = m.expand_as(y).bool() & (y > 0.2) & (y < 0.8)
        assert abs(float((y2 - y)[inside].std()) - 0.05) < 0.01  # and inside, the clean image plus that noise


@pytest.mark.parametrize("policy", ["flip", "flip_rot"])
def test_augmented_targets_are_the_drawn_dihedral_transforms(data, policy):
    plan, (_, y, _) = build(data, TrainConfig(noise="none"), policy=policy, epoch=2)
    images = data[0]
    for b in range(N):
        k, flip = TRANSFORMS[policy][plan.transform[b]]
        want = torch.rot90(images[b], k, dims=(1, 2))
        assert torch.equal(y[b], want.flip(2) if flip else want)
    seen = {int(t) for e in range(40) for t in plan_batch(np.arange(N), N, 1, TrainConfig(), 0, e, policy).transform}
    assert seen == set(range(len(TRANSFORMS[policy])))
    if policy == "flip":  # never a quarter turn: rows stay rows
        assert all(TRANSFORMS[policy][t][0] in (0, 2) for t in seen)


def test_brightness_scales_input_and_target_alike_by_one_gain_per_sample(data):
    base = dict(corrupt_prob=1.0, fill_texture=0.0)
    images = data[0].clone()
    images[0] = images[0, :1].expand(3, -1, -1)  # a greyscale sample
    grey_data = (images, data[1])
    _, (_, _, m0) = build(grey_data, TrainConfig(**base))
    _, (x, y, m) = build(grey_data, TrainConfig(brightness=0.2, **base))
    assert torch.equal(m, m0)  # the same occlusions
    gains = []
    for b in range(N):
        keep = (images[b] > 0.05) & (images[b] < 0.8)  # unclipped at any gain in [0.8, 1.2]
        ratio = y[b][keep] / images[b][keep]
        assert float(ratio.max() - ratio.min()) < 1e-5  # one global gain for the whole sample
        gains.append(float(ratio.mean()))
    assert all(0.8 <= g <= 1.2 for g in gains) and max(gains) - min(gains) > 0.05
    outside = ~m.expand_as(y).bool()
    assert torch.equal(x[outside], y[outside])  # the input is the scaled image outside the occlusions
    assert torch.equal(y[0, 0], y[0, 1]) and torch.equal(x[0, 0], x[0, 2])  # grey stays grey
    assert 0 <= y.min() and y.max() <= 1


@pytest.mark.parametrize("bad", [-0.1, 1.0])
def test_brightness_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match="brightness"):
        TrainConfig(brightness=bad)
