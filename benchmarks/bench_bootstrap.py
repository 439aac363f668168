"""Time the bootstrap intervals of one category's score file, as the aggregate stage computes
them (official ground-truth resolution), and check them against the exact metrics.

    python benchmarks/bench_bootstrap.py data/scores/brick.npz [--resamples 1000]

Prints the seconds of the exact metrics and of the resamples, and for each metric the exact
value, the grid's value with every image once (its error) and the interval.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ssae.evaluation import bootstrap as bs
from ssae.evaluation.metrics import evaluate
from ssae.data.resolution import at_resolution
from ssae.evaluation.score_file import load_scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scores", help="a score file of the score stage (data/scores/<category>.npz)")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--fpr-limit", type=float, default=0.3)
    args = ap.parse_args()
    d = load_scores(args.scores)
    maps, gt = at_resolution(d["maps"], d["gt"], "ground_truth")
    print(
        f"{len(maps)} test images at {maps.shape[2]}x{maps.shape[1]} px ({maps[0].size * len(maps) / 1e6:.0f} M pixels)"
    )
    t = time.perf_counter()
    exact, _ = evaluate(d["scores"], d["labels"], maps, gt, args.fpr_limit)
    t_exact = time.perf_counter() - t
    t = time.perf_counter()
    counts = bs.pixel_counts(maps, gt, 4096)
    t_counts = time.perf_counter() - t
    one = np.ones((1, len(maps)))
    grid = {
        "image_auroc": bs.image_auroc(d["scores"], d["labels"], one)[0],
        "image_f1_max": bs.image_f1_max(d["scores"], d["labels"], one)[0],
        **{k: v[0] for k, v in bs.pixel_metrics(counts, one, args.fpr_limit).items()},
    }
    t = time.perf_counter()
    reps = bs.replicates(d["scores"], d["labels"], maps, gt, n=args.resamples, seed=0, fpr_limit=args.fpr_limit)
    t_reps = time.perf_counter() - t
    print(
        f"exact metrics {t_exact:.1f} s; pixel counts {t_counts:.1f} s; "
        f"{args.resamples} resamples incl. counts {t_reps:.1f} s"
    )
    for k in bs.METRICS:
        lo, hi = bs.interval(reps[k], 0.95)
        print(
            f"{k:13s} exact {100 * exact[k]:6.2f}  grid {100 * grid[k]:6.2f} (error {grid[k] - exact[k]:+.1e})"
            f"  95 % interval {100 * lo:5.1f}-{100 * hi:5.1f}"
        )


if __name__ == "__main__":
    main()
