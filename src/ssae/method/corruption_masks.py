"""The bank of training corruption masks: random shapes, precomputed once per category.

Three shape families, chosen per mask with the weights of ``MasksConfig``:

- ``bezier``: a smooth closed blob, quadratic Bezier segments through the midpoints of 4-7
  control points placed around a centre at random angles and radii;
- ``perlin``: smooth noise (Gaussian-filtered white noise, correlation length ~ radius / 3)
  added to a cone that falls from the centre, thresholded: an irregular blob with ragged
  edges and holes, the role Perlin-noise masks play in re-implementations;
- ``stroke``: a thin elongated cubic Bezier curve (scratch- or crack-like), 4x the radius long.

A mask unites ``min_count``-``max_count`` shapes of its family. Mask ``k`` of a category is
drawn from a generator seeded by (seed, category, k): the bank is byte-identical for the same
params, and any single mask can be recomputed alone.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import ndimage
from skimage.draw import polygon
from tqdm import tqdm

from ssae.core.config import MasksConfig

FAMILIES = ("bezier", "perlin", "stroke")


def _bezier_blob(size: int, rng: np.random.Generator, r0: float) -> np.ndarray:
    cy, cx = rng.uniform(0, size, 2)
    k = int(rng.integers(4, 8))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    radii = r0 * rng.uniform(0.8, 1.6, k)
    ctrl = np.stack([cy + radii * np.sin(angles), cx + radii * np.cos(angles)], axis=1)  # (k, 2)
    nxt = np.roll(ctrl, -1, axis=0)
    start, end = (ctrl + nxt) / 2, (nxt + np.roll(nxt, -1, axis=0)) / 2
    t = np.linspace(0, 1, 12, endpoint=False)[:, None, None]  # (12, 1, 1)
    curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * nxt + t**2 * end  # (12, k, 2)
    curve = curve.transpose(1, 0, 2).reshape(-1, 2) - 0.5  # pixel centres at integer + 0.5
    out = np.zeros((size, size), bool)
    out[polygon(curve[:, 0], curve[:, 1], out.shape)] = True
    return out


def _perlin_blob(size: int, rng: np.random.Generator, r0: float) -> np.ndarray:
    cy, cx = rng.uniform(0, size, 2)
    half = int(np.ceil(2 * r0)) + 1  # the shape never reaches beyond 2 * r0 from its centre
    y0, x0 = int(cy) - half, int(cx) - half
    yy, xx = np.mgrid[y0 : y0 + 2 * half, x0 : x0 + 2 * half].astype(np.float32) + 0.5
    dist = np.hypot(yy - cy, xx - cx) / r0  # 0 at the centre, 1 at the radius
    noise = ndimage.gaussian_filter(rng.normal(size=dist.shape), max(r0 / 3, 0.7))
    noise /= noise.std() + 1e-6
    local = (noise * 0.6 + 1 - dist > 0) & (dist <= 2)
    local[half, half] = True  # the centre pixel: a shape is never empty
    out = np.zeros((size, size), bool)
    ys, xs = np.nonzero(local)
    ys, xs = ys + y0, xs + x0
    keep = (ys >= 0) & (ys < size) & (xs >= 0) & (xs < size)
    out[ys[keep], xs[keep]] = True
    return out


def _stroke(size: int, rng: np.random.Generator, r0: float, width: float) -> np.ndarray:
    p0 = rng.uniform(0, size, 2)
    direction = rng.uniform(0, 2 * np.pi)
    p3 = p0 + 4 * r0 * np.array([np.sin(direction), np.cos(direction)])
    normal = np.array([np.cos(direction), -np.sin(direction)])
    p1, p2 = ((2 * p0 + p3) / 3, (p0 + 2 * p3) / 3) + rng.normal(0, r0, (2, 1)) * normal  # bends
    t = np.linspace(0, 1, int(8 * r0) + 8)[:, None]
    curve = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
    pix = np.floor(curve).astype(int)
    pix = pix[((pix >= 0) & (pix < size)).all(axis=1)]
    line = np.zeros((size, size), bool)
    line[pix[:, 0], pix[:, 1]] = True
    if not line.any():  # a stroke wholly outside the image
        return line
    return ndimage.distance_transform_edt(~line) <= max(width / 2, 0.5)


def shape_mask(size: int, family: str, rng: np.random.Generator, cfg: MasksConfig) -> np.ndarray:
    """One shape of ``family`` at a random position: (size, size) bool (may be empty for a
    shape that falls outside the image)."""
    r0 = rng.uniform(cfg.min_radius, cfg.max_radius) * size
    if family == "bezier":
        return _bezier_blob(size, rng, r0)
    if family == "perlin":
        return _perlin_blob(size, rng, r0)
    if family == "stroke":
        return _stroke(size, rng, r0, rng.uniform(cfg.min_stroke_width, cfg.max_stroke_width) * size)
    raise ValueError(f"unknown shape family {family!r}; known: {FAMILIES}")


def _mask_family(seed: int, category: str, k: int, cfg: MasksConfig) -> tuple[str, np.random.Generator]:
    """Mask ``k``'s generator, seeded by (seed, category, k), after its first draw: the family."""
    rng = np.random.default_rng([seed, zlib.crc32(category.encode()), k])
    return FAMILIES[int(rng.choice(len(FAMILIES), p=cfg.family_weights))], rng


def mask_bank(n_images: int, size: int, cfg: MasksConfig, seed: int, category: str) -> np.ndarray:
    """(n_images * cfg.per_image, size, size) bool, never an empty mask; mask ``k`` is seeded by
    (seed, category, k)."""
    bank = np.zeros((n_images * cfg.per_image, size, size), bool)
    for k in tqdm(range(len(bank)), desc=f"masks {category}", unit="mask", leave=False):
        family, rng = _mask_family(seed, category, k, cfg)
        for _ in range(int(rng.integers(cfg.min_count, cfg.max_count + 1))):
            bank[k] |= shape_mask(size, family, rng, cfg)
        if not bank[k].any():  # every shape fell outside the image
            bank[k, size // 2, size // 2] = True
    return bank


def mask_families(n: int, cfg: MasksConfig, seed: int, category: str) -> list[str]:
    """The family of masks 0..n-1 of a bank."""
    return [_mask_family(seed, category, k, cfg)[0] for k in range(n)]
