"""Seed noise: the current params (plus overrides) over N seeds as DVC experiments, and tables
of mean ± std, so that a difference can be judged against what the seed alone moves.

    python -m ssae.experiments.seed_study run full --seeds 3                       # the committed params
    python -m ssae.experiments.seed_study run plain_ae --seeds 3 -S train.noise=none
    python -m ssae.experiments.seed_study table full plain_ae                      # compare (first: reference)
    python -m ssae.experiments.seed_study run plain_ae --seeds 5 -S train.noise=none  # adds seeds 3 and 4

`run` runs `dvc exp run --temp -n NAME-seedK -S seed=K -S ...` per seed (outside the
workspace, which stays as it is; DVC's run cache makes a repeat cheap), reads each
experiment's reports/metrics.json from its git ref and writes reports/seeds/NAME.json after each
seed (a stopped study keeps the seeds it finished) and a per-category table of mean ± std
(sample std, ddof 1). A record of the same overrides is extended: its seeds are kept, only the
missing ones run, and each seed's commit is recorded (`commits`); a record of other overrides is
refused unless `--fresh`. `table` puts several such files side by
side: the mean over categories of each metric, mean ± std over seeds, and each experiment's
difference to the first with Welch's t-test (* where p < 0.05: larger than the seed noise).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import typer
from scipy import stats

import yaml

from ssae.core import paths
from ssae.core.artifacts import atomic_write
from ssae.core.config import ConfigError, parse_params
from ssae.evaluation.tables import markdown, mean_std_pct
from ssae.experiments.protocols import apply, parse_overrides

OUT = Path("reports/seeds")
SHOWN = ("image_auroc", "pixel_auroc", "aupro")
LABELS = {"image_auroc": "image AUROC", "pixel_auroc": "pixel AUROC", "aupro": "AUPRO"}

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()


def experiment_ref(name: str) -> str:
    """The git ref of DVC's experiment ``name`` on the current commit."""
    head = _git("rev-parse", "HEAD")
    return f"refs/exps/{head[:2]}/{head[2:]}/{name}"


def run_seed(name: str, seed: int, overrides: list[str]) -> dict:
    """One DVC experiment ``name`` with ``seed`` and ``overrides``; its metrics."""
    # a repeat replaces the experiment of that name (DVC would refuse the name at the end of the
    # run); DVC's run cache restores unchanged stages
    subprocess.run(["git", "update-ref", "-d", experiment_ref(name)], check=True)
    args = ["dvc", "exp", "run", "--temp", "-n", name, "-S", f"seed={seed}"]
    for o in overrides:
        args += ["-S", o]
    print("$", " ".join(args), flush=True)
    subprocess.run(args, check=True)
    return json.loads(_git("show", f"{experiment_ref(name)}:reports/metrics.json"))


def seed_table(record: dict) -> str:
    """Markdown: per category and the mean, each metric's mean ± std over the seeds, in %."""
    runs = list(record["seeds"].values())
    metrics = [k for k in runs[0]["mean"] if all(r["mean"].get(k) is not None for r in runs)]
    rows = [(c, [[r["categories"][c][k] for r in runs] for k in metrics]) for c in runs[0]["categories"]]
    rows.append(("**mean**", [[r["mean"][k] for r in runs] for k in metrics]))
    return markdown(["category", *metrics], [[c, *map(mean_std_pct, vals)] for c, vals in rows])


def compare_table(records: list[dict]) -> str:
    """Markdown: one row per record, the mean over categories of ``SHOWN`` metrics as mean ± std
    over seeds, and the difference of the mean to the first record (Welch's t-test, * p < 0.05).
    A metric a record lacks (pixel metrics of a dataset without masks) is shown as "—"."""
    header = ["experiment", "overrides", "seeds", *(LABELS[k] for k in SHOWN), *(f"Δ {LABELS[k]}" for k in SHOWN)]
    raw = [{k: [r["mean"].get(k) for r in rec["seeds"].values()] for k in SHOWN} for rec in records]
    raw = [{k: (None if None in v[k] else v[k]) for k in SHOWN} for v in raw]
    values = [{k: None if v[k] is None else 100 * np.array(v[k]) for k in SHOWN} for v in raw]
    rows = []
    for rec, v, fractions in zip(records, values, raw):
        cells = ["—" if fractions[k] is None else mean_std_pct(fractions[k]) for k in SHOWN]
        diffs = []
        for k in SHOWN:
            if rec is records[0] or v[k] is None or values[0][k] is None:
                diffs.append("—")
                continue
            d = v[k].mean() - values[0][k].mean()
            p = (
                stats.ttest_ind(v[k], values[0][k], equal_var=False).pvalue
                if min(len(v[k]), len(values[0][k])) > 1
                else np.nan
            )
            diffs.append(f"{d:+.1f}" + ("*" if p < 0.05 else ""))
        over = ", ".join(f"`{o}`" for o in rec["overrides"]) or "—"
        rows.append([rec["name"], over, str(len(rec["seeds"])), *cells, *diffs])
    return markdown(header, rows, left=2)


@app.command()
def run(
    name: str = typer.Argument(..., help="Label of this configuration, e.g. full or plain_ae."),
    seeds: int = typer.Option(3, min=1, help="Seeds 0 .. N-1 (those already in the record are kept)."),
    fresh: bool = typer.Option(False, "--fresh", help="Replace reports/seeds/NAME.json instead of extending it."),
    overrides: list[str] = typer.Option([], "-S", "--set", help="key=value, as `dvc exp run -S` (repeatable)."),
) -> None:
    """Run the params (plus overrides) over seeds 0..N-1 not yet recorded; write reports/seeds/NAME.json."""
    try:
        over = parse_overrides([x for o in overrides for x in ("-S", o)])
        parse_params(apply(yaml.safe_load(paths.PARAMS.read_text()), over))  # a typo fails before DVC runs
    except ConfigError as e:
        raise typer.BadParameter(str(e), param_hint="-S") from None
    if "seed" in over:
        raise typer.BadParameter("the seed is what this command varies: leave -S seed=... out", param_hint="-S")
    record = start_record(name, overrides, fresh)
    head = _git("rev-parse", "--short", "HEAD")
    for s in range(seeds):
        if str(s) in record["seeds"]:
            print(f"seed {s}: recorded at {record['commits'][str(s)]}, kept", flush=True)
            continue
        record["seeds"][str(s)] = run_seed(f"{name}-seed{s}", s, overrides)
        record["commits"][str(s)] = head
        save_record(record)
    print(
        f"\n{name} ({', '.join(overrides) or 'params.yaml'}), {len(record['seeds'])} seeds, mean ± std in %:\n\n"
        f"{seed_table(record)}"
    )


def start_record(name: str, overrides: list[str], fresh: bool) -> dict:
    """The record to extend: reports/seeds/NAME.json if it has the same overrides, else a new one."""
    path = OUT / f"{name}.json"
    if fresh or not path.is_file():
        return {
            "name": name,
            "overrides": overrides,
            "baseline": _git("rev-parse", "--short", "HEAD"),
            "seeds": {},
            "commits": {},
        }
    record = json.loads(path.read_text())
    if record["overrides"] != overrides:
        raise typer.BadParameter(
            f"{path} holds other overrides ({' '.join(record['overrides']) or 'none'}): "
            "choose another NAME, or --fresh to replace it",
            param_hint="-S",
        )
    # records written before per-seed commits were kept: every seed at the baseline
    record.setdefault("commits", dict.fromkeys(record["seeds"], record["baseline"]))
    return record


def save_record(record: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    atomic_write(OUT / f"{record['name']}.json", (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())


@app.command()
def table(
    names: list[str] = typer.Argument(..., help="Records in reports/seeds/ to compare; the first is the reference."),
) -> None:
    """Compare recorded configurations: mean ± std over seeds and the difference to the first."""
    missing = [n for n in names if not (OUT / f"{n}.json").is_file()]
    if missing:
        raise typer.BadParameter(
            f"no record {', '.join(str(OUT / f'{n}.json') for n in missing)}: "
            "run `python -m ssae.experiments.seed_study run NAME` first",
            param_hint="NAMES",
        )
    print(compare_table([json.loads((OUT / f"{n}.json").read_text()) for n in names]), end="")


if __name__ == "__main__":
    app()
