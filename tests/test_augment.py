"""Augmentation: the per-category policy and the dihedral transforms, batched on a tensor."""

import numpy as np
import torch

from ssae.method.augment import TRANSFORMS, augment_policy, dihedral


def test_augment_policy_per_category():
    assert augment_policy("auto", "grass") == "flip_rot"
    assert augment_policy("auto", "brick") == "flip" and augment_policy("auto", "wood") == "flip"
    assert augment_policy("auto", "screw") == "none"  # objects have a pose
    assert augment_policy("none", "grass") == "none"


def test_dihedral_gives_the_policy_transforms_per_sample():
    img = torch.arange(3 * 4 * 4, dtype=torch.float32).reshape(1, 3, 4, 4)
    for policy, n in (("none", 1), ("flip", 4), ("flip_rot", 8)):
        batch = img.expand(n, -1, -1, -1)
        out = dihedral(batch, np.arange(n), policy)
        assert len({o.numpy().tobytes() for o in out}) == n  # every transform is a different image
        for b in range(n):  # sample b took transform b: k quarter turns (as np.rot90), then a mirror
            k, flip = TRANSFORMS[policy][b]
            want = np.rot90(img[0].numpy(), k, axes=(1, 2))
            assert np.array_equal(out[b].numpy(), want[:, :, ::-1] if flip else want)
    # flip keeps rows horizontal: the set of row contents (as sets) survives, columns never become rows
    for out in dihedral(img.expand(4, -1, -1, -1), np.arange(4), "flip"):
        assert {frozenset(r.tolist()) for r in out[0]} == {frozenset(r.tolist()) for r in img[0, 0]}
