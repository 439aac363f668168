"""Training step time in NCHW against channels-last (NHWC), the same model and batch, alternated.

Usage: python benchmarks/bench_train_layout.py [--size 128] [--batch 16] [--threads 1] [--rounds 6]

Two models (the config of params.yaml) train side by side on one random batch: each round times
two AdamW steps of each layout, one after the other, so a load that comes and goes hits both
alike; the first round is a warm-up. Prints the median seconds per step of each and their ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ssae.core.config import load_params
from ssae.method.model import SDCCCM
from ssae.method.training import loss_fn


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_params().train
    x = torch.rand(args.batch, 3, args.size, args.size)
    masks = torch.zeros(args.batch, 1, args.size, args.size)
    runs = {}
    for layout in ("NCHW", "channels-last"):
        model = SDCCCM(cfg.model)
        if layout == "channels-last":
            model = model.to(memory_format=torch.channels_last)
        runs[layout] = (model, torch.optim.AdamW(model.parameters(), 1e-3), [])
    for _ in range(args.rounds):
        for layout, (model, opt, times) in runs.items():
            xi = x.contiguous(memory_format=torch.channels_last) if layout == "channels-last" else x
            t = time.perf_counter()
            for _ in range(2):
                loss = loss_fn(model(xi), x, masks, cfg.corrupt_weight)
                opt.zero_grad()
                loss.backward()
                opt.step()
            times.append((time.perf_counter() - t) / 2)
    med = {layout: float(np.median(r[2][1:])) for layout, r in runs.items()}
    for layout, m in med.items():
        print(f"{layout:14s} {m:.3f} s/step  {args.batch / m:.1f} img/s")
    print(f"NCHW / channels-last: {med['NCHW'] / med['channels-last']:.2f}x")


if __name__ == "__main__":
    main()
