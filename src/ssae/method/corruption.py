"""Training-time corruption, the self-supervision of the method: batches built on the training device.

The images (N, 3, S, S) and the mask bank (M, S, S) live on the device; a batch is a list of
image indices. Everything random about one sample (its flip/rotation, whether and how it is
corrupted, the mask, the fill, the opacity, and the coarse random fields behind the elastic
warp and the procedural texture) is drawn on the host from a generator seeded by
(seed, epoch, image) -- a few dozen numbers and a few small arrays per sample -- so the plan
of a batch is the same on every device. Full-resolution i.i.d. noise (texture grain, the
Gaussian noise of ``noise: gaussian`` and ``input_noise_std``) is drawn on the device from a
generator seeded by (seed, epoch, batch). The heavy work (gathers, ``grid_sample`` warps,
upsampling, blending) is batched on the device: no per-sample host work at full resolution,
no host sync.

Fills of a corrupted region (weights ``fill_*``):
- ``patch``: another training image, cyclically shifted (a gather);
- ``elastic``: the image itself, shifted by up to a quarter of the side and warped by a smooth
  random displacement field (a coarse 9x9 field, bicubically upsampled; ``grid_sample``);
- ``texture``: smooth noise of random correlation length (a coarse field of 4-64 cells per
  side, upsampled), random mean colour and contrast, grey or coloured, plus fine grain.
All fill geometry is relative to the image side, so 128 px and 256 px runs see the same
corruptions. A greyscale image (three equal channels) is corrupted in grey: texture fills by the
mean of their channels, i.i.d. noise by its first channel. A coloured fill on a grey category is
found by its colour alone, which teaches nothing about the category's real (grey) defects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ssae.method.augment import TRANSFORMS, dihedral
from ssae.method.model import greyscale
from ssae.core.config import TrainConfig

PATCH, ELASTIC, TEXTURE = 0, 1, 2
WARP_GRID = 9  # coarse displacement field, cells per side
WARP_STD = 0.03  # displacement std, in grid_sample units (2 = the whole side): 1.5 % of the side
TEXTURE_GRIDS = (4, 8, 16, 32, 64)  # coarse texture fields, cells per side (correlation length)


@dataclass
class Plan:
    """What happens to each sample of a batch (host arrays, length B)."""

    index: np.ndarray  # (B,) training image
    transform: np.ndarray  # (B,) index into the policy's TRANSFORMS
    corrupted: np.ndarray  # (B,) bool
    mask: np.ndarray  # (B,) bank index
    turns: np.ndarray  # (B,) quarter turns of the mask
    fill: np.ndarray  # (B,) PATCH | ELASTIC | TEXTURE
    other: np.ndarray  # (B,) source image of a patch fill
    shift: np.ndarray  # (B, 2) fraction of the side, patch roll (y, x) or elastic shift in [-1/4, 1/4]
    opacity: np.ndarray  # (B,)
    warp: np.ndarray  # (B, 2, WARP_GRID, WARP_GRID) unit normal, elastic displacement
    tex_noise: list  # B arrays (3, g, g) unit normal, g in TEXTURE_GRIDS (None: no texture fill)
    tex_grey: np.ndarray  # (B,) bool
    tex_mean: np.ndarray  # (B, 3)
    tex_contrast: np.ndarray  # (B,)
    tex_grain: np.ndarray  # (B,) grain std
    crop: np.ndarray | None = None  # (B, 2) top-left corner (y, x) of the training crop, px (train.crop)


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one training sample's augmentation and corruption."""
    return np.random.default_rng([seed, epoch, index])


def plan_batch(
    idx: np.ndarray, n_images: int, n_masks: int, cfg: TrainConfig, seed: int, epoch: int, policy: str
) -> Plan:
    """Draw every per-sample decision of a batch, each sample from its own (seed, epoch, image)
    generator, in a fixed order (so a sample's draws do not depend on the rest of the batch)."""
    b = len(idx)
    p = Plan(
        index=np.asarray(idx, np.int64),
        transform=np.zeros(b, np.int64),
        corrupted=np.zeros(b, bool),
        mask=np.zeros(b, np.int64),
        turns=np.zeros(b, np.int64),
        fill=np.zeros(b, np.int64),
        other=np.zeros(b, np.int64),
        shift=np.zeros((b, 2)),
        opacity=np.ones(b),
        warp=np.zeros((b, 2, WARP_GRID, WARP_GRID), np.float32),
        tex_noise=[None] * b,
        tex_grey=np.zeros(b, bool),
        tex_mean=np.zeros((b, 3)),
        tex_contrast=np.zeros(b),
        tex_grain=np.zeros(b),
    )
    weights = np.array([cfg.fill_patch if n_images > 1 else 0.0, cfg.fill_elastic, cfg.fill_texture])
    n_transforms = len(TRANSFORMS[policy])
    for j, i in enumerate(p.index):
        rng = sample_rng(seed, epoch, int(i))
        if n_transforms > 1:
            p.transform[j] = rng.integers(n_transforms)
        p.corrupted[j] = cfg.noise != "none" and rng.random() < cfg.corrupt_prob
        if not p.corrupted[j] or cfg.noise != "structured":
            continue
        p.mask[j], p.turns[j] = rng.integers(n_masks), rng.integers(4)
        p.fill[j] = rng.choice(3, p=weights / weights.sum())
        p.opacity[j] = rng.uniform(1 - cfg.blend, 1.0)
        if p.fill[j] == PATCH:
            p.other[j] = (i + 1 + rng.integers(n_images - 1)) % n_images
            p.shift[j] = rng.random(2)
        elif p.fill[j] == ELASTIC:
            p.shift[j] = rng.uniform(-0.25, 0.25, 2)
            p.warp[j] = rng.standard_normal((2, WARP_GRID, WARP_GRID), dtype=np.float32)
        else:
            g = int(rng.choice(TEXTURE_GRIDS))
            p.tex_noise[j] = rng.standard_normal((3, g, g), dtype=np.float32)
            p.tex_grey[j] = rng.random() < 0.5
            p.tex_mean[j] = rng.uniform(0, 1, 3)
            p.tex_contrast[j] = rng.uniform(0.02, 0.25)
            p.tex_grain[j] = rng.uniform(0, 0.05)
    return p


def plan_crops(plan: Plan, size: int, crop: int, seed: int, epoch: int) -> Plan:
    """Add the top-left corners of ``crop``-px training crops of ``size``-px images to ``plan``,
    each from its own (seed, epoch, image, 1) generator (the corruption draws stay as they are)."""
    plan.crop = np.array(
        [np.random.default_rng([seed, epoch, int(i), 1]).integers(0, size - crop + 1, 2) for i in plan.index], np.int64
    ).reshape(-1, 2)
    return plan


def cropped(t: torch.Tensor, corners: np.ndarray, crop: int) -> torch.Tensor:
    """(B, C, S, S) -> (B, C, crop, crop): sample b's crop at ``corners[b]`` (y, x)."""
    return torch.stack([t[b, :, y : y + crop, x : x + crop] for b, (y, x) in enumerate(corners)])


def _as_tensor(a: np.ndarray, device: torch.device) -> torch.Tensor:
    """A host array of the plan as a float32 tensor on ``device``."""
    return torch.as_tensor(np.asarray(a, np.float32), device=device)


def _rolled(images: torch.Tensor, other: np.ndarray, shift: np.ndarray) -> torch.Tensor:
    """(B, 3, S, S): ``images[other]`` cyclically shifted by ``shift`` (fractions of the side)."""
    _, c, h, w = images.shape
    dev = images.device
    sy = torch.as_tensor((shift[:, 0] * h).astype(np.int64), device=dev)[:, None]
    sx = torch.as_tensor((shift[:, 1] * w).astype(np.int64), device=dev)[:, None]
    rows = (torch.arange(h, device=dev)[None] - sy) % h  # (B, H)
    cols = (torch.arange(w, device=dev)[None] - sx) % w  # (B, W)
    flat = (rows[:, :, None] * w + cols[:, None, :]).reshape(len(other), 1, h * w).expand(-1, c, -1)
    src = images[torch.as_tensor(other, device=dev)].reshape(len(other), c, h * w)
    return src.gather(2, flat).reshape(len(other), c, h, w)


def _warped(x: torch.Tensor, shift: np.ndarray, warp: np.ndarray) -> torch.Tensor:
    """(B, 3, S, S) shifted by ``shift`` (fractions of the side) and warped by the upsampled
    coarse field ``warp`` (B, 2, g, g); reflected at the borders."""
    h, w = x.shape[2:]
    dev = x.device
    field = F.interpolate(torch.as_tensor(warp, device=dev), size=(h, w), mode="bicubic", align_corners=True)
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=dev)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=dev)
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H, W, 2) as (x, y)
    offset = torch.as_tensor(2 * shift[:, ::-1].copy(), dtype=x.dtype, device=dev)[:, None, None, :]  # (B, 1, 1, 2)
    grid = base[None] + offset + WARP_STD * field.permute(0, 2, 3, 1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _textures(
    p: Plan, sel: np.ndarray, size: tuple[int, int], gen: torch.Generator, device: torch.device
) -> torch.Tensor:
    """(len(sel), 3, S, S) procedural textures in [0, 1] for the samples ``sel`` of the plan."""
    fields = []
    for j in sel:
        t = F.interpolate(
            torch.as_tensor(p.tex_noise[j], device=device)[None], size=size, mode="bicubic", align_corners=False
        )[0]
        if p.tex_grey[j]:
            t = t[:1].expand(3, -1, -1)
        fields.append(t / (t.std() + 1e-6))
    noise = torch.stack(fields)  # (n, 3, S, S) unit std
    grain = torch.randn((len(sel), 1, *size), generator=gen, device=device)
    grain = grain * _as_tensor(p.tex_grain[sel], device)[:, None, None, None]
    mean, contrast = _as_tensor(p.tex_mean[sel], device), _as_tensor(p.tex_contrast[sel], device)
    tex = mean[:, :, None, None] + contrast[:, None, None, None] * noise + grain
    return tex.clamp(0, 1)


def _grey_where(grey: torch.Tensor, t: torch.Tensor, one: torch.Tensor) -> torch.Tensor:
    """``t`` (B, 3, H, W) with the samples marked by ``grey`` (B, 1, 1, 1) replaced by ``one``
    (B, 1, H, W) on all three channels: a greyscale image is corrupted in grey (a colour cue would
    teach nothing about its real defects)."""
    return torch.where(grey, one.expand_as(t), t)


def batch_generator(seed: int, epoch: int, step: int, device: torch.device) -> torch.Generator:
    """The device generator of one batch's full-resolution noise, seeded by (seed, epoch, step)."""
    state = np.random.SeedSequence([seed, epoch, step]).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state) & ((1 << 63) - 1))


def make_batch(
    images: torch.Tensor, bank: torch.Tensor, plan: Plan, cfg: TrainConfig, policy: str, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Build (inputs, targets, masks) on ``images.device``.

    ``images`` (N, 3, S, S) float32 in [0, 1] and ``bank`` (M, S, S) uint8 live on the device;
    returns inputs and targets (B, 3, S, S) float32 in [0, 1] and the corruption masks
    (B, 1, S, S) float32 in {0, 1} (all zero for ``noise: gaussian`` and ``none``). Targets are the
    augmented clean images, times a per-sample gain with ``brightness`` > 0 (with ``input_noise_std``
    > 0 and ``input_noise_target: noisy``, plus the inputs' i.i.d. noise).
    """
    dev = images.device
    clean = dihedral(images[torch.as_tensor(plan.index, device=dev)], plan.transform, policy)
    if cfg.brightness > 0:  # one global gain per sample, on input and target alike (grey stays grey)
        gain = 1 + cfg.brightness * (2 * torch.rand((len(clean), 1, 1, 1), generator=gen, device=dev) - 1)
        clean = (clean * gain).clamp(0, 1)
    x = clean.clone()
    masks = torch.zeros_like(clean[:, :1])
    grey = greyscale(clean)  # (B, 1, 1, 1): these samples are corrupted in grey
    hit = np.flatnonzero(plan.corrupted)
    if cfg.noise == "structured" and len(hit):
        m = bank[torch.as_tensor(plan.mask[hit], device=dev)][:, None].float()  # (n, 1, S, S)
        m = dihedral(m, plan.turns[hit] * 2, "flip_rot")  # quarter turns k are entries 2k of the table
        fill = x.new_empty((len(hit), *x.shape[1:]))
        for family, make in (
            (PATCH, lambda s: _rolled(images, plan.other[s], plan.shift[s])),
            (ELASTIC, lambda s: _warped(clean[torch.as_tensor(s, device=dev)], plan.shift[s], plan.warp[s])),
            (TEXTURE, lambda s: _textures(plan, s, tuple(x.shape[2:]), gen, dev)),
        ):
            pos = np.flatnonzero(plan.fill[hit] == family)
            if len(pos):
                fill[torch.as_tensor(pos, device=dev)] = make(hit[pos])
        sel = torch.as_tensor(hit, device=dev)
        fill = _grey_where(grey[sel], fill, fill.mean(1, keepdim=True))
        alpha = m * _as_tensor(plan.opacity[hit], dev)[:, None, None, None]
        x[sel] = x[sel] * (1 - alpha) + fill * alpha
        masks[sel] = m
    elif cfg.noise == "gaussian" and len(hit):
        sel = torch.as_tensor(hit, device=dev)
        noise = torch.randn(x[sel].shape, generator=gen, device=dev)
        noise = _grey_where(grey[sel], noise, noise[:, :1])  # the same std in grey
        x[sel] = (x[sel] + cfg.noise_std * noise).clamp(0, 1)
    if cfg.input_noise_std > 0:  # "Noise & Pattern": i.i.d. noise on top of the occlusions, every sample
        noise = torch.randn(x.shape, generator=gen, device=dev)
        noise = cfg.input_noise_std * _grey_where(grey, noise, noise[:, :1])
        x = (x + noise).clamp(0, 1)
        if cfg.input_noise_target == "noisy":  # the target keeps it: outside the occlusions it is the input
            clean = (clean + noise).clamp(0, 1)
    if plan.crop is not None:  # corrupted at full size, so fills and masks keep their scale
        x, clean, masks = (cropped(t, plan.crop, cfg.crop) for t in (x, clean, masks))
    return x, clean, masks
