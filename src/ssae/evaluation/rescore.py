"""Image scores re-computed from stored anomaly maps: a paired comparison of image-score rules.

    python -m ssae.evaluation.rescore run0/pill.npz run1/pill.npz ... --topk 0 --topk 0.01

The score stage stores each category's maps (``data/scores/<category>.npz``). The image score is
a function of the map alone (``anomaly_maps.image_scores``: its maximum, or the mean of its
highest ``image_topk`` fraction), so rules can be compared on the very same maps: a paired
comparison, free of the training noise that separates two trained models. Prints image AUROC per
file and rule, and per rule the mean difference to the first rule with a paired t-test over the
files (seeds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from scipy import stats

from ssae.evaluation.metrics import image_auroc
from ssae.evaluation.score_file import load_scores
from ssae.method.anomaly_maps import image_scores

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


def rescore(maps: np.ndarray, labels: np.ndarray, topks: list[float]) -> list[float]:
    """Image AUROC of the maps (N, S, S) under each top-k rule (0: the maximum)."""
    return [image_auroc(image_scores(maps.astype(np.float32), k), labels) for k in topks]


def table(names: list[str], aurocs: np.ndarray, topks: list[float]) -> str:
    """Markdown: image AUROC (%) per file and rule; per rule the mean, and the mean paired
    difference to the first rule with its t-test p-value over the files."""
    rule = lambda k: "maximum" if k == 0 else f"top {100 * k:g} % mean"  # noqa: E731  (a column title)
    lines = ["| scores | " + " | ".join(rule(k) for k in topks) + " |", "|---|" + "---:|" * len(topks)]
    lines += [f"| {n} | " + " | ".join(f"{100 * a:.1f}" for a in row) + " |" for n, row in zip(names, aurocs)]
    lines.append("| **mean** | " + " | ".join(f"**{100 * a:.1f}**" for a in aurocs.mean(axis=0)) + " |")
    diffs = ["—"]
    for j in range(1, len(topks)):
        d = aurocs[:, j] - aurocs[:, 0]
        p = stats.ttest_rel(aurocs[:, j], aurocs[:, 0]).pvalue if len(d) > 1 and np.ptp(d) > 0 else float("nan")
        diffs.append(f"{100 * d.mean():+.1f} (p = {p:.2g})" if np.isfinite(p) else f"{100 * d.mean():+.1f}")
    lines.append("| Δ to the first, paired | " + " | ".join(diffs) + " |")
    return "\n".join(lines) + "\n"


@app.command()
def main(
    files: list[Path] = typer.Argument(..., help="Score files of the score stage (data/scores/<category>.npz)."),
    topk: list[float] = typer.Option([0.0, 0.01], help="Image-score rules: top-k fractions (0: the maximum)."),
) -> None:
    """Image AUROC of each score file under each image-score rule, compared pairwise."""
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise typer.BadParameter(f"no score file {missing[0]}", param_hint="FILES")
    rows = []
    for f in files:
        d = load_scores(f)
        rows.append(rescore(d["maps"], d["labels"].astype(bool), topk))
    print(table([str(f) for f in files], np.array(rows), topk), end="")


if __name__ == "__main__":
    app()
