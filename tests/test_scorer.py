"""The deployable scorer computes the image score the score stage computes, top-k mean included."""

import numpy as np
import pytest
import torch

from ssae.core.config import ModelConfig
from ssae.deploy.scorer import Deployed, OnnxScorer, export_onnx
from ssae.method.anomaly_maps import image_scores
from ssae.method.calibration import Calibration
from ssae.method.model import SDCCCM, init_weights


@pytest.mark.parametrize("topk, pad, divide", [(0.0, 0, False), (0.05, 0, False), (0.05, 4, False), (0.05, 0, True)])
def test_deployed_and_onnx_scores_are_the_top_k_mean_of_the_map(tmp_path, topk, pad, divide):
    model = init_weights(
        SDCCCM(ModelConfig(widths=(8, 16), sdc_blocks=1, dilations=(1,), pad=pad)), torch.Generator().manual_seed(0)
    )
    # score.spread: pixel: the score from the map divided by a spread that varies over the image
    spread = np.random.default_rng(1).uniform(0.2, 5.0, (16, 16)).astype(np.float32) if divide else None
    cal = Calibration(0.01, 0.001, 0.99, (0.0,))
    deployed = Deployed(model.eval(), 16, "l2", 1.0, cal, image_topk=topk, spread=spread).eval()
    image = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)  # at model size: no resize
    with torch.no_grad():
        score, _, full = (t.numpy() for t in deployed(torch.from_numpy(image)))
    assert np.allclose(score, image_scores(full, topk, spread), rtol=1e-5, atol=1e-9)
    if divide:  # the map is the error itself; only the score is divided
        assert not np.allclose(score, image_scores(full, topk), rtol=1e-2)
    if topk and not divide:
        assert (score < full.reshape(3, -1).max(axis=1)).all()  # a mean over 13 pixels, not the max
    info = {"train": {}, "calibration": {"threshold": 0.01, "scale": 0.001, "quantile": 0.99}}  # as load_deployed's
    export_onnx(deployed, info, tmp_path / "m.onnx")
    assert np.abs(OnnxScorer(tmp_path / "m.onnx")(image)[0] - score).max() < 1e-6
