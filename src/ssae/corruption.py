"""Training-time corruption: the self-supervision of the method, and the ablation baselines.

``corrupt`` fills a mask from the precomputed bank (``ssae.masks``) of a clean image with
foreign or distorted content, blended with a random opacity. Three fill families:
``patch`` (a shifted patch of another normal training image), ``elastic`` (the image itself,
warped) and ``texture`` (a procedural texture: smooth noise of random scale, colour and
contrast), chosen per sample with the weights in ``TrainConfig``. ``gaussian_noise`` is the
i.i.d. denoising-autoencoder baseline. All randomness comes from generators seeded per
(epoch, image), so a run is reproducible and a resumed run continues the same sequence.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ssae.config import TrainConfig

def elastic(img: np.ndarray, rng: np.random.Generator, alpha: float = 6.0, sigma: float = 4.0) -> np.ndarray:
    """(3, H, W) -> the same image warped by a smooth random displacement field and shift."""
    _, h, w = img.shape
    dy = ndimage.gaussian_filter(rng.normal(size=(h, w)), sigma) * alpha * sigma
    dx = ndimage.gaussian_filter(rng.normal(size=(h, w)), sigma) * alpha * sigma
    sy, sx = rng.uniform(-0.25, 0.25, 2) * (h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = np.stack([yy + dy + sy, xx + dx + sx])
    return np.stack([ndimage.map_coordinates(c, coords, order=1, mode="reflect") for c in img]).astype(np.float32)


def texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A procedural texture (3, H, W) float32 in [0, 1]: smooth noise of random correlation
    length, mean colour and contrast, with optional fine grain."""
    h, w = shape
    scale = rng.uniform(0.5, 6.0)
    noise = ndimage.gaussian_filter(rng.normal(size=(3, h, w)), (0, scale, scale))
    noise /= noise.std() + 1e-6
    if rng.random() < 0.5:  # same pattern in every channel: a grey-ish texture
        noise[:] = noise[0]
    mean = rng.uniform(0, 1, (3, 1, 1))
    contrast = rng.uniform(0.02, 0.25)
    grain = rng.normal(0, rng.uniform(0, 0.05), (1, h, w))
    return np.clip(mean + contrast * noise + grain, 0, 1).astype(np.float32)


def corrupt(
    clean: np.ndarray, images: np.ndarray, index: int, bank: np.ndarray, cfg: TrainConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt ``clean`` (3, H, W), training image ``index`` (possibly augmented); return
    (input (3, H, W) float32 in [0, 1], mask (H, W) bool).

    ``images`` (N, 3, H, W) are the clean training images (the source of foreign patches: any
    but ``index``), ``bank`` the precomputed masks. With probability 1 - ``cfg.corrupt_prob``
    the sample stays clean (empty mask), so the model also learns to copy normal images.
    """
    if rng.random() >= cfg.corrupt_prob:
        return clean.copy(), np.zeros(clean.shape[1:], bool)
    mask = bank[rng.integers(len(bank))]
    mask = np.rot90(mask, k=int(rng.integers(4)))  # 4x more shapes from the same bank
    weights = np.array([cfg.fill_patch if len(images) > 1 else 0.0, cfg.fill_elastic, cfg.fill_texture])
    family = rng.choice(3, p=weights / weights.sum())
    if family == 0:
        other = (index + 1 + int(rng.integers(len(images) - 1))) % len(images)
        shift = rng.integers(0, clean.shape[1:], 2)
        fill = np.roll(images[other], tuple(int(s) for s in shift), axis=(1, 2))
    elif family == 1:
        fill = elastic(clean, rng)
    else:
        fill = texture(clean.shape[1:], rng)
    opacity = rng.uniform(1 - cfg.blend, 1.0)
    m = mask[None].astype(np.float32) * opacity
    return (clean * (1 - m) + fill * m).astype(np.float32), mask.copy()


def gaussian_noise(clean: np.ndarray, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """The i.i.d. baseline: (3, H, W) + N(0, noise_std) per pixel and channel, clipped to [0, 1]
    (with probability ``corrupt_prob``; else the clean image)."""
    if rng.random() >= cfg.corrupt_prob:
        return clean.copy()
    return np.clip(clean + rng.normal(0, cfg.noise_std, clean.shape), 0, 1).astype(np.float32)


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one training sample's corruption, seeded by (seed, epoch, index)."""
    return np.random.default_rng([seed, epoch, index])
