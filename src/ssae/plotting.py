"""Figure writing shared by stages, and the per-category heatmap gallery (score stage)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ssae.artifacts import atomic_write  # noqa: E402


def save_figure(fig: plt.Figure, path: Path) -> None:
    """PNG without timestamps or version metadata, written atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    atomic_write(path, buf.getvalue())


def _rgb(img: np.ndarray) -> np.ndarray:
    return np.clip(img.transpose(1, 2, 0), 0, 1)  # (3, H, W) -> (H, W, 3)


def gallery(images: np.ndarray, recon: np.ndarray, maps: np.ndarray, gt: np.ndarray,
            labels: list[str], path: Path, title: str) -> None:
    """One row per example: input | reconstruction | anomaly map over input | ground truth.

    images, recon (K, 3, S, S) in [0, 1]; maps (K, S, S); gt (K, H, W) bool. The map colour
    scale is shared across rows (0 to the 99th percentile of the values shown), so rows are
    comparable.
    """
    k = len(images)
    fig, axes = plt.subplots(k, 4, figsize=(8.4, 2.0 * k + 0.7), squeeze=False, layout="constrained")
    vmax = float(np.quantile(maps, 0.99)) or 1.0  # robust: strong defects saturate, not blank the rest
    for r in range(k):
        axes[r, 0].imshow(_rgb(images[r]))
        axes[r, 1].imshow(_rgb(recon[r]))
        axes[r, 2].imshow(_rgb(images[r]))
        im = axes[r, 2].imshow(maps[r], cmap="inferno", alpha=0.6, vmin=0, vmax=vmax)
        axes[r, 3].imshow(gt[r], cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(labels[r], fontsize=8)
    for c, name in enumerate(["input", "reconstruction", "anomaly map", "ground truth"]):
        axes[0, c].set_title(name, fontsize=10)
    for a in axes.flat:
        a.set_xticks([])
        a.set_yticks([])
    fig.colorbar(im, ax=axes[:, 3], shrink=0.6, label="anomaly map: squared error (smoothed)")
    fig.suptitle(title, fontsize=11)
    save_figure(fig, path)
