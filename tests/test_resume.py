"""A train stage killed mid-run (SIGKILL) resumes from its checkpoint when re-run, and ends with
the same bytes as a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from test_pipeline import ROOT, merge

STAGES = ROOT / "stages"
SMALL = {
    "categories": ["grass"],
    "data": {"embedded": {"image_size": 48, "zoom": 0.5, "n_train": 16, "n_test_good": 2, "n_test_per_defect": 1}},
    "masks": {"per_image": 2},
    "train": {
        "image_size": 32,
        "epochs": 12,
        "batch_size": 4,
        "model": {"widths": [8, 16], "sdc_blocks": 1, "dilations": [1, 2]},
    },
}


def stage(name: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(STAGES / f"{name}.py"), *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("resume")
    params = merge(yaml.safe_load((ROOT / "params.yaml").read_text()), SMALL)
    (d / "params.yaml").write_text(yaml.safe_dump(params))
    for name in ("download", "masks"):
        r = stage(name, d, "--category", "grass")
        assert r.returncode == 0, r.stderr
    return d


def outputs(d: Path) -> dict[str, bytes]:
    files = [
        d / "data/models/grass/model.pt",
        d / "data/models/grass/meta.json",
        d / "reports/train/grass/plots/metrics/train/loss.tsv",
    ]
    return {f.name: f.read_bytes() for f in files}


def test_killed_training_resumes_and_matches_an_uninterrupted_run(work):
    ckpt = work / "data/checkpoints/grass.pt"
    proc = subprocess.Popen(
        [sys.executable, str(STAGES / "train.py"), "--category", "grass"],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt.exists(), "the run ended before its first checkpoint could be seen"
    assert not (work / "data/models/grass/model.pt").exists(), "the run finished before it was killed"

    r = stage("train", work, "--category", "grass")
    assert r.returncode == 0, r.stderr
    assert "resuming after epoch" in r.stderr
    assert not ckpt.exists()  # removed once training completed
    resumed = outputs(work)
    assert len(resumed["loss.tsv"].decode().strip().splitlines()) == 1 + 12  # header + every epoch

    for f in ("data/models", "reports/train"):  # what DVC removes before a run
        subprocess.run(["rm", "-rf", str(work / f)], check=True)
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
