"""Augmentation: the per-category policy and the transforms it draws from."""

import numpy as np

from ssae.augment import augment, augment_policy


def test_augment_policy_per_category():
    assert augment_policy("auto", "grass") == "flip_rot"
    assert augment_policy("auto", "brick") == "flip" and augment_policy("auto", "wood") == "flip"
    assert augment_policy("auto", "screw") == "none"  # objects have a pose
    assert augment_policy("none", "grass") == "none"


def test_augment_draws_from_the_policy():
    img = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4)
    seen = lambda policy: {augment(img, policy, np.random.default_rng(k)).tobytes() for k in range(200)}  # noqa: E731
    assert seen("none") == {img.tobytes()}
    assert len(seen("flip")) == 4 and len(seen("flip_rot")) == 8
    # flip keeps rows horizontal: the set of row contents (as sets) survives, columns never become rows
    for out in (augment(img, "flip", np.random.default_rng(k)) for k in range(20)):
        assert {frozenset(r) for r in out[0]} == {frozenset(r) for r in img[0]}
