"""Time and peak memory of `python -m ssae.deploy.predict` on one 6000 x 4000 JPEG (issue 18: target
<= 2 s and <= 1 GB), on torch and on onnxruntime, with the default --max-side (decoded reduced)
and with --max-side 0 (full size, the behaviour before).

Usage: python benchmarks/bench_large_jpeg.py [--model-size 64] [--runs 3] [--side 6000x4000]

Each run is a fresh process, as a user runs it. Printed per configuration, as medians over the
runs: the whole command's wall time (interpreter start and imports included), the time predict
itself reports (reading, scoring and writing the image), the process's CPU time (user + system:
what a loaded machine's wall time hides) and its peak RSS
(``resource.getrusage(RUSAGE_CHILDREN)`` in a fresh wrapper process per run). The model is
params.yaml's train.model with seeded random weights (speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_predict import make_model  # noqa: E402


def run_once(args: list[str]) -> tuple[float, float, float, float]:
    """(wall s, predict's own s, peak RSS MB, CPU s) of one fresh process."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(r.returncode, wall, u.ru_maxrss / 1024, u.ru_utime + u.ru_stime)\n"
        "print(r.stdout + r.stderr, file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    rc, wall, peak, cpu = r.stdout.split()
    if rc != "0":
        raise SystemExit(f"predict failed:\n{r.stderr}")
    own = float(re.search(r"in ([0-9.]+) s:", r.stderr).group(1))
    return float(wall), own, float(peak), float(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-size", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--side", default="6000x4000")
    args = ap.parse_args()
    w, h = map(int, args.side.split("x"))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in __import__('os').getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(0)
        small = rng.normal(128, 40, (h // 50, w // 50, 3)).clip(0, 255).astype(np.uint8)
        Image.fromarray(small).resize((w, h), Image.BICUBIC).save(tmp / "photo.jpg", quality=90)
        print(f"{w} x {h} JPEG, {(tmp / 'photo.jpg').stat().st_size / 1e6:.1f} MB; model {args.model_size} px")
        folder = tmp / "model"
        make_model(folder, args.model_size)
        onnx = tmp / "model.onnx"
        subprocess.run(
            [sys.executable, "-m", "ssae.deploy.export", str(folder), str(onnx)], check=True, capture_output=True
        )
        for model in (onnx, folder):
            for max_side in ("1024", "0"):
                results = []
                for _ in range(args.runs):
                    out = tmp / f"out{time.monotonic_ns()}"
                    results.append(
                        run_once(
                            [
                                sys.executable,
                                "-m",
                                "ssae.deploy.predict",
                                str(model),
                                str(tmp / "photo.jpg"),
                                "--out",
                                str(out),
                                "--device",
                                "cpu",
                                "--max-side",
                                max_side,
                            ]
                        )
                    )
                wall, own, peak, cpu = (statistics.median(x) for x in zip(*results))
                print(
                    f"{'onnx' if model == onnx else 'torch'} --max-side {max_side:>4}: wall {wall:.2f} s "
                    f"(predict's own {own:.2f} s), CPU {cpu:.2f} s, peak RSS {peak:.0f} MB  [median of {args.runs}; "
                    f"walls {', '.join(f'{r[0]:.2f}' for r in results)}]"
                )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in __import__('os').getloadavg())}")


if __name__ == "__main__":
    main()
