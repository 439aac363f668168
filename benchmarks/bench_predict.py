"""Throughput of `python -m ssae.deploy.predict` on 100 images of 256 x 256 px, end to end (decode,
model, map, writing the .npy map and the overlay PNG, the CSV and JSON), on torch and on
onnxruntime.

Usage: python benchmarks/bench_predict.py [--model-sizes 64 256] [--images 100] [--device cpu]

The model is the one of params.yaml (train.model) at each model side, with seeded random
weights and a made-up calibration (speed does not depend on the weights); the images are
seeded random textures written as PNGs into a temporary folder. Each configuration runs predict
as a user would (a fresh process) and prints the line predict prints.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ssae.method.calibration import calibrate
from ssae.method.checkpoint import save_calibration, save_model
from ssae.core.config import load_params
from ssae.method.model import SDCCCM, init_weights


def make_model(folder: Path, size: int) -> None:
    cfg = replace(load_params().train, image_size=size)
    model = init_weights(SDCCCM(cfg.model), torch.Generator().manual_seed(0)).eval()
    save_model(
        model,
        folder / "model.pt",
        folder / "meta.json",
        category="bench",
        seed=0,
        cfg=cfg,
        policy="none",
        device=torch.device("cpu"),
        n_train_images=0,
        losses=[0.0],
    )
    save_calibration(
        folder / "calibration.json",
        calibrate(np.array([0.01, 0.02, 0.03]), 0.99),
        map_kind="l2",
        sigma=2.0,
        heldout_images=[],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-sizes", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--side", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(args.images):
            base = rng.normal(128, 30, (args.side // 8, args.side // 8, 3)).clip(0, 255).astype(np.uint8)
            Image.fromarray(base).resize((args.side, args.side), Image.BICUBIC).save(tmp / f"img{i:03d}.png")
        for size in args.model_sizes:
            folder = tmp / f"model{size}"
            make_model(folder, size)
            onnx = tmp / f"model{size}.onnx"
            subprocess.run(
                [sys.executable, "-m", "ssae.deploy.export", str(folder), str(onnx)], check=True, capture_output=True
            )
            for model in (folder, onnx):
                r = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "ssae.deploy.predict",
                        str(model),
                        str(tmp / "*.png"),
                        "--out",
                        str(tmp / "out"),
                        "--device",
                        args.device,
                    ],
                    capture_output=True,
                    text=True,
                )
                if r.returncode:
                    sys.exit(r.stderr)
                line = r.stdout.strip().splitlines()[-1]
                rate = re.search(r"([\d.]+) img/s on (.*), reading", line)
                print(
                    f"model {size:>3} px, {args.images} images of {args.side} px, {rate.group(2):<18}: "
                    f"{rate.group(1):>6} img/s   ({line})"
                )


if __name__ == "__main__":
    main()
