"""Training time per image against batch size, at the same images: is a small batch free?

Usage: python benchmarks/bench_batch.py [--batches 4 16] [--size 128] [--images 128] [--rounds 5]

For each round and each batch size in turn (A B A B ..., so a drift in the machine's speed
affects all alike), trains one fresh model of params.yaml's config on ``--images`` random images
in batches of that size, as the train stage does (plan, build the corrupted batch, forward, loss,
backward, AdamW step), and times it. CPU, ``runtime.reproducible`` kernels and 2 threads, as the
stages run. Prints the median milliseconds per training image per batch size and, per round,
each batch size's time over the first one's (the ratio to quote).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import torch

from ssae.core import runtime
from ssae.core.config import load_params
from ssae.method import corruption
from ssae.method.model import SDCCCM, init_weights
from ssae.method.training import train_step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--images", type=int, default=128, help="training images per timed run")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    device = runtime.setup(0, "cpu", reproducible=True, threads=2)
    params = load_params()
    gen = np.random.default_rng(0)
    images = torch.from_numpy(gen.random((args.images, 3, args.size, args.size), dtype=np.float32))
    bank = torch.from_numpy((gen.random((args.images, args.size, args.size)) < 0.05).astype(np.uint8))
    print(
        f"CPU ({torch.backends.cpu.get_cpu_capability()} kernels), {torch.get_num_threads()} threads; "
        f"{args.size} px, {args.images} images per run"
    )

    def run(bs: int) -> float:
        cfg = dataclasses.replace(params.train, image_size=args.size, batch_size=bs)
        model = init_weights(SDCCCM(cfg.model), torch.Generator().manual_seed(0))
        model = model.to(memory_format=torch.channels_last).train()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
        order = np.arange(args.images)
        start = time.perf_counter()
        for step, i in enumerate(range(0, args.images, bs)):
            plan = corruption.plan_batch(order[i : i + bs], args.images, len(bank), cfg, 0, 0, "none")
            gen_step = corruption.batch_generator(0, 0, step, device)
            batch = corruption.make_batch(images, bank, plan, cfg, "none", gen_step)
            train_step(model, opt, *batch, cfg, False)
        return time.perf_counter() - start

    run(args.batches[0])  # warm-up (oneDNN primitive creation)
    times: dict[int, list[float]] = {b: [] for b in args.batches}
    for r in range(args.rounds):
        for b in args.batches:
            times[b].append(run(b))
        first = times[args.batches[0]][-1]
        row = (f"batch {b} {times[b][-1]:.2f} s ({times[b][-1] / first:.3f}x)" for b in args.batches)
        print(f"round {r + 1}: " + ", ".join(row))
    for b in args.batches:
        ms = statistics.median(times[b]) / args.images * 1000
        ratio = statistics.median(t / f for t, f in zip(times[b], times[args.batches[0]]))
        print(f"batch {b:>3}: {ms:.1f} ms per image (median of {args.rounds}); {ratio:.3f}x batch {args.batches[0]}")


if __name__ == "__main__":
    main()
