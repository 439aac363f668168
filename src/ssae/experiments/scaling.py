"""Accuracy against training compute, from seed-study records (``reports/seeds/NAME.json``).

    python -m ssae.experiments.scaling pill_base_e5 pill_base_e10 pill_base ... --train-images 240 \
        --out reports/scaling/pill

Each record is one configuration (its ``-S`` overrides of params.yaml) over one or more seeds.
Its training compute is counted, not timed: epochs x training images x 3 x the forward FLOPs of
one training sample (``model.count_flops`` at ``train.crop`` px when set, else
``train.image_size``; backward ~ 2x forward, the usual estimate). Points are grouped into series
by everything but the epochs. Writes ``OUT.png`` (image / pixel AUROC and AUPRO against
TFLOP, log scale, mean ± std over seeds) and ``OUT.md`` (the table, and per series the fit of
logit(metric) against log2(compute) over its points, with the compute at which the fit reaches
given targets: an extrapolation, stated as such).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
import yaml

from ssae.core import paths
from ssae.experiments.protocols import apply, parse_overrides

METRICS = {"image_auroc": "image AUROC", "pixel_auroc": "pixel AUROC", "aupro": "AUPRO@0.3"}
app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


def record_config(record: dict) -> dict:
    """The params mapping a record ran with: params.yaml plus its overrides."""
    over = parse_overrides([x for o in record["overrides"] for x in ("-S", o)])
    return apply(yaml.safe_load(paths.PARAMS.read_text()), over)


def sample_tflop(train: dict) -> float:
    """Training TFLOP per sample (forward + backward ~ 3 forward) of a params ``train`` mapping."""
    from ssae.core.config import ModelConfig
    from ssae.core.schema import build
    from ssae.method.model import SDCCCM, count_flops

    size = train.get("crop") or train["image_size"]
    return 3 * count_flops(SDCCCM(build(ModelConfig, train["model"], "train.model.")), size) / 1e12


def train_epochs(train: dict, n_train: int) -> int:
    """Epochs a params ``train`` mapping trains on ``n_train`` images (``train.steps`` counted)."""
    from ssae.core.config import TrainConfig
    from ssae.core.schema import build

    return build(TrainConfig, train, "train.").epochs_for(n_train)


# what a series is not named by: the budget moves a point along its series, and the runtime
# (threads, reproducible kernels) changes the last bits of a run, not its recipe
BUDGET_KEYS = ("train.epochs=", "train.steps=", "runtime.")


def points(records: list[dict], n_train: int) -> list[dict]:
    """One point per record: series label, epochs, TFLOP, metric means and stds over seeds (in %)."""
    out = []
    common = set.intersection(*(set(r["overrides"]) for r in records)) if records else set()
    for rec in records:
        train = record_config(rec)["train"]
        # a series is named by what its records change beyond the overrides they all share
        series = ", ".join(o for o in rec["overrides"] if o not in common and not o.startswith(BUDGET_KEYS))
        epochs = train_epochs(train, n_train)
        p = {
            "name": rec["name"],
            "series": series or "common settings",
            "epochs": epochs,
            "tflop": epochs * n_train * sample_tflop(train),
            "seeds": len(rec["seeds"]),
        }
        for k in METRICS:
            v = [100 * s["mean"][k] for s in rec["seeds"].values() if s["mean"].get(k) is not None]
            p[k] = (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0) if v else None
        out.append(p)
    return sorted(out, key=lambda p: (p["series"], p["tflop"]))


FIT_POINTS = 3  # the fit uses a series' largest-compute points: the local trend, not the warm-up


def fit(pts: list[dict], metric: str) -> tuple[float, float] | None:
    """Least-squares fit logit(metric / 100) = a + b log2(TFLOP) over the ``FIT_POINTS`` points of
    largest compute; None with fewer."""
    xy = sorted((np.log2(p["tflop"]), p[metric][0] / 100) for p in pts if p[metric] is not None)[-FIT_POINTS:]
    if len(xy) < FIT_POINTS:
        return None
    x, y = np.array(xy).T
    y = np.clip(y, 1e-4, 1 - 1e-4)
    b, a = np.polyfit(x, np.log(y / (1 - y)), 1)
    return float(a), float(b)


def reach(ab: tuple[float, float], target: float) -> float | None:
    """TFLOP at which the fit reaches ``target`` % (None if it never rises)."""
    a, b = ab
    if b <= 0:
        return None
    t = target / 100
    return float(2 ** ((np.log(t / (1 - t)) - a) / b))


def report(pts: list[dict], targets: tuple[float, ...], common: list[str]) -> str:
    """Markdown: the points, and per series and metric the fit and the compute for each target."""
    lines = [
        "All runs: " + (", ".join(f"`{o}`" for o in common) or "params.yaml") + ". Metrics in %, mean ± std "
        "over seeds where there are several.",
        "",
        "| series | epochs | TFLOP | seeds | " + " | ".join(METRICS.values()) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(METRICS),
    ]
    for p in pts:
        cells = [f"{p[k][0]:.1f}" + (f" ± {p[k][1]:.1f}" if p["seeds"] > 1 else "") if p[k] else "–" for k in METRICS]
        lines.append(f"| {p['series']} | {p['epochs']} | {p['tflop']:.1f} | {p['seeds']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Fit logit(metric) = a + b log2(TFLOP) over each series' {FIT_POINTS} largest-compute points; the "
        "TFLOP at which it reaches each target (an extrapolation beyond the largest measured point):",
        "",
        "| series | metric | b (logit per doubling) | " + " | ".join(f"{t:g} %" for t in targets) + " |",
        "|---|---|---:|" + "---:|" * len(targets),
    ]
    for series in dict.fromkeys(p["series"] for p in pts):
        group = [p for p in pts if p["series"] == series]
        for k, label in METRICS.items():
            ab = fit(group, k)
            if ab is None:
                continue
            cells = ["never" if (r := reach(ab, t)) is None else f"{r:.0f}" if r < 1e5 else "> 1e5" for t in targets]
            lines.append(f"| {series} | {label} | {ab[1]:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure(pts: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    all_series = list(dict.fromkeys(p["series"] for p in pts))
    legend_rows = -(-len(all_series) // 2)  # two columns, under the panels
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 3.6 + 0.16 * legend_rows))
    for ax, (k, label) in zip(axes, METRICS.items()):
        for series in all_series:
            group = [p for p in pts if p["series"] == series and p[k] is not None]
            if group:
                ax.errorbar(
                    [p["tflop"] for p in group],
                    [p[k][0] for p in group],
                    yerr=[p[k][1] for p in group],
                    marker="o",
                    capsize=3,
                    label=series,
                )
        ax.set_xscale("log", base=2)
        ax.set(xlabel="training compute, TFLOP", ylabel=f"{label}, %", title=label)
        ax.grid(alpha=0.3)
    # one legend under the panels: inside one it hides that panel's points
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.045 * legend_rows + 0.02, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})  # no version/time stamps: same bytes
    plt.close(fig)


@app.command()
def main(
    names: list[str] = typer.Argument(..., help="Records in reports/seeds/ (one configuration each)."),
    train_images: int = typer.Option(..., help="Training images per epoch (after the hold-out), e.g. 240 for pill."),
    out: Path = typer.Option(Path("reports/scaling/scaling"), help="Output stem: OUT.png and OUT.md."),
    title: str = typer.Option("accuracy against training compute", help="Figure title."),
    targets: list[float] = typer.Option([95.0, 97.0], help="Metric targets (%) for the extrapolation."),
) -> None:
    """Plot and tabulate accuracy against training compute."""
    missing = [n for n in names if not (Path("reports/seeds") / f"{n}.json").is_file()]
    if missing:
        raise typer.BadParameter(
            f"no record reports/seeds/{missing[0]}.json: run `python -m ssae.experiments.seed_study run` first"
        )
    pts = points([json.loads((Path("reports/seeds") / f"{n}.json").read_text()) for n in names], train_images)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure(pts, out.with_suffix(".png"), title)
    records = [json.loads((Path("reports/seeds") / f"{n}.json").read_text()) for n in names]
    common = [
        o
        for o in records[0]["overrides"]
        if all(o in r["overrides"] for r in records) and not o.startswith(BUDGET_KEYS)
    ]
    out.with_suffix(".md").write_text(report(pts, tuple(targets), common))
    print(out.with_suffix(".md").read_text(), end="")


if __name__ == "__main__":
    app()
