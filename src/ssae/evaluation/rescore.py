"""Image scores re-computed from stored anomaly maps: a paired comparison of image-score rules.

    python -m ssae.evaluation.rescore run0/pill.npz run1/pill.npz ... --topk 0 --topk 0.01

The score stage stores each category's maps (``data/scores/<category>.npz``). The image score is
a function of the map alone (``anomaly_maps.image_scores``: its maximum, or the mean of its
highest ``image_topk`` fraction), so rules can be compared on the very same maps: a paired
comparison, free of the training noise that separates two trained models. Prints image AUROC per
file and rule, and per rule the mean difference to the first rule with a paired t-test over the
files (seeds).

With ``--model`` (each file's model folder, in order) and ``--images`` (the category's folder in
the data/raw layout), each rule is also computed with ``score.spread: pixel``: the map divided by
each pixel's spread over the model's trained normal images (its training images less the
held-out ones of calibration.json; ``anomaly_maps.pixel_spread``) at each ``--floor``. The
stored maps are the error itself; a model trained with ``score.spread: pixel`` stored its
divided scores, and the undivided rules here re-compute them without it.

    python -m ssae.evaluation.rescore s0/pill.npz s1/pill.npz --topk 0.01 \
        --model s0/pill --model s1/pill --images data/raw/pill --floor 0.05 --floor 0.1
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import typer
from scipy import stats

from ssae.core import paths
from ssae.data.dataset_format import index_category, load_images
from ssae.evaluation.metrics import image_auroc
from ssae.evaluation.score_file import load_scores
from ssae.method.anomaly_maps import anomaly_maps, image_scores, pixel_spread, reconstruct
from ssae.method.checkpoint import load_calibration, load_model, read_json

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


def rescore(maps: np.ndarray, labels: np.ndarray, topks: list[float], spread: np.ndarray | None = None) -> list[float]:
    """Image AUROC of the maps (N, S, S) under each top-k rule (0: the maximum), taken from
    ``maps / spread`` where ``spread`` (S, S) is given."""
    return [image_auroc(image_scores(maps.astype(np.float32), k, spread), labels) for k in topks]


def rule(topk: float, floor: float | None = None) -> str:
    """A column title: the image-score rule, and the spread's floor where the map is divided."""
    name = "maximum" if topk == 0 else f"top {100 * topk:g} % mean"
    return name if floor is None else f"{name} / spread ({floor:g})"


def trained_maps(model_dir: Path, root: Path) -> np.ndarray:
    """(N, S, S) maps of the normal images a model folder was trained on (module doc)."""
    _, map_kind, sigma = load_calibration(model_dir / paths.CALIBRATION)
    held = set(read_json(model_dir / paths.CALIBRATION)["heldout"]["images"])
    model, size = load_model(model_dir / paths.WEIGHTS, model_dir / paths.META, torch.device("cpu"))
    t = index_category(root)
    trained = [p for p in t[t.split == "train"].image if f"train/good/{p.name}" not in held]
    images = load_images(trained, size)
    return anomaly_maps(images, reconstruct(model, images, 16, torch.device("cpu")), sigma, map_kind)


def table(names: list[str], aurocs: np.ndarray, columns: list[str]) -> str:
    """Markdown: image AUROC (%) per file and rule (``columns``: their titles); per rule the
    mean, and the mean paired difference to the first rule with its t-test p-value over the files."""
    lines = ["| scores | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    lines += [f"| {n} | " + " | ".join(f"{100 * a:.1f}" for a in row) + " |" for n, row in zip(names, aurocs)]
    lines.append("| **mean** | " + " | ".join(f"**{100 * a:.1f}**" for a in aurocs.mean(axis=0)) + " |")
    diffs = ["—"]
    for j in range(1, len(columns)):
        d = aurocs[:, j] - aurocs[:, 0]
        p = stats.ttest_rel(aurocs[:, j], aurocs[:, 0]).pvalue if len(d) > 1 and np.ptp(d) > 0 else float("nan")
        diffs.append(f"{100 * d.mean():+.1f} (p = {p:.2g})" if np.isfinite(p) else f"{100 * d.mean():+.1f}")
    lines.append("| Δ to the first, paired | " + " | ".join(diffs) + " |")
    return "\n".join(lines) + "\n"


@app.command()
def main(
    files: list[Path] = typer.Argument(..., help="Score files of the score stage (data/scores/<category>.npz)."),
    topk: list[float] = typer.Option([0.0, 0.01], help="Image-score rules: top-k fractions (0: the maximum)."),
    model: list[Path] = typer.Option([], help="Each file's model folder, in the files' order (for --floor)."),
    images: Path | None = typer.Option(None, help="The category's folder in the data/raw layout (with --model)."),
    floor: list[float] = typer.Option([0.1], help="score.spread_floor values to divide the maps at (with --model)."),
) -> None:
    """Image AUROC of each score file under each image-score rule, compared pairwise."""
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise typer.BadParameter(f"no score file {missing[0]}", param_hint="FILES")
    if model and (len(model) != len(files) or images is None):
        raise typer.BadParameter(
            f"give one --model per score file ({len(files)}, got {len(model)}) and --images", param_hint="--model"
        )
    if any(f <= 0 for f in floor):
        raise typer.BadParameter(f"must be > 0, got {min(floor)}", param_hint="--floor")
    columns = [rule(k) for k in topk] + [rule(k, f) for f in (floor if model else []) for k in topk]
    rows = []
    for i, f in enumerate(files):
        d = load_scores(f)
        labels = d["labels"].astype(bool)
        row = rescore(d["maps"], labels, topk)
        if model:
            normal = trained_maps(model[i], images)
            if normal.shape[1:] != d["maps"].shape[1:]:
                raise typer.BadParameter(
                    f"{model[i]} makes {normal.shape[1]}-px maps, {f} holds {d['maps'].shape[1]}-px ones: "
                    "not the model of that score file",
                    param_hint="--model",
                )
            for fl in floor:
                row += rescore(d["maps"], labels, topk, pixel_spread(normal, fl))
        rows.append(row)
    print(table([str(f) for f in files], np.array(rows), columns), end="")


if __name__ == "__main__":
    app()
