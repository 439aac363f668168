"""The results tables: metrics per category with means, published references, Markdown."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssae.mvtec import OBJECTS, TEXTURES
from ssae.references import DRAEM_PIXEL_AUROC, MEANS

METRIC_LABELS = {
    "image_auroc": "image AUROC",
    "pixel_auroc": "pixel AUROC",
    "aupro": "AUPRO@0.3",
    "image_f1_max": "image F1-max",
    "pixel_ap": "pixel AP",
    # image decisions at the threshold calibrated on held-out normal training images
    "precision": "precision @thr",
    "recall": "recall @thr",
    "f1": "F1 @thr",
}


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
