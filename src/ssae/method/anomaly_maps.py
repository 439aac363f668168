"""Anomaly maps from a reconstruction: the error in one of two spaces, Gaussian-smoothed.

``score.map: l2`` is the paper's map: the squared error averaged over colour channels. Its
weakness on real images: it scales with brightness, so a bright specular highlight that is
reconstructed slightly off outweighs a dark defect that is not reconstructed at all.
``msgms`` is 1 - the multi-scale gradient magnitude similarity (as in RIAD, Zavrtanik et al.
2021): at 4 scales (1, 1/2, 1/4, 1/8), the local gradient magnitudes g of the input and of the
reconstruction (grey, 3x3 Prewitt) are compared as (2 g1 g2 + c) / (g1^2 + g2^2 + c), a
contrast-normalised similarity in (0, 1]; the four maps are upsampled and averaged. It sees a
missing edge, stain or scratch whatever its brightness, and ignores smooth intensity offsets.
On real MVTec AD pill it did not beat ``l2`` (README, ablations), so ``l2`` stays the default.

``score.spread: pixel`` changes the image score, not the map: ``pixel_spread`` is each
pixel's standard deviation of the map over the trained normal images, plus ``floor`` times the
standard deviation of all their pixels together (a pixel that never varied, such as a uniform
background, would otherwise turn a trace of noise into a top score); the image score is then
taken from ``map / spread``. On an aligned object the error is largest where normal images
differ most (edges, imprints, highlights): dividing by that spread lets a small error where
normal images agree outrank a larger one where they do not.
"""

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
        .float()
        .cpu()
        .numpy()
        for i in range(0, len(images), batch_size)
    ]
    return np.ascontiguousarray(np.concatenate(out)) if out else np.zeros_like(images)


MAPS = ("l2", "msgms")
_GMS_C = 0.0026  # RIAD's stabilising constant for images in [0, 1]


def _gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) -> (N, 1, H, W): magnitude of the 3x3 Prewitt gradient (replicated borders)."""
    k = torch.tensor([[1.0, 0.0, -1.0]] * 3, dtype=x.dtype, device=x.device) / 3
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(padded, k[None, None]), F.conv2d(padded, k.t()[None, None])
    return torch.sqrt(gx**2 + gy**2 + 1e-12)


def gms_map(x: torch.Tensor, y: torch.Tensor, scales: int = 4) -> torch.Tensor:
    """(N, 3, S, S) inputs and reconstructions -> (N, S, S): 1 - the mean over ``scales`` dyadic
    scales of the gradient magnitude similarity of the grey images (torch ops that export to ONNX)."""
    x, y = x.mean(1, keepdim=True), y.mean(1, keepdim=True)
    out = torch.zeros_like(x)
    for s in range(scales):
        xs, ys = (F.avg_pool2d(x, 2**s), F.avg_pool2d(y, 2**s)) if s else (x, y)
        gx, gy = _gradient_magnitude(xs), _gradient_magnitude(ys)
        gms = (2 * gx * gy + _GMS_C) / (gx**2 + gy**2 + _GMS_C)
        out = out + F.interpolate(1 - gms, size=x.shape[2:], mode="bilinear", align_corners=False)
    return (out / scales)[:, 0]


@torch.no_grad()
def msgms(images: np.ndarray, recon: np.ndarray, scales: int = 4) -> np.ndarray:
    """(N, 3, S, S) inputs and reconstructions -> (N, S, S) float32 in [0, 1] (``gms_map``)."""
    return gms_map(torch.from_numpy(images), torch.from_numpy(recon), scales).numpy().astype(np.float32)


def anomaly_maps(images: np.ndarray, recon: np.ndarray, sigma: float, kind: str = "l2") -> np.ndarray:
    """(N, 3, S, S) inputs and reconstructions -> (N, S, S) float32 maps: ``l2`` (mean over
    channels of the squared error) or ``msgms`` (see the module doc), then a Gaussian filter of
    std ``sigma`` px (0: none)."""
    if kind == "l2":
        maps = ((images - recon) ** 2).mean(axis=1).astype(np.float32)
    elif kind == "msgms":
        maps = msgms(images, recon)
    else:
        raise ValueError(f"unknown anomaly map {kind!r} (known: {list(MAPS)})")
    if sigma > 0:
        maps = np.stack([ndimage.gaussian_filter(m, sigma, mode="reflect") for m in maps])
    return maps


def topk_count(n_pixels: int, topk: float) -> int:
    """Pixels averaged by the image score: ``topk`` of ``n_pixels``, at least 1 (topk 0: the max)."""
    return max(1, int(round(topk * n_pixels)))


def pixel_spread(maps: np.ndarray, floor: float) -> np.ndarray:
    """(N, H, W) maps of normal images, N >= 2 -> (H, W) float32 > 0: each pixel's standard
    deviation over the N maps plus ``floor`` times the standard deviation of all their pixels
    (module doc)."""
    if len(maps) < 2:
        raise ValueError(f"needs the maps of at least 2 normal images, got {len(maps)}")
    m = maps.astype(np.float64)
    overall = float(m.std())
    if not overall > 0:
        raise ValueError("the normal images' maps are all equal: nothing to divide by")
    return (m.std(axis=0) + floor * overall).astype(np.float32)


def image_scores(maps: np.ndarray, topk: float = 0.0, spread: np.ndarray | None = None) -> np.ndarray:
    """(N, H, W) -> (N,) float32: the mean of each map's highest ``topk`` fraction of pixels; the
    maximum (the official MVTec image score) for ``topk`` 0. A mean over a small area is less
    at the mercy of one noisy pixel than the maximum, and still small enough for small defects.
    ``spread`` (H, W): taken from ``maps / spread`` instead (``pixel_spread``)."""
    if spread is not None:
        maps = maps / spread
    flat = maps.reshape(len(maps), -1)
    k = topk_count(flat.shape[1], topk)
    if k == 1:
        return flat.max(axis=1)
    return np.partition(flat, flat.shape[1] - k, axis=1)[:, -k:].mean(axis=1, dtype=np.float64).astype(np.float32)
