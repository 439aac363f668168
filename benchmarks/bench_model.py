"""Training and inference speed of the default model, against this machine's matmul peak.

Usage: python benchmarks/bench_model.py [--sizes 128 256 512] [--device auto] [--seconds 3]

For the model of params.yaml (train.model) at each size: FLOPs per image (torch's
FlopCounterMode, 2 per multiply-add of convolutions), inference throughput (eval mode, no
autograd, batches), single-image latency, training throughput (forward + backward + AdamW step,
3x the forward FLOPs), and the achieved FLOP/s as a fraction of the peak measured in the same
run by timing a large float32 matmul (torch.mm, the best of several). Inference is timed in
the three forms the score stage could use: eager, channels-last, and ``torch.jit.freeze`` of a
trace (BatchNorm folded into the convolutions, oneDNN kernels). On CUDA (``--device cuda``, or
auto on a GPU machine) the model also runs with bfloat16 autocast and channels-last, as the
train stage does there (``train.amp``).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import torch

from ssae.core.config import load_params
from ssae.method.model import SDCCCM, count_flops, count_params


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: torch.device, seconds: float, warmup: int = 2) -> float:
    """Seconds per call: ``warmup`` calls, then as many as fit in ``seconds`` (at least 3)."""
    for _ in range(warmup):
        fn()
    sync(device)
    n, start = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - start < seconds:
        fn()
        n += 1
    sync(device)
    return (time.perf_counter() - start) / n


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int = 4096) -> float:
    """FLOP/s of the best of 5 (n x n) @ (n x n) products."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(5):
        sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--seconds", type=float, default=3.0, help="timing budget per measurement")
    ap.add_argument("--batch", type=int, default=0, help="images per batch (0: 16 on CUDA, 8/4/2 by size on CPU)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")  # trace/freeze: still the CPU path
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    cfg = load_params().train.model
    torch.manual_seed(0)
    model = SDCCCM(cfg).to(device)
    amp = device.type == "cuda"
    name = torch.cuda.get_device_name() if amp else f"CPU, {torch.get_num_threads()} threads"
    peak32 = matmul_peak(device, torch.float32)
    print(
        f"device: {name}; torch {torch.__version__}; model widths {list(cfg.widths)}, "
        f"{cfg.sdc_blocks} SDC blocks, dilations {list(cfg.dilations)}: {count_params(model):,} parameters"
    )
    print(f"matmul peak, float32: {peak32 / 1e9:.1f} GFLOP/s", end="")
    peak16 = matmul_peak(device, torch.bfloat16) if amp else None
    print(f"; bfloat16: {peak16 / 1e9:.1f} GFLOP/s" if peak16 else "")
    print()
    header = f"{'px':>4} {'GFLOP/img':>9} {'mode':<14} {'batch':>5} {'img/s':>8} {'GFLOP/s':>8} {'of peak':>7}"
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        flops = count_flops(model, size)
        batch = args.batch or (16 if amp else max(2, 8 * 128 // size))
        x = torch.rand(batch, 3, size, size, device=device)

        def report(mode: str, sec_per_batch: float, n: int, flop_per_img: float, peak: float) -> None:
            ips = n / sec_per_batch
            print(
                f"{size:>4} {flops / 1e9:>9.2f} {mode:<14} {n:>5} {ips:>8.1f} "
                f"{ips * flop_per_img / 1e9:>8.1f} {ips * flop_per_img / peak:>7.1%}"
            )

        model.eval()
        with torch.no_grad():  # not inference_mode: .to(channels_last) there would make the weights inference tensors
            if amp:
                m = model.to(memory_format=torch.channels_last)
                xc = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    report("infer bf16+CL", timed(lambda: m(xc), device, args.seconds), batch, flops, peak16)
                model = model.to(memory_format=torch.contiguous_format)
            report("infer eager", timed(lambda: model(x), device, args.seconds), batch, flops, peak32)
            report("latency eager", timed(lambda: model(x[:1]), device, args.seconds), 1, flops, peak32)
            if not amp:
                m = model.to(memory_format=torch.channels_last)
                xc = x.contiguous(memory_format=torch.channels_last)
                report("infer NHWC", timed(lambda: m(xc), device, args.seconds), batch, flops, peak32)
                model = model.to(memory_format=torch.contiguous_format)
                frozen = torch.jit.freeze(torch.jit.trace(model, x))
                report("infer frozen", timed(lambda: frozen(x), device, args.seconds), batch, flops, peak32)
                report("latency frozen", timed(lambda: frozen(x[:1]), device, args.seconds), 1, flops, peak32)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def step() -> None:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                y = model(x)
            loss = torch.mean((y.float() - x) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        report(
            "train" + (" bf16" if amp else ""),
            timed(step, device, args.seconds),
            batch,
            3 * flops,
            peak16 if amp else peak32,
        )
    print(
        "\nFLOP/s = images/s x FLOPs per image (training: 3x the forward FLOPs); 'of peak' is "
        "against the matmul peak above (bfloat16 peak for bfloat16 rows)."
    )


if __name__ == "__main__":
    main()
