"""runtime.reproducible: the train, score and aggregate stages give the same bytes on simulated
other machines (other CPU kernels forced through the libraries' own switches, other core
counts), and the simulation is real (unpinned, the same runs differ)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from ssae.core.config import ConfigError, parse_params
from conftest import ROOT, merge, stage

TINY = {
    "categories": ["brick"],
    "data": {"embedded": {"image_size": 48, "zoom": 0.5, "n_train": 8, "n_test_good": 3, "n_test_per_defect": 1}},
    "masks": {"per_image": 2},
    "train": {
        "image_size": 32,
        "epochs": 2,
        "batch_size": 3,
        "model": {"widths": [8, 16], "sdc_blocks": 1, "dilations": [1, 2]},
    },
}
# Two machines, simulated: the generic (non-SIMD) ATen kernels, oneDNN on SSE4.1, MKL's
# compatible path and one core, against this CPU's widest kernels and three cores (AVX-512 where
# it has them; forcing AVX-512 on an AVX2-only CPU kills the process with an illegal instruction)
WIDEST = torch.backends.cpu.get_cpu_capability().lower()  # this process runs unpinned: the CPU's best
MACHINES = {
    "generic, 1 core": {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_CBWR": "COMPATIBLE",
        "OMP_NUM_THREADS": "1",
    },
    "widest, 3 cores": {
        "ATEN_CPU_CAPABILITY": WIDEST,
        "ONEDNN_MAX_CPU_ISA": "ALL",
        "MKL_CBWR": "AUTO",
        "OMP_NUM_THREADS": "3",
    },
}
OUTPUTS = (
    "data/models/brick/model.pt",
    "data/models/brick/meta.json",
    "data/scores/brick.npz",
    "reports/metrics.json",
    "reports/results.csv",
)

needs_avx2 = pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"),
    reason="reproducible mode pins AVX2 kernels: this CPU has none",
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """data/raw and data/masks of the tiny brick (numpy only: the same on every machine)."""
    d = tmp_path_factory.mktemp("prepared")
    (d / "params.yaml").write_text(yaml.safe_dump(merge(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY)))
    for name in ("download", "masks"):
        args = ("--category", "brick")
        r = stage(name, d, *args)
        assert r.returncode == 0, r.stderr
    return d


def run_on(
    machine: str, prepared: Path, tmp: Path, runtime: dict, stages=("train", "score", "aggregate")
) -> dict[str, bytes]:
    """Run ``stages`` on a copy of ``prepared`` under the simulated ``machine`` with params
    ``runtime``; return the bytes of the outputs they wrote."""
    d = tmp / machine.replace(" ", "").replace(",", "_")
    shutil.copytree(prepared, d)
    params = yaml.safe_load((d / "params.yaml").read_text())
    (d / "params.yaml").write_text(yaml.safe_dump(merge(params, {"runtime": runtime})))
    env = {k: v for k, v in os.environ.items() if k not in MACHINES["generic, 1 core"]} | MACHINES[machine]
    for name in stages:
        args = () if name == "aggregate" else ("--category", "brick")
        r = subprocess.run(
            [sys.executable, str(ROOT / "stages" / f"{name}.py"), *args], cwd=d, env=env, capture_output=True, text=True
        )
        assert r.returncode == 0, f"{name} on {machine}: {r.stderr[-2000:]}"
    return {f: (d / f).read_bytes() for f in OUTPUTS if (d / f).exists()}


@pytest.mark.slow  # starts processes
@needs_avx2
def test_reproducible_runs_give_the_same_bytes_on_other_kernels_and_core_counts(prepared, tmp_path):
    a, b = (run_on(m, prepared, tmp_path / "pinned", {"reproducible": True, "threads": 2}) for m in MACHINES)
    assert set(a) == set(OUTPUTS)
    for f in OUTPUTS:
        assert a[f] == b[f], f"{f} differs between the simulated machines"


@pytest.mark.slow  # starts processes
@needs_avx2
def test_the_simulated_machines_really_differ_when_unpinned(prepared, tmp_path):
    """The control: without the pins, the same training gives other weights on the two
    simulated machines (else the test above would prove nothing)."""
    a, b = (run_on(m, prepared, tmp_path / "free", {"reproducible": False, "threads": 0}, ("train",)) for m in MACHINES)
    assert a["data/models/brick/model.pt"] != b["data/models/brick/model.pt"]


@pytest.mark.slow  # starts processes
def test_pinning_after_a_torch_operation_is_an_error_not_a_silent_mismatch():
    code = (
        "import os, torch\n"
        "os.environ['ATEN_CPU_CAPABILITY'] = 'default'\n"
        "torch.ones(4).exp()  # ATen chooses its kernels here, once\n"
        "from ssae.core import runtime\n"
        "runtime.pin_cpu(2)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode != 0
    assert "runtime.reproducible: torch's CPU kernels are DEFAULT, not AVX2" in r.stderr


def test_reproducible_mode_needs_a_fixed_thread_count():
    with pytest.raises(ConfigError, match="runtime.threads: must be >= 1 when reproducible"):
        parse_params({"runtime": {"reproducible": True, "threads": 0}})
    assert parse_params({"runtime": {"reproducible": False, "threads": 0}}).runtime.threads == 0
    with pytest.raises(ConfigError, match="runtime.threads: must be >= 0"):
        parse_params({"runtime": {"reproducible": False, "threads": -1}})
