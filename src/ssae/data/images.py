"""How an image file becomes a model input, the one way every path does it: decoded, then resized.

Decoding (``decode``): every file is read as RGB. A greyscale file (8- or 16-bit) gets its one
channel repeated three times; a colour file keeps its colour, whatever the rest of its category
is (so a category that mixes both trains one model on both; the download stage says how many of
each it found); an alpha channel is dropped; palette images are expanded.

Resizing: ``ssae.data.resolution.resize`` to the model's square side (its module doc).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ssae.data.resolution import resize

SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def decode(path: Path) -> np.ndarray:
    """Image file -> (H, W, 3) float32 in [0, 1] (the RGB policy of the module doc)."""
    with Image.open(path) as im:
        if im.mode in SIXTEEN_BIT:  # 16-bit greyscale: convert("RGB") would clip it at 255
            grey = np.clip(np.asarray(im, dtype=np.float32) / 65535.0, 0, 1)
            return np.repeat(grey[:, :, None], 3, axis=2)
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def model_input(path: Path, size: int) -> np.ndarray:
    """Image file -> (3, size, size) float32 in [0, 1]: decoded, then resized."""
    return np.ascontiguousarray(resize(decode(path), (size, size)).transpose(2, 0, 1))
