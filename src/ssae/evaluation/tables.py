"""The results tables: metrics per category with means, published references, Markdown."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ssae.core.mvtec import OBJECTS, TEXTURES
from ssae.evaluation.references import DRAEM_PIXEL_AUROC, MEANS

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


def mean_groups(categories: list[str], dataset: str) -> dict[str, list[str]]:
    """The rows of means under the categories: for MVTec AD the texture and object means (those
    present), then the mean of all."""
    groups = {}
    if dataset == "mvtec_ad":
        for name, group in (("texture mean", TEXTURES), ("object mean", OBJECTS)):
            members = [c for c in categories if c in group]
            if members:
                groups[name] = members
    return groups | {"mean": list(categories)}


def results_table(rows: dict[str, dict[str, float]], dataset: str) -> pd.DataFrame:
    """Per-category metrics with a mean row; for MVTec AD also texture and object means and
    DRAEM's published pixel AUROC per category as a reference column."""
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "category"
    if dataset == "mvtec_ad":
        table["DRAEM pixel AUROC"] = [DRAEM_PIXEL_AUROC.get(c, np.nan) for c in table.index]
    means = {name: table.loc[members].mean() for name, members in mean_groups(list(table.index), dataset).items()}
    return pd.concat([table, pd.DataFrame(means).T])


def interval_table(replicates: dict[str, dict[str, np.ndarray]], dataset: str, level: float) -> pd.DataFrame:
    """Bootstrap percentile intervals at ``level``, rows as ``results_table`` (categories, then
    means), columns ``<metric>_low`` and ``<metric>_high``. {category: {metric: (B,) replicates}},
    a metric absent where a category cannot have it. A mean's replicate b is the mean of its
    categories' replicates b (independent test sets), over the categories that have the metric
    and where it is defined in that resample (as the mean row skips "–"); NaN replicates are
    left out."""
    reps = dict(replicates)
    q = [(1 - level) / 2, (1 + level) / 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all NaN (never defined): the interval is NaN
        for name, members in mean_groups(list(replicates), dataset).items():
            reps[name] = {
                m: np.nanmean(np.array([replicates[c][m] for c in members if m in replicates[c]]), axis=0)
                for m in dict.fromkeys(k for c in members for k in replicates[c])
            }
        rows = {
            row: {f"{m}_{end}": v for m, r in metrics.items() for end, v in zip(("low", "high"), np.nanquantile(r, q))}
            for row, metrics in reps.items()
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "category"
    return table


def reference_table() -> pd.DataFrame:
    """Published MVTec AD means (all 15 categories) of the paper and two baselines."""
    return pd.DataFrame.from_dict(MEANS, orient="index").reindex(columns=list(METRIC_LABELS))


def pct(value: float | None) -> str:
    """A fraction as a percentage with one decimal; "–" where missing (None or NaN)."""
    return "–" if value is None or pd.isna(value) else f"{100 * value:.1f}"


def mean_std_pct(values: list[float]) -> str:
    """Fractions (e.g. one metric over seeds) as "mean ± std" in %, one decimal (sample std,
    ddof 1); a single value alone."""
    v = 100 * np.asarray(values, float)
    return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}" if len(v) > 1 else f"{v[0]:.1f}"


def markdown(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    """A Markdown table of text cells: the first ``left`` columns left-aligned, the rest right-aligned."""
    lines = ["| " + " | ".join(cells) + " |" for cells in [header, *rows]]
    rule = "|" + "---|" * left + "---:|" * (len(header) - left)
    return "\n".join([lines[0], rule, *lines[1:]]) + "\n"


def markdown_table(table: pd.DataFrame, first: str = "category") -> str:
    """Metrics (fractions) as a Markdown table in %, one decimal; missing values as "–". A
    metric with ``<metric>_low`` / ``<metric>_high`` columns gets its interval in the same cell."""
    intervals = [c for c in table.columns if c.endswith(("_low", "_high"))]
    plain = [c for c in table.columns if c not in intervals]
    cols = [c for c in plain if c in METRIC_LABELS] + [c for c in plain if c not in METRIC_LABELS]

    def cell(row: pd.Series, c: str) -> str:
        low, high = row.get(f"{c}_low", np.nan), row.get(f"{c}_high", np.nan)
        return pct(row[c]) + ("" if pd.isna(low) or pd.isna(row[c]) else f" ({pct(low)}–{pct(high)})")

    rows = [[str(idx), *(cell(row, c) for c in cols)] for idx, row in table.iterrows()]
    return markdown([first, *(METRIC_LABELS.get(c, c) for c in cols)], rows)
