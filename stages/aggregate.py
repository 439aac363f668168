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

from pathlib import Path

import typer

from ssae.core import paths
from ssae.startup import CATEGORY as C, stage_help

app = typer.Typer(add_completion=False)


def write_csv(curves: dict, columns: tuple[str, str], path: Path) -> None:
    """{category: (x, y)} as one CSV: category, x, y (DVC plots one series per category)."""
    import pandas as pd

    from ssae.core.artifacts import atomic_write

    df = pd.concat(
        [pd.DataFrame({"category": [], columns[0]: [], columns[1]: []})]  # a header without curves
        + [pd.DataFrame({"category": c, columns[0]: x, columns[1]: y}) for c, (x, y) in curves.items()]
    )
    atomic_write(path, df.to_csv(index=False, float_format="%.6g").encode())


@app.command(
    help=stage_help(
        "Metrics of every category in params.yaml categories and their unweighted mean; tables, curves and figures.",
        f"{paths.scores_file(C)} and {paths.train_loss_tsv(C)} of each category; {paths.PARAMS}: categories, "
        "data.dataset, aggregate.",
        f"{paths.METRICS} (per category, mean, n_categories, mean_over, bootstrap intervals ci.*), {paths.RESULTS_CSV}, {paths.RESULTS_MD}, "
        f"{paths.ROC_CSV}, {paths.PRO_CSV}, {paths.LOSS_CSV} (DVC plots), {paths.FIGURES}/{{metrics_bars,roc,pro,train_loss}}.png.",
        "python stages/aggregate.py   (in the pipeline: dvc repro aggregate; then dvc metrics show, dvc plots show)",
    )
)
def main() -> None:
    import pandas as pd  # imported here: --help stays fast

    from ssae.core.artifacts import atomic_write, save_json
    from ssae.startup import fail, params_or_exit
    from ssae.evaluation.figures import curves_figure, loss_curves, metric_bars
    from ssae.evaluation.metrics import evaluate, resample_curve, roc_curve
    from ssae.evaluation.resolution import at_resolution
    from ssae.evaluation.score_file import load_scores
    from ssae.evaluation.bootstrap import category_seed, replicates
    from ssae.evaluation.tables import METRIC_LABELS, interval_table, markdown_table, reference_table, results_table

    params = params_or_exit()
    cfg = params.aggregate
    rows, reps, rocs, pros, losses, sizes = {}, {}, {}, {}, {}, set()
    for category in params.categories:
        if not paths.scores_file(category).is_file():
            raise fail(f"{paths.scores_file(category)} is missing: run `dvc repro score@{category}`")
        d = load_scores(paths.scores_file(category))
        sizes.add(f"{d['gt'].shape[2]}x{d['gt'].shape[1]} px (model: {d['maps'].shape[2]} px)")
        maps, gt = at_resolution(d["maps"], d["gt"], cfg.eval_resolution)
        labels = d["labels"]
        rows[category], curve = evaluate(d["scores"], labels, maps, gt, cfg.fpr_limit, d["known"], d["threshold"])
        if cfg.bootstrap:
            reps[category] = replicates(
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
        if labels.any() and not labels.all():
            x, y, _ = roc_curve(d["scores"], labels)
            rocs[category] = (x, y, rows[category]["image_auroc"])
        if curve is not None:
            x, y = resample_curve(*curve, cfg.fpr_limit)
            pros[category] = (x, y, rows[category]["aupro"])
        log = pd.read_csv(paths.train_loss_tsv(category), sep="\t")
        losses[category] = pd.DataFrame({"epoch": log["step"] + 1, "loss": log["loss"]})
    write_csv({c: v[:2] for c, v in rocs.items()}, ("fpr", "tpr"), paths.ROC_CSV)
    write_csv({c: v[:2] for c, v in pros.items()}, ("fpr", "pro"), paths.PRO_CSV)
    write_csv({c: (d["epoch"], d["loss"]) for c, d in losses.items()}, ("epoch", "loss"), paths.LOSS_CSV)

    # aggregate depends on the directories data/scores and reports/train: a removed category's
    # files stay there (DVC deletes no outputs of a stage that left the pipeline) and are part of
    # their hash, which a clone's `dvc pull` cannot restore
    stale = sorted(
        str(p)
        for p in [*paths.SCORES.glob("*.npz"), *paths.TRAIN_LOGS.glob("*")]
        if (p.stem if p.suffix == ".npz" else p.name) not in params.categories
    )
    if stale:
        print(
            f"note: {', '.join(stale)}: not in params.yaml categories (left by a removed category); delete "
            "them and re-run aggregate, or a clone's `dvc pull` + `dvc status` reports aggregate as changed"
        )
    table = results_table(rows, params.data.dataset)
    metrics = list(rows[params.categories[0]])
    value = lambda v: None if pd.isna(v) else round(float(v), 6)  # noqa: E731  (null: not available)
    summary = {
        # our metrics only: the table may also hold published reference columns
        "mean": {k: value(table.loc["mean", k]) for k in metrics},
        "categories": {c: {k: value(v) for k, v in r.items()} for c, r in rows.items()},
        # what the means are over: `dvc metrics diff` between runs of different category sets
        # then shows why their means differ
        "n_categories": len(rows),
        "mean_over": ",".join(rows),
    }
    if reps:
        ci = interval_table(reps, params.data.dataset, cfg.confidence)
        table = table.join(ci)
        bounds = lambda row: {
            k: {end: value(ci.loc[row].get(f"{k}_{end}")) for end in ("low", "high")}  # noqa: E731
            for k in metrics
        }
        summary["ci"] = {
            "level": cfg.confidence,
            "resamples": cfg.bootstrap,
            "mean": bounds("mean"),
            "categories": {c: bounds(c) for c in rows},
        }
    save_json(paths.METRICS, summary)
    atomic_write(paths.RESULTS_CSV, table.to_csv(float_format="%.6f").encode())
    protocol = (
        f"Dataset: {params.data.dataset}. Metrics in %. Evaluated at "
        + (
            "the ground-truth resolution (maps upsampled bilinearly, the official protocol)"
            if cfg.eval_resolution == "ground_truth"
            else "the model's resolution (masks downsampled)"
        )
        + f": {', '.join(sorted(sizes))}. AUPRO integrated to FPR {cfg.fpr_limit}. Means are unweighted over "
        f"the {len(rows)} categories listed (over those where a metric is available; –: not available, e.g. no masks). Precision, recall and F1 (@thr):"
        " image decisions at the threshold calibrated on held-out normal training images (never the test set)."
        + (
            f" In parentheses: {100 * cfg.confidence:g} % bootstrap intervals ({cfg.bootstrap} resamples of the test "
            "images, normal and defective resampled separately; a mean's interval from the means of the resamples)."
            if reps
            else ""
        )
        + "\n\n"
    )
    md = protocol + markdown_table(table)
    if params.data.dataset == "mvtec_ad":
        md += (
            "\nPublished MVTec AD means over all 15 categories, for reference "
            "(not computed here; see src/ssae/references.py for sources):\n\n"
            + markdown_table(reference_table(), "method")
        )
    atomic_write(paths.RESULTS_MD, md.encode())
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
        title=f"PRO curve (AUPRO@{cfg.fpr_limit} %)",
        xlabel="false-positive rate (pixels)",
        ylabel="per-region overlap",
        xmax=cfg.fpr_limit,
    )
    loss_curves(losses, paths.FIGURES / "train_loss.png")
    print(md)


if __name__ == "__main__":
    app()
