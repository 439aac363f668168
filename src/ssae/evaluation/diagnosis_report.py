"""Rendering of a diagnosis (``ssae.evaluation.diagnose``): deterministic JSON, Markdown tables and
a figure of statistics (no image pixels)."""

from __future__ import annotations

import json
import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DIGITS = 6  # significant digits of every float in diagnosis.json
LOG2_FLOOR = -8  # the histogram draws a region max below 1/256 of the normal level (0: an exact copy) there


def rounded(obj):
    """``obj`` (dicts, lists, Python scalars) with every float to DIGITS significant digits, NaN/inf as None."""
    if isinstance(obj, dict):
        return {str(k): rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rounded(v) for v in obj]
    return (float(f"{obj:.{DIGITS}g}") if math.isfinite(obj) else None) if isinstance(obj, float) else obj


def to_json(result: dict) -> str:
    """Deterministic JSON text: rounded floats, sorted keys."""
    return json.dumps(rounded(result), indent=2, sort_keys=True, allow_nan=False) + "\n"


def _types(r: dict) -> list[str]:  # table order: alphabetical, "good" last
    return sorted(r["detection"], key=lambda t: (t == "good", t))


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f} %"


def to_markdown(r: dict) -> str:
    """Compact tables of ``diagnose``'s result (for a docs page to include)."""
    t = r["thresholds"]
    best = "–" if t["best_f1"] is None else f"{t['best_f1']:.4g}"
    lines = [
        f"Thresholds: calibrated {t['calibrated']:.4g}, best F1 {best}.",
        "",
        "| defect type | n | flagged @calibrated | flagged @best F1 | median score |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in _types(r):
        row = r["detection"][name]
        label = f"{name} (false positives)" if name == "good" else name
        lines.append(
            f"| {label} | {row['n']} | {_pct(row['flagged']['calibrated'])} | "
            f"{_pct(row['flagged']['best_f1'])} | {row['median_score']:.4g} |"
        )
    lines += [
        "",
        "| map maxima of | n | median border distance / side | on object | median brightness pct | "
        f"bright spot (≥ {r['constants']['bright_pct']:.0f}th pct) | in mask |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for g, s in r["maxima"]["summary"].items():
        if s["n"]:
            bright = f"{s['median_brightness_pct']:.0f}" if "median_brightness_pct" in s else "–"
            lines.append(
                f"| {g.replace('_', ' ')} | {s['n']} | {s['median_border']:.3f} | {_pct(s.get('on_object'))} | "
                f"{bright} | {_pct(s.get('bright_spot'))} | {_pct(s.get('in_mask'))} |"
            )
    if "shift" in r:
        h = r["shift"]
        lines += [
            "",
            f"Shift: the {h['n_normal']} normal test images against the {h['n_heldout']} held-out normal training "
            f"images: AUROC {100 * h['auroc']:.1f} % (50: they score alike), Mann-Whitney p = {h['p']:.2g}; "
            f"median scores {h['median_normal']:.4g} and {h['median_heldout']:.4g}.",
        ]
        if h["auroc"] > 0.5 and h["p"] < 0.05:
            lines[-1] += (
                " The normal test images score higher than the training images: if they were taken under other"
                " lighting, `train.brightness` (docs/pipeline.md) trains the model to ignore a global change of"
                " brightness."
            )
    if "border" in r:  # absent from results written before it was measured
        b = r["border"]
        rings = " ".join("–" if v is None else f"{v:.2f}" for v in b["ring_to_interior"])
        lines += [
            "",
            f"Border: normal images' mean error in the outermost one-pixel rings / interior: {rings}; "
            f"{_pct(b['top1pct_near_border'])} of the top 1 % of map pixels lie within 1/16 of the side "
            f"of an edge ({_pct(b['near_border_area'])} of the area).",
        ]
    m = r["missed"]
    if "skipped" in m:
        lines += ["", f"Missed defects: skipped ({m['skipped']})."]
    else:
        lines += [
            "",
            f"Defect images with masks; model: region max <= normal level ({m['normal_pct']:.0f}th percentile "
            f"of normal pixels, {m['normal_level']:.4g}), the defect was copied; scoring: above it, repaired "
            "but outranked.",
            "",
            "| defect type | with mask | model | scoring | median region max / normal level | "
            "missed @best F1: model | scoring | missed @calibrated: model | scoring |",
            "|---|" + "---:|" * 8,
        ]
        for name, row in m["per_defect"].items():
            a, b, c = row["all"], row["best_f1"], row["calibrated"]
            ratio = "–" if a["median_ratio"] is None else f"{a['median_ratio']:.2f}"
            lines.append(
                f"| {name} | {a['n']} | {a['model']} | {a['scoring']} | {ratio} | {b['model']} | {b['scoring']} | "
                f"{c['model']} | {c['scoring']} |"
            )
    return "\n".join(lines) + "\n"


def figure(r: dict) -> Figure:
    """Detection bars at both thresholds | map-max positions | histogram of region max / normal level."""
    fig = Figure(figsize=(15, 4.5), layout="constrained")
    bars, pos, hist = fig.subplots(1, 3)
    names = _types(r)
    x = np.arange(len(names))
    for j, (key, label) in enumerate([("calibrated", "calibrated threshold"), ("best_f1", "best-F1 threshold")]):
        v = [r["detection"][n]["flagged"][key] for n in names]
        bars.bar(x + (j - 0.5) * 0.4, [np.nan if a is None else 100 * a for a in v], 0.4, label=label)
    bars.set_xticks(x, [f"{n}\n(n={r['detection'][n]['n']})" for n in names], rotation=45, ha="right", fontsize=9)
    bars.set(ylabel="% flagged (good: false positives)", ylim=(0, 120), title="detection per defect type")
    bars.legend(fontsize=9, loc="upper center", ncol=2)
    recs = r["maxima"]["images"]
    for sel, style in [
        (lambda q: q["defect"] == "good" and not q.get("top_normal"), dict(c="tab:gray", s=12, label="normal")),
        (lambda q: q.get("top_normal", False), dict(c="tab:blue", s=40, marker="s", label="top normals")),
        (lambda q: q["defect"] != "good", dict(c="tab:red", s=12, marker="x", label="defective")),
    ]:
        pts = [(q["x"], q["y"]) for q in recs if sel(q)]
        if pts:
            pos.scatter(*zip(*pts), **style)
    pos.set(xlim=(0, 1), ylim=(1, 0), aspect="equal", xlabel="x / side", ylabel="y / side", title="map maxima")
    pos.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    m = r["missed"]
    groups: dict[str, list[float]] = {"missed @best F1": [], "missed @calibrated only": [], "found at both": []}
    for q in [] if "skipped" in m else [q for q in m["images"] if math.isfinite(q["ratio"])]:
        g = (
            "found at both"
            if not (q["missed"]["best_f1"] or q["missed"]["calibrated"])
            else "missed @best F1"
            if q["missed"]["best_f1"]
            else "missed @calibrated only"
        )
        groups[g].append(np.log2(max(q["ratio"], 2.0**LOG2_FLOOR)))  # an exact copy has ratio 0
    if any(groups.values()):
        hist.hist(
            list(groups.values()),
            bins=20,
            stacked=True,
            label=list(groups),
            color=["tab:red", "tab:orange", "tab:gray"],
        )
        hist.axvline(0, color="k", ls="--")
        hist.yaxis.set_major_locator(MaxNLocator(integer=True))
        hist.legend(fontsize=9)
    else:
        hist.text(0.5, 0.5, m.get("skipped", "no defect image with a mask"), ha="center", va="center", wrap=True)
    hist.set(
        xlabel="log2(region max / normal level): < 0 model, > 0 scoring",
        ylabel="defect images with a mask",
        title="region max / normal level",
    )
    return fig
