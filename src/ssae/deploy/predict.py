"""`python -m ssae.deploy.predict MODEL IMAGES... --out DIR`: score new images with a trained model.

MODEL is a model folder (data/models/<category>: model.pt, meta.json, calibration.json; run on
torch) or an exported .onnx file (``python -m ssae.deploy.export``; run on onnxruntime). IMAGES are
files, globs or folders (searched recursively for PNG, JPEG, BMP and TIFF files). No params.yaml,
no pipeline run: the model carries its preprocessing, anomaly map and threshold.

Writes to DIR, per image ``<name>`` (its path relative to the inputs' common folder, "/" -> "__"):
``<name>_map.npy`` (float32 anomaly map at the image's size; or ``--map-format png16``:
``<name>_map.png``, 16-bit, value / 65535 = the normalised anomaly, 0.5 at the threshold) and
``<name>_overlay.png`` (the image under a heat map of the normalised anomaly, with its score and
decision); and predictions.csv and predictions.json with, per image: image, score, normalised,
decision, height, width, map, overlay. Prints the throughput.
"""

from __future__ import annotations

import glob
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import typer
from PIL import Image, ImageDraw
from tqdm import tqdm

from ssae.core.artifacts import atomic_write, save_json
from ssae.method.calibration import Calibration
from ssae.data.dataset_format import IMAGE_SUFFIXES

app = typer.Typer(add_completion=False)


class InputError(ValueError):
    """An input that cannot be scored; the message names it."""


def find_images(inputs: list[str]) -> list[Path]:
    """Files, globs and folders (recursive) -> image files, sorted, no duplicates."""
    found: list[Path] = []
    for item in inputs:
        p = Path(item).expanduser()
        if p.is_dir():
            hits = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            hits = [p]
        else:
            hits = sorted(
                Path(f)
                for f in glob.glob(str(p), recursive=True)
                if Path(f).is_file() and Path(f).suffix.lower() in IMAGE_SUFFIXES
            )
        if not hits:
            raise InputError(f"{item}: no such image file, or no images in that folder or glob")
        found += hits
    return list(dict.fromkeys(f.resolve() for f in found))


def output_names(files: list[Path]) -> list[str]:
    """Unique names: each path relative to the common folder, without suffix, "/" -> "__"."""
    common = Path(os.path.commonpath([f.parent for f in files]))
    return [str(f.relative_to(common).with_suffix("")).replace("/", "__") for f in files]


def read_rgb8(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 under ``preprocess``'s RGB policy (16-bit greyscale scaled to 8 bits)."""
    from ssae.data.images import decode

    try:
        return np.round(decode(path) * 255.0).astype(np.uint8)
    except (OSError, SyntaxError, ValueError) as e:  # what PIL raises for unreadable files
        raise InputError(f"{path}: cannot decode ({e})") from None


def overlay(image: np.ndarray, heat: np.ndarray, caption: str) -> Image.Image:
    """(H, W, 3) uint8 image, (H, W) normalised anomaly in [0, 1] -> RGB overlay with a caption."""
    from matplotlib import colormaps

    colour = colormaps["inferno"](heat)[..., :3]  # (H, W, 3) in [0, 1]
    alpha = 0.25 + 0.5 * heat[..., None]  # the more anomalous, the more heat shows
    mixed = (1 - alpha) * image / 255.0 + alpha * colour
    out = Image.fromarray(np.round(255 * np.clip(mixed, 0, 1)).astype(np.uint8))
    draw = ImageDraw.Draw(out)
    box = draw.textbbox((2, 2), caption)
    draw.rectangle(box, fill=(0, 0, 0))
    draw.text((2, 2), caption, fill=(255, 255, 255))
    return out


def load_scorer(model: Path, device: str):
    """(callable uint8 (N, H, W, 3) -> (score, normalised, map) numpy, the model's description)."""
    if model.suffix == ".onnx":
        from ssae.deploy.scorer import OnnxScorer

        scorer = OnnxScorer(model, device)
        return scorer, scorer.info, "onnxruntime"
    import torch

    from ssae.core import runtime
    from ssae.deploy.scorer import load_deployed

    dev = runtime.setup(0, device, "--device", reproducible=False, threads=0)
    deployed, info = load_deployed(model, dev)

    @torch.no_grad()
    def run(batch: np.ndarray):
        return tuple(t.float().cpu().numpy() for t in deployed(torch.from_numpy(batch).to(dev)))

    return run, info, f"torch ({dev.type})"


@app.command()
def main(
    model: Path = typer.Argument(..., help="A model folder (data/models/<category>) or an exported .onnx file."),
    images: list[str] = typer.Argument(..., help="Image files, globs (quoted) or folders (recursive)."),
    out: Path = typer.Option(Path("predictions"), help="Output folder."),
    device: str = typer.Option("auto", help="auto (CUDA when present) | cpu | cuda."),
    map_format: str = typer.Option("npy", help="npy (float32 map) | png16 (16-bit PNG of the normalised map)."),
    batch_size: int = typer.Option(8, min=1, help="Images of the same size scored together."),
) -> None:
    """Score images: per image a score, a normalised score, a decision, a map and an overlay."""
    if map_format not in ("npy", "png16"):
        raise typer.BadParameter(f"--map-format must be npy or png16, got {map_format!r}")
    try:
        if not (model.suffix == ".onnx" and model.is_file()) and not (model / "calibration.json").is_file():
            raise InputError(f"{model}: not a model folder (model.pt, meta.json, calibration.json) nor an .onnx file")
        files = find_images(images)
        scorer, info, backend = load_scorer(model, device)
        cal = Calibration(
            info["calibration"]["threshold"], info["calibration"]["scale"], info["calibration"]["quantile"], ()
        )
        names = output_names(files)
        out.mkdir(parents=True, exist_ok=True)
        rows, start, pending = [], time.perf_counter(), []
        bar = tqdm(total=len(files), desc="predict", unit="img")

        def flush() -> None:
            batch = np.stack([img for _, img in pending])
            score, normalised, maps = scorer(batch)
            for (i, img), s, n, m in zip(pending, score, normalised, maps):
                rows.append(write_one(files[i], names[i], img, float(s), float(n), m, cal, out, map_format))
            bar.update(len(pending))
            pending.clear()

        for i, f in enumerate(files):
            img = read_rgb8(f)
            if pending and (img.shape != pending[0][1].shape or len(pending) == batch_size):
                flush()
            pending.append((i, img))
        flush()
        bar.close()
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    elapsed = time.perf_counter() - start
    table = pd.DataFrame(rows)
    atomic_write(out / "predictions.csv", table.to_csv(index=False, float_format="%.6g").encode())
    save_json(
        out / "predictions.json",
        {
            "model": str(model),
            "category": info.get("category"),
            "backend": backend,
            "threshold": cal.threshold,
            "predictions": rows,
        },
    )
    n_bad = int((table.decision == "anomalous").sum())
    print(
        f"{len(files)} images ({n_bad} anomalous at threshold {cal.threshold:.6g}) in {elapsed:.2f} s: "
        f"{len(files) / elapsed:.1f} img/s on {backend}, reading and writing included; results in {out}"
    )


def write_one(
    path: Path,
    name: str,
    img: np.ndarray,
    score: float,
    normalised: float,
    amap: np.ndarray,
    cal: Calibration,
    out: Path,
    map_format: str,
) -> dict:
    """Write one image's map and overlay; return its row of predictions.csv."""
    heat = cal.normalise(amap)  # (H, W) in (0, 1), 0.5 at the threshold
    decision = "anomalous" if score > cal.threshold else "normal"
    if map_format == "npy":
        map_file = out / f"{name}_map.npy"
        np.save(map_file, amap.astype(np.float32))
    else:
        map_file = out / f"{name}_map.png"
        Image.fromarray(np.round(heat * 65535).astype(np.uint16)).save(map_file)
    overlay_file = out / f"{name}_overlay.png"
    overlay(img, heat, f"{score:.4g} ({normalised:.2f}) {decision}").save(overlay_file)
    return {
        "image": str(path),
        "score": score,
        "normalised": normalised,
        "decision": decision,
        "height": int(img.shape[0]),
        "width": int(img.shape[1]),
        "map": map_file.name,
        "overlay": overlay_file.name,
    }


if __name__ == "__main__":
    app()
