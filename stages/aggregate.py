"""Stage `aggregate`: metrics of every category, results tables and figures.

Evaluates at the ground-truth resolution (maps upsampled bilinearly, the official MVTec
protocol). Writes reports/metrics.json, reports/results.{csv,md}, DVC plot data under
reports/plots/ (ROC and loss curves, one CSV per category) and figures under reports/figures/.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import typer

from ssae import paths
from ssae.artifacts import atomic_write, load_npz, save_json, unpack_masks
from ssae.cli import fail, params_or_exit
from ssae.metrics import evaluate, roc_curve
from ssae.report import loss_curves, markdown_table, metric_bars, roc_figure
from ssae.scoring import upsample

app = typer.Typer(add_completion=False)


def write_csv(df: pd.DataFrame, path) -> None:
    atomic_write(path, df.to_csv(index=False, float_format="%.6g").encode())


@app.command()
def main() -> None:
    """Compute metrics and write tables and plots (reads params.yaml: categories, aggregate)."""
    params = params_or_exit()
    rows, rocs, curves, resolution = {}, {}, {}, {}
    for category in params.categories:
        if not paths.scores_file(category).is_file():
            raise fail(f"{paths.scores_file(category)} is missing: run `dvc repro score@{category}`")
        d = load_npz(paths.scores_file(category))
        gt = unpack_masks(d["gt_bits"], d["gt_shape"])
        maps = upsample(d["maps"].astype(np.float32), gt.shape[1:])
        labels = d["labels"].astype(bool)
        rows[category] = evaluate(d["scores"], labels, maps, gt, params.aggregate.fpr_limit)
        fpr, tpr, _ = roc_curve(d["scores"], labels)
        rocs[category] = (fpr, tpr, rows[category]["image_auroc"])
        write_csv(pd.DataFrame({"fpr": fpr, "tpr": tpr}), paths.roc_csv(category))
        resolution[category] = f"{gt.shape[2]}x{gt.shape[1]}"
        log = pd.read_csv(paths.train_loss_tsv(category), sep="\t")
        curves[category] = pd.DataFrame({"epoch": log["step"] + 1, "loss": log["loss"]})
        write_csv(curves[category], paths.loss_csv(category))

    table = pd.DataFrame.from_dict(rows, orient="index")
    table.loc["mean"] = table.mean()
    table.index.name = "category"
    save_json(paths.METRICS, {
        "mean": {k: round(float(v), 6) for k, v in table.loc["mean"].items()},
        "categories": {c: {k: round(float(v), 6) for k, v in r.items()} for c, r in rows.items()},
    })
    atomic_write(paths.RESULTS_CSV, table.to_csv(float_format="%.6f").encode())
    res = ", ".join(sorted(set(resolution.values())))
    atomic_write(paths.RESULTS_MD, (
        f"Dataset: {params.data.dataset}. Metrics in %. Evaluated at the ground-truth resolution "
        f"({res} px; anomaly maps upsampled bilinearly from the model's "
        f"{params.train.image_size} px), AUPRO integrated to FPR {params.aggregate.fpr_limit}.\n\n"
        + markdown_table(table)
    ).encode())
    metric_bars(table, paths.FIGURES / "metrics_bars.png")
    roc_figure(rocs, paths.FIGURES / "roc.png")
    loss_curves(curves, paths.FIGURES / "train_loss.png")
    print(markdown_table(table))


if __name__ == "__main__":
    app()
