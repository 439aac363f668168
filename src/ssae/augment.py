"""Training-time augmentation: which dihedral transforms each category may take, and drawing one.

``train.augment: auto`` resolves per category through ``AUGMENT``: flips and quarter turns
leave an isotropic texture's statistics unchanged; oriented textures (brick courses, wood
grain) keep their orientation under flips and half turns only; objects have a pose, so they
get nothing.
"""

from __future__ import annotations

import numpy as np

from ssae.mvtec import OBJECTS

AUGMENT = {"brick": "flip", "wood": "flip"} | {c: "none" for c in OBJECTS}

# policy -> the dihedral transforms it draws from: (k quarter turns, flip?)
TRANSFORMS = {
    "none": [(0, False)],
    "flip": [(0, False), (0, True), (2, False), (2, True)],  # identity, h-flip, 180, v-flip
    "flip_rot": [(k, f) for k in range(4) for f in (False, True)],  # all 8 symmetries of a square
}


def augment_policy(setting: str, category: str) -> str:
    """``train.augment`` for one category: ``auto`` resolves through ``AUGMENT`` (default
    ``flip_rot``: the remaining categories are isotropic textures)."""
    return AUGMENT.get(category, "flip_rot") if setting == "auto" else setting


def augment(img: np.ndarray, policy: str, rng: np.random.Generator) -> np.ndarray:
    """(3, H, W) -> one of the policy's flips/rotations (``none``: the image itself, no draw)."""
    transforms = TRANSFORMS[policy]
    if len(transforms) == 1:
        return img
    k, flip = transforms[int(rng.integers(len(transforms)))]
    out = np.rot90(img, k, axes=(1, 2))
    return np.ascontiguousarray(out[:, :, ::-1] if flip else out)
