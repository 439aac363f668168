"""The trained model on disk, and the resumable state of an unfinished training run.

A model is ``model.pt`` (its state_dict), ``meta.json`` (the category, seed, full training
config, resolved augmentation, device, parameter count, FLOPs per image, number of training
images and final loss, so the checkpoint explains itself) and ``calibration.json`` (how its
anomaly map is computed, ``score.map`` and ``score.sigma``, and the threshold and
normalisation from held-out normal images, ``ssae.method.calibration``); ``load_model`` rebuilds the
model from meta.json alone, and a model folder is all ``predict`` needs.

The training state (``save_state``/``load_state``) is the dict of ``training.train``'s
snapshot plus a ``key``: the SHA-256 of everything that determines the run (``run_key``). A
state is resumed only under the same key.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssae.core.artifacts import save_json, save_state_dict
from ssae.method.calibration import Calibration
from ssae.core.config import ModelConfig, TrainConfig
from ssae.core.schema import as_dict, from_dict
from ssae.method.model import SDCCCM, count_flops, count_params


def run_key(seed: int, category: str, policy: str, cfg: TrainConfig, images: np.ndarray, bank: np.ndarray) -> str:
    """SHA-256 of everything that determines a training run: seed, category, augmentation,
    training config, torch version, the training images (N, 3, S, S) and the mask bank."""
    h = hashlib.sha256()
    what = {"seed": seed, "category": category, "policy": policy, "train": as_dict(cfg), "torch": torch.__version__}
    h.update(json.dumps(what, sort_keys=True).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(np.packbits(bank).tobytes())
    return h.hexdigest()


def save_state(path: Path, key: str, snapshot: dict[str, Any]) -> None:
    """Write a training snapshot (``training.train``'s ``snapshot()``) under ``key``."""
    save_state_dict(path, {"key": key, **snapshot})


def load_state(path: Path, key: str) -> dict[str, Any] | None:
    """The saved state of an interrupted run with this key, or None (missing, unreadable or of
    another key: training starts over). Says which on stderr."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- an unreadable checkpoint only costs a restart
        first = str(e).strip().split("\n")[0].split(". ")[0]  # torch's notices run to many lines
        print(
            f"{path}: unreadable, not a complete training state ({type(e).__name__}: {first}); training from scratch",
            file=sys.stderr,
        )
        return None
    if state.get("key") != key:
        print(f"{path}: from a different config or data; training from scratch", file=sys.stderr)
        return None
    print(f"{path}: resuming after epoch {state['epochs_done']}", file=sys.stderr)
    return state


def save_model(
    model: SDCCCM,
    weights: Path,
    meta_file: Path,
    *,
    category: str,
    seed: int,
    cfg: TrainConfig,
    policy: str,
    device: torch.device,
    n_train_images: int,
    losses: list[float],
) -> None:
    """Write the model's state_dict to ``weights`` and its description to ``meta_file``."""
    save_state_dict(weights, {k: v.cpu() for k, v in model.state_dict().items()})
    save_json(
        meta_file,
        {
            "category": category,
            "seed": seed,
            "train": as_dict(cfg),
            "augment": policy,
            "device": device.type,
            "n_params": count_params(model),
            "flops_per_image": count_flops(model, cfg.image_size),
            "n_train_images": n_train_images,
            "final_loss": losses[-1],
        },
    )


def load_model(weights: Path, meta_file: Path, device: torch.device) -> tuple[SDCCCM, int]:
    """The model of ``save_model`` (eval mode, on ``device``) and its image size, built from
    meta.json's training config."""
    meta = json.loads(Path(meta_file).read_text())
    model = SDCCCM(from_dict(ModelConfig, meta["train"]["model"], "model."))
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.to(device).eval(), int(meta["train"]["image_size"])


def save_calibration(
    path: Path, cal: Calibration, *, map_kind: str, sigma: float, heldout_images: list[str], image_topk: float = 0.0
) -> None:
    """Write the anomaly-map recipe and the calibration (threshold, scale, held-out scores)."""
    save_json(
        path,
        {
            "map": map_kind,
            "sigma": sigma,
            "image_topk": image_topk,
            "threshold": cal.threshold,
            "scale": cal.scale,
            "quantile": cal.quantile,
            "heldout": {"images": heldout_images, "scores": list(cal.heldout_scores)},
        },
    )


def load_calibration(path: Path) -> tuple[Calibration, str, float]:
    """(calibration, anomaly map kind, sigma) of ``save_calibration``."""
    d = json.loads(Path(path).read_text())
    cal = Calibration(float(d["threshold"]), float(d["scale"]), float(d["quantile"]), tuple(d["heldout"]["scores"]))
    return cal, str(d["map"]), float(d["sigma"])


def load_image_topk(path: Path) -> float:
    """The image score's top-k fraction of a ``save_calibration`` file (0, the maximum, for model
    folders written before it was a param)."""
    return float(json.loads(Path(path).read_text()).get("image_topk", 0.0))
