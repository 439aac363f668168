"""Stage `train`: train one category's SDC-CCM autoencoder.

Writes data/models/<category>/model.pt (state_dict) and meta.json (model and training config,
seed, parameter count: the checkpoint explains itself), and the per-epoch loss through DVCLive
to reports/train/<category>/.
"""

from __future__ import annotations

import typer
from dvclive import Live

from ssae import paths, runtime
from ssae.artifacts import load_npz, save_json, save_state_dict, unpack_masks
from ssae.cli import fail, params_or_exit
from ssae.config import as_dict
from ssae.dataset import DatasetError, index_category, load_images
from ssae.model import count_params
from ssae.training import train

app = typer.Typer(add_completion=False)


@app.command()
def main(category: str = typer.Option(..., help="Category to train.")) -> None:
    """Train on the category's normal images (reads params.yaml: seed, train)."""
    params = params_or_exit(category)
    cfg = params.train
    device = runtime.setup(params.seed)
    try:
        table = index_category(paths.raw_category(category))
    except DatasetError as e:
        raise fail(str(e)) from None
    images = load_images(list(table[table.split == "train"].image), cfg.image_size)
    bank = unpack_masks(**load_npz(paths.masks_file(category)))
    if bank.shape[1:] != (cfg.image_size, cfg.image_size):
        raise fail(f"{paths.masks_file(category)} holds {bank.shape[1]}-px masks, train.image_size is {cfg.image_size}: re-run the masks stage")

    losses: list[float] = []
    with Live(str(paths.train_log_dir(category)), dvcyaml=None, save_dvc_exp=False, report=None) as live:

        def on_epoch(epoch: int, loss: float) -> None:
            losses.append(loss)
            live.log_metric("train/loss", loss)
            live.next_step()

        model = train(images, bank, cfg, params.seed, device, on_epoch, desc=f"train {category}")

    save_state_dict(paths.model_weights(category), {k: v.cpu() for k, v in model.state_dict().items()})
    save_json(paths.model_meta(category), {
        "category": category,
        "seed": params.seed,
        "train": as_dict(cfg),
        "n_params": count_params(model),
        "n_train_images": len(images),
        "final_loss": losses[-1],
    })


if __name__ == "__main__":
    app()
