"""MVTec AD as published: the official per-category counts, and verification of a tree.

``verify_category`` checks one extracted category against its ``CategorySpec``: image counts
per split, number of defect types, every defect image paired with its mask (by stem, via
``dataset.index_category``), every file decodable, images of the published side and masks of
their image's size. ``place_category`` puts a verified local category into ``data/raw``.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ssae.dataset import DatasetError, index_category

LANDING_PAGE = "https://www.mvtec.com/company/research/datasets/mvtec-ad"


@dataclass(frozen=True)
class CategorySpec:
    train: int  # train/good images
    test_good: int  # test/good images
    test_anomalous: int  # images over all test/<defect> folders (each with a mask)
    defect_types: int  # test/<defect> folders besides good (a "combined" folder counts)
    side: int  # every image and mask is side x side px


# Bergmann et al., "MVTec AD", CVPR 2019, Table 1 (as in ../shared/REFERENCE.md).
# grid, screw and zipper are single-channel greyscale (read as 3-channel by dataset.load_image).
OFFICIAL: dict[str, CategorySpec] = {
    "bottle": CategorySpec(209, 20, 63, 3, 900),
    "cable": CategorySpec(224, 58, 92, 8, 1024),
    "capsule": CategorySpec(219, 23, 109, 5, 1000),
    "carpet": CategorySpec(280, 28, 89, 5, 1024),
    "grid": CategorySpec(264, 21, 57, 5, 1024),
    "hazelnut": CategorySpec(391, 40, 70, 4, 1024),
    "leather": CategorySpec(245, 32, 92, 5, 1024),
    "metal_nut": CategorySpec(220, 22, 93, 4, 700),
    "pill": CategorySpec(267, 26, 141, 7, 800),
    "screw": CategorySpec(320, 41, 119, 5, 1024),
    "tile": CategorySpec(230, 33, 84, 5, 840),
    "toothbrush": CategorySpec(60, 12, 30, 1, 1024),
    "transistor": CategorySpec(213, 60, 40, 4, 1024),
    "wood": CategorySpec(247, 19, 60, 5, 1024),
    "zipper": CategorySpec(240, 32, 119, 7, 1024),
}


def _numbering(names: list[str], expected: int | None = None) -> str:
    """Which files of a folder numbered 000, 001, ... (the MVTec AD naming) are missing or extra.

    With ``expected``, the folder should hold exactly 000 .. expected-1; without, gaps are missing.
    """
    numbers = {int(Path(n).stem): n for n in names if Path(n).stem.isdigit()}
    top = expected if expected is not None else max(numbers, default=-1) + 1
    missing = [f"{i:03d}" for i in range(top) if i not in numbers]
    extra = sorted(n for n in names if not Path(n).stem.isdigit() or int(Path(n).stem) >= top)
    notes = ([f"missing {missing[:10]}"] if missing else []) + ([f"extra {extra[:10]}"] if extra else [])
    return f" ({', '.join(notes)})" if notes else ""


def _check_counts(name: str, table, spec: CategorySpec) -> None:
    """Compare the image counts of an ``index_category`` table with ``spec``."""
    def folder(split: str, defect: str, expected: int | None = None) -> str:
        images = table[(table.split == split) & (table.defect == defect)].image
        return f"{split}/{defect}: {len(images)}" + _numbering([p.name for p in images], expected)

    defects = sorted(set(table[table.label == 1].defect))
    if len(defects) != spec.defect_types:
        raise DatasetError(f"{name}: {len(defects)} defect types, expected {spec.defect_types}; "
                           f"found test/{{{', '.join(defects)}}}")
    checks = [
        ("train", int((table.split == "train").sum()), spec.train, [folder("train", "good", spec.train)]),
        ("test good", int(((table.split == "test") & (table.label == 0)).sum()), spec.test_good,
         [folder("test", "good", spec.test_good)]),
        ("test anomalous", int((table.label == 1).sum()), spec.test_anomalous,
         [folder("test", d) for d in defects]),
    ]
    for what, n, expected, detail in checks:
        if n != expected:
            diff = f"{expected - n} missing" if n < expected else f"{n - expected} extra"
            raise DatasetError(f"{name}: {n} {what} images, expected {expected} ({diff}); "
                               f"found {'; '.join(detail)}")


def _check_file(image: Path, mask: Path | None, side: int, root: Path) -> str | None:
    """None if the image (and its mask) decode at the right size, else the reason."""
    try:
        with Image.open(image) as im:
            im.load()
            size = im.size
        if size != (side, side):
            return f"{image.relative_to(root)} is {size[0]}x{size[1]} px, expected {side}x{side}"
        if mask is not None:
            with Image.open(mask) as m:
                m.load()
                if m.size != size:
                    return f"{mask.relative_to(root)} is {m.size[0]}x{m.size[1]} px but its image is {size[0]}x{size[1]}"
    except (OSError, SyntaxError, ValueError) as e:  # what PIL raises for truncated or foreign files
        return f"cannot decode {image.relative_to(root)}{'' if mask is None else ' or its mask'}: {e}"
    return None


def verify_category(root: Path, spec: CategorySpec, name: str | None = None, workers: int = 4) -> None:
    """Check an extracted category against ``spec``; raise ``DatasetError`` naming what is wrong.

    Decodes every image and mask (threads: PIL releases the GIL while decoding).
    """
    root = Path(root)
    name = name or root.name
    if not root.is_dir():
        raise DatasetError(f"{name}: {root} does not exist")
    table = index_category(root)  # folders present, stems of images and masks pair up
    _check_counts(name, table, spec)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        problems = [p for p in pool.map(lambda r: _check_file(r.image, r.mask, spec.side, root),
                                        table.itertuples()) if p]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DatasetError(f"{name}: {problems[0]}{more}")


def verify_tree(root: Path, categories: tuple[str, ...], expected: dict[str, CategorySpec] = OFFICIAL) -> None:
    """``verify_category`` for each of ``categories`` under ``root`` (raises on the first bad one)."""
    for category in categories:
        if category not in expected:
            raise DatasetError(f"{category}: no expected counts for this category")
        verify_category(Path(root) / category, expected[category], category)


def place_category(src: Path, dst: Path) -> str:
    """Hard-link every file of ``src`` into a new ``dst`` (copy when linking fails, e.g. across
    file systems); return "linked" or "copied". ``src`` is never modified: DVC replaces the
    links by copies from its cache when it stores ``data/raw``."""
    how = {"linked": 0, "copied": 0}

    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
            how["linked"] += 1
        except OSError:
            shutil.copy2(s, d)
            how["copied"] += 1

    shutil.copytree(src, dst, copy_function=link)
    return "copied" if how["copied"] else "linked"
