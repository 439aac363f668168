"""The embedded benchmark: an MVTec-AD-layout dataset built offline from scikit-image photos.

Each category is one real texture photograph that ships inside scikit-image. The photo is cut
into a checkerboard of cells; training crops come from the "white" cells, normal test crops
from the "black" ones, each crop inside one cell with a margin, so no test pixel was trained
on and both splits sample the whole photo (a photo's slow changes of light or grain affect
both alike). Anomalous test images are test crops with one synthetic defect
(``ssae.data.embedded_defects``) and its exact mask. Everything is drawn from generators seeded by
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
GAP = 16  # px: a crop keeps GAP / 2 from its cell's border, so crops of neighbouring cells never touch

Cell = tuple[int, int, int, int]  # y0, y1, x0, x1: a region that a whole crop lies in


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


def _crop(photo: np.ndarray, regions: list[Cell], size: int, rng: np.random.Generator) -> np.ndarray:
    y0, y1, x0, x1 = regions[int(rng.integers(len(regions)))]
    y = int(rng.integers(y0, y1 - size + 1))
    x = int(rng.integers(x0, x1 - size + 1))
    return photo[y : y + size, x : x + size]


def cells(height: int, width: int, size: int) -> tuple[list[Cell], list[Cell]]:
    """The training and the test cells of a ``height`` x ``width`` photo, as (y0, y1, x0, x1).

    The photo is divided into as many equal cells per axis as hold a ``size`` crop plus ``GAP``;
    cell (i, j) is a training cell when i + j is even, a test cell otherwise. Each returned range
    is the cell less GAP / 2 on every side: a crop inside it never shares a pixel with another
    cell's crop.
    """
    ny, nx = height // (size + GAP), width // (size + GAP)
    if ny * nx < 2:
        raise ValueError(
            f"image_size {size} does not fit twice in the {height}x{width}-px photo "
            f"(cells of {size} + {GAP} px): lower it or raise zoom"
        )
    ys, xs = np.linspace(0, height, ny + 1).astype(int), np.linspace(0, width, nx + 1).astype(int)
    m = GAP // 2
    split: tuple[list[Cell], list[Cell]] = ([], [])
    for i in range(ny):
        for j in range(nx):
            split[(i + j) % 2].append((int(ys[i]) + m, int(ys[i + 1]) - m, int(xs[j]) + m, int(xs[j + 1]) - m))
    return split


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
    train_cells, test_cells = cells(photo.shape[0], photo.shape[1], size)

    for i in range(cfg.n_train):
        _save(
            _crop(photo, train_cells, size, _rng(seed, category, "train", i)),
            out / "train" / "good" / f"{i:03d}.png",
            grey,
        )
    for i in range(cfg.n_test_good):
        _save(
            _crop(photo, test_cells, size, _rng(seed, category, "test/good", i)),
            out / "test" / "good" / f"{i:03d}.png",
            grey,
        )
    for name, make in DEFECTS.items():
        for i in range(cfg.n_test_per_defect):
            rng = _rng(seed, category, f"test/{name}", i)
            base = _crop(photo, test_cells, size, rng)
            src = foreign[int(rng.integers(len(foreign)))]
            img, mask = make(base, rng, src)
            _save(img, out / "test" / name / f"{i:03d}.png", grey)
            m = np.repeat(mask[..., None].astype(np.float32), 3, axis=2)
            _save(m, out / "ground_truth" / name / f"{i:03d}_mask.png", grey=True)


def build(categories: tuple[str, ...], cfg: EmbeddedConfig, seed: int, out: Path) -> None:
    """Build every category of the embedded dataset under ``out/<category>``."""
    for category in tqdm(categories, desc="embedded dataset", unit="category"):
        build_category(category, cfg, seed, out / category)
