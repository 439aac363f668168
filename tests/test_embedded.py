import hashlib

import numpy as np
import pytest
from PIL import Image

from ssae.core.data_config import EmbeddedConfig
from ssae.data.dataset_format import index_category, load_mask
from ssae.data.embedded_defects import DEFECTS
from ssae.data.embedded import GAP, build_category, cells

CFG = EmbeddedConfig(image_size=48, zoom=0.5, n_train=3, n_test_good=2, n_test_per_defect=2)


def digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.png")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_layout_and_masks(tmp_path):
    build_category("gravel", CFG, 0, tmp_path / "gravel")
    t = index_category(tmp_path / "gravel")  # parses: every defect image has its mask
    assert (t.split == "train").sum() == 3
    assert set(t.defect) == {"good", *DEFECTS}
    for _, row in t[t.label == 1].iterrows():
        m = load_mask(row["mask"], (48, 48))
        assert 0 < m.sum() < 0.5 * m.size, row.image
    with Image.open(t.image.iloc[0]) as im:
        assert im.mode == "L"  # greyscale photo, stored single-channel like MVTec's grid


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    build_category("tissue", CFG, 0, tmp_path / "a")
    build_category("tissue", CFG, 0, tmp_path / "b")
    build_category("tissue", CFG, 1, tmp_path / "c")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_train_and_test_cells_are_disjoint_and_cover_the_photo():
    train, test = cells(512, 512, 128)
    assert len(train) == 5 and len(test) == 4  # a 3 x 3 checkerboard
    covered = np.zeros((2, 512, 512), bool)
    for k, split in enumerate((train, test)):
        for y0, y1, x0, x1 in split:
            assert y1 - y0 >= 128 and x1 - x0 >= 128  # a crop fits
            covered[k, y0:y1, x0:x1] = True
    assert not (covered[0] & covered[1]).any()
    # both splits reach every part of the photo: top, bottom, left and right thirds
    for k in range(2):
        for part in (covered[k, :170], covered[k, -170:], covered[k, :, :170], covered[k, :, -170:]):
            assert part.any()
    # no training pixel lies within GAP of a test pixel
    from scipy import ndimage

    assert not (ndimage.binary_dilation(covered[1], iterations=GAP - 1) & covered[0]).any()
    with pytest.raises(ValueError, match="does not fit"):
        cells(256, 200, 128)


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_defects_change_only_near_their_mask(name):
    rng = np.random.default_rng(3)
    img = np.full((64, 64, 3), 0.5, np.float32) + rng.normal(0, 0.05, (64, 64, 3)).astype(np.float32)
    img = np.clip(img, 0, 1)
    foreign = rng.random((96, 96, 3)).astype(np.float32)
    out, mask = DEFECTS[name](img, np.random.default_rng(0), foreign)
    assert out.shape == img.shape and out.dtype == np.float32 and mask.dtype == bool
    assert mask.any()
    changed = np.abs(out - img).max(axis=2) > 1e-6
    from scipy import ndimage

    near = ndimage.binary_dilation(mask, iterations=3)
    assert not (changed & ~near).any(), "defect changed pixels far from its mask"
    assert np.abs(out - img)[mask].mean() > 0.01
