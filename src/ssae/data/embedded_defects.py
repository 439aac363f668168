"""Synthetic defects for the embedded benchmark, each with its exact ground-truth mask.

Deliberately independent of ``ssae.method.corruption`` (the training-time corruption): the shapes
here are strokes, branching cracks, ellipses, polygons and clustered stains, rendered with
physically motivated appearance changes, so the benchmark does not reward a model for
recognising its own training noise.

Every function takes ``img`` (H, W, 3) float32 in [0, 1] and an ``np.random.Generator`` and
returns ``(defective image (H, W, 3) float32 in [0, 1], mask (H, W) bool)``; the mask marks
the pixels where the defect's opacity is at least 0.5.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage
from skimage.draw import polygon as draw_polygon

Defect = Callable[[np.ndarray, np.random.Generator, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return yy, xx


def _stroke_alpha(shape: tuple[int, int], points: np.ndarray, width: float) -> np.ndarray:
    """Anti-aliased opacity (H, W) in [0, 1] of a polyline ``points`` (K, 2) as (y, x)."""
    h, w = shape
    yy, xx = _grid(h, w)
    dist = np.full(shape, np.inf, np.float32)
    for p, q in zip(points[:-1], points[1:]):
        d = q - p
        t = ((yy - p[0]) * d[0] + (xx - p[1]) * d[1]) / max(float(d @ d), 1e-6)
        t = np.clip(t, 0, 1)
        dist = np.minimum(dist, np.hypot(yy - (p[0] + t * d[0]), xx - (p[1] + t * d[1])))
    return np.clip(width / 2 + 0.5 - dist, 0, 1)


def _blend(img: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = alpha[..., None]
    out = np.clip(img * (1 - a) + target * a, 0, 1).astype(np.float32)
    return out, alpha >= 0.5


def scratch(img: np.ndarray, rng: np.random.Generator, foreign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A thin curved bright or dark line (quadratic Bézier)."""
    h, w = img.shape[:2]
    s = min(h, w)
    p0 = rng.uniform(0.15, 0.85, 2) * (h, w)
    angle = rng.uniform(0, np.pi)
    length = rng.uniform(0.3, 0.6) * s
    p2 = np.clip(p0 + length * np.array([np.sin(angle), np.cos(angle)]), 2, s - 3)
    p1 = (p0 + p2) / 2 + rng.normal(0, 0.12 * s, 2)
    t = np.linspace(0, 1, 24)[:, None]
    curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    alpha = _stroke_alpha((h, w), curve, rng.uniform(1.5, 3.0))
    shift = rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.5)
    return _blend(img, np.clip(img + shift, 0, 1), alpha)


def crack(img: np.ndarray, rng: np.random.Generator, foreign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A dark jagged line with a side branch (a random walk with persistent direction)."""
    h, w = img.shape[:2]
    s = min(h, w)

    def walk(start: np.ndarray, direction: float, steps: int) -> np.ndarray:
        pts = [start]
        for _ in range(steps):
            direction += rng.normal(0, 0.5)
            pts.append(pts[-1] + rng.uniform(0.03, 0.06) * s * np.array([np.sin(direction), np.cos(direction)]))
        return np.clip(np.array(pts), 1, s - 2)

    main = walk(rng.uniform(0.2, 0.8, 2) * (h, w), rng.uniform(0, 2 * np.pi), int(rng.integers(8, 14)))
    branch = walk(main[len(main) // 2], rng.uniform(0, 2 * np.pi), int(rng.integers(3, 6)))
    alpha = np.maximum(_stroke_alpha((h, w), main, rng.uniform(1.5, 2.5)), _stroke_alpha((h, w), branch, 1.5))
    return _blend(img, img * rng.uniform(0.15, 0.35), alpha)


def _ellipse_alpha(shape: tuple[int, int], rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    """Soft-edged rotated ellipse opacity (H, W); semi-axes in [lo, hi] of the image side."""
    h, w = shape
    s = min(h, w)
    cy, cx = rng.uniform(0.2, 0.8, 2) * (h, w)
    a, b = rng.uniform(lo, hi, 2) * s
    th = rng.uniform(0, np.pi)
    yy, xx = _grid(h, w)
    u = (xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)
    v = -(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)
    r = np.sqrt((u / a) ** 2 + (v / b) ** 2)  # 1 on the boundary
    return np.clip((1 - r) * min(a, b) + 0.5, 0, 1)


def hole(img: np.ndarray, rng: np.random.Generator, foreign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A dark elliptical pit, shaded from one side as if lit obliquely."""
    h, w = img.shape[:2]
    alpha = _ellipse_alpha((h, w), rng, 0.05, 0.1)
    yy, xx = _grid(h, w)
    th = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(th) * xx + np.sin(th) * yy) / max(h, w)
    shade = 0.08 + 0.15 * (ramp - ramp.min()) / (np.ptp(ramp) + 1e-6)
    target = np.repeat(shade[..., None], 3, axis=2) + 0.1 * img
    return _blend(img, target, alpha)


def stain(img: np.ndarray, rng: np.random.Generator, foreign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A translucent discolouration: a cluster of overlapping ellipses, tinted."""
    h, w = img.shape[:2]
    s = min(h, w)
    centre = rng.uniform(0.25, 0.75, 2) * (h, w)
    yy, xx = _grid(h, w)
    region = np.zeros((h, w), bool)
    for _ in range(int(rng.integers(3, 6))):
        cy, cx = centre + rng.normal(0, 0.05 * s, 2)
        a, b = rng.uniform(0.03, 0.08, 2) * s
        region |= ((yy - cy) / a) ** 2 + ((xx - cx) / b) ** 2 <= 1
    alpha = np.clip(ndimage.gaussian_filter(region.astype(np.float32), 1.0) * 1.6 - 0.3, 0, 1)
    grey = np.array_equal(img[..., 0], img[..., 1])
    tint = np.full(3, rng.uniform(0.45, 0.7)) if grey else rng.uniform(0.45, 0.75, 3)
    if rng.random() < 0.3:  # a bleached stain instead of a dark one
        return _blend(img, 1 - (1 - img) * tint, alpha)
    return _blend(img, img * tint, alpha)


def foreign_body(img: np.ndarray, rng: np.random.Generator, foreign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A polygonal piece of another photo, matched to the local mean and contrast."""
    h, w = img.shape[:2]
    s = min(h, w)
    c = rng.uniform(0.25, 0.75, 2) * (h, w)
    angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(5, 9))))
    radii = rng.uniform(0.06, 0.13, len(angles)) * s
    rr, cc = draw_polygon(c[0] + radii * np.sin(angles), c[1] + radii * np.cos(angles), (h, w))
    alpha = np.zeros((h, w), np.float32)
    alpha[rr, cc] = 1
    fh, fw = foreign.shape[:2]
    oy, ox = rng.integers(0, fh - h + 1), rng.integers(0, fw - w + 1)
    patch = foreign[oy : oy + h, ox : ox + w]
    inside = alpha > 0
    patch = (patch - patch[inside].mean()) / (patch[inside].std() + 1e-6) * img[inside].std() + img[inside].mean()
    return _blend(img, patch, alpha)


def blur(img: np.ndarray, rng: np.random.Generator, foreign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A local loss of sharpness (an out-of-focus or smeared spot)."""
    alpha = _ellipse_alpha(img.shape[:2], rng, 0.08, 0.15)
    blurred = ndimage.gaussian_filter(img, sigma=(rng.uniform(2.0, 3.5),) * 2 + (0,))
    return _blend(img, blurred, alpha)


DEFECTS: dict[str, Defect] = {
    "scratch": scratch,
    "crack": crack,
    "hole": hole,
    "stain": stain,
    "foreign": foreign_body,
    "blur": blur,
}
