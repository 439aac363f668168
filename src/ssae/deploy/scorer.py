"""The deployable scorer: raw pixels in, scores and anomaly maps out, one torch module that
exports to ONNX, so a deployment needs only onnxruntime.

``Deployed``: uint8 (N, H, W, 3) images of any size ->
``score`` (N,) float32, ``normalised`` (N,) float32 in (0, 1), ``map`` (N, H, W) float32.
Inside: / 255; resize to the model's side S with the antialiased bilinear matrices of ``ssae.data.resolution``
(computed from H and W at run time); the model; the error map of the model folder's recipe
(``l2`` or ``msgms``); Gaussian smoothing as a constant (S, S) matrix ``G`` with
``G @ m @ G.T`` equal to ``scipy.ndimage.gaussian_filter(m, sigma, mode="reflect")``; score =
the map's maximum at S px, or the mean of its top ``image_topk`` fraction (as the score stage and the
calibration), of the map divided by the folder's spread.npz where it has one (``score.spread``);
the normalised score of ``ssae.method.calibration``; the map resized back to (H, W) by the
same matrices. The pipeline computes the same numbers in numpy (``ssae.data.resolution``,
``ssae.method.anomaly_maps``): a test checks both, and onnxruntime.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from ssae.core import paths
from ssae.data.resolution import resize_weights_torch
from ssae.method.anomaly_maps import gms_map, topk_count
from ssae.method.calibration import Calibration
from ssae.method.checkpoint import (
    ModelError,
    load_calibration,
    load_image_topk,
    load_model,
    load_spread,
    read_json,
)

OPSET = 17


def blur_matrix(size: int, sigma: float) -> np.ndarray:
    """(size, size) float32 G: ``G @ m @ G.T`` is scipy's ``gaussian_filter(m, sigma, mode="reflect")``."""
    eye = np.eye(size, dtype=np.float64)
    return (ndimage.gaussian_filter1d(eye, sigma, axis=0, mode="reflect") if sigma > 0 else eye).astype(np.float32)


class Deployed(nn.Module):
    """Raw images to scores and maps (module doc); ``model`` in eval mode."""

    def __init__(
        self,
        model: nn.Module,
        size: int,
        map_kind: str,
        sigma: float,
        cal: Calibration,
        image_topk: float = 0.0,
        spread: np.ndarray | None = None,
    ):
        super().__init__()
        if map_kind not in ("l2", "msgms"):
            raise ValueError(f"unknown anomaly map {map_kind!r}")
        self.model, self.size, self.map_kind = model.eval(), size, map_kind
        self.register_buffer("blur", torch.from_numpy(blur_matrix(size, sigma)))
        self.divide = spread is not None
        if spread is not None:
            self.register_buffer("spread", torch.from_numpy(np.asarray(spread, np.float32)))
        self.threshold, self.scale = float(cal.threshold), float(cal.scale)
        self.k = topk_count(size * size, image_topk)  # pixels the image score averages

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h, w = torch.tensor(image.shape[1]), torch.tensor(image.shape[2])
        s = torch.tensor(self.size)
        x = image.permute(0, 3, 1, 2).float() / 255.0  # (N, 3, H, W)
        x = resize_weights_torch(h, s).to(x.device) @ x @ resize_weights_torch(w, s).to(x.device).t()  # (N, 3, S, S)
        recon = self.model(x)
        if self.map_kind == "l2":
            m = ((x - recon) ** 2).mean(dim=1)  # (N, S, S)
        else:
            m = gms_map(x, recon)
        m = self.blur @ m @ self.blur.t()
        n = m / self.spread if self.divide else m  # what the image score is taken from
        score = n.amax(dim=(1, 2)) if self.k == 1 else n.flatten(1).topk(self.k, dim=1).values.mean(dim=1)
        normalised = torch.sigmoid((score - self.threshold) / self.scale)
        full = resize_weights_torch(s, h).to(m.device) @ m @ resize_weights_torch(s, w).to(m.device).t()  # (N, H, W)
        return score, normalised, full


def load_deployed(model_dir: Path, device: torch.device) -> tuple[Deployed, dict]:
    """The ``Deployed`` scorer of a model folder (model.pt, meta.json, calibration.json) on
    ``device``, and the folder's description: meta.json's content plus ``calibration``."""
    model_dir = Path(model_dir)
    model, size = load_model(model_dir / paths.WEIGHTS, model_dir / paths.META, device)
    cal, map_kind, sigma = load_calibration(model_dir / paths.CALIBRATION)
    if map_kind not in ("l2", "msgms"):
        raise ModelError(f"{model_dir / paths.CALIBRATION}: unknown anomaly map {map_kind!r} (l2 or msgms)")
    info = read_json(model_dir / paths.META)
    info["calibration"] = read_json(model_dir / paths.CALIBRATION)
    topk = load_image_topk(model_dir / paths.CALIBRATION)
    spread = load_spread(model_dir / paths.CALIBRATION, size)
    return Deployed(model, size, map_kind, sigma, cal, topk, spread).to(device).eval(), info


def export_onnx(deployed: Deployed, info: dict, out: Path) -> None:
    """Write ``deployed`` (on the CPU) as an ONNX graph with dynamic batch, height and width; the
    model folder's description goes into the metadata (``ssae.info``: JSON). Atomic: the graph
    is built in a temporary file next to ``out`` and renamed over it, so a killed export leaves
    the previous ``out`` (or none), never a truncated one."""
    import onnx

    from ssae.core.artifacts import atomic_write

    example = torch.zeros(1, 2 * deployed.size, deployed.size + 8, 3, dtype=torch.uint8)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        # the tracer warns that H and W become constants; they do not (tests/test_folder.py runs
        # the graph at other sizes), and the legacy exporter's deprecation notice is the choice
        # made here (the dynamo exporter needs onnxscript)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                deployed.cpu().eval(),
                (example,),
                tmp,
                dynamo=False,
                opset_version=OPSET,
                input_names=["image"],
                output_names=["score", "normalised", "map"],
                dynamic_axes={
                    "image": {0: "n", 1: "height", 2: "width"},
                    "score": {0: "n"},
                    "normalised": {0: "n"},
                    "map": {0: "n", 1: "height", 2: "width"},
                },
            )
        graph = onnx.load(tmp)
        onnx.helper.set_model_props(graph, {"ssae.info": json.dumps(info, sort_keys=True)})
        atomic_write(out, graph.SerializeToString())
    finally:
        Path(tmp).unlink(missing_ok=True)


class OnnxScorer:
    """An exported graph on onnxruntime, called like ``Deployed`` but with numpy arrays.

    ``ModelError`` naming the file for one that is not an ssae graph (truncated, foreign), and
    for ``device="cuda"`` where onnxruntime has no CUDA provider (no silent fall-back to the CPU).
    """

    def __init__(self, path: Path, device: str = "cpu"):
        import onnxruntime as ort

        if device == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ModelError(
                f"{path}: --device cuda, but this onnxruntime has no CUDA provider "
                f"(has {ort.get_available_providers()}); install onnxruntime-gpu or use --device cpu"
            )
        providers = (["CUDAExecutionProvider"] if device == "cuda" else []) + ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(path), providers=providers)
        except Exception as e:  # noqa: BLE001 -- onnxruntime's own exception types
            first = " ".join(str(e).split())[:200]
            raise ModelError(f"{path}: not a readable ONNX graph ({first})") from None
        props = self.session.get_modelmeta().custom_metadata_map
        try:
            self.info = json.loads(props["ssae.info"])
            self.info["calibration"]["threshold"]
        except (KeyError, TypeError, json.JSONDecodeError):
            raise ModelError(
                f"{path}: an ONNX graph without ssae's metadata (not written by python -m ssae.deploy.export)"
            ) from None

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(self.session.run(None, {"image": np.ascontiguousarray(image, dtype=np.uint8)}))
