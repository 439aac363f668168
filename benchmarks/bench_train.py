"""Training throughput with and without the data path, and inference throughput.

Usage: python benchmarks/bench_train.py [--sizes 128 256] [--device auto] [--batch 0] [--seconds 5]
                                       [--reproducible] [--threads 0] [--widths 16,32,64,128 ...]
                                       [--ssim-weights 0 1]

For the model and training config of params.yaml, on random images and a random mask bank of
the given size (the speed does not depend on the pixels):

- ``train, data path on``: one full training step as the train stage runs it -- plan the batch
  (per-sample host draws), build it on the device (``ssae.method.corruption.make_batch``: augmentation,
  corruption), forward, loss, backward, AdamW step;
- ``train, data path off``: the same step on one pre-built batch;
- ``data path only``: planning and building the batch alone;
- ``inference``: eval-mode forward passes, as the score stage runs them.

The data path's share of a step is 1 - (off / on) throughput. ``--widths`` times other
``train.model.widths`` (one comma-separated list per model): the step counts of an equal-time
width comparison (docs/accuracy.md section 3) come from its ``train+data`` column; ``--ssim-weights``
times the loss with other ``train.ssim_weight`` values (0: L2 only). ``--reproducible`` runs as the
stages do with ``runtime.reproducible: true`` (CPU: AVX2 kernels, ``--threads`` threads, 2 if
not given); without it, the machine's fastest kernels and ``--threads`` (0: all cores). On CUDA the model runs as the
train stage runs it there (bfloat16 autocast and channels-last when ``train.amp``); timings are
synchronised with the device.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable

import numpy as np
import torch

from ssae.method import corruption

from ssae.core import runtime
from ssae.core.config import load_params
from ssae.core.schema import ConfigError
from ssae.method.model import SDCCCM, count_params
from ssae.method.training import train_step

from bench_model import timed  # benchmarks/ is this script's folder, on sys.path


def rate(fn: Callable[[], object], device: torch.device, seconds: float, images: int) -> float:
    """Images per second of ``fn``, which handles ``images`` per call (timed as bench_model does)."""
    return images / timed(fn, device, seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--batch", type=int, default=0, help="images per batch (0: 64 on CUDA, train.batch_size on CPU)")
    ap.add_argument("--seconds", type=float, default=5.0, help="timing budget per measurement")
    ap.add_argument("--images", type=int, default=256, help="training images (random) held on the device")
    ap.add_argument(
        "--reproducible", action="store_true", help="runtime.reproducible: true (pinned kernels and threads)"
    )
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: 2 reproducible, else all cores)")
    ap.add_argument(
        "--widths", nargs="+", default=None, help="train.model.widths to time, each comma-separated (default: params')"
    )
    ap.add_argument(
        "--ssim-weights", type=float, nargs="+", default=None, help="train.ssim_weight values (default: params')"
    )
    args = ap.parse_args()
    threads = args.threads if args.threads is not None else (2 if args.reproducible else 0)
    device = runtime.setup(0, args.device, reproducible=args.reproducible, threads=threads)
    params = load_params()
    try:
        widths = [tuple(int(c) for c in w.split(",")) for w in args.widths or []] or [params.train.model.widths]
    except ValueError:
        ap.error(f"--widths: each must be comma-separated integers such as 16,32,64,128, got {args.widths}")
    ssim_weights = args.ssim_weights or [params.train.ssim_weight]
    try:  # TrainConfig checks each value as params.yaml's would be checked
        cfgs = [
            dataclasses.replace(
                params.train, image_size=s, model=dataclasses.replace(params.train.model, widths=w), ssim_weight=sw
            )
            for w in widths
            for sw in ssim_weights
            for s in args.sizes
        ]
    except ConfigError as e:
        ap.error(str(e))
    amp = params.train.amp and device.type == "cuda"
    bs = args.batch or (64 if device.type == "cuda" else params.train.batch_size)
    name = (
        torch.cuda.get_device_name()
        if device.type == "cuda"
        else f"CPU ({torch.backends.cpu.get_cpu_capability()} kernels), {torch.get_num_threads()} threads"
    )
    print(f"device: {name}; torch {torch.__version__}; batch {bs}; amp {amp}")
    print(
        f"{'widths':>16} {'ssim':>5} {'px':>4} {'params':>9} {'train+data':>11} {'train only':>11} {'data only':>10} "
        f"{'data share':>10} {'inference':>10}  (img/s)"
    )
    for cfg in cfgs:
        size = cfg.image_size
        gen = np.random.default_rng(0)
        images = torch.from_numpy(gen.random((args.images, 3, size, size), dtype=np.float32)).to(device)
        bank = torch.from_numpy((gen.random((args.images, size, size)) < 0.05).astype(np.uint8)).to(device)
        # channels-last on every device, as ``training.train`` runs the model
        model = SDCCCM(cfg.model).to(device).to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
        policy = "flip_rot"  # the most work the data path can do
        step = [0]

        def build() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            step[0] += 1
            idx = np.random.default_rng(step[0]).permutation(args.images)[:bs]
            plan = corruption.plan_batch(idx, args.images, len(bank), cfg, 0, step[0], policy)
            return corruption.make_batch(
                images, bank, plan, cfg, policy, corruption.batch_generator(0, step[0], 0, device)
            )

        model.train()
        fixed = build()
        on = rate(lambda: train_step(model, opt, *build(), cfg, amp), device, args.seconds, bs)
        off = rate(lambda: train_step(model, opt, *fixed, cfg, amp), device, args.seconds, bs)
        data = rate(build, device, args.seconds, bs)
        model.eval()
        x = fixed[0].contiguous(memory_format=torch.channels_last)

        @torch.no_grad()
        def infer() -> None:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                model(x)

        inf = rate(infer, device, args.seconds, bs)
        share = max(0.0, 1 - on / off)
        print(
            f"{','.join(map(str, cfg.model.widths)):>16} {cfg.ssim_weight:>5g} {size:>4} {count_params(model):>9,} "
            f"{on:>11.1f} {off:>11.1f} {data:>10.1f} {share:>10.1%} {inf:>10.1f}"
        )


if __name__ == "__main__":
    main()
