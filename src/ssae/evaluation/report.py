"""What the aggregate stage reports, as values: one category's evaluation, the metrics.json
summary, the protocol line and Markdown of results.md, and the curve CSVs of the DVC plots.

Pure: arrays, tables and the ``aggregate`` config in; dicts, strings and bytes out (the stage writes them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ssae.core.config import AggregateConfig
from ssae.evaluation.bootstrap import category_seed, replicates
from ssae.evaluation.metrics import evaluate, resample_curve, roc_curve
from ssae.data.resolution import at_resolution
from ssae.evaluation.tables import interval_table, markdown_table, reference_table


@dataclass(frozen=True)
class CategoryReport:
    row: dict[str, float]  # metric -> value (NaN: not available)
    replicates: dict[str, np.ndarray] | None  # metric -> (B,) bootstrap replicates; None: no bootstrap
    roc: tuple[np.ndarray, np.ndarray, float] | None  # (fpr, tpr, AUROC); None: one class only
    pro: tuple[np.ndarray, np.ndarray, float] | None  # (fpr, pro, AUPRO) up to fpr_limit; None: no masks
    size: str  # "<W>x<H> px (model: <S> px)"


def evaluate_category(d: dict[str, np.ndarray], cfg: AggregateConfig, category: str) -> CategoryReport:
    """Metrics, bootstrap replicates and curves of one category's score file (``score_file.load_scores``)."""
    size = f"{d['gt'].shape[2]}x{d['gt'].shape[1]} px (model: {d['maps'].shape[2]} px)"
    maps, gt = at_resolution(d["maps"], d["gt"], cfg.eval_resolution)
    labels = d["labels"]
    row, curve = evaluate(d["scores"], labels, maps, gt, cfg.fpr_limit, d["known"], d["threshold"])
    reps = None
    if cfg.bootstrap:
        reps = replicates(
            d["scores"],
            labels,
            maps,
            gt,
            n=cfg.bootstrap,
            seed=category_seed(0, category),
            fpr_limit=cfg.fpr_limit,
            known=d["known"],
            threshold=d["threshold"],
        )
    roc = None
    if labels.any() and not labels.all():
        x, y, _ = roc_curve(d["scores"], labels)
        roc = (x, y, row["image_auroc"])
    pro = None
    if curve is not None:
        x, y = resample_curve(*curve, cfg.fpr_limit)
        pro = (x, y, row["aupro"])
    return CategoryReport(row, reps, roc, pro, size)


def curves_csv(curves: dict, columns: tuple[str, str]) -> bytes:
    """{category: (x, y)} as one CSV: category, x, y (DVC plots one series per category)."""
    df = pd.concat(
        [pd.DataFrame({"category": [], columns[0]: [], columns[1]: []})]  # a header without curves
        + [pd.DataFrame({"category": c, columns[0]: x, columns[1]: y}) for c, (x, y) in curves.items()]
    )
    return df.to_csv(index=False, float_format="%.6g").encode()


def _value(v) -> float | None:
    """A metric for JSON: rounded to 6 digits; null where not available."""
    return None if pd.isna(v) else round(float(v), 6)


def metrics_summary(
    rows: dict[str, dict[str, float]], table: pd.DataFrame, ci: pd.DataFrame | None, cfg: AggregateConfig
) -> dict:
    """metrics.json: the mean and per-category metrics, what the mean is over and, with ``ci``
    (``tables.interval_table``), the bootstrap intervals."""
    metrics = list(next(iter(rows.values())))
    summary = {
        # our metrics only: the table may also hold published reference columns
        "mean": {k: _value(table.loc["mean", k]) for k in metrics},
        "categories": {c: {k: _value(v) for k, v in r.items()} for c, r in rows.items()},
        # what the means are over: `dvc metrics diff` between runs of different category sets
        # then shows why their means differ
        "n_categories": len(rows),
        "mean_over": ",".join(rows),
    }
    if ci is not None:

        def bounds(row: str) -> dict:
            return {k: {end: _value(ci.loc[row].get(f"{k}_{end}")) for end in ("low", "high")} for k in metrics}

        summary["ci"] = {
            "level": cfg.confidence,
            "resamples": cfg.bootstrap,
            "mean": bounds("mean"),
            "categories": {c: bounds(c) for c in rows},
        }
    return summary


def with_intervals(
    table: pd.DataFrame, reps: dict[str, dict[str, np.ndarray]], dataset: str, cfg: AggregateConfig
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(the results table joined with its bootstrap intervals, the intervals); unchanged and None
    without replicates."""
    if not reps:
        return table, None
    ci = interval_table(reps, dataset, cfg.confidence)
    return table.join(ci), ci


def results_markdown(
    table: pd.DataFrame, dataset: str, cfg: AggregateConfig, sizes: set[str], n: int, intervals: bool
) -> str:
    """results.md: the protocol paragraph (evaluation resolution, the ``sizes`` of the ``n``
    categories, whether ``table`` holds bootstrap ``intervals``), the results table and, for MVTec
    AD, the published means."""
    protocol = (
        f"Dataset: {dataset}. Metrics in %. Evaluated at "
        + (
            "the ground-truth resolution (maps upsampled bilinearly, the official protocol)"
            if cfg.eval_resolution == "ground_truth"
            else "the model's resolution (masks downsampled)"
        )
        + f": {', '.join(sorted(sizes))}. AUPRO integrated to FPR {cfg.fpr_limit}. Means are unweighted over "
        f"the {n} categories listed (over those where a metric is available; –: not available, e.g. no masks). "
        "Precision, recall and F1 (@thr): image decisions at the threshold calibrated on held-out normal "
        "training images (never the test set)."
        + (
            f" In parentheses: {100 * cfg.confidence:g} % bootstrap intervals ({cfg.bootstrap} resamples of the test "
            "images, normal and defective resampled separately; a mean's interval from the means of the resamples)."
            if intervals
            else ""
        )
        + "\n\n"
    )
    md = protocol + markdown_table(table)
    if dataset == "mvtec_ad":
        md += (
            "\nPublished MVTec AD means over all 15 categories, for reference "
            "(not computed here; see src/ssae/references.py for sources):\n\n"
            + markdown_table(reference_table(), "method")
        )
    return md
