"""The score file, data/scores/<category>.npz: written by the score stage, read by aggregate.

Arrays: ``maps`` (N, S, S) float16 at model resolution, ``scores`` (N,) float32 image scores,
``labels`` (N,) uint8 (1: anomalous), ``defects`` (N,) str, ``names`` (N,) str
(``<defect>/<file>``), the ground-truth masks (N, H, W) at their own resolution, bit-packed,
``known`` (N,) bool (False: a defect image without a mask, whose pixels are unknown) and
``threshold`` (the model's calibrated decision threshold on the image scores).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssae.core.artifacts import load_npz, pack_masks, save_npz, unpack_masks


def save_scores(
    path: Path,
    *,
    maps: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    defects: np.ndarray,
    names: np.ndarray,
    gt: np.ndarray,
    known: np.ndarray,
    threshold: float,
) -> None:
    """Write one category's scores; ``gt`` (N, H, W) bool, ``known`` (N,) bool."""
    packed = pack_masks(gt)
    save_npz(
        path,
        maps=maps.astype(np.float16),
        scores=scores.astype(np.float32),
        labels=labels.astype(np.uint8),
        defects=defects,
        names=names,
        gt_bits=packed["bits"],
        gt_shape=packed["shape"],
        known=np.asarray(known, bool),
        threshold=np.float64(threshold),
    )


def load_scores(path: Path) -> dict[str, np.ndarray]:
    """The arrays of ``save_scores``: maps (float16 as stored), scores, labels (bool), defects,
    names, ``gt`` (N, H, W) bool, ``known`` (N,) bool and ``threshold`` (float)."""
    d = load_npz(path)
    return {
        "maps": d["maps"],
        "scores": d["scores"],
        "labels": d["labels"].astype(bool),
        "defects": d["defects"],
        "names": d["names"],
        "gt": unpack_masks(d["gt_bits"], d["gt_shape"]),
        "known": d["known"].astype(bool),
        "threshold": float(d["threshold"]),
    }
