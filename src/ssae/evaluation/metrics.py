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


def _auroc_ranks(pos: np.ndarray, neg_sorted: np.ndarray) -> float:
    """P(pos > neg) + P(pos == neg) / 2 (Mann-Whitney U) against ascending ``neg_sorted``."""
    below = np.searchsorted(neg_sorted, pos, side="left")
    equal = np.searchsorted(neg_sorted, pos, side="right") - below
    return float((below.sum(dtype=np.float64) + 0.5 * equal.sum(dtype=np.float64)) / (len(pos) * len(neg_sorted)))


def _ap_sorted(pos: np.ndarray, neg_sorted: np.ndarray) -> float:
    """Step-wise AP: sum over distinct positive scores of (recall increase) x precision."""
    thr, counts = np.unique(pos, return_counts=True)  # ascending
    tp = np.cumsum(counts[::-1])[::-1]  # positives >= thr
    fp = len(neg_sorted) - np.searchsorted(neg_sorted, thr, side="left")  # negatives >= thr
    return float(np.sum(counts / len(pos) * tp / (tp + fp)))


def image_auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    scores, labels = _check(scores, labels)
    return _auroc_ranks(scores[labels], np.sort(scores[~labels]))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Step-wise AP (as scikit-learn's ``average_precision_score``)."""
    scores, labels = _check(scores, labels)
    return _ap_sorted(scores[labels], np.sort(scores[~labels]))


def f1_max(scores: np.ndarray, labels: np.ndarray) -> float:
    """The best F1 over all thresholds."""
    scores, labels = _check(scores, labels)
    fpr, tpr, _ = roc_curve(scores, labels)
    p, n = labels.sum(), (~labels).sum()
    tp, fp = tpr[1:] * p, fpr[1:] * n
    return float(np.max(2 * tp / (tp + fp + p)))


def _split_pixels(maps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores of defect pixels (row-major order) and of normal pixels (sorted ascending).

    Memory: one copy of the scores (split in two); the sort is in place.
    """
    maps, masks = np.asarray(maps), np.asarray(masks, bool)
    if maps.shape != masks.shape:
        raise ValueError(f"maps {maps.shape} and masks {masks.shape} differ in shape")
    flat, m = maps.reshape(-1), masks.reshape(-1)
    if m.all() or not m.any():
        raise ValueError("needs both positive and negative labels")
    pos, neg = flat[m], flat[~m]
    neg.sort()
    if not (np.isfinite(pos).all() and np.isfinite(neg[[0, -1]]).all()):  # NaN sorts last
        raise ValueError("scores contain NaN or infinity")
    return pos, neg


def _region_weights(masks: np.ndarray) -> np.ndarray:
    """Per defect pixel (row-major order), 1 / (number of regions x its region's size);
    regions are the 8-connected components of each image's mask."""
    ids, sizes = [], []
    for m in np.asarray(masks, bool):
        if m.any():
            lab, _ = ndimage.label(m, structure=np.ones((3, 3), bool))
            ids.append(lab[m])
            sizes.append(np.bincount(ids[-1]))
    n_regions = sum(len(s) - 1 for s in sizes)
    return np.concatenate([1.0 / (n_regions * s[i]) for i, s in zip(ids, sizes)])


def _pro_curve_sorted(
    pos: np.ndarray, weights: np.ndarray, neg: np.ndarray, fpr_limit: float
) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(pos, kind="stable")[::-1]  # descending
    pos, cum_w = pos[order], np.cumsum(weights[order])
    n_neg = len(neg)
    # lowest threshold needed: the first at which more than fpr_limit of negatives are above
    m = min(int(np.floor(fpr_limit * n_neg)) + 1, n_neg)
    t_min = neg[n_neg - m]
    thr = np.unique(np.concatenate([pos[pos >= t_min], neg[n_neg - m :]]))[::-1]  # descending
    fp = n_neg - np.searchsorted(neg, thr, side="left")
    n_above = np.searchsorted(-pos, -thr, side="right")
    pro = np.where(n_above > 0, cum_w[np.maximum(n_above - 1, 0)], 0.0)
    return np.r_[0.0, fp / n_neg], np.r_[0.0, pro]


def pixel_auroc(maps: np.ndarray, masks: np.ndarray) -> float:
    """AUROC over all pixels of all images pooled (normal images: all-negative ground truth)."""
    return _auroc_ranks(*_split_pixels(maps, masks))


def pixel_ap(maps: np.ndarray, masks: np.ndarray) -> float:
    """Average precision over all pixels pooled."""
    return _ap_sorted(*_split_pixels(maps, masks))


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

    PRO at a threshold is the mean over all regions (8-connected components of each image's
    mask) of the fraction covered. Only thresholds down to the first one whose FPR exceeds
    ``fpr_limit`` are returned (enough to integrate up to the limit exactly).
    """
    pos, neg = _split_pixels(maps, masks)
    return _pro_curve_sorted(pos, _region_weights(masks), neg, fpr_limit)


def aupro(maps: np.ndarray, masks: np.ndarray, fpr_limit: float = 0.3) -> float:
    """Area under the PRO curve up to ``fpr_limit``, normalised by ``fpr_limit`` (in [0, 1])."""
    fpr, pro = pro_curve(maps, masks, fpr_limit)
    return _trapezoid_to(fpr, pro, fpr_limit) / fpr_limit


def evaluate(
    scores: np.ndarray,
    labels: np.ndarray,
    maps: np.ndarray,
    masks: np.ndarray,
    fpr_limit: float = 0.3,
    known: np.ndarray | None = None,
    threshold: float | None = None,
) -> tuple[dict[str, float], tuple[np.ndarray, np.ndarray] | None]:
    """All metrics of one category, and its PRO curve (fpr, pro) up to ``fpr_limit``.

    Image scores/labels (N,), maps/masks (N, H, W). A metric the data cannot support is NaN:
    image metrics need normal and anomalous images; pixel metrics use the images whose ground
    truth is ``known`` (N,) bool (default all; False: a defect image without a mask) and need
    defect and normal pixels among them (else the PRO curve is None). With ``threshold``:
    precision, recall and F1 of the decision score > threshold too. The normal pixels are
    sorted once and shared by the three pixel metrics.
    """
    labels = np.asarray(labels).astype(bool)
    known = np.ones(len(labels), bool) if known is None else np.asarray(known, bool)
    nan = float("nan")
    both = labels.any() and not labels.all()
    row = {
        "image_auroc": image_auroc(scores, labels) if both else nan,
        "pixel_auroc": nan,
        "aupro": nan,
        "image_f1_max": f1_max(scores, labels) if both else nan,
        "pixel_ap": nan,
    }
    curve = None
    gt = np.asarray(masks, bool)[known]
    if gt.any() and not gt.all():
        pos, neg = _split_pixels(np.asarray(maps)[known], gt)
        curve = _pro_curve_sorted(pos, _region_weights(gt), neg, fpr_limit)
        row |= {
            "pixel_auroc": _auroc_ranks(pos, neg),
            "aupro": _trapezoid_to(*curve, fpr_limit) / fpr_limit,
            "pixel_ap": _ap_sorted(pos, neg),
        }
    if threshold is not None:
        row |= precision_recall_f1(scores, labels, threshold)
    return row, curve


def resample_curve(x: np.ndarray, y: np.ndarray, upto: float, n: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """A monotone curve (x ascending, y non-decreasing) at ``n`` evenly spaced x in [0, upto],
    for plotting (a full-resolution curve has millions of points)."""
    last = np.r_[np.flatnonzero(np.diff(x)), len(x) - 1]  # the highest y at each distinct x
    grid = np.linspace(0.0, upto, n)
    return grid, np.interp(grid, x[last], y[last])


def precision_recall_f1(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Image-level precision, recall and F1 of the decision ``score > threshold``; NaN where
    undefined (precision with nothing flagged, recall and F1 with no anomalous image)."""
    flagged, labels = np.asarray(scores) > threshold, np.asarray(labels).astype(bool)
    tp = int((flagged & labels).sum())
    precision = tp / flagged.sum() if flagged.any() else float("nan")
    recall = tp / labels.sum() if labels.any() else float("nan")
    f1 = 2 * tp / (flagged.sum() + labels.sum()) if labels.any() else float("nan")
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}
