"""Every change of resolution, in one place.

Images to the model (``resize``; ``resize_weights``): every image is resized to the model's
square side ``S`` (a non-square image is stretched) by an antialiased bilinear filter, in value
the matrix product ``Wh @ x @ Ww.T`` with ``W = resize_weights(n_in, n_out)`` (computed tap by
tap, the same bytes on every CPU: ``resize``): output pixel
``i`` averages the input pixels ``j`` with triangle weights ``max(0, 1 - |j + 0.5 - c_i| / s)``,
``c_i = (i + 0.5) n_in / n_out``, ``s = max(n_in / n_out, 1)``, normalised per row. That is PIL's
BILINEAR filter (and torch's ``antialias=True``) in float, without PIL's rounding to 8 bits;
upsampling is plain bilinear with half-pixel centres. ``resize_weights_torch`` computes the same
matrices in torch inside the ONNX graph (``ssae.deploy.scorer``), so the pipeline, ``predict``
and onnxruntime see the same pixels up to float32 rounding.

Anomaly maps and ground-truth masks at the evaluation resolution (``aggregate.eval_resolution``,
``at_resolution``): ``ground_truth``: maps upsampled bilinearly to the masks (the official
protocol); ``model``: masks downsampled to the maps (a pixel is a defect if at least half of its
area is). numpy only (torch is imported by ``resize_weights_torch`` alone): the aggregate stage
does not need torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def resize_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float32 rows summing to 1: the antialiased bilinear filter of the module doc."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centre = (np.arange(n_out, dtype=np.float64) + 0.5) * scale  # in input pixels
    w = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in) + 0.5 - centre[:, None]) / support)
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


def _taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero band of ``resize_weights(n_in, n_out)`` as (T, n_out) input indices and
    float32 weights, tap ``t`` of output ``i`` being input ``start_i + t`` (weight 0 past the band)."""
    w = resize_weights(n_in, n_out)
    nz = w > 0
    start = nz.argmax(axis=1)
    width = n_in - nz[:, ::-1].argmax(axis=1) - start
    t = np.arange(width.max())[:, None]
    index = np.minimum(start + t, n_in - 1)
    return index, np.where(t < width, w[np.arange(n_out), index], np.float32(0)).astype(np.float32)


def _resize_axis0(x: np.ndarray, n_out: int) -> np.ndarray:
    index, weight = _taps(x.shape[0], n_out)
    extra = (None,) * (x.ndim - 1)
    out = weight[0][(slice(None), *extra)] * x[index[0]]
    for i, w in zip(index[1:], weight[1:]):
        out += w[(slice(None), *extra)] * x[i]
    return out


def resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, C) or (H, W) float32 -> (h, w, C) or (h, w) float32 through ``resize_weights``.

    The same bytes on every CPU: each output pixel is accumulated tap by tap in a fixed order
    with element-wise float32 multiplies and adds (IEEE-exact everywhere), never through a
    matrix product, whose BLAS kernel (chosen per CPU by OpenBLAS) sums in another order and
    changes the last bits; so the channels of a greyscale image stay equal as well."""
    h, w = shape
    image = image.astype(np.float32)
    if image.shape[:2] == (h, w):
        return image
    rows = _resize_axis0(image, h)
    return np.ascontiguousarray(_resize_axis0(rows.swapaxes(0, 1), w).swapaxes(0, 1))


def resize_weights_torch(n_in: torch.Tensor, n_out: torch.Tensor) -> torch.Tensor:
    """(n_out, n_in) float32: ``resize_weights`` in torch, sizes as 0-d tensors (so an
    exported graph takes any size)."""
    import torch

    scale = n_in.float() / n_out.float()
    support = torch.clamp(scale, min=1.0)
    centre = (torch.arange(n_out).float() + 0.5) * scale
    w = torch.relu(1.0 - torch.abs(torch.arange(n_in).float()[None, :] + 0.5 - centre[:, None]) / support)
    return w / w.sum(dim=1, keepdim=True)


def _linear(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights (i0, i1, w0, w1) of ``n_out`` samples of ``n_in``, as torch's
    bilinear interpolation with ``align_corners=False`` computes them (in float32)."""
    scale = np.float32(n_in) / np.float32(n_out)
    src = np.maximum(scale * (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5), np.float32(0))
    i0 = np.minimum(src.astype(np.int64), n_in - 1)  # floor: src >= 0
    w1 = np.clip(src - i0.astype(np.float32), 0, 1).astype(np.float32)
    return i0, np.minimum(i0 + 1, n_in - 1), (np.float32(1) - w1).astype(np.float32), w1


def upsample(maps: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(N, h, w) maps -> (N, H, W) float32, bilinear with half-pixel centres (torch's
    ``interpolate(mode="bilinear", align_corners=False)`` up to float32 rounding, < 1e-6 for
    maps in [0, 1])."""
    maps = maps.astype(np.float32)
    if maps.shape[1:] == tuple(shape):
        return maps
    h0, h1, a0, a1 = _linear(maps.shape[1], shape[0])
    w0, w1, b0, b1 = _linear(maps.shape[2], shape[1])
    top, bottom = maps[:, h0], maps[:, h1]  # (N, H, w)
    top = top[:, :, w0] * b0 + top[:, :, w1] * b1  # (N, H, W)
    bottom = bottom[:, :, w0] * b0 + bottom[:, :, w1] * b1
    return top * a0[:, None] + bottom * a1[:, None]


def downsample_masks(masks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(N, H, W) bool -> (N, h, w) bool: a pixel is a defect if at least half of its area is
    (the cells of torch's ``adaptive_avg_pool2d``: rows floor(i H / h) to ceil((i + 1) H / h))."""
    if masks.shape[1:] == tuple(shape):
        return masks
    n, big_h, big_w = masks.shape
    h, w = shape
    integral = np.zeros((n, big_h + 1, big_w + 1), np.int64)  # integral[:, y, x] = defect pixels above-left
    integral[:, 1:, 1:] = masks.astype(np.int64).cumsum(1).cumsum(2)
    r0, r1 = (np.arange(h) * big_h) // h, -((-(np.arange(h) + 1) * big_h) // h)
    c0, c1 = (np.arange(w) * big_w) // w, -((-(np.arange(w) + 1) * big_w) // w)
    count = (
        integral[:, r1][:, :, c1] - integral[:, r0][:, :, c1] - integral[:, r1][:, :, c0] + integral[:, r0][:, :, c0]
    )  # (N, h, w)
    area = (r1 - r0)[:, None] * (c1 - c0)[None, :]
    return 2 * count >= area


def at_resolution(maps: np.ndarray, masks: np.ndarray, eval_resolution: str) -> tuple[np.ndarray, np.ndarray]:
    """(maps (N, h, w), masks (N, H, W)) -> both at the resolution ``eval_resolution`` names
    (``ground_truth`` or ``model``); maps float32, masks bool."""
    if eval_resolution == "ground_truth":
        return upsample(maps, masks.shape[1:]), masks
    return maps.astype(np.float32), downsample_masks(masks, maps.shape[1:])
