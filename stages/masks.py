"""Stage `masks`: precompute the bank of training corruption masks of one category.

Writes data/masks/<category>.npz: bit-packed (N, S, S) masks, S = train.image_size,
N = masks.per_image x the category's training images, shapes of the families of
src/ssae/masks.py; mask k is seeded by (seed, category, k).
"""

from __future__ import annotations

import typer

from ssae import paths
from ssae.artifacts import pack_masks, save_npz
from ssae.cli import start
from ssae.masks import mask_bank, mask_families

app = typer.Typer(add_completion=False)


@app.command()
def main(category: str = typer.Option(..., help="Category to compute masks for.")) -> None:
    """Compute one category's mask bank (reads params.yaml: seed, masks, train.image_size)."""
    params, table, _ = start(category)
    n_train = int((table.split == "train").sum())
    bank = mask_bank(n_train, params.train.image_size, params.masks, params.seed, category)
    save_npz(paths.masks_file(category), **pack_masks(bank))
    families = mask_families(len(bank), params.masks, params.seed, category)
    mix = ", ".join(f"{f} {families.count(f)}" for f in sorted(set(families)))
    print(f"{category}: {len(bank)} masks of {bank.shape[1]} px ({mix}), mean coverage {bank.mean():.3f}")


if __name__ == "__main__":
    app()
