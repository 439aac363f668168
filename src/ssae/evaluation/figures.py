"""Every figure of the pipeline: the per-category heatmap gallery (score stage), and the bars,
ROC/PRO curves and loss curves of all categories (aggregate stage).

Figures are ``matplotlib.figure.Figure`` objects, not pyplot ones: nothing here selects a
backend or keeps global figure state, and PNG output needs none.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ssae.core.artifacts import atomic_write


def save_figure(fig: Figure, path: Path) -> None:
    """PNG without timestamps or version metadata, written atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    atomic_write(path, buf.getvalue())


def _rgb(img: np.ndarray) -> np.ndarray:
    return np.clip(img.transpose(1, 2, 0), 0, 1)  # (3, H, W) -> (H, W, 3)


def gallery(
    images: np.ndarray, recon: np.ndarray, maps: np.ndarray, gt: np.ndarray, labels: list[str], path: Path, title: str
) -> None:
    """One row per example: input | reconstruction | anomaly map over input | ground truth.

    images, recon (K, 3, S, S) in [0, 1]; maps (K, S, S); gt (K, H, W) bool. ``labels``: one
    per row (lines separated by "\\n"), written left of the row. The map colour
    scale is shared across rows (0 to the 99th percentile of the values shown), so rows are
    comparable; its colour bar sits right above the anomaly-map column. Text is 11-13 pt at
    100 dpi: readable at 100 % zoom. Pixels are drawn nearest-neighbour: the model's own pixels,
    not a smoothed upscale (and a third of the PNG's bytes on the textures).
    """
    k = len(images)
    fig = Figure(figsize=(10.5, 1.9 * k + 1.6), layout="constrained")
    axes = fig.subplots(k, 4, squeeze=False)
    vmax = float(np.quantile(maps, 0.99)) or 1.0  # robust: strong defects saturate, not blank the rest
    for r in range(k):
        axes[r, 0].imshow(_rgb(images[r]), interpolation="nearest")
        axes[r, 1].imshow(_rgb(recon[r]), interpolation="nearest")
        axes[r, 2].imshow(_rgb(images[r]), interpolation="nearest")
        im = axes[r, 2].imshow(maps[r], cmap="inferno", alpha=0.6, vmin=0, vmax=vmax, interpolation="nearest")
        axes[r, 3].imshow(gt[r], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[r, 0].set_ylabel(labels[r], fontsize=11, rotation=0, ha="right", va="center", labelpad=8)
    for c, name in enumerate(["input", "reconstruction", "anomaly map", "ground truth"]):
        axes[0, c].set_title(name, fontsize=13)
    for a in axes.flat:
        a.set_xticks([])
        a.set_yticks([])
    bar = fig.colorbar(im, ax=axes[:, 2], location="top", fraction=0.4 / k, aspect=12, pad=0.01)
    bar.set_label("anomaly map: squared error (smoothed)", fontsize=11)
    bar.ax.tick_params(labelsize=10)
    fig.suptitle(title, fontsize=13)
    save_figure(fig, path)


def metric_bars(table: pd.DataFrame, labels: dict[str, str], path: Path) -> None:
    """Grouped bars: one group per row of ``table`` (categories and means), one bar per metric
    column named in ``labels`` (column -> legend label), in %; with error bars where the table
    has the metric's ``<column>_low`` and ``<column>_high`` (a confidence interval)."""
    cols = [c for c in labels if c in table.columns]
    fig = Figure(figsize=(1.6 + 1.3 * len(table), 4))
    ax = fig.subplots()
    x = np.arange(len(table))
    width = 0.8 / len(cols)
    for j, col in enumerate(cols):
        err = None
        if f"{col}_low" in table.columns:
            err = 100 * np.abs(np.vstack([table[col] - table[f"{col}_low"], table[f"{col}_high"] - table[col]]))
        ax.bar(
            x + (j - (len(cols) - 1) / 2) * width,
            100 * table[col],
            width,
            label=labels[col],
            yerr=err,
            error_kw={"elinewidth": 0.8, "capsize": 1.5},
        )
    ax.axhline(50, color="grey", lw=0.8, ls="--", label="chance (AUROC)")
    ax.set_xticks(x, table.index)
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_title(
        "Metrics per category"
        + (" (bars: confidence intervals)" if any(c.endswith("_low") for c in table.columns) else "")
    )
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=3)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def loss_curves(curves: dict[str, pd.DataFrame], path: Path) -> None:
    """Training loss per epoch of every category on one log-scale chart."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for category, df in curves.items():
        ax.plot(df["epoch"], df["loss"], label=category)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (weighted L2 to the clean image)")
    ax.set_title("Training loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def curves_figure(
    curves: dict[str, tuple[np.ndarray, np.ndarray, float]],
    path: Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    xmax: float = 1.0,
    diagonal: bool = False,
) -> None:
    """One line per category, {category: (x, y, area)}; the legend gives the area in %."""
    fig = Figure(figsize=(4.8, 4.5))
    ax = fig.subplots()
    for category, (x, y, area) in curves.items():
        ax.plot(x, y, label=f"{category} ({100 * area:.1f})")
    if diagonal:
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
