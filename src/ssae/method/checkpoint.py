"""The trained model on disk, and the resumable state of an unfinished training run.

A model is ``model.pt`` (its state_dict), ``meta.json`` (the category, seed, full training
config, resolved augmentation, device, parameter count, FLOPs per image, number of training
images and final loss, so the checkpoint explains itself; and a ``checksum`` that binds it to
``model.pt``) and ``calibration.json`` (how its
anomaly map is computed, ``score.map`` and ``score.sigma``, and the threshold and
normalisation from held-out normal images, ``ssae.method.calibration``), with ``score.spread:
pixel`` also ``spread.npz`` (what the image score is divided by); ``load_model`` rebuilds the
model from meta.json alone, and a model folder is all ``predict`` needs. Loading checks the
folder (``ModelError``, one line naming the file): both files present and readable, meta.json's
checksum equal to the SHA-256 of model.pt and meta.json's other keys (an edited ``image_size``
or a swapped model.pt is refused), its training config valid, the weights' shapes its model's.

The training state (``save_state``/``load_state``) is the dict of ``training.train``'s
snapshot plus a ``key``: the SHA-256 of everything that determines the run (``run_key``). A
state is resumed only under the same key.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssae.core import paths
from ssae.core.artifacts import load_npz, save_json, save_npz, save_state_dict
from ssae.method.calibration import Calibration
from ssae.core.config import TrainConfig
from ssae.core.schema import ConfigError, as_dict, from_dict
from ssae.method.model import SDCCCM, count_flops, count_params


class ModelError(ValueError):
    """A model folder that cannot be used as it is; the message names the file."""


def _first_line(e: BaseException) -> str:
    """``Type: first sentence`` of an exception (torch's messages run to paragraphs)."""
    text = " ".join(str(e).split()).split(". ")[0]
    return f"{type(e).__name__}: {text}"[:300]


def checksum(weights: bytes, meta: dict) -> str:
    """SHA-256 of model.pt's bytes and meta.json's keys other than ``checksum`` (sorted JSON)."""
    h = hashlib.sha256(weights)
    h.update(json.dumps({k: v for k, v in meta.items() if k != "checksum"}, sort_keys=True).encode())
    return h.hexdigest()


def read_json(path: Path) -> dict:
    """A model folder's JSON file as a dict, or ``ModelError`` naming it."""
    try:
        d = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ModelError(f"{path}: missing (a model folder holds model.pt, meta.json and calibration.json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: not valid JSON ({_first_line(e)})") from None
    if not isinstance(d, dict):
        raise ModelError(f"{path}: not a JSON object")
    return d


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
    meta = {
        "category": category,
        "seed": seed,
        "train": as_dict(cfg),
        "augment": policy,
        "device": device.type,
        "n_params": count_params(model),
        "flops_per_image": count_flops(model, cfg.image_size),
        "n_train_images": n_train_images,
        "final_loss": losses[-1],
    }
    save_json(meta_file, meta | {"checksum": checksum(Path(weights).read_bytes(), meta)})


def load_model(weights: Path, meta_file: Path, device: torch.device) -> tuple[SDCCCM, int]:
    """The model of ``save_model`` (eval mode, on ``device``) and its image size, built from
    meta.json's training config; ``ModelError`` naming the file if the folder is not consistent
    (module doc). A meta.json without a checksum (written before there was one) is not checked."""
    weights, meta_file = Path(weights), Path(meta_file)
    meta = read_json(meta_file)
    try:
        data = weights.read_bytes()
    except OSError as e:
        raise ModelError(f"{weights}: {'missing' if isinstance(e, FileNotFoundError) else _first_line(e)}") from None
    if "checksum" in meta and meta["checksum"] != checksum(data, meta):
        raise ModelError(
            f"{meta_file}: does not match {weights.name} (checksum differs: one of them was edited or "
            "replaced); use the two files of one training run"
        )
    try:
        cfg = from_dict(TrainConfig, meta["train"], "train.")
    except KeyError:
        raise ModelError(f"{meta_file}: no 'train' config") from None
    except (ConfigError, TypeError, ValueError) as e:
        raise ModelError(f"{meta_file}: {' '.join(str(e).split())}") from None
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- torch raises many kinds for a truncated or foreign file
        raise ModelError(f"{weights}: unreadable, not a saved model ({_first_line(e)})") from None
    model = SDCCCM(cfg.model)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise ModelError(
            f"{weights}: its weights do not fit the model of {meta_file.name} ({_first_line(e)})"
        ) from None
    return model.to(device).eval(), cfg.image_size


def save_calibration(
    path: Path,
    cal: Calibration,
    *,
    map_kind: str,
    sigma: float,
    heldout_images: list[str],
    image_topk: float = 0.0,
    spread: np.ndarray | None = None,
    spread_floor: float | None = None,
) -> None:
    """Write the anomaly-map recipe and the calibration (threshold, scale, held-out scores); with
    ``spread`` ((S, S) float32, ``score.spread: pixel``, built with ``spread_floor``)
    also that, to ``spread.npz`` beside ``path`` (removed when there is none)."""
    d = {
        "map": map_kind,
        "sigma": sigma,
        "image_topk": image_topk,
        "threshold": cal.threshold,
        "scale": cal.scale,
        "quantile": cal.quantile,
        "heldout": {"images": heldout_images, "scores": list(cal.heldout_scores)},
    }
    npz = Path(path).with_name(paths.SPREAD)
    if spread is None:
        npz.unlink(missing_ok=True)
    else:
        d["spread"] = {"kind": "pixel", "floor": spread_floor, "file": paths.SPREAD}
        save_npz(npz, spread=np.asarray(spread, np.float32))
    save_json(path, d)


def load_calibration(path: Path) -> tuple[Calibration, str, float]:
    """(calibration, anomaly map kind, sigma) of ``save_calibration``."""
    d = read_json(path)
    try:
        cal = Calibration(float(d["threshold"]), float(d["scale"]), float(d["quantile"]), tuple(d["heldout"]["scores"]))
        return cal, str(d["map"]), float(d["sigma"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{path}: not a calibration ({_first_line(e)})") from None


def load_spread(path: Path, size: int) -> np.ndarray | None:
    """The (size, size) float32 image-score spread that the ``save_calibration`` file ``path``
    names, or None where it names none (``score.spread: none``, or written before it was a
    param); ``ModelError`` naming the file if it is missing or not ``size`` x ``size`` positive numbers."""
    if read_json(path).get("spread") is None:
        return None
    npz = Path(path).with_name(paths.SPREAD)
    try:
        n = load_npz(npz)["spread"].astype(np.float32)
    except FileNotFoundError:
        raise ModelError(
            f"{npz}: missing ({path.name} names it: the folder was trained with score.spread: pixel)"
        ) from None
    except (OSError, KeyError, ValueError) as e:
        raise ModelError(f"{npz}: unreadable, not a spread ({_first_line(e)})") from None
    if n.shape != (size, size) or not (np.isfinite(n).all() and (n > 0).all()):
        raise ModelError(f"{npz}: must hold {size} x {size} positive numbers (the model's side), got {n.shape}")
    return n


def load_image_topk(path: Path) -> float:
    """The image score's top-k fraction of a ``save_calibration`` file (0, the maximum, for model
    folders written before it was a param)."""
    try:
        return float(read_json(path).get("image_topk", 0.0))
    except (TypeError, ValueError) as e:
        raise ModelError(f"{path}: not a calibration ({_first_line(e)})") from None
