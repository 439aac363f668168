"""`python -m ssae.deploy.export MODEL_DIR OUT.onnx`: a trained model as one ONNX graph.

The graph (``ssae.deploy.scorer.Deployed``) takes uint8 images (N, H, W, 3) of any size and returns
the image scores, the normalised scores and the anomaly maps at the input's size: the resize to
the model's side, the model, the anomaly map, its Gaussian smoothing and the calibration are
inside, so a deployment needs only onnxruntime. The model folder's meta.json and
calibration.json are stored in the graph's metadata (``ssae.info``), which is all
``python -m ssae.deploy.predict OUT.onnx ...`` needs. Prints the largest difference between
onnxruntime's and torch's outputs on a random image.

OUT must end in ``.onnx`` (``predict`` tells a graph from a model folder by it). The graph is
written to a temporary file beside OUT and renamed: a killed export leaves the previous OUT
intact. A damaged model folder (missing or edited files: ``ssae.method.checkpoint``) or an OUT that
is a folder is one error line, exit status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import typer

from ssae.core import paths
from ssae.method.checkpoint import ModelError
from ssae.deploy.scorer import OnnxScorer, export_onnx, load_deployed

app = typer.Typer(add_completion=False)


@app.command()
def main(
    model_dir: Path = typer.Argument(..., help="A model folder (data/models/<category>)."),
    out: Path = typer.Argument(..., help="The .onnx file to write."),
) -> None:
    """Export a model folder to ONNX and check onnxruntime against torch."""

    def fail(message: str) -> typer.Exit:
        print(f"error: {message}", file=sys.stderr)
        return typer.Exit(2)

    if not model_dir.is_dir():
        raise fail(f"{model_dir}: not a model folder with {paths.WEIGHTS}, {paths.META}, {paths.CALIBRATION}")
    if out.suffix != ".onnx":
        raise fail(f"{out}: the output must end in .onnx (predict tells an exported graph from a model folder by it)")
    if out.is_dir():
        raise fail(f"{out}: is a folder; give the .onnx file to write")
    try:
        deployed, info = load_deployed(model_dir, torch.device("cpu"))
    except ModelError as e:
        raise fail(str(e)) from None
    export_onnx(deployed, info, out)
    image = np.random.default_rng(0).integers(0, 256, (1, 3 * deployed.size // 2, deployed.size, 3), dtype=np.uint8)
    with torch.no_grad():
        ref = [t.numpy() for t in deployed(torch.from_numpy(image))]
    got = OnnxScorer(out)(image)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(got, ref))
    print(
        f"{out}: exported {info.get('category')} ({deployed.size} px model); "
        f"onnxruntime vs torch: max |diff| {diff:.2e}"
    )


if __name__ == "__main__":
    app()
