"""The checkpoint format: a saved model loads back from meta.json alone; training states are keyed."""

import json

import numpy as np
import pytest
import torch

from ssae.method.checkpoint import load_model, load_state, run_key, save_model, save_state
from ssae.core.config import ModelConfig, TrainConfig
from ssae.method.model import SDCCCM

CPU = torch.device("cpu")
CFG = TrainConfig(image_size=16, model=ModelConfig(widths=(8, 16), sdc_blocks=1, dilations=(1, 2), gates=False))


def test_a_saved_model_loads_back_with_its_config_and_weights(tmp_path):
    model = SDCCCM(CFG.model).eval()
    weights, meta = tmp_path / "m" / "model.pt", tmp_path / "m" / "meta.json"
    save_model(
        model,
        weights,
        meta,
        category="grass",
        seed=3,
        cfg=CFG,
        policy="flip",
        device=CPU,
        n_train_images=7,
        losses=[0.5, 0.25],
    )
    loaded, size = load_model(weights, meta, CPU)
    assert size == 16 and not loaded.training
    assert loaded.up[0].merge is None  # gates=False came back from meta.json, not the defaults
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    m = json.loads(meta.read_text())
    assert (m["category"], m["seed"], m["augment"], m["n_train_images"], m["final_loss"]) == (
        "grass",
        3,
        "flip",
        7,
        0.25,
    )
    assert m["train"]["model"]["widths"] == [8, 16] and m["n_params"] == sum(p.numel() for p in model.parameters())


def test_a_training_state_resumes_only_under_its_key(tmp_path, capsys):
    path = tmp_path / "ckpt" / "grass.pt"
    assert load_state(path, "k") is None  # nothing saved yet
    save_state(path, "k", {"epochs_done": 2, "losses": [1.0, 0.5], "model": {"w": torch.ones(3)}})
    state = load_state(path, "k")
    assert (
        state["epochs_done"] == 2 and state["losses"] == [1.0, 0.5] and torch.equal(state["model"]["w"], torch.ones(3))
    )
    assert "resuming after epoch 2" in capsys.readouterr().err
    assert load_state(path, "other") is None
    assert "from a different config or data" in capsys.readouterr().err


def test_the_run_key_covers_what_determines_training():
    rng = np.random.default_rng(0)
    images, bank = rng.random((2, 3, 16, 16)).astype(np.float32), rng.random((4, 16, 16)) > 0.5
    key = run_key(0, "grass", "flip", CFG, images, bank)
    assert key == run_key(0, "grass", "flip", CFG, images.copy(), bank.copy()) and len(key) == 64
    changed = [
        run_key(1, "grass", "flip", CFG, images, bank),
        run_key(0, "brick", "flip", CFG, images, bank),
        run_key(0, "grass", "none", CFG, images, bank),
        run_key(0, "grass", "flip", TrainConfig(), images, bank),
        run_key(0, "grass", "flip", CFG, images[::-1], bank),
        run_key(0, "grass", "flip", CFG, images, ~bank),
    ]
    assert len({key, *changed}) == 7


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_training_state_costs_one_line_and_a_restart(tmp_path, capsys, damage):
    path = tmp_path / "grass.pt"
    save_state(path, "k", {"epochs_done": 1, "model": {"w": torch.ones(1000)}})
    data = path.read_bytes()
    path.write_bytes(b"not a checkpoint " * 20 if damage == "garbage" else data[: len(data) // 2])
    assert load_state(path, "k") is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{path}: unreadable") and err.endswith("training from scratch\n")
