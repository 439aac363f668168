"""Training loop: corrupted image in, L2 (+ optional SSIM) to the clean image out, resumable.

Everything random in an epoch is drawn from generators seeded by (seed, epoch) (batch order),
(seed, epoch, image) (augmentation, corruption plan) and (seed, epoch, batch) (full-resolution
noise), and the model, optimiser and schedule states are in ``snapshot()``: a run resumed from
the snapshot taken after epoch ``e`` is bit-identical on CPU to one that was never interrupted.

The images and the mask bank are moved to the training device once; batches are built there
(``ssae.method.corruption``), and the loss is summed on the device and read once per epoch, so a GPU
never waits on the host within an epoch.
"""

from __future__ import annotations

import copy
import math
from typing import Any
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from ssae.core.config import TrainConfig
from ssae.method.corruption import batch_generator, make_batch, plan_batch, plan_crops
from ssae.method.model import SDCCCM, init_weights


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM of (B, C, H, W) images in [0, 1] (Gaussian window, the usual constants)."""
    c = x.shape[1]
    g = torch.exp(-((torch.arange(window, device=x.device) - window // 2) ** 2) / (2 * sigma**2))
    g = (g / g.sum()).to(x.dtype)
    kernel = (g[:, None] * g[None, :]).expand(c, 1, window, window).contiguous()
    blur = lambda t: F.conv2d(t, kernel, groups=c)  # noqa: E731  ("valid": no padding artefacts)
    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    return (((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))).mean()


def loss_fn(
    recon: torch.Tensor, clean: torch.Tensor, masks: torch.Tensor, corrupt_weight: float, ssim_weight: float = 0.0
) -> torch.Tensor:
    """Squared error to the clean image, corrupted pixels weighted 1 + ``corrupt_weight``,
    plus ``ssim_weight`` * (1 - SSIM(recon, clean))."""
    err = (recon - clean) ** 2  # (B, 3, H, W)
    if corrupt_weight:
        err = err * (1 + corrupt_weight * masks)
    loss = err.mean()
    if ssim_weight:
        loss = loss + ssim_weight * (1 - ssim(recon, clean))
    return loss


def make_schedule(opt: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step learning rate over ``total_steps``, peak ``cfg.lr`` after ``cfg.warmup`` of them.

    onecycle: cosine up from lr/25, then cosine down to lr/25e4 (torch's OneCycleLR curve,
    without its momentum cycling); cosine: linear warm-up, cosine down to 0; constant: linear
    warm-up, then lr.
    """
    warm = int(cfg.warmup * total_steps)
    cos = lambda t, a, b: b + (a - b) * 0.5 * (1 + math.cos(math.pi * t))  # noqa: E731  (a at t=0, b at t=1)

    def factor(step: int) -> float:
        if step < warm:
            return cos(step / warm, 1 / 25, 1.0) if cfg.schedule == "onecycle" else (step + 1) / (warm + 1)
        t = (step - warm) / max(total_steps - 1 - warm, 1)
        if cfg.schedule == "onecycle":
            return cos(t, 1.0, 1 / 25e4)
        return 1.0 if cfg.schedule == "constant" else cos(t, 1.0, 0.0)

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def train_step(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    m: torch.Tensor,
    cfg: TrainConfig,
    amp: bool,
) -> torch.Tensor:
    """One optimiser step on a built batch (inputs, targets, masks); returns the loss as a
    detached device scalar (reading it would sync the device). ``amp``: bfloat16 autocast (CUDA)."""
    x = x.contiguous(memory_format=torch.channels_last)  # the model's layout (``train``)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        recon = model(x)
    loss = loss_fn(recon.float(), y, m, cfg.corrupt_weight, cfg.ssim_weight)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    """``ema`` <- the exponential moving average of ``model``'s weights (decay ramped up as
    min(decay, (1 + step) / (10 + step)), so early steps do not drag in the random start); buffers
    (BatchNorm statistics) are copied."""
    d = min(decay, (1 + step) / (10 + step))
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.lerp_(p, 1 - d)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


def train(
    images: np.ndarray,
    bank: np.ndarray,
    cfg: TrainConfig,
    seed: int,
    device: torch.device,
    on_epoch: Callable[[int, float, Callable[[], dict]], None] = lambda epoch, loss, snapshot: None,
    policy: str = "none",
    resume: dict[str, Any] | None = None,
    desc: str = "train",
) -> tuple[SDCCCM, list[float]]:
    """Train an SDC-CCM on clean ``images`` (N, 3, S, S) float32 in [0, 1] with mask ``bank``;
    the initial weights are drawn from a generator seeded by ``seed``.

    ``policy`` is the augmentation (``augment.augment_policy``). After every epoch
    ``on_epoch(epoch, mean_loss, snapshot)`` is called; ``snapshot()`` returns the training
    state, which ``resume`` takes to continue after that epoch. Returns the model (eval mode)
    and the mean loss of every epoch.
    """
    model = init_weights(SDCCCM(cfg.model), torch.Generator().manual_seed(seed)).to(device)
    amp = cfg.amp and device.type == "cuda"
    # channels-last (NHWC) on every device: tensor cores like it, and oneDNN's CPU convolutions
    # train 1.5x faster in it (128 px, batch 16, benchmarks/bench_train.py); bfloat16 needs no loss scaling
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(images) / cfg.batch_size)
    epochs = cfg.epochs_for(len(images))
    sched = make_schedule(opt, cfg, epochs * steps_per_epoch)
    losses: list[float] = []
    ema = copy.deepcopy(model).requires_grad_(False) if cfg.ema else None
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["opt"])
        sched.load_state_dict(resume["sched"])
        losses = list(resume["losses"])
        if ema is not None:
            ema.load_state_dict(resume["ema"])

    def snapshot() -> dict[str, Any]:
        cpu = lambda sd: {k: v.detach().cpu() if torch.is_tensor(v) else v for k, v in sd.items()}  # noqa: E731
        return {
            "epochs_done": len(losses),
            "model": cpu(model.state_dict()),
            "opt": opt.state_dict(),
            "sched": sched.state_dict(),
            "losses": list(losses),
            **({"ema": cpu(ema.state_dict())} if ema else {}),
        }

    images_dev = torch.from_numpy(images).to(device)  # (N, 3, S, S), resident for the whole run
    bank_dev = torch.from_numpy(bank.astype(np.uint8)).to(device)  # (M, S, S)
    bar = tqdm(range(len(losses), epochs), desc=desc, unit="epoch", initial=len(losses), total=epochs)
    for epoch in bar:
        order = np.random.default_rng([seed, epoch]).permutation(len(images))
        model.train()
        total = torch.zeros((), device=device)
        for step, start in enumerate(range(0, len(images), cfg.batch_size)):
            plan = plan_batch(order[start : start + cfg.batch_size], len(images), len(bank), cfg, seed, epoch, policy)
            if cfg.crop:
                plan = plan_crops(plan, images.shape[-1], cfg.crop, seed, epoch)
            x, y, m = make_batch(images_dev, bank_dev, plan, cfg, policy, batch_generator(seed, epoch, step, device))
            loss = train_step(model, opt, x, y, m, cfg, amp)
            sched.step()
            if ema is not None:
                ema_update(ema, model, cfg.ema, epoch * steps_per_epoch + step)
            total += loss * len(plan.index)  # no host sync per step
        losses.append(total.item() / len(images))
        bar.set_postfix(loss=f"{losses[-1]:.5f}")
        on_epoch(epoch, losses[-1], snapshot)
    model = ema if ema is not None else model
    model.eval()
    return model, losses
