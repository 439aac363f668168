"""Bootstrap confidence intervals of the metrics: test images resampled, stratified.

A replicate draws, with replacement, as many normal test images as there are from the normal
ones and as many defective from the defective ones (the test set's composition stays), and
recomputes every metric on that multiset. A replicate is a row of multiplicities ``w`` (one
count per test image), so every metric becomes a weighted count and all replicates are a few
matrix products, not a Python loop:

- image AUROC, image F1-max and precision / recall / F1 at the calibrated threshold are exact:
  the Mann-Whitney sum ``w_pos^T K w_neg`` over the (pos x neg) comparison matrix ``K``, and
  weighted (cumulative) counts over the sorted scores;
- pixel AUROC, AUPRO and pixel AP are evaluated at a fixed grid of thresholds (the quantiles
  of the normal and of the defect pixels, ``grid`` of each): per image, the pixels and the
  regions' pixels at or above each threshold are counted once, and a replicate's curves are
  ``w @ counts``. With identity weights the grid reproduces the exact metrics of
  ``ssae.evaluation.metrics`` to ~1e-4 (tests/test_bootstrap.py), far below the intervals' width.

Shapes: scores, labels (N,); maps (N, H, W) float; masks (N, H, W) bool.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import ndimage

METRICS = ("image_auroc", "pixel_auroc", "aupro", "image_f1_max", "pixel_ap", "precision", "recall", "f1")


def multiplicities(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, N) float counts of each image in ``n`` stratified resamples (rows sum to N, and
    the defective columns to the number of defective images)."""
    labels = np.asarray(labels, bool)
    w = np.zeros((n, len(labels)))
    for group in (np.flatnonzero(~labels), np.flatnonzero(labels)):
        if len(group):
            w[:, group] = rng.multinomial(len(group), np.full(len(group), 1 / len(group)), size=n)
    return w


def image_auroc(scores: np.ndarray, labels: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B,) exact weighted Mann-Whitney AUROC of each row of ``w`` (B, N)."""
    labels = np.asarray(labels, bool)
    pos, neg = scores[labels], scores[~labels]
    k = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])  # (P, Nn)
    wp, wn = w[:, labels], w[:, ~labels]
    return ((wp @ k) * wn).sum(1) / (wp.sum(1) * wn.sum(1))


def image_f1_max(scores: np.ndarray, labels: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B,) exact best F1 over all thresholds, for each row of ``w`` (B, N)."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], np.asarray(labels, bool)[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # thresholds: each distinct score
    ws = w[:, order]
    tp = np.cumsum(ws * y, axis=1)[:, last]
    fp = np.cumsum(ws * ~y, axis=1)[:, last]
    p = (ws * y).sum(1, keepdims=True)
    return (2 * tp / (tp + fp + p)).max(1)


def at_threshold(scores: np.ndarray, labels: np.ndarray, threshold: float, w: np.ndarray) -> dict[str, np.ndarray]:
    """(B,) precision, recall and F1 of the decision score > ``threshold`` for each row of
    ``w`` (B, N); NaN where undefined, as ``metrics.precision_recall_f1``."""
    flagged, labels = np.asarray(scores) > threshold, np.asarray(labels, bool)
    tp, n_flagged, n_pos = w @ (flagged & labels), w @ flagged, w @ labels
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "precision": np.where(n_flagged > 0, tp / n_flagged, np.nan),
            "recall": np.where(n_pos > 0, tp / n_pos, np.nan),
            "f1": np.where(n_pos > 0, 2 * tp / (n_flagged + n_pos), np.nan),
        }


def _grid(maps: np.ndarray, masks: np.ndarray, n: int) -> np.ndarray:
    """Ascending thresholds: ``n`` quantiles of the normal pixels and ``n`` of the defect pixels
    (fine where FPR is small and where recall changes)."""
    q = np.linspace(0, 1, n)
    neg, pos = maps[~masks], maps[masks]
    return np.unique(np.r_[np.quantile(neg, q), np.quantile(pos, q)].astype(maps.dtype))


def _counts_at_or_above(values: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """(T,) number of ``values`` >= each threshold of ascending ``thr``."""
    return np.cumsum(np.bincount(np.searchsorted(thr, values, side="right"), minlength=len(thr) + 1)[::-1])[::-1][1:]


def pixel_counts(maps: np.ndarray, masks: np.ndarray, grid: int) -> dict[str, np.ndarray]:
    """Per image and per defect region, how many pixels are at or above each threshold.

    Returns neg (N, T) and pos (N, T) counts, their totals n_neg, n_pos (N,), regions (R, T)
    as fractions of each region's pixels, region_image (R,) the image of each region (regions:
    8-connected components of a mask, as in ``ssae.evaluation.metrics``). T thresholds, descending.
    """
    masks = np.asarray(masks, bool)
    thr = _grid(maps, masks, grid)
    neg, pos, regions, region_image = [], [], [], []
    for i, (m, gt) in enumerate(zip(maps, masks)):
        neg.append(_counts_at_or_above(m[~gt], thr))
        pos.append(_counts_at_or_above(m[gt], thr))
        if gt.any():
            lab, k = ndimage.label(gt, structure=np.ones((3, 3), bool))
            for r in range(1, k + 1):
                region = m[lab == r]
                regions.append(_counts_at_or_above(region, thr) / region.size)
                region_image.append(i)
    flip = lambda a: np.asarray(a, np.float64)[:, ::-1]  # noqa: E731  (descending thresholds)
    return {
        "neg": flip(neg),
        "pos": flip(pos),
        "n_neg": (~masks).sum((1, 2)).astype(np.float64),
        "n_pos": masks.sum((1, 2)).astype(np.float64),
        "regions": flip(regions),
        "region_image": np.asarray(region_image, int),
    }


def _area_to(x: np.ndarray, y: np.ndarray, limit: float) -> np.ndarray:
    """(B,) area under each row's polyline (x ascending along axis 1) from x[:, 0] to ``limit``,
    interpolating at it."""
    x0, x1, y0, y1 = x[:, :-1], x[:, 1:], y[:, :-1], y[:, 1:]
    a, b = np.minimum(x0, limit), np.minimum(x1, limit)
    slope = np.divide(y1 - y0, x1 - x0, out=np.zeros_like(x0), where=x1 > x0)
    return ((b - a) * (2 * y0 + slope * (a - x0 + b - x0)) / 2).sum(1)


def pixel_metrics(c: dict[str, np.ndarray], w: np.ndarray, fpr_limit: float) -> dict[str, np.ndarray]:
    """(B,) pixel AUROC, AUPRO@``fpr_limit`` and pixel AP for each row of ``w`` (B, N), from
    ``pixel_counts``."""
    zero = np.zeros((len(w), 1))
    fpr = np.hstack([zero, (w @ c["neg"]) / (w @ c["n_neg"])[:, None]])  # (B, T + 1), ascending
    tp = np.hstack([zero, w @ c["pos"]])
    tpr = tp / (w @ c["n_pos"])[:, None]
    wr = w[:, c["region_image"]]  # (B, R): a region counts as often as its image
    pro = np.hstack([zero, (wr @ c["regions"]) / wr.sum(1, keepdims=True)])
    fp = fpr * (w @ c["n_neg"])[:, None]
    precision = np.divide(tp, tp + fp, out=np.ones_like(tp), where=tp + fp > 0)
    return {
        "pixel_auroc": _area_to(fpr, tpr, 1.0),
        "aupro": _area_to(fpr, pro, fpr_limit) / fpr_limit,
        "pixel_ap": (np.diff(tpr, axis=1) * precision[:, 1:]).sum(1),
    }


def replicates(
    scores: np.ndarray,
    labels: np.ndarray,
    maps: np.ndarray,
    masks: np.ndarray,
    *,
    n: int,
    seed: int,
    fpr_limit: float,
    known: np.ndarray | None = None,
    threshold: float | None = None,
    grid: int = 4096,
) -> dict[str, np.ndarray]:
    """{metric: (n,) values} over ``n`` stratified resamples of the test images; the resamples
    are a function of ``seed`` only (the same draw for every metric). The metrics are those
    ``metrics.evaluate`` can compute on the same arguments: image metrics with normal and
    anomalous images, pixel metrics on the ``known`` images (N,) bool with defect and normal
    pixels, precision / recall / F1 with a ``threshold``."""
    labels = np.asarray(labels, bool)
    known = np.ones(len(labels), bool) if known is None else np.asarray(known, bool)
    masks = np.asarray(masks, bool)
    w = multiplicities(labels, n, np.random.default_rng(seed))
    reps = {}
    if labels.any() and not labels.all():
        reps |= {"image_auroc": image_auroc(scores, labels, w), "image_f1_max": image_f1_max(scores, labels, w)}
    gt = masks[known]
    if gt.any() and not gt.all():
        reps |= pixel_metrics(pixel_counts(np.asarray(maps)[known], gt, grid), w[:, known], fpr_limit)
    if threshold is not None:
        reps |= at_threshold(scores, labels, threshold, w)
    return reps


def category_seed(seed: int, category: str) -> int:
    """A fixed seed per (seed, category): categories draw independent resamples."""
    return seed * 2**32 + zlib.crc32(category.encode())


def interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates at confidence ``level`` (e.g. 0.95);
    replicates where the metric is undefined (NaN) are left out."""
    lo, hi = np.nanquantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
