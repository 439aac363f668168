"""Stage `train`: train one category's SDC-CCM autoencoder; a killed run resumes.

Writes data/models/<category>/model.pt (state_dict) and meta.json (model and training config,
seed, augmentation, parameter count, FLOPs per image: the checkpoint explains itself), and the
per-epoch loss through DVCLive to reports/train/<category>/.

Resuming: after every epoch the full training state goes to data/checkpoints/<category>.pt,
which is not a DVC output (DVC deletes outputs before it runs a stage). The state carries a
key: the SHA-256 of the training config, seed, category, augmentation and the exact training
images and masks. A re-run with the same key continues after the last finished epoch (and
replays the earlier losses into DVCLive), bit-identical on CPU to an uninterrupted run; any
other key starts over. The checkpoint is deleted once the outputs are written.
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np
import torch
import typer
from dvclive import Live

from ssae import paths, runtime
from ssae.artifacts import load_npz, save_json, save_state_dict, unpack_masks
from ssae.cli import fail, params_or_exit
from ssae.config import Params, as_dict
from ssae.dataset import DatasetError, index_category, load_images
from ssae.model import count_flops, count_params
from ssae.augment import augment_policy
from ssae.training import train

app = typer.Typer(add_completion=False)


def run_key(params: Params, category: str, policy: str, images: np.ndarray, bank: np.ndarray) -> str:
    """SHA-256 of everything that determines a training run."""
    h = hashlib.sha256()
    what = {"seed": params.seed, "category": category, "policy": policy, "train": as_dict(params.train),
            "torch": torch.__version__}
    h.update(json.dumps(what, sort_keys=True).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(np.packbits(bank).tobytes())
    return h.hexdigest()


def load_resume(category: str, key: str) -> dict | None:
    """The saved state of an interrupted run with this key, or None (a stale one is dropped)."""
    path = paths.checkpoint_file(category)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- an unreadable checkpoint only costs a restart
        print(f"{path}: unreadable ({e}); training from scratch", file=sys.stderr)
        return None
    if state.get("key") != key:
        print(f"{path}: from a different config or data; training from scratch", file=sys.stderr)
        return None
    print(f"{path}: resuming after epoch {state['epochs_done']}", file=sys.stderr)
    return state


@app.command()
def main(category: str = typer.Option(..., help="Category to train.")) -> None:
    """Train on the category's normal images (reads params.yaml: seed, train)."""
    params = params_or_exit(category)
    cfg = params.train
    try:
        device = runtime.setup(params.seed, cfg.device)
    except RuntimeError as e:
        raise fail(f"train.{e}") from None
    try:
        table = index_category(paths.raw_category(category))
    except DatasetError as e:
        raise fail(str(e)) from None
    images = load_images(list(table[table.split == "train"].image), cfg.image_size)
    bank = unpack_masks(**load_npz(paths.masks_file(category)))
    if bank.shape[1:] != (cfg.image_size, cfg.image_size):
        raise fail(f"{paths.masks_file(category)} holds {bank.shape[1]}-px masks, train.image_size is {cfg.image_size}: re-run the masks stage")
    policy = augment_policy(cfg.augment, category)
    key = run_key(params, category, policy, images, bank)
    resume = load_resume(category, key)

    with Live(str(paths.train_log_dir(category)), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        for loss in (resume or {}).get("losses", []):  # DVC deleted the log: replay the finished epochs
            live.log_metric("train/loss", loss)
            live.next_step()

        def on_epoch(epoch: int, loss: float, snapshot) -> None:
            save_state_dict(paths.checkpoint_file(category), {"key": key, **snapshot()})
            live.log_metric("train/loss", loss)
            live.next_step()

        model, losses = train(images, bank, cfg, params.seed, device, on_epoch, policy, resume, desc=f"train {category}")

    save_state_dict(paths.model_weights(category), {k: v.cpu() for k, v in model.state_dict().items()})
    save_json(paths.model_meta(category), {
        "category": category,
        "seed": params.seed,
        "train": as_dict(cfg),
        "augment": policy,
        "device": device.type,
        "n_params": count_params(model),
        "flops_per_image": count_flops(model, cfg.image_size),
        "n_train_images": len(images),
        "final_loss": losses[-1],
    })
    paths.checkpoint_file(category).unlink(missing_ok=True)


if __name__ == "__main__":
    app()
