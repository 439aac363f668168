"""Anomaly maps: channel-mean squared reconstruction error, Gaussian-smoothed."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch import nn
from torch.nn import functional as F


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


def upsample(maps: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(N, h, w) maps -> (N, H, W) float32, bilinear (for evaluation at ground-truth resolution)."""
    if maps.shape[1:] == tuple(shape):
        return maps.astype(np.float32)
    t = torch.from_numpy(maps.astype(np.float32))[:, None]
    return F.interpolate(t, size=tuple(shape), mode="bilinear", align_corners=False)[:, 0].numpy()


def downsample_masks(masks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(N, H, W) bool -> (N, h, w) bool: a pixel is a defect if at least half of its area is."""
    if masks.shape[1:] == tuple(shape):
        return masks
    t = torch.from_numpy(masks.astype(np.float32))[:, None]
    return (F.adaptive_avg_pool2d(t, tuple(shape))[:, 0] >= 0.5).numpy()
