"""Published MVTec AD numbers to set our results against (fractions, not %).

Sources: Bauer, Nakajima & Müller, Mathematics 12(24):3988, 2024 (abstract: mean image and pixel
AUROC); PatchCore official repository (WideResNet-50, mean image AUROC / pixel AUROC / PRO);
DRAEM, Zavrtanik et al., ICCV 2021 (per-category pixel AUROC; means). Per-category numbers of
the paper and its hyperparameters are not published.
"""

from __future__ import annotations

MEANS: dict[str, dict[str, float]] = {
    "paper (Bauer et al. 2024)": {"image_auroc": 0.998, "pixel_auroc": 0.992},
    "PatchCore WR50": {"image_auroc": 0.992, "pixel_auroc": 0.981, "aupro": 0.944},
    "DRAEM": {"image_auroc": 0.980, "pixel_auroc": 0.973, "pixel_ap": 0.684},
}

DRAEM_PIXEL_AUROC: dict[str, float] = {
    "bottle": 0.991,
    "cable": 0.947,
    "capsule": 0.943,
    "carpet": 0.955,
    "grid": 0.997,
    "hazelnut": 0.997,
    "leather": 0.986,
    "metal_nut": 0.995,
    "pill": 0.976,
    "screw": 0.976,
    "tile": 0.992,
    "toothbrush": 0.981,
    "transistor": 0.909,
    "wood": 0.964,
    "zipper": 0.988,
}
