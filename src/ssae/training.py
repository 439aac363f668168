"""Training loop: corrupted image in, L2 to the clean image out."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ssae.config import TrainConfig
from ssae.corruption import corrupt, sample_rng
from ssae.model import SDCCCM


def make_batch(
    images: np.ndarray, idx: np.ndarray, bank: np.ndarray, cfg: TrainConfig, seed: int, epoch: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs, targets) (B, 3, H, W) float32 and corruption masks (B, 1, H, W) float32;
    inputs are corrupted unless ``cfg.corruption`` is off (then the masks are all zero)."""
    clean = images[idx]
    if not cfg.corruption:
        return torch.from_numpy(clean), torch.from_numpy(clean), torch.zeros(len(idx), 1, *clean.shape[2:])
    inputs, masks = zip(*(corrupt(images, int(i), bank, cfg, sample_rng(seed, epoch, int(i))) for i in idx))
    masks = np.stack(masks)[:, None].astype(np.float32)
    return torch.from_numpy(np.stack(inputs)), torch.from_numpy(clean), torch.from_numpy(masks)


def loss_fn(recon: torch.Tensor, clean: torch.Tensor, masks: torch.Tensor, corrupt_weight: float) -> torch.Tensor:
    """Squared error to the clean image, corrupted pixels weighted 1 + ``corrupt_weight``."""
    err = (recon - clean) ** 2  # (B, 3, H, W)
    if corrupt_weight:
        err = err * (1 + corrupt_weight * masks)
    return err.mean()


def train(
    images: np.ndarray,
    bank: np.ndarray,
    cfg: TrainConfig,
    seed: int,
    device: torch.device,
    on_epoch: Callable[[int, float], None] = lambda epoch, loss: None,
    desc: str = "train",
) -> SDCCCM:
    """Train an SDC-CCM on clean ``images`` (N, 3, S, S) float32 in [0, 1] with mask ``bank``.

    ``on_epoch(epoch, mean_loss)`` is called after every epoch (logging, checkpoints).
    """
    torch.manual_seed(seed)  # weight init; the stage's runtime.setup seeds the rest
    model = SDCCCM(cfg.model).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = int(np.ceil(len(images) / cfg.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.1
    )
    bar = tqdm(range(cfg.epochs), desc=desc, unit="epoch")
    for epoch in bar:
        order = np.random.default_rng([seed, epoch]).permutation(len(images))
        model.train()
        total = 0.0
        for start in range(0, len(images), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            x, y, m = (t.to(device) for t in make_batch(images, idx, bank, cfg, seed, epoch))
            loss = loss_fn(model(x), y, m, cfg.corrupt_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        mean = total / len(images)
        bar.set_postfix(loss=f"{mean:.5f}")
        on_epoch(epoch, mean)
    model.eval()
    return model
