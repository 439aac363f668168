"""MVTec AD as published: its categories, per-category counts and sizes, and where to get it.

Facts only (no code that reads files): ``config`` takes the category names, mirrors and
checksum from here, ``mvtec_verify`` the counts, ``mvtec_source`` the archive name and landing
page.
"""

from __future__ import annotations

from dataclasses import dataclass

LANDING_PAGE = "https://www.mvtec.com/company/research/datasets/mvtec-ad"
ARCHIVE_NAME = "mvtec_anomaly_detection.tar.xz"
# Newest first. The hosting URL has changed several times; the bytes (SHA256) have not.
MIRRORS = (
    "https://www.mydrive.ch/shares/150996/b52ecdcbf521176e9db9c731f2304b27/download/420938113-1629960298/mvtec_anomaly_detection.tar.xz",
    "https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f283/download/420938113-1629960298/mvtec_anomaly_detection.tar.xz",
    "https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f282/download/420938113-1629952094/mvtec_anomaly_detection.tar.xz",
)
SHA256 = "cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d"  # of ARCHIVE_NAME

TEXTURES = ("carpet", "grid", "leather", "tile", "wood")
OBJECTS = (
    "bottle",
    "cable",
    "capsule",
    "hazelnut",
    "metal_nut",
    "pill",
    "screw",
    "toothbrush",
    "transistor",
    "zipper",
)
CATEGORIES = TEXTURES + OBJECTS
GREYSCALE = ("grid", "screw", "zipper")  # single-channel files (read as 3 channels by layout.load_image)


@dataclass(frozen=True)
class CategorySpec:
    train: int  # train/good images
    test_good: int  # test/good images
    test_anomalous: int  # images over all test/<defect> folders (each with a mask)
    defect_types: int  # test/<defect> folders besides good (a "combined" folder counts)
    side: int  # every image and mask is side x side px


# Bergmann et al., "MVTec AD", CVPR 2019, Table 1 (as in ../shared/REFERENCE.md).
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


def max_file_bytes(spec: CategorySpec) -> int:
    """The most bytes an image or mask file of the category can take: 4 bytes a pixel (RGBA,
    uncompressed PNG) and 64 KiB of headers; a cap for extraction."""
    return 4 * spec.side * spec.side + (1 << 16)


def max_category_bytes(spec: CategorySpec) -> int:
    """The most bytes the category's files can take (every image, and a mask per defect image)."""
    return (spec.train + spec.test_good + 2 * spec.test_anomalous) * max_file_bytes(spec)
