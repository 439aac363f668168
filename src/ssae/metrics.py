"""Anomaly-detection metrics, numpy in, floats out (official MVTec AD semantics).

All are exact (no binning, no clamping) and computed on raw scores; ties are handled as
tied thresholds (one curve point per distinct score). Shapes: maps (N, H, W) float,
masks (N, H, W) bool, scores (N,) float, labels (N,) bool/int.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores).ravel()
    labels = np.asarray(labels).astype(bool).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f"scores and labels differ in size: {scores.shape} vs {labels.shape}")
    if labels.all() or not labels.any():
        raise ValueError("needs both positive and negative labels")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinity")
    return scores, labels


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds): one point per distinct score, descending, with (0, 0) prepended."""
    scores, labels = _check(scores, labels)
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each distinct score
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    fpr = np.r_[0.0, fp / fp[-1]]
    tpr = np.r_[0.0, tp / tp[-1]]
    return fpr, tpr, np.r_[np.inf, s[last]]


def _auroc_ranks(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(pos > neg) + P(pos == neg) / 2, by sorting (Mann-Whitney U); memory ~ one float copy."""
    neg = np.sort(neg, kind="stable")
    below = np.searchsorted(neg, pos, side="left").astype(np.float64)
    equal = np.searchsorted(neg, pos, side="right") - below
    return float((below.sum() + 0.5 * equal.sum()) / (len(pos) * len(neg)))


def image_auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    scores, labels = _check(scores, labels)
    return _auroc_ranks(scores[labels], scores[~labels])


def pixel_auroc(maps: np.ndarray, masks: np.ndarray) -> float:
    """AUROC over all pixels of all images pooled (normal images: all-negative ground truth)."""
    maps, masks = np.asarray(maps), np.asarray(masks, bool)
    if maps.shape != masks.shape:
        raise ValueError(f"maps {maps.shape} and masks {masks.shape} differ in shape")
    scores, labels = _check(maps, masks)
    return _auroc_ranks(scores[labels], scores[~labels])


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Step-wise AP: sum over distinct thresholds of (recall increase) x precision."""
    scores, labels = _check(scores, labels)
    pos = np.sort(scores[labels])[::-1]
    neg = np.sort(scores[~labels])
    thr = np.unique(pos)[::-1]  # recall changes only at positive scores
    tp = np.searchsorted(-pos, -thr, side="right")  # positives >= thr
    fp = len(neg) - np.searchsorted(neg, thr, side="left")  # negatives >= thr
    recall = tp / len(pos)
    precision = tp / (tp + fp)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def f1_max(scores: np.ndarray, labels: np.ndarray) -> float:
    """The best F1 over all thresholds."""
    scores, labels = _check(scores, labels)
    fpr, tpr, _ = roc_curve(scores, labels)
    p, n = labels.sum(), (~labels).sum()
    tp, fp = tpr[1:] * p, fpr[1:] * n
    return float(np.max(2 * tp / (tp + fp + p)))


def _trapezoid_to(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Area under the polyline (x, y) (x ascending) from x[0] to ``limit``, interpolating at it."""
    keep = x <= limit
    area = float(np.trapezoid(y[keep], x[keep]))
    if not keep.all() and keep.any():
        i = np.flatnonzero(keep)[-1]
        x0, x1, y0, y1 = x[i], x[i + 1], y[i], y[i + 1]
        y_lim = y0 + (y1 - y0) * (limit - x0) / (x1 - x0) if x1 > x0 else y0
        area += (limit - x0) * (y0 + y_lim) / 2
    return area


def pro_curve(maps: np.ndarray, masks: np.ndarray, fpr_limit: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, pro) with (0, 0) prepended, one point per distinct score, ascending fpr.

    Regions are the 8-connected components of each image's mask; PRO at a threshold is the
    mean over all regions of the covered fraction. Only thresholds down to the first one whose
    FPR exceeds ``fpr_limit`` are returned (enough to integrate up to the limit exactly).
    """
    maps, masks = np.asarray(maps), np.asarray(masks, bool)
    if maps.shape != masks.shape:
        raise ValueError(f"maps {maps.shape} and masks {masks.shape} differ in shape")
    scores, labels = _check(maps, masks)
    weights = np.zeros(masks.shape, np.float64)  # each region's pixels weigh 1 / (R * |region|)
    regions = []
    for i, m in enumerate(masks):
        lab, n = ndimage.label(m, structure=np.ones((3, 3)))
        if n:
            sizes = np.bincount(lab.ravel())
            regions.append((i, lab, sizes))
    n_regions = sum(len(s) - 1 for _, _, s in regions)
    for i, lab, sizes in regions:
        w = 1.0 / (n_regions * sizes.astype(np.float64))
        w[0] = 0.0
        weights[i] = w[lab]
    w_pos = weights.ravel()[labels]
    pos_order = np.argsort(-scores[labels], kind="stable")
    pos, w_pos = scores[labels][pos_order], np.cumsum(w_pos[pos_order])  # descending
    neg = np.sort(scores[~labels])  # ascending
    n_neg = len(neg)
    # lowest threshold needed: the first at which more than fpr_limit of negatives are above
    m = min(int(np.floor(fpr_limit * n_neg)) + 1, n_neg)
    t_min = neg[n_neg - m]
    thr = np.unique(np.r_[pos[pos >= t_min], neg[n_neg - m :]])[::-1]  # distinct, descending
    fp = n_neg - np.searchsorted(neg, thr, side="left")
    n_above = np.searchsorted(-pos, -thr, side="right")
    pro = np.where(n_above > 0, w_pos[np.maximum(n_above - 1, 0)], 0.0)
    return np.r_[0.0, fp / n_neg], np.r_[0.0, pro]


def aupro(maps: np.ndarray, masks: np.ndarray, fpr_limit: float = 0.3) -> float:
    """Area under the PRO curve up to ``fpr_limit``, normalised by ``fpr_limit`` (in [0, 1])."""
    fpr, pro = pro_curve(maps, masks, fpr_limit)
    return _trapezoid_to(fpr, pro, fpr_limit) / fpr_limit


def evaluate(scores: np.ndarray, labels: np.ndarray, maps: np.ndarray, masks: np.ndarray,
             fpr_limit: float = 0.3) -> dict[str, float]:
    """All metrics of one category: image scores/labels (N,), maps/masks (N, H, W)."""
    return {
        "image_auroc": image_auroc(scores, labels),
        "pixel_auroc": pixel_auroc(maps, masks),
        "aupro": aupro(maps, masks, fpr_limit),
        "image_f1_max": f1_max(scores, labels),
        "pixel_ap": average_precision(maps, masks),
    }
