"""Time `python stages/<stage>.py --help` (what a user waits for), each stage in a fresh process.

    python benchmarks/bench_help.py [--repeat 5]

Prints the median and worst wall time per stage; the target is < 1 s on 2 cores. The stages
import their heavy libraries (torch, pandas, matplotlib) inside the command, so --help loads
only typer, PyYAML and the small config modules.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("download", "masks", "train", "score", "aggregate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'stage':<10} {'median s':>9} {'worst s':>8}")
    for stage in STAGES:
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, str(ROOT / "stages" / f"{stage}.py"), "--help"],
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            times.append(time.perf_counter() - t0)
        print(f"{stage:<10} {statistics.median(times):>9.3f} {max(times):>8.3f}")


if __name__ == "__main__":
    main()
