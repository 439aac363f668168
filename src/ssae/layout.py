"""The MVTec AD folder layout, the format of data/raw for every dataset: a category as a table,
and its images and masks loaded as arrays.

Layout: ``<cat>/train/good/*.png``, ``<cat>/test/good/*.png``, ``<cat>/test/<defect>/*.png``
and ``<cat>/ground_truth/<defect>/<stem>_mask.png`` (0/255). ``index_category`` is a pure
parser: it reads names only and checks that every defect image has exactly one mask and every
mask an image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


class DatasetError(ValueError):
    """The dataset tree is incomplete or inconsistent; the message names the files."""


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def index_category(root: Path) -> pd.DataFrame:
    """Table of one category: columns split, defect, label (0/1), image, mask (None if good).

    Raises ``DatasetError`` on a missing folder, an empty split, or image/mask stems that do
    not pair up.
    """
    root = Path(root)
    rows: list[dict] = []
    for split in ("train", "test"):
        good = root / split / "good"
        if not good.is_dir():
            raise DatasetError(f"{root.name}: missing folder {good}")
        if not _images(good):
            raise DatasetError(f"{root.name}: no images in {good}")
    for img in _images(root / "train" / "good"):
        rows.append(dict(split="train", defect="good", label=0, image=img, mask=None))
    for folder in sorted(p for p in (root / "test").iterdir() if p.is_dir()):
        defect = folder.name
        images = _images(folder)
        if defect == "good":
            rows += [dict(split="test", defect="good", label=0, image=p, mask=None) for p in images]
            continue
        gt = root / "ground_truth" / defect
        masks = {p.stem.removesuffix("_mask"): p for p in _images(gt)} if gt.is_dir() else {}
        stems = {p.stem for p in images}
        if missing := sorted(stems - set(masks)):
            raise DatasetError(f"{root.name}/{defect}: images without a mask in {gt}: {missing}")
        if extra := sorted(set(masks) - stems):
            raise DatasetError(f"{root.name}/{defect}: masks without an image in {folder}: {extra}")
        rows += [dict(split="test", defect=defect, label=1, image=p, mask=masks[p.stem]) for p in images]
    table = pd.DataFrame(rows, columns=["split", "defect", "label", "image", "mask"])
    if not (table.label == 1).any():
        raise DatasetError(f"{root.name}: no anomalous test images under {root / 'test'}")
    return table


def load_image(path: Path, size: int) -> np.ndarray:
    """Image file -> (3, size, size) float32 in [0, 1]; greyscale is repeated to 3 channels."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        if im.size != (size, size):
            im = im.resize((size, size), Image.BILINEAR)
        return np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0


def load_images(paths: list[Path], size: int) -> np.ndarray:
    """(N, 3, size, size) float32 in [0, 1]."""
    return np.stack([load_image(p, size) for p in paths]) if paths else np.zeros((0, 3, size, size), np.float32)


def load_mask(path: Path | None, shape: tuple[int, int]) -> np.ndarray:
    """Ground-truth mask at its own resolution -> (H, W) bool; ``None`` (a good image) -> zeros."""
    if path is None:
        return np.zeros(shape, bool)
    with Image.open(path) as im:
        m = np.asarray(im.convert("L")) > 127
    if m.shape != shape:
        raise DatasetError(f"{path}: mask is {m.shape[::-1]} px but its image is {shape[::-1]} px")
    return m


def image_shape(path: Path) -> tuple[int, int]:
    """(H, W) of an image file without decoding it."""
    with Image.open(path) as im:
        return im.size[1], im.size[0]
