"""A no-op `dvc repro` on an MVTec-sized folder of one's own (issue 18: target <= 1 s), and what
the fingerprint stage that lets DVC see edits to that folder costs in it.

Usage: python benchmarks/bench_noop_repro.py [--dir /tmp/bench_noop] [--categories 15] [--runs 5]

Writes a folder with MVTec AD's per-category counts (``mvtec.OFFICIAL``: 5354 images and 1258
masks over 15 categories; flat 32 px PNGs, so that the set-up is quick), a project (this
repository's files, params.yaml with ``data.dataset: folder`` and a tiny model) under --dir,
runs the pipeline once, then times (median of --runs, each a fresh `dvc repro`):

- the no-op `dvc repro` (the fingerprint stage lists the folder and finds it unchanged);
- the same with the fingerprint stage's ``always_changed`` removed (what the no-op cost before
  the stage existed, plus a stage that does not run);
- the fingerprint stage alone (`python stages/fingerprint.py`).

An existing --dir is reused (only the timings run again).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from ssae.core.mvtec import OFFICIAL

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = dict(
    os.environ,
    PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
    DVC_NO_ANALYTICS="1",
    GIT_AUTHOR_NAME="bench",
    GIT_AUTHOR_EMAIL="bench@example.invalid",
    GIT_COMMITTER_NAME="bench",
    GIT_COMMITTER_EMAIL="bench@example.invalid",
)


def sh(args: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    r = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return time.perf_counter() - t


def write_tree(root: Path, categories: list[str], side: int) -> int:
    rng = np.random.default_rng(0)
    n = 0

    def img(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path, compress_level=1)

    mask = np.zeros((side, side), np.uint8)
    mask[: side // 4, : side // 4] = 255
    for c in categories:
        spec = OFFICIAL[c]
        for i in range(spec.train):
            img(root / c / "train/good" / f"{i:03d}.png")
        for i in range(spec.test_good):
            img(root / c / "test/good" / f"{i:03d}.png")
        for i in range(spec.test_anomalous):
            d = f"type{i % spec.defect_types}"
            img(root / c / "test" / d / f"{i:03d}.png")
            (root / c / "ground_truth" / d).mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask).save(root / c / "ground_truth" / d / f"{i:03d}_mask.png")
        n += spec.train + spec.test_good + 2 * spec.test_anomalous
    return n


def make_project(dst: Path, tree: Path, categories: list[str]) -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for f in files:
        if f.startswith(("data/", "reports/")) or f == "dvc.lock" or not (ROOT / f).is_file():
            continue
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dst / f)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["categories"] = categories
    params["data"]["dataset"] = "folder"
    params["data"]["folder"]["root"] = str(tree)
    params["masks"]["per_image"] = 1
    params["train"].update(
        image_size=16, epochs=1, batch_size=32, model={"widths": [4, 8], "sdc_blocks": 1, "dilations": [1, 2]}
    )
    params["aggregate"]["bootstrap"] = 0
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(["git", "init", "-q"], dst)
    sh(["git", "add", "-A"], dst)
    sh(["git", "commit", "-qm", "bench"], dst)


def median_time(args: list[str], cwd: Path, runs: int) -> tuple[float, list[float]]:
    times = [sh(args, cwd) for _ in range(runs)]
    return statistics.median(times), times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bench_noop"))
    ap.add_argument("--categories", type=int, default=15)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--side", type=int, default=32)
    args = ap.parse_args()
    categories = sorted(OFFICIAL)[: args.categories]
    tree, repo = args.dir / "photos", args.dir / "repo"
    if not repo.is_dir():
        args.dir.mkdir(parents=True, exist_ok=True)
        n = write_tree(tree, categories, args.side)
        repo.mkdir()
        make_project(repo, tree, categories)
        print(f"{len(categories)} categories, {n} files; first dvc repro: {sh(['dvc', 'repro'], repo):.0f} s")
    files = sum(1 for _ in tree.rglob("*.png"))
    print(f"{files} files in {tree}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sh(["dvc", "repro"], repo)  # warm
    med, times = median_time(["dvc", "repro"], repo, args.runs)
    print(f"no-op dvc repro: median {med:.2f} s  ({', '.join(f'{t:.2f}' for t in times)})")
    alone, times = median_time([sys.executable, "stages/fingerprint.py"], repo, args.runs)
    print(f"fingerprint stage alone: median {alone:.2f} s  ({', '.join(f'{t:.2f}' for t in times)})")
    dvc_yaml = (repo / "dvc.yaml").read_text()
    try:
        (repo / "dvc.yaml").write_text(dvc_yaml.replace("    always_changed: true\n", ""))
        sh(["dvc", "repro"], repo)
        med0, times = median_time(["dvc", "repro"], repo, args.runs)
        print(
            f"no-op dvc repro without always_changed (the fingerprint stage skipped): median {med0:.2f} s  "
            f"({', '.join(f'{t:.2f}' for t in times)})"
        )
    finally:
        (repo / "dvc.yaml").write_text(dvc_yaml)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
