"""The deployable scorer computes the image score the score stage computes, top-k mean included."""

import numpy as np
import pytest
import torch

from ssae.core.config import ModelConfig
from ssae.deploy.scorer import Deployed, OnnxScorer, export_onnx
from ssae.method.anomaly_maps import image_scores
from ssae.method.calibration import Calibration
from ssae.method.model import SDCCCM, init_weights


@pytest.mark.parametrize("topk, pad", [(0.0, 0), (0.05, 0), (0.05, 4)])
def test_deployed_and_onnx_scores_are_the_top_k_mean_of_the_map(tmp_path, topk, pad):
    model = init_weights(
        SDCCCM(ModelConfig(widths=(8, 16), sdc_blocks=1, dilations=(1,), pad=pad)), torch.Generator().manual_seed(0)
    )
    deployed = Deployed(model.eval(), 16, "l2", 1.0, Calibration(0.01, 0.001, 0.99, (0.0,)), image_topk=topk).eval()
    image = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)  # at model size: no resize
    with torch.no_grad():
        score, _, full = (t.numpy() for t in deployed(torch.from_numpy(image)))
    assert np.allclose(score, image_scores(full, topk), rtol=1e-5, atol=1e-9)
    if topk:
        assert (score < full.reshape(3, -1).max(axis=1)).all()  # a mean over 13 pixels, not the max
    info = {"train": {}, "calibration": {"threshold": 0.01, "scale": 0.001, "quantile": 0.99}}  # as load_deployed's
    export_onnx(deployed, info, tmp_path / "m.onnx")
    assert np.abs(OnnxScorer(tmp_path / "m.onnx")(image)[0] - score).max() < 1e-6
