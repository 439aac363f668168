"""`make compare`: the experiments side by side in at most 120 columns.

`dvc exp show` prints every param and metric (about 200 columns here; ``--only-changed``
still 20+). This reads ``dvc exp show --json`` and prints one row per experiment: its name,
the mean image AUROC / pixel AUROC / AUPRO in %, how many categories the means are over, and
the params that differ from the baseline (the first row, the workspace) as ``key=value``,
shortened and cut to the width. ``--category C`` adds that category's three metrics. When the
rows' means are over different category sets a note says they are not comparable.

    python -m ssae.experiments.compare [--category brick] [--all-commits] [--width 120]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from ssae.evaluation.tables import pct

METRICS = {"image_auroc": "img", "pixel_auroc": "pix", "aupro": "pro"}
SHORT = (
    ("train.model.", "m."),
    ("train.", "t."),
    ("masks.", "k."),
    ("score.", "s."),
    ("aggregate.", "a."),
    ("overrides.", "o."),
    ("data.", "d."),
)


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> {"a.b.c": value}; lists kept as values."""
    if not isinstance(d, dict):
        return {prefix[:-1]: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(flatten(v, f"{prefix}{k}."))
    return out


def rows(show: list[dict]) -> list[tuple[str, dict, dict]]:
    """(name, flat params, metrics mapping) of every commit and experiment of ``dvc exp show --json``."""
    out = []

    def add(name: str, entry: dict) -> None:
        data = entry.get("data") or {}
        params = (data.get("params") or {}).get("params.yaml", {}).get("data") or {}
        metrics = (data.get("metrics") or {}).get("reports/metrics.json", {}).get("data") or {}
        out.append((name, flatten(params), metrics))

    for commit in show:
        rev = str(commit["rev"])
        add(commit.get("name") or (rev if rev == "workspace" else rev[:7]), commit)
        for exp in commit.get("experiments") or []:
            for rev in exp.get("revs") or []:
                add("  " + (rev.get("name") or exp.get("name") or str(rev["rev"])[:7]), rev)
    return out


def shorten(key: str) -> str:
    for long, short in SHORT:
        if key.startswith(long):
            return short + key[len(long) :]
    return key


def fmt(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":")) if isinstance(value, (list, dict, bool)) else str(value)
    return text.replace('"', "")


def table(entries: list[tuple[str, dict, dict]], category: str | None = None, width: int = 120) -> str:
    """The comparison as text lines of at most ``width`` characters."""
    base = entries[0][1] if entries else {}
    keys = sorted({k for _, p, _ in entries for k in p if p.get(k) != base.get(k)})
    groups = [("mean", lambda m: m.get("mean") or {})]
    if category:
        groups.append((category, lambda m: (m.get("categories") or {}).get(category) or {}))
    name_w = min(28, max([len(n) for n, _, _ in entries] + [10]))
    cell_w = {g: min(max(9, len(g) + 4), 14) for g, _ in groups}  # "brick img", "metal_nut img"
    head = f"{'experiment':<{name_w}}" + "".join(
        f" {g[:10] + ' ' + s:>{cell_w[g]}}" for g, _ in groups for s in METRICS.values()
    )
    head += "  n  changed params (vs. the first row)"
    lines = [head[:width], "-" * min(width, len(head))]
    sets = set()
    for name, params, metrics in entries:
        cells = []
        for g, get in groups:
            m, w = get(metrics), cell_w[g]
            cells += [f"{pct(m[k]) if isinstance(m.get(k), (int, float)) else '-':>{w}}" for k in METRICS]
        n = metrics.get("n_categories", len(metrics.get("categories") or {}) or "-")
        sets.add(metrics.get("mean_over") or ",".join(metrics.get("categories") or {}))
        changed = " ".join(f"{shorten(k)}={fmt(params.get(k))}" for k in keys if params.get(k) != base.get(k))
        line = f"{name[:name_w]:<{name_w}}" + "".join(" " + c for c in cells) + f"  {n:>1}  {changed}"
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    if len(sets - {""}) > 1:
        lines.append("note: the means are over different category sets (column n, metrics mean_over): not comparable")
    lines.append("img / pix / pro: image AUROC, pixel AUROC, AUPRO@fpr_limit in %; n: categories in the means")
    lines.append("params: " + ", ".join(f"{short}={long}" for long, short in SHORT))
    return "\n".join(line[:width] for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The experiments side by side in at most --width columns.")
    parser.add_argument("--category", help="also show this category's metrics")
    parser.add_argument(
        "--all-commits", "-A", action="store_true", help="experiments of every commit (dvc exp show -A)"
    )
    parser.add_argument("--width", type=int, default=120)
    args = parser.parse_args(argv)
    cmd = ["dvc", "exp", "show", "--json"] + (["-A"] if args.all_commits else [])
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        print(
            "error: dvc is not on PATH: activate the environment (source .venv/bin/activate) or use make compare",
            file=sys.stderr,
        )
        return 2
    if r.returncode != 0:
        print(f"error: {' '.join(cmd)} failed: {r.stderr.strip()}", file=sys.stderr)
        return 2
    print(table(rows(json.loads(r.stdout)), args.category, args.width))
    return 0


if __name__ == "__main__":
    sys.exit(main())
