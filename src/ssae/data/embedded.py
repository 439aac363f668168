"""The embedded benchmark: an MVTec-AD-layout dataset built offline from scikit-image photos.

Each category is one real texture photograph that ships inside scikit-image. Training and
normal test images are crops from disjoint bands of the photo (top ~60 % for training, the
rest for testing, with a gap); anomalous test images are test crops with one synthetic
defect (``ssae.data.embedded_defects``) and its exact mask. Everything is drawn from generators seeded by
(seed, category, split, index), so the same params rebuild the same bytes.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata
from skimage import transform
from tqdm import tqdm

from ssae.core.data_config import EmbeddedConfig
from ssae.data.embedded_defects import DEFECTS

# category -> scikit-image loader of its source photograph
SOURCES = {
    "brick": skdata.brick,
    "grass": skdata.grass,
    "gravel": skdata.gravel,
    "tissue": skdata.immunohistochemistry,
}
FOREIGN = (skdata.astronaut, skdata.coffee, skdata.chelsea, skdata.rocket)
TRAIN_FRACTION = 0.6  # rows of the photo that training crops may come from
GAP = 16  # px between the training band and the test band


def _as_float(photo: np.ndarray, zoom: float) -> np.ndarray:
    """uint8 photo (H, W) or (H, W, 3) -> (h, w, 3) float32 in [0, 1], rescaled by ``zoom``."""
    img = photo.astype(np.float32) / 255.0
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if zoom != 1.0:
        img = transform.rescale(img, zoom, channel_axis=2, anti_aliasing=True).astype(np.float32)
    return img


def _rng(seed: int, category: str, split: str, index: int) -> np.random.Generator:
    # crc32, not hash(): stable across processes
    return np.random.default_rng([seed, zlib.crc32(category.encode()), zlib.crc32(split.encode()), index])


def _crop(photo: np.ndarray, rows: tuple[int, int], size: int, rng: np.random.Generator) -> np.ndarray:
    y = int(rng.integers(rows[0], rows[1] - size + 1))
    x = int(rng.integers(0, photo.shape[1] - size + 1))
    return photo[y : y + size, x : x + size]


def bands(height: int, size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Row ranges [start, stop) of the training and the test band of a photo ``height`` tall."""
    split = int(height * TRAIN_FRACTION)
    train, test = (0, split), (split + GAP, height)
    if min(train[1] - train[0], test[1] - test[0]) < size:
        raise ValueError(
            f"image_size {size} does not fit the {height}-px photo's bands {train}, {test}: lower it or raise zoom"
        )
    return train, test


def _save(img: np.ndarray, path: Path, grey: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    Image.fromarray(arr[..., 0] if grey else arr).save(path)


def build_category(category: str, cfg: EmbeddedConfig, seed: int, out: Path) -> None:
    """Write one category in MVTec AD layout under ``out`` (which must not exist yet)."""
    raw = SOURCES[category]()
    grey = raw.ndim == 2  # saved single-channel, like MVTec's grid/screw/zipper
    photo = _as_float(raw, cfg.zoom)
    foreign = [_as_float(f(), cfg.zoom) for f in FOREIGN]
    if grey:
        foreign = [np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2) for f in foreign]
    size = cfg.image_size
    train_rows, test_rows = bands(photo.shape[0], size)

    for i in range(cfg.n_train):
        _save(
            _crop(photo, train_rows, size, _rng(seed, category, "train", i)),
            out / "train" / "good" / f"{i:03d}.png",
            grey,
        )
    for i in range(cfg.n_test_good):
        _save(
            _crop(photo, test_rows, size, _rng(seed, category, "test/good", i)),
            out / "test" / "good" / f"{i:03d}.png",
            grey,
        )
    for name, make in DEFECTS.items():
        for i in range(cfg.n_test_per_defect):
            rng = _rng(seed, category, f"test/{name}", i)
            base = _crop(photo, test_rows, size, rng)
            src = foreign[int(rng.integers(len(foreign)))]
            img, mask = make(base, rng, src)
            _save(img, out / "test" / name / f"{i:03d}.png", grey)
            m = np.repeat(mask[..., None].astype(np.float32), 3, axis=2)
            _save(m, out / "ground_truth" / name / f"{i:03d}_mask.png", grey=True)


def build(categories: tuple[str, ...], cfg: EmbeddedConfig, seed: int, out: Path) -> None:
    """Build every category of the embedded dataset under ``out/<category>``."""
    for category in tqdm(categories, desc="embedded dataset", unit="category"):
        build_category(category, cfg, seed, out / category)
