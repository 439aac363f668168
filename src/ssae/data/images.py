"""How an image file becomes a model input, the one way every path does it: decoded, then resized.

Decoding (``decode``): every file is read as RGB. A greyscale file (8- or 16-bit) gets its one
channel repeated three times; a colour file keeps its colour, whatever the rest of its category
is (so a category that mixes both trains one model on both; the download stage says how many of
each it found); an alpha channel is dropped; palette, CMYK and YCbCr images are converted. A
floating-point image (a float TIFF, PIL mode ``F``) is taken as values in [0, 1] and refused
if it has others; a 32-bit integer one as 16-bit (refused above 65535); any other mode PIL
opens is refused by name (``UnsupportedImage``), never read as black.

Resizing: ``ssae.data.resolution.resize`` to the model's square side (its module doc).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ssae.data.resolution import resize

SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
EIGHT_BIT = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr")  # convert("RGB") reads these


class UnsupportedImage(ValueError):
    """A file PIL opens but whose pixels this project would misread; the message names it."""


def check_mode(im: Image.Image, path: Path | str) -> None:
    """Raise ``UnsupportedImage`` naming ``path`` unless ``decode`` reads ``im`` correctly (loads
    the pixels of a floating-point or 32-bit image to check their range)."""
    if im.mode in EIGHT_BIT or im.mode in SIXTEEN_BIT[:-1]:
        return
    if im.mode in ("F", "I"):
        a = np.asarray(im)
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        top = 1.0 if im.mode == "F" else 65535.0
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi > top:
            kind = "floating-point" if im.mode == "F" else "32-bit integer"
            raise UnsupportedImage(
                f"{path}: a {kind} image with values in [{lo:g}, {hi:g}]; only [0, {top:g}] is "
                "understood: convert it to 8 or 16 bit"
            )
        return
    raise UnsupportedImage(
        f"{path}: image mode {im.mode!r} is not supported (8- or 16-bit greyscale, RGB(A), "
        "palette, CMYK, YCbCr, or floating point in [0, 1]): convert it to 8-bit RGB"
    )


def decode_image(im: Image.Image, path: Path | str = "image") -> np.ndarray:
    """An open PIL image -> (H, W, 3) float32 in [0, 1] (the RGB policy of the module doc)."""
    check_mode(im, path)
    if im.mode in SIXTEEN_BIT or im.mode == "F":  # convert("RGB") would clip 16 bits at 255, floats at 1/255
        grey = np.asarray(im, dtype=np.float32) / (1.0 if im.mode == "F" else 65535.0)
        return np.repeat(np.clip(grey, 0, 1)[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def decode(path: Path) -> np.ndarray:
    """Image file -> (H, W, 3) float32 in [0, 1] (the RGB policy of the module doc)."""
    with Image.open(path) as im:
        return decode_image(im, path)


def model_input(path: Path, size: int) -> np.ndarray:
    """Image file -> (3, size, size) float32 in [0, 1]: decoded, then resized."""
    return np.ascontiguousarray(resize(decode(path), (size, size)).transpose(2, 0, 1))
