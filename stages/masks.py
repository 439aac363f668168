"""Stage `masks`: precompute the bank of training corruption masks of one category.

Writes data/masks/<category>.npz: bit-packed (N, S, S) masks, S = train.image_size,
N = masks.per_image x the category's training images, shapes of the families of
src/ssae/method/corruption_masks.py; mask k is seeded by (seed, category, k).
"""

from __future__ import annotations


import typer

from ssae.core import paths
from ssae.startup import CATEGORY as C, stage_category, stage_help

app = typer.Typer(add_completion=False)


@app.command(
    help=stage_help(
        "Compute one category's bank of training corruption masks (masks.per_image per training image).",
        f"{paths.raw_category(C)}/train/good/; {paths.PARAMS}: seed, masks, train.image_size and the category's "
        "overrides.<category>.masks and .train.",
        f"{paths.masks_file(C)} (bit-packed masks at train.image_size).",
        "python stages/masks.py --category brick   (in the pipeline: dvc repro masks@brick)",
    )
)
def main(
    category: str | None = typer.Option(
        None, help="Category to compute masks for (one of params.yaml categories; under dvc repro: the stage's)."
    ),
) -> None:
    from ssae.core.artifacts import pack_masks, save_npz  # imported here: --help stays fast
    from ssae.startup import start
    from ssae.method.corruption_masks import mask_bank, mask_families

    category = stage_category(category)
    params, table, _ = start(category)
    n_train = int((table.split == "train").sum())
    bank = mask_bank(n_train, params.train.image_size, params.masks, params.seed, category)
    save_npz(paths.masks_file(category), **pack_masks(bank))
    families = mask_families(len(bank), params.masks, params.seed, category)
    mix = ", ".join(f"{f} {families.count(f)}" for f in sorted(set(families)))
    print(f"{category}: {len(bank)} masks of {bank.shape[1]} px ({mix}), mean coverage {bank.mean():.3f}")


if __name__ == "__main__":
    app()
