"""Figures: deterministic PNGs, drawn without pyplot (no backend, no global figure state)."""

import pytest
import subprocess
import sys

import numpy as np
import pandas as pd

from ssae.evaluation.figures import curves_figure, gallery, loss_curves, metric_bars
from ssae.evaluation.tables import METRIC_LABELS


def draw_all(d):
    rng = np.random.default_rng(0)
    img = rng.random((2, 3, 16, 16)).astype(np.float32)
    gallery(img, img[::-1], rng.random((2, 16, 16)), rng.random((2, 32, 32)) > 0.5, ["a", "b"], d / "g.png", "t")
    table = pd.DataFrame({"image_auroc": [0.9, 0.7], "aupro": [0.5, 0.6]}, index=["brick", "mean"])
    metric_bars(table, METRIC_LABELS, d / "bars.png")
    curves_figure(
        {"brick": (np.linspace(0, 1, 5), np.linspace(0, 1, 5) ** 0.5, 0.8)},
        d / "roc.png",
        title="ROC",
        xlabel="fpr",
        ylabel="tpr",
        diagonal=True,
    )
    loss_curves({"brick": pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.3, 0.2, 0.1]})}, d / "loss.png")
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_every_figure_is_a_png_with_the_same_bytes_each_time(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first, second = draw_all(tmp_path / "a"), draw_all(tmp_path / "b")
    assert sorted(first) == ["bars.png", "g.png", "loss.png", "roc.png"]
    assert all(v.startswith(b"\x89PNG") and len(v) > 2000 for v in first.values())
    assert first == second


@pytest.mark.slow  # starts processes
def test_importing_the_figures_selects_no_backend():
    code = "import sys, ssae.evaluation.figures; print('matplotlib.pyplot' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
