"""Anomaly maps: channel-mean squared reconstruction error, Gaussian-smoothed."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch import nn


@torch.no_grad()
def reconstruct(model: nn.Module, images: np.ndarray, batch_size: int, device: torch.device) -> np.ndarray:
    """(N, 3, S, S) float32 in [0, 1] -> reconstructions (N, 3, S, S) float32 (one forward pass each).

    Runs channels-last (NHWC): oneDNN's convolutions are faster in that layout on CPUs too
    (55 % instead of 41 % of the matmul peak at 128 px, benchmarks/bench_model.py).
    """
    model.eval().to(memory_format=torch.channels_last)
    out = [
        model(torch.from_numpy(images[i : i + batch_size]).to(device).contiguous(memory_format=torch.channels_last))
        .float().cpu().numpy()
        for i in range(0, len(images), batch_size)
    ]
    return np.ascontiguousarray(np.concatenate(out)) if out else np.zeros_like(images)


def anomaly_maps(images: np.ndarray, recon: np.ndarray, sigma: float) -> np.ndarray:
    """(N, 3, S, S) inputs and reconstructions -> (N, S, S) float32 maps: mean over channels of
    the squared error, then a Gaussian filter of std ``sigma`` px (0: none)."""
    maps = ((images - recon) ** 2).mean(axis=1).astype(np.float32)
    if sigma > 0:
        maps = np.stack([ndimage.gaussian_filter(m, sigma, mode="reflect") for m in maps])
    return maps


def image_scores(maps: np.ndarray) -> np.ndarray:
    """(N, H, W) -> (N,) float32: the maximum of each map (the official MVTec image score)."""
    return maps.reshape(len(maps), -1).max(axis=1)
