"""Stage `aggregate`: metrics of every category, results tables and figures.

Evaluation resolution (aggregate.eval_resolution): `ground_truth` upsamples the float16 maps
bilinearly to the masks' resolution (the official MVTec protocol); `model` downsamples the
masks to the maps instead. Writes reports/metrics.json, reports/results.{csv,md}, DVC plot
data under reports/plots/ (ROC, PRO and loss curves, one CSV each with a `category` column)
and figures under reports/figures/.

Not every dataset supports every metric (``data.dataset: folder``): without masks the pixel
metrics, with a good-only test set the image metrics are not available (null in metrics.json,
"–" in the tables, an empty curve file). Precision, recall and F1 are those of the image
decisions at the threshold the train stage calibrated on held-out normal training images.
"""

from __future__ import annotations

import typer

from ssae.core import paths
from ssae.startup import CATEGORY as C, stage_help

app = typer.Typer(add_completion=False)


def stale_outputs(categories: list[str]) -> list[str]:
    """Score files and training logs of categories that are no longer in ``categories``.

    aggregate depends on the directories data/scores and reports/train: a removed category's
    files stay there (DVC deletes no outputs of a stage that left the pipeline) and are part of
    their hash, which a clone's `dvc pull` cannot restore."""
    return sorted(
        str(p)
        for p in [*paths.SCORES.glob("*.npz"), *paths.TRAIN_LOGS.glob("*")]
        if (p.stem if p.suffix == ".npz" else p.name) not in categories
    )


def read_losses(category: str):
    """The train stage's per-epoch loss of ``category`` as a table: epoch (from 1), loss."""
    import pandas as pd

    log = pd.read_csv(paths.train_loss_tsv(category), sep="\t")
    return pd.DataFrame({"epoch": log["step"] + 1, "loss": log["loss"]})


def draw_figures(table, rocs: dict, pros: dict, losses: dict, fpr_limit: float) -> None:
    """reports/figures/{metrics_bars,roc,pro,train_loss}.png."""
    from ssae.evaluation.figures import curves_figure, loss_curves, metric_bars
    from ssae.evaluation.tables import METRIC_LABELS

    metric_bars(table, METRIC_LABELS, paths.FIGURES / "metrics_bars.png")
    curves_figure(
        rocs,
        paths.FIGURES / "roc.png",
        title="Image-level ROC (AUROC %)",
        xlabel="false-positive rate",
        ylabel="true-positive rate",
        diagonal=True,
    )
    curves_figure(
        pros,
        paths.FIGURES / "pro.png",
        title=f"PRO curve (AUPRO@{fpr_limit} %)",
        xlabel="false-positive rate (pixels)",
        ylabel="per-region overlap",
        xmax=fpr_limit,
    )
    loss_curves(losses, paths.FIGURES / "train_loss.png")


@app.command(
    help=stage_help(
        "Metrics of every category in params.yaml categories and their unweighted mean; tables, curves and figures.",
        f"{paths.scores_file(C)} and {paths.train_loss_tsv(C)} of each category; {paths.PARAMS}: categories, "
        "data.dataset, aggregate.",
        f"{paths.METRICS} (per category, mean, n_categories, mean_over, bootstrap intervals ci.*), "
        f"{paths.RESULTS_CSV}, {paths.RESULTS_MD}, {paths.ROC_CSV}, {paths.PRO_CSV}, {paths.LOSS_CSV} (DVC plots), "
        f"{paths.FIGURES}/{{metrics_bars,roc,pro,train_loss}}.png.",
        "python stages/aggregate.py   (in the pipeline: dvc repro aggregate; then dvc metrics show, dvc plots show)",
    )
)
def main() -> None:
    # imported here: --help stays fast
    from ssae.core.artifacts import atomic_write, save_json
    from ssae.evaluation.report import curves_csv, evaluate_category, metrics_summary, results_markdown, with_intervals
    from ssae.evaluation.score_file import load_scores
    from ssae.evaluation.tables import results_table
    from ssae.startup import fail, params_or_exit

    params = params_or_exit()
    cfg, dataset = params.aggregate, params.data.dataset
    reports, losses = {}, {}
    for category in params.categories:
        if not paths.scores_file(category).is_file():
            raise fail(f"{paths.scores_file(category)} is missing: run `dvc repro score@{category}`")
        reports[category] = evaluate_category(load_scores(paths.scores_file(category)), cfg, category)
        losses[category] = read_losses(category)
    rows = {c: r.row for c, r in reports.items()}
    rocs = {c: r.roc for c, r in reports.items() if r.roc is not None}
    pros = {c: r.pro for c, r in reports.items() if r.pro is not None}
    atomic_write(paths.ROC_CSV, curves_csv({c: v[:2] for c, v in rocs.items()}, ("fpr", "tpr")))
    atomic_write(paths.PRO_CSV, curves_csv({c: v[:2] for c, v in pros.items()}, ("fpr", "pro")))
    atomic_write(paths.LOSS_CSV, curves_csv({c: (d["epoch"], d["loss"]) for c, d in losses.items()}, ("epoch", "loss")))
    if stale := stale_outputs(params.categories):
        print(
            f"note: {', '.join(stale)}: not in params.yaml categories (left by a removed category); delete "
            "them and re-run aggregate, or a clone's `dvc pull` + `dvc status` reports aggregate as changed"
        )
    reps = {c: r.replicates for c, r in reports.items() if r.replicates is not None}
    table, ci = with_intervals(results_table(rows, dataset), reps, dataset, cfg)
    save_json(paths.METRICS, metrics_summary(rows, table, ci, cfg))
    atomic_write(paths.RESULTS_CSV, table.to_csv(float_format="%.6f").encode())
    md = results_markdown(table, dataset, cfg, {r.size for r in reports.values()}, len(rows), ci is not None)
    atomic_write(paths.RESULTS_MD, md.encode())
    draw_figures(table, rocs, pros, losses, cfg.fpr_limit)
    print(md)


if __name__ == "__main__":
    app()
