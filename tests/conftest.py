"""Shared fixtures: a tiny fake MVTec AD tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_fake_category(root: Path, size: int = 32, grey: bool = False, n_train: int = 4,
                        defects: dict[str, int] | None = None, n_good: int = 2, seed: int = 0) -> Path:
    """A category in MVTec AD layout with random images and a square defect mask per image."""
    rng = np.random.default_rng(seed)
    defects = {"scratch": 2, "combined": 1} if defects is None else defects

    def img(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        shape = (size, size) if grey else (size, size, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)

    for i in range(n_train):
        img(root / "train" / "good" / f"{i:03d}.png")
    for i in range(n_good):
        img(root / "test" / "good" / f"{i:03d}.png")
    for d, n in defects.items():
        for i in range(n):
            img(root / "test" / d / f"{i:03d}.png")
            m = np.zeros((size, size), np.uint8)
            m[4:12, 4:12] = 255
            (root / "ground_truth" / d).mkdir(parents=True, exist_ok=True)
            Image.fromarray(m).save(root / "ground_truth" / d / f"{i:03d}_mask.png")
    return root


@pytest.fixture
def fake_category(tmp_path: Path) -> Path:
    return write_fake_category(tmp_path / "bottle")
