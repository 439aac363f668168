"""The one module that touches process-global state: RNG seeds, torch's kernels and threads,
the device, logging.

Why the CPU kernels are pinned (``runtime.reproducible``): torch picks its kernels by the CPU it
finds (ATen's vectorised ops by CPU capability, oneDNN's convolutions by instruction set, MKL by
code path), and oneDNN splits the convolution's weight-gradient reductions by thread count.
Measured on one AMD EPYC with AVX-512 (docs/reproducibility.md): ten training steps give other
weights under AVX-512 and AVX2 kernels, and under 1, 2 and 3 threads; inference (the score
stage) differs only under the generic (non-SIMD) kernels; numpy, scipy and scikit-learn (the
data, masks and aggregate stages) gave the same bytes under every setting tried (their one
CPU-dependent part, OpenBLAS's matrix products, is kept out of the image resize:
``ssae.data.resolution.resize``). Pinning AVX2
and a fixed thread count makes every x86-64 CPU with AVX2 run the same arithmetic, whatever
its core count.
"""

from __future__ import annotations

import logging
import os
import random

import numpy as np
import torch

# The libraries' own switches, read when they first dispatch a kernel (after `import torch`,
# before the first operation): AVX2, the widest instruction set all current x86-64 CPUs share
CPU_PINS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}


def pin_cpu(threads: int) -> None:
    """Pin torch's CPU kernels to AVX2 and to ``threads`` threads, for this process.

    Must run before torch's first operation (a kernel once chosen stays): raises
    ``RuntimeError`` when ATen did not end up on AVX2, i.e. a CPU without AVX2 (not x86-64,
    or older than 2013) or a torch operation that ran before this call.
    """
    os.environ.update(CPU_PINS)
    torch.set_num_threads(threads)
    got = torch.backends.cpu.get_cpu_capability()
    if got != "AVX2":
        raise RuntimeError(
            f"runtime.reproducible: torch's CPU kernels are {got}, not AVX2 (a CPU without AVX2, or a torch "
            "operation before runtime.setup); set runtime.reproducible: false to run with this machine's kernels"
        )


def setup(
    seed: int = 0, device: str = "auto", key: str = "device", reproducible: bool = True, threads: int = 2
) -> torch.device:
    """Seed every global RNG, choose torch's kernels, configure logging; return the device
        (``auto``: CUDA when present, else CPU; ``cuda`` without a GPU is a ``RuntimeError`` that
        names the params ``key`` it came from).

        ``reproducible``: on the CPU, ``pin_cpu(threads)`` (the same bytes on every AVX2 x86-64
        CPU); on CUDA, deterministic kernels, no cuDNN autotuning and no TF32 (exact repeats on one
        GPU model, slower). False: the machine's fastest kernels, cuDNN autotuning and TF32 on CUDA;
        results differ between CPU models, thread counts and GPU runs in the last bits, which
        training amplifies. ``threads`` > 0 sets torch's thread count in either mode (0: its default,
    not allowed when reproducible).

        Library code never relies on the global seeds (it takes explicit generators); seeding them
        only guards against a stray call that does.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"{key}: cuda was requested but torch sees no CUDA device (use auto or cpu)")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if reproducible and device == "cpu":
        pin_cpu(threads)
    elif threads:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(reproducible, warn_only=True)
    torch.backends.cudnn.benchmark = not reproducible
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = not reproducible
    return torch.device(device)
