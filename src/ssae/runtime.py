"""The one module that touches process-global state: RNG seeds, torch determinism, the device,
logging."""

from __future__ import annotations

import logging
import os
import random

import numpy as np
import torch


def setup(seed: int = 0, device: str = "auto", key: str = "device", deterministic: bool = True) -> torch.device:
    """Seed every global RNG, make torch deterministic, configure logging; return the device
    (``auto``: CUDA when present, else CPU; ``cuda`` without a GPU is a ``RuntimeError`` that
    names the params ``key`` it came from).

    ``deterministic`` matters on CUDA only (on the CPU the exact settings always apply): True
    asks for deterministic kernels and no cuDNN autotuning (exact repeats, slower); False lets
    cuDNN pick the fastest kernels and TF32 matmuls (repeats differ in the last bits).

    Library code never relies on these global seeds (it takes explicit generators); seeding
    them only guards against a stray call that does.
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
    exact = deterministic or device == "cpu"  # the CPU path is always the exact one
    torch.use_deterministic_algorithms(exact, warn_only=True)
    torch.backends.cudnn.benchmark = not exact
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = not exact
    return torch.device(device)
