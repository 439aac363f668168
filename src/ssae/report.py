"""Aggregate figures and tables: per-category bars, ROC and loss curves, results tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ssae.plotting import plt, save_figure

METRIC_LABELS = {
    "image_auroc": "image AUROC",
    "pixel_auroc": "pixel AUROC",
    "aupro": "AUPRO@0.3",
    "image_f1_max": "image F1-max",
    "pixel_ap": "pixel AP",
}


def metric_bars(table: pd.DataFrame, path: Path) -> None:
    """Grouped bars: one group per category (and the mean), one bar per metric, in %."""
    cols = [c for c in METRIC_LABELS if c in table.columns]
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(table), 4))
    x = np.arange(len(table))
    width = 0.8 / len(cols)
    for j, col in enumerate(cols):
        ax.bar(x + (j - (len(cols) - 1) / 2) * width, 100 * table[col], width, label=METRIC_LABELS[col])
    ax.axhline(50, color="grey", lw=0.8, ls="--", label="chance (AUROC)")
    ax.set_xticks(x, table.index)
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_title("Metrics per category")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=3)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def loss_curves(curves: dict[str, pd.DataFrame], path: Path) -> None:
    """Training loss per epoch of every category on one log-scale chart."""
    fig, ax = plt.subplots(figsize=(6, 4))
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


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], path: Path) -> None:
    """Image-level ROC curves of all categories: {category: (fpr, tpr, auroc)}."""
    fig, ax = plt.subplots(figsize=(4.8, 4.5))
    for category, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{category} ({100 * auc:.1f})", drawstyle="default")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title("Image-level ROC (AUROC %)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path)


def markdown_table(table: pd.DataFrame) -> str:
    """Metrics (fractions) as a Markdown table in %, one decimal."""
    cols = [c for c in METRIC_LABELS if c in table.columns]
    head = "| category | " + " | ".join(METRIC_LABELS[c] for c in cols) + " |"
    rule = "|---|" + "---:|" * len(cols)
    rows = [f"| {idx} | " + " | ".join(f"{100 * row[c]:.1f}" for c in cols) + " |" for idx, row in table.iterrows()]
    return "\n".join([head, rule, *rows]) + "\n"
