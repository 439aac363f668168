import dataclasses

import numpy as np
import pytest

from ssae.core.config import MasksConfig
from ssae.method.corruption_masks import FAMILIES, mask_bank, mask_families, shape_mask

MCFG = MasksConfig(per_image=3)


def only(family: str, **kw) -> MasksConfig:
    return dataclasses.replace(MCFG, **({f: 0.0 for f in FAMILIES} | {family: 1.0} | kw))


def test_mask_bank_is_bit_identical_for_the_same_seed():
    a = mask_bank(4, 32, MCFG, seed=0, category="brick")
    b = mask_bank(4, 32, MCFG, seed=0, category="brick")
    assert a.shape == (12, 32, 32) and a.dtype == bool
    assert np.array_equal(a, b)
    assert not np.array_equal(a, mask_bank(4, 32, MCFG, seed=1, category="brick"))
    assert not np.array_equal(a, mask_bank(4, 32, MCFG, seed=0, category="grass"))


def test_masks_are_never_empty_and_never_repeat():
    bank = mask_bank(20, 64, MCFG, 0, "brick")
    assert bank.reshape(len(bank), -1).any(axis=1).all()
    assert len({m.tobytes() for m in bank}) == len(bank)


def test_family_weights_choose_the_families():
    fams = mask_families(300, MCFG, 0, "brick")
    counts = {f: fams.count(f) for f in FAMILIES}
    assert all(70 < c < 130 for c in counts.values()), counts  # 1:1:1 by default
    assert set(mask_families(50, only("stroke"), 0, "brick")) == {"stroke"}
    skewed = mask_families(300, dataclasses.replace(MCFG, bezier=8.0, perlin=1.0, stroke=1.0), 0, "brick")
    assert skewed.count("bezier") > 200


@pytest.mark.parametrize("family", FAMILIES)
def test_every_shape_stays_within_its_size_range(family):
    cfg = only(family, min_radius=0.1, max_radius=0.1)
    size = 128
    drawn = 0
    for k in range(30):
        m = shape_mask(size, family, np.random.default_rng(k), cfg)
        if not m.any():  # a shape may fall outside the image entirely
            continue
        drawn += 1
        ys, xs = np.nonzero(m)
        extent = max(np.ptp(ys), np.ptp(xs)) + 1
        # blobs: within 2 radii of a centre; strokes: 4 radii long, bent by ~1 radius
        limit = {"bezier": 2 * 1.6, "perlin": 4, "stroke": 4 + 2 * 3}[family] * 0.1 * size + 2
        assert extent <= limit, (family, k, extent)
    assert drawn >= 25, f"{family}: only {drawn} of 30 shapes were drawn inside the image"


def test_strokes_are_thin_and_elongated_blobs_are_compact():
    size = 128

    def stats(family):
        cfg = only(family, min_radius=0.1, max_radius=0.1, min_stroke_width=0.02, max_stroke_width=0.02)
        fill = []
        for k in range(60):
            m = shape_mask(size, family, np.random.default_rng(k), cfg)
            ys, xs = np.nonzero(m)
            if len(ys) < 5 or ys.min() == 0 or xs.min() == 0 or ys.max() == size - 1 or xs.max() == size - 1:
                continue  # cut by the border
            fill.append(m.sum() / ((np.ptp(ys) + 1) * (np.ptp(xs) + 1)))  # area / bounding box
        assert len(fill) >= 15, f"{family}: too few shapes inside the image to measure"
        return np.median(fill)

    assert stats("stroke") < 0.25  # a thin curve fills little of its bounding box
    assert stats("bezier") > 0.5 and stats("perlin") > 0.3  # perlin blobs are ragged, not thin


def test_shape_counts_follow_the_params():
    one = mask_bank(10, 64, only("bezier", min_count=1, max_count=1), 0, "x")
    many = mask_bank(10, 64, only("bezier", min_count=6, max_count=6), 0, "x")
    assert many.mean() > 3 * one.mean()


def test_unknown_family_is_an_error():
    with pytest.raises(ValueError, match="unknown shape family 'circle'"):
        shape_mask(32, "circle", np.random.default_rng(0), MCFG)
