"""Aggregate figures and tables: per-category bars, ROC and loss curves, results tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ssae.mvtec import OBJECTS, TEXTURES
from ssae.plotting import plt, save_figure
from ssae.references import DRAEM_PIXEL_AUROC, MEANS

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


def curves_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], path: Path, *, title: str,
                  xlabel: str, ylabel: str, xmax: float = 1.0, diagonal: bool = False) -> None:
    """One line per category, {category: (x, y, area)}; the legend gives the area in %."""
    fig, ax = plt.subplots(figsize=(4.8, 4.5))
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


def results_table(rows: dict[str, dict[str, float]], dataset: str) -> pd.DataFrame:
    """Per-category metrics with a mean row; for MVTec AD also texture and object means and
    DRAEM's published pixel AUROC per category as a reference column."""
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "category"
    means = {}
    if dataset == "mvtec_ad":
        table["DRAEM pixel AUROC"] = [DRAEM_PIXEL_AUROC.get(c, np.nan) for c in table.index]
        for name, group in (("texture mean", TEXTURES), ("object mean", OBJECTS)):
            members = [c for c in table.index if c in group]
            if members:
                means[name] = table.loc[members].mean()
    means["mean"] = table.mean()
    return pd.concat([table, pd.DataFrame(means).T])


def reference_table() -> pd.DataFrame:
    """Published MVTec AD means (all 15 categories) of the paper and two baselines."""
    return pd.DataFrame.from_dict(MEANS, orient="index").reindex(columns=list(METRIC_LABELS))


def markdown_table(table: pd.DataFrame, first: str = "category") -> str:
    """Metrics (fractions) as a Markdown table in %, one decimal; missing values as "–"."""
    cols = [c for c in table.columns if c in METRIC_LABELS] + [c for c in table.columns if c not in METRIC_LABELS]
    head = f"| {first} | " + " | ".join(METRIC_LABELS.get(c, c) for c in cols) + " |"
    rule = "|---|" + "---:|" * len(cols)
    cell = lambda v: "–" if pd.isna(v) else f"{100 * v:.1f}"  # noqa: E731
    rows = [f"| {idx} | " + " | ".join(cell(row[c]) for c in cols) + " |" for idx, row in table.iterrows()]
    return "\n".join([head, rule, *rows]) + "\n"
