"""Calibrated decisions from held-out normal training images, never from the test set.

The train stage holds out ``train.holdout`` of a category's normal training images
(``holdout_split``: seeded by seed and category), trains on the rest, scores the held-out ones
with the model's anomaly map and writes their scores to the model folder (calibration.json).

- threshold: the ``train.threshold_quantile`` quantile of the held-out scores (numpy's linear
  interpolation). With k held-out images a quantile above (k - 1) / k is their maximum; the
  false-positive rate to expect on new normal images is then about 1 / (k + 1), not 1 - q.
- scale: the standard deviation of the held-out scores, at least 1 % of the threshold (so one
  held-out image, or identical scores, still give a finite scale).
- normalised score: ``1 / (1 + exp(-(score - threshold) / scale))`` in (0, 1): monotone in the
  score, 0.5 at the threshold; a score one held-out standard deviation above it maps to 0.73.
  Applied per pixel it colours the overlays of ``predict`` (0.5: the threshold).
- decision: anomalous when ``score > threshold`` (normalised > 0.5).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np


def holdout_split(n: int, fraction: float, seed: int, category: str) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices) of ``n`` normal images, both ascending: round(fraction n),
    at least 1, held out, drawn by a generator seeded by (seed, category). Needs n >= 2."""
    if n < 2:
        raise ValueError(f"needs at least 2 normal training images to hold one out for calibration, got {n}")
    k = min(max(1, round(fraction * n)), n - 1)
    order = np.random.default_rng([seed, zlib.crc32(category.encode())]).permutation(n)
    return np.sort(order[k:]), np.sort(order[:k])


@dataclass(frozen=True)
class Calibration:
    threshold: float  # image score above which an image is anomalous
    scale: float  # of the normalisation (module doc)
    quantile: float  # the train.threshold_quantile the threshold was taken at
    heldout_scores: tuple[float, ...]  # the held-out normal images' scores

    def normalise(self, scores: np.ndarray) -> np.ndarray:
        """Scores (any shape) -> float32 in (0, 1), 0.5 at the threshold (module doc)."""
        z = (np.asarray(scores, np.float64) - self.threshold) / self.scale
        return (0.5 * (1 + np.tanh(0.5 * z))).astype(np.float32)  # the logistic, without overflow

    def decide(self, scores: np.ndarray) -> np.ndarray:
        """Scores -> bool, True = anomalous (score > threshold)."""
        return np.asarray(scores) > self.threshold


def calibrate(heldout_scores: np.ndarray, quantile: float) -> Calibration:
    """The threshold and scale of the module doc from the held-out normal images' scores (k,)."""
    s = np.asarray(heldout_scores, np.float64)
    threshold = float(np.quantile(s, quantile))
    scale = max(float(s.std()), 0.01 * abs(threshold), 1e-12)
    return Calibration(threshold, scale, quantile, tuple(float(v) for v in s))
