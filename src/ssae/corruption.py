"""Training-time structured corruption: the self-supervision of the method.

``mask_bank`` precomputes smooth random blobs (star-shaped, low-order Fourier radius) of
random size, count and position; ``corrupt`` fills the masked region of a clean image with
foreign or distorted content, blended with a random opacity. Three fill families:
``patch`` (a shifted patch of another normal training image), ``elastic`` (the image itself,
warped) and ``texture`` (a procedural texture: smooth noise of random scale, colour and
contrast), chosen per sample with the weights in ``TrainConfig``. All randomness
comes from generators seeded per image (masks) or per (epoch, image) (fills).
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import ndimage
from tqdm import tqdm

from ssae.config import MasksConfig, TrainConfig


def _blob(size: int, rng: np.random.Generator, cfg: MasksConfig) -> np.ndarray:
    """One smooth blob (size, size) bool: r(theta) = r0 * (1 + sum_k a_k cos(k theta + phi_k))."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    cy, cx = rng.uniform(0, size, 2)
    r0 = rng.uniform(cfg.min_radius, cfg.max_radius) * size
    theta = np.arctan2(yy - cy, xx - cx)
    radius = np.ones_like(theta)
    for k in (2, 3, 4, 5):
        radius += rng.uniform(0, 0.35 / k * 2) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return np.hypot(yy - cy, xx - cx) <= r0 * np.clip(radius, 0.3, None)


def mask_bank(n_images: int, size: int, cfg: MasksConfig, seed: int, category: str) -> np.ndarray:
    """(n_images * cfg.per_image, size, size) bool; mask ``k`` is seeded by (seed, category, k)."""
    bank = np.zeros((n_images * cfg.per_image, size, size), bool)
    cat = zlib.crc32(category.encode())
    for k in tqdm(range(len(bank)), desc=f"masks {category}", unit="mask", leave=False):
        rng = np.random.default_rng([seed, cat, k])
        for _ in range(int(rng.integers(cfg.min_blobs, cfg.max_blobs + 1))):
            bank[k] |= _blob(size, rng, cfg)
        if not bank[k].any():  # a blob centred near a corner can miss every pixel centre
            bank[k, size // 2, size // 2] = True
    return bank


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
    images: np.ndarray, index: int, bank: np.ndarray, cfg: TrainConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt ``images[index]``; return (input (3, H, W) float32 in [0, 1], mask (H, W) bool).

    ``images`` (N, 3, H, W) are the clean training images (the source of foreign patches),
    ``bank`` the precomputed masks. With probability 1 - ``cfg.corrupt_prob`` the sample
    stays clean (empty mask), so the model also learns to copy normal images.
    """
    clean = images[index]
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
    opacity = rng.uniform(0.5, 1.0)
    m = mask[None].astype(np.float32) * opacity
    return (clean * (1 - m) + fill * m).astype(np.float32), mask.copy()


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one training sample's corruption, seeded by (seed, epoch, index)."""
    return np.random.default_rng([seed, epoch, index])
