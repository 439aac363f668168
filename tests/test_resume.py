"""A train stage killed mid-run (SIGKILL) resumes from its checkpoint when re-run, and ends with
the same bytes as a run that was never interrupted.

The kill is not timed from outside: the stage process kills itself with SIGKILL right after it
saved the checkpoint of epoch ``KILLED_AFTER`` (``save_state`` wrapped), so the test sees the
same interruption on a fast and on a loaded machine."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, STAGES, merge, stage

pytestmark = pytest.mark.slow  # runs stages as processes

EPOCHS, KILLED_AFTER = 4, 2
SMALL = {
    "categories": ["grass"],
    "data": {"embedded": {"image_size": 48, "zoom": 0.5, "n_train": 16, "n_test_good": 2, "n_test_per_defect": 1}},
    "masks": {"per_image": 2},
    "train": {
        "image_size": 32,
        "epochs": EPOCHS,
        "batch_size": 4,
        "model": {"widths": [8, 16], "sdc_blocks": 1, "dilations": [1, 2]},
    },
}
# the train stage, killed by SIGKILL once the checkpoint of epoch KILLED_AFTER is on disk
KILLED_TRAIN = f"""
import os, runpy, signal, sys
import ssae.method.checkpoint as checkpoint

save = checkpoint.save_state
def save_then_die(path, key, snapshot):
    save(path, key, snapshot)
    if snapshot["epochs_done"] == {KILLED_AFTER}:
        os.kill(os.getpid(), signal.SIGKILL)
checkpoint.save_state = save_then_die
sys.argv = [{str(STAGES / "train.py")!r}, "--category", "grass"]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """params.yaml, data/raw and data/masks of the small run (download and masks stages run once)."""
    d = tmp_path_factory.mktemp("resume")
    params = merge(yaml.safe_load((ROOT / "params.yaml").read_text()), SMALL)
    (d / "params.yaml").write_text(yaml.safe_dump(params))
    for name in ("download", "masks"):
        r = stage(name, d, "--category", "grass")
        assert r.returncode == 0, r.stderr
    return d


@pytest.fixture
def work(prepared, tmp_path) -> Path:
    """A fresh copy of ``prepared`` for one test: no model, no checkpoint."""
    return shutil.copytree(prepared, tmp_path / "work")


def outputs(d: Path) -> dict[str, bytes]:
    files = [
        d / "data/models/grass/model.pt",
        d / "data/models/grass/meta.json",
        d / "reports/train/grass/plots/metrics/train/loss.tsv",
    ]
    return {f.name: f.read_bytes() for f in files}


def test_killed_training_resumes_and_matches_an_uninterrupted_run(work):
    ckpt = work / "data/checkpoints/grass.pt"
    killed = subprocess.run([sys.executable, "-c", KILLED_TRAIN], cwd=work, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert ckpt.exists() and not (work / "data/models/grass/model.pt").exists()

    r = stage("train", work, "--category", "grass")
    assert r.returncode == 0, r.stderr
    assert f"resuming after epoch {KILLED_AFTER}" in r.stderr
    assert not ckpt.exists()  # removed once training completed
    resumed = outputs(work)
    assert len(resumed["loss.tsv"].decode().strip().splitlines()) == 1 + EPOCHS  # header + every epoch

    for f in ("data/models", "reports/train"):  # what DVC removes before a run
        shutil.rmtree(work / f)
    r = stage("train", work, "--category", "grass")
    assert r.returncode == 0 and "resuming" not in r.stderr
    assert outputs(work) == resumed


def test_a_checkpoint_of_another_config_is_not_resumed(work):
    ckpt = work / "data/checkpoints/grass.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    from ssae.core.artifacts import save_state_dict

    save_state_dict(ckpt, {"key": "0" * 64, "epochs_done": 3})
    r = stage("train", work, "--category", "grass")
    assert r.returncode == 0, r.stderr
    assert "from a different config or data; training from scratch" in r.stderr
    assert not ckpt.exists()
