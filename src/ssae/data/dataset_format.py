"""The MVTec AD folder layout, the format of data/raw for every dataset: a category as a table,
and its images and masks loaded as arrays.

Layout: ``<cat>/train/good/*``, ``<cat>/test/good/*``, ``<cat>/test/<defect>/*`` and, optionally
per defect type, ``<cat>/ground_truth/<defect>/<stem>_mask.*``; files PNG, JPEG, BMP, TIFF or WebP.
A hidden file or folder (name starting with "."; a macOS ``._x.png`` resource file) is never an
image, a mask or a defect type. ``index_category`` is a pure parser: it reads names only. A
defect type without a ground_truth folder has no masks (its ``mask`` is None, its pixels are
unknown); one with a folder must pair every image with exactly one mask and every mask with an
image. A test set may hold normal images only. Masks mean "defect where non-zero" (0/1 and 0/255
alike).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ssae.data.images import model_input

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class DatasetError(ValueError):
    """The dataset tree is incomplete or inconsistent; the message names the files."""


def _hidden(p: Path) -> bool:
    return p.name.startswith(".")


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not _hidden(p))


def index_category(root: Path, exclude: Collection[str] = ()) -> pd.DataFrame:
    """Table of one category: columns split, defect, label (0/1), image, mask (None if good
    or if the defect type has no ground_truth folder).

    ``exclude``: images to leave out with their masks (paths relative to ``root``,
    ``test/crack/003.png``), after the stems have paired up.
    Raises ``DatasetError`` naming the folder or files on: no training images, no test
    images, image/mask stems that do not pair up, several masks for one image.
    """
    root = Path(root)
    excluded = {root / e for e in exclude}
    rows: list[dict] = []
    good = root / "train" / "good"
    if not good.is_dir():
        raise DatasetError(f"{root.name}: missing folder {good}")
    if not [p for p in _images(good) if p not in excluded]:
        raise DatasetError(f"{root.name}: no training images in {good}")
    if not (root / "test").is_dir():
        raise DatasetError(f"{root.name}: missing folder {root / 'test'}")
    for img in _images(root / "train" / "good"):
        rows.append(dict(split="train", defect="good", label=0, image=img, mask=None))
    for folder in sorted(p for p in (root / "test").iterdir() if p.is_dir() and not _hidden(p)):
        defect = folder.name
        images = _images(folder)
        if defect == "good":
            rows += [dict(split="test", defect="good", label=0, image=p, mask=None) for p in images]
            continue
        gt = root / "ground_truth" / defect
        if not gt.is_dir():  # no masks for this defect type: image metrics only
            rows += [dict(split="test", defect=defect, label=1, image=p, mask=None) for p in images]
            continue
        masks = {}
        for p in _images(gt):
            if (stem := p.stem.removesuffix("_mask")) in masks:
                raise DatasetError(f"{root.name}/{defect}: two masks for one image: {masks[stem]} and {p}")
            masks[stem] = p
        stems = {p.stem for p in images}
        if missing := sorted(stems - set(masks)):
            raise DatasetError(
                f"{root.name}/{defect}: images without a mask in {gt}: {[p.name for p in images if p.stem in missing]}"
            )
        if extra := sorted(set(masks) - stems):
            raise DatasetError(
                f"{root.name}/{defect}: masks without an image in {folder}: {[masks[s].name for s in extra]}"
            )
        rows += [dict(split="test", defect=defect, label=1, image=p, mask=masks[p.stem]) for p in images]
    rows = [r for r in rows if r["image"] not in excluded]
    table = pd.DataFrame(rows, columns=["split", "defect", "label", "image", "mask"])
    if not (table.split == "test").any():
        raise DatasetError(f"{root.name}: no test images in {root / 'test'} (test/good or test/<defect type>)")
    return table


def load_image(path: Path, size: int) -> np.ndarray:
    """Image file -> (3, size, size) float32 in [0, 1] (``ssae.data.images``: RGB, greyscale
    repeated to 3 channels, antialiased bilinear resize)."""
    return model_input(path, size)


def load_images(paths: list[Path], size: int) -> np.ndarray:
    """(N, 3, size, size) float32 in [0, 1]."""
    return np.stack([load_image(p, size) for p in paths]) if paths else np.zeros((0, 3, size, size), np.float32)


def load_mask(path: Path | None, shape: tuple[int, int]) -> np.ndarray:
    """Ground-truth mask at its own resolution -> (H, W) bool, defect where non-zero (0/1 and
    0/255 masks alike); ``None`` (a good image) -> zeros. ``shape``: its image's (H, W)."""
    if path is None:
        return np.zeros(shape, bool)
    with Image.open(path) as im:
        a = np.asarray(im.convert("RGBA") if im.mode == "P" else im)
    if a.ndim == 3:  # colour or with alpha: non-zero in any colour channel (alpha ignored)
        a = a[..., : 3 if a.shape[2] >= 3 else 1].max(axis=2)
    m = a > 0
    if m.shape != shape:
        raise DatasetError(f"{path}: mask is {m.shape[::-1]} px but its image is {shape[::-1]} px")
    return m


def image_shape(path: Path) -> tuple[int, int]:
    """(H, W) of an image file without decoding it."""
    with Image.open(path) as im:
        return im.size[1], im.size[0]


def load_masks(images: list[Path], masks: list[Path | None], size: int) -> np.ndarray:
    """(N, H, W) bool ground truth of test images (``masks[i]`` None: a good image), at the
    images' common (H, W) when they share one, else at (size, size) (masks resized, nearest)."""
    shapes = [image_shape(p) for p in images]
    common = shapes[0] if len(set(shapes)) == 1 else (size, size)
    out = np.zeros((len(images), *common), bool)
    for i, (mask, shape) in enumerate(zip(masks, shapes)):
        m = load_mask(mask, shape)
        if m.shape != common:
            m = np.asarray(Image.fromarray(m).resize(common[::-1], Image.NEAREST))
        out[i] = m
    return out
