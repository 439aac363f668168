"""Training-time augmentation: which dihedral transforms each category may take, and drawing one.

``train.augment: auto`` resolves per category through ``AUGMENT``: flips and quarter turns
leave an isotropic texture's statistics unchanged; oriented textures (brick courses, wood
grain) keep their orientation under flips and half turns only; objects have a pose, so they
get nothing; so does any other category (a folder of one's own: its images may have a pose;
set ``train.augment`` to ``flip`` or ``flip_rot`` for a texture). The transforms run batched on
the training device (``dihedral``); which one a sample takes is drawn with the rest of its
corruption plan (``ssae.method.corruption.plan_batch``).
"""

from __future__ import annotations

import numpy as np
import torch

from ssae.core.mvtec import OBJECTS

AUGMENT = (
    {"brick": "flip", "wood": "flip"}
    | {c: "none" for c in OBJECTS}
    | {c: "flip_rot" for c in ("carpet", "grid", "leather", "tile", "grass", "gravel", "tissue")}
)

# policy -> the dihedral transforms it draws from: (k quarter turns, flip?)
TRANSFORMS = {
    "none": [(0, False)],
    "flip": [(0, False), (0, True), (2, False), (2, True)],  # identity, h-flip, 180, v-flip
    "flip_rot": [(k, f) for k in range(4) for f in (False, True)],  # all 8 symmetries of a square
}


def augment_policy(setting: str, category: str) -> str:
    """``train.augment`` for one category: ``auto`` resolves through ``AUGMENT`` (``none`` for a
    category it does not list)."""
    return AUGMENT.get(category, "none") if setting == "auto" else setting


def dihedral(x: torch.Tensor, transform: np.ndarray, policy: str) -> torch.Tensor:
    """(B, C, S, S) -> sample ``b`` under transform ``TRANSFORMS[policy][transform[b]]`` (its quarter
    turns, then a horizontal flip), on the tensor's device; one op per distinct transform."""
    table = TRANSFORMS[policy]
    if len(table) == 1:
        return x
    out = x.clone()
    for t in np.unique(transform):
        k, flip = table[t]
        sel = torch.as_tensor(np.flatnonzero(transform == t), device=x.device)
        y = torch.rot90(x[sel], k, dims=(2, 3))
        out[sel] = y.flip(3) if flip else y
    return out
