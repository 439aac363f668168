"""`python -m ssae.deploy.predict MODEL IMAGES... --out DIR`: score new images with a trained model.

MODEL is a model folder (data/models/<category>: model.pt, meta.json, calibration.json; run on
torch) or an exported .onnx file (``python -m ssae.deploy.export``; run on onnxruntime). IMAGES are
files, globs or folders (searched recursively for PNG, JPEG, BMP, TIFF and WebP files; DIR and
macOS ``._*`` files are never inputs). No params.yaml, no pipeline run: the model carries its
preprocessing, anomaly map and threshold.

Writes DIR as a whole (``ssae.deploy.predict_io``): built in a temporary folder beside it and renamed
into place, so predictions.csv, predictions.json and the files always agree; a DIR that holds an
earlier prediction is replaced, any other non-empty DIR is refused. Per image ``<name>`` (its
path relative to the inputs' common folder, suffix kept: ``a/b.png`` and ``a__b.png``, ``x.png``
and ``x.jpg`` stay apart; sub-folders are mirrored): ``<name>.map.npy`` (float32 anomaly map;
or ``--map-format png16``: ``<name>.map.png``, 16-bit, value / 65535 = the normalised anomaly,
0.5 at the threshold) and ``<name>.overlay.png`` (the image under a heat map of the normalised
anomaly, with its score and decision). Maps and overlays are at the image's size, reduced to
``--max-side`` px on the longer side (default 1024; 0: full size; the model sees
``image_size`` px either way, and a large JPEG is decoded reduced, which is what keeps a
6000 x 4000 photo under 2 s and 1 GB). predictions.csv and .json hold per image: image, name,
score, normalised, decision, height and width (of the file), map, overlay, error.

A file that cannot be read (truncated, not an image, an unsupported mode) does not stop the
batch: its row has decision ``error`` and the reason, and the exit status is 1. Exit status 2:
nothing was scored (a bad model, --out or option; one line naming it). Prints the throughput.
"""

from __future__ import annotations

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
from ssae.deploy.predict_io import InputError, OutFolder, find_images, output_names, read_image

app = typer.Typer(add_completion=False)
DEVICES = ("auto", "cpu", "cuda")


def overlay(image: np.ndarray, heat: np.ndarray, caption: str) -> Image.Image:
    """(H, W, 3) uint8 image, (H, W) normalised anomaly in [0, 1] -> RGB overlay with a caption."""
    from matplotlib import colormaps

    colour = colormaps["inferno"](heat.astype(np.float32), bytes=True)[..., :3]  # (H, W, 3) uint8
    alpha = (0.25 + 0.5 * heat[..., None]).astype(np.float32)  # the more anomalous, the more heat shows
    mixed = (1 - alpha) * image + alpha * colour
    out = Image.fromarray(np.round(np.clip(mixed, 0, 255)).astype(np.uint8))
    draw = ImageDraw.Draw(out)
    box = draw.textbbox((2, 2), caption)
    draw.rectangle(box, fill=(0, 0, 0))
    draw.text((2, 2), caption, fill=(255, 255, 255))
    return out


def load_scorer(model: Path, device: str):
    """(callable uint8 (N, H, W, 3) -> (score, normalised, map) numpy, the model's description,
    the backend's name). ``ModelError`` or ``RuntimeError`` (device) naming the problem."""
    if model.suffix == ".onnx":
        import onnxruntime as ort

        from ssae.deploy.scorer import OnnxScorer

        if device == "auto":
            device = "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"
        scorer = OnnxScorer(model, device)
        return scorer, scorer.info, f"onnxruntime ({device})"
    import torch

    from ssae.core import runtime
    from ssae.deploy.scorer import load_deployed

    dev = runtime.setup(0, device, "--device", reproducible=False, threads=0)
    deployed, info = load_deployed(model, dev)

    @torch.no_grad()
    def run(batch: np.ndarray):
        return tuple(t.float().cpu().numpy() for t in deployed(torch.from_numpy(batch).to(dev)))

    return run, info, f"torch ({dev.type})"


def error(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(2)


@app.command()
def main(
    model: Path = typer.Argument(..., help="A model folder (data/models/<category>) or an exported .onnx file."),
    images: list[str] = typer.Argument(..., help="Image files, globs (quoted) or folders (recursive)."),
    out: Path = typer.Option(
        Path("predictions"), help="Output folder: new, empty, or an earlier prediction (replaced as a whole)."
    ),
    device: str = typer.Option("auto", help="auto (CUDA when present) | cpu | cuda."),
    map_format: str = typer.Option("npy", help="npy (float32 map) | png16 (16-bit PNG of the normalised map)."),
    batch_size: int = typer.Option(8, min=1, help="Images of the same size scored together."),
    max_side: int = typer.Option(
        1024, min=0, help="Maps and overlays at most this many px on the longer side (0: the image's size)."
    ),
) -> None:
    """Score images: per image a score, a normalised score, a decision, a map and an overlay.
    Exit status: 0 all scored, 1 some files could not be read (their rows say why), 2 nothing scored."""
    from ssae.method.checkpoint import ModelError

    if map_format not in ("npy", "png16"):
        raise error(f"--map-format must be npy or png16, got {map_format!r}")
    if device not in DEVICES:
        raise error(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    if not (model.suffix == ".onnx" and model.is_file()) and not (
        model.is_dir() and any((model / f).exists() for f in ("model.pt", "meta.json", "calibration.json"))
    ):
        raise error(f"{model}: not a model folder (model.pt, meta.json, calibration.json) nor an .onnx file")
    folder = OutFolder(out)
    try:
        folder.check()
        files, notes = find_images(images, exclude=folder.scratch())
        scorer, info, backend = load_scorer(model, device)
    except (InputError, ModelError, RuntimeError) as e:
        raise error(" ".join(str(e).split())) from None
    for note in notes:
        print(note, file=sys.stderr)
    cal = Calibration(
        info["calibration"]["threshold"], info["calibration"]["scale"], info["calibration"]["quantile"], ()
    )
    names = output_names(files)
    tmp = folder.open()
    try:
        rows, elapsed = score_all(files, names, scorer, cal, tmp, map_format, batch_size, max_side)
        table = pd.DataFrame(rows, columns=COLUMNS)
        atomic_write(tmp / "predictions.csv", table.to_csv(index=False, float_format="%.6g").encode())
        save_json(
            tmp / "predictions.json",
            {
                "model": str(model),
                "category": info.get("category"),
                "backend": backend,
                "threshold": cal.threshold,
                "predictions": rows,
            },
        )
        folder.commit()
    except InputError as e:
        folder.discard()
        raise error(str(e)) from None
    except BaseException:
        folder.discard()
        raise
    failed = table[table.decision == "error"]
    n_bad = int((table.decision == "anomalous").sum())
    print(
        f"{len(files) - len(failed)} images ({n_bad} anomalous at threshold {cal.threshold:.6g}) in {elapsed:.2f} s: "
        f"{(len(files) - len(failed)) / max(elapsed, 1e-9):.1f} img/s on {backend}, reading and writing included; "
        f"results in {out}"
    )
    if len(failed):
        print(
            f"error: {len(failed)} of {len(files)} files could not be scored (decision 'error' in "
            f"{out / 'predictions.csv'}); first: {failed.error.iloc[0]}",
            file=sys.stderr,
        )
        raise typer.Exit(1)


COLUMNS = ["image", "name", "score", "normalised", "decision", "height", "width", "map", "overlay", "error"]


def score_all(
    files: list[Path],
    names: list[str],
    scorer,
    cal: Calibration,
    out: Path,
    map_format: str,
    batch_size: int,
    max_side: int,
) -> tuple[list[dict], float]:
    """Score every file in batches of equal size; a file that cannot be read gets an error row.
    Returns the rows (``COLUMNS``) and the seconds it took."""
    rows: list[dict | None] = [None] * len(files)
    pending: list[tuple[int, np.ndarray, tuple[int, int]]] = []
    bar = tqdm(total=len(files), desc="predict", unit="img")
    start = time.perf_counter()

    def flush() -> None:
        score, normalised, maps = scorer(np.stack([img for _, img, _ in pending]))
        for (i, img, shape), s, n, m in zip(pending, score, normalised, maps):
            rows[i] = write_one(files[i], names[i], img, shape, float(s), float(n), m, cal, out, map_format)
        bar.update(len(pending))
        pending.clear()

    for i, f in enumerate(files):
        try:
            img, shape = read_image(f, max_side)
        except InputError as e:
            rows[i] = {"image": str(f), "name": names[i], "decision": "error", "error": " ".join(str(e).split())}
            bar.update(1)
            continue
        if pending and (img.shape != pending[0][1].shape or len(pending) == batch_size):
            flush()
        pending.append((i, img, shape))
    if pending:
        flush()
    bar.close()
    return [{k: r.get(k) for k in COLUMNS} for r in rows], time.perf_counter() - start


def write_one(
    path: Path,
    name: str,
    img: np.ndarray,
    shape: tuple[int, int],
    score: float,
    normalised: float,
    amap: np.ndarray,
    cal: Calibration,
    out: Path,
    map_format: str,
) -> dict:
    """Write one image's map and overlay under ``out/<name>``; return its row of predictions.csv."""
    heat = cal.normalise(amap)  # (h, w) in (0, 1), 0.5 at the threshold
    decision = "anomalous" if score > cal.threshold else "normal"
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    if map_format == "npy":
        map_name = f"{name}.map.npy"
        np.save(out / map_name, amap.astype(np.float32))
    else:
        map_name = f"{name}.map.png"
        Image.fromarray(np.round(heat * 65535).astype(np.uint16)).save(out / map_name)
    overlay_name = f"{name}.overlay.png"
    overlay(img, heat, f"{score:.4g} ({normalised:.2f}) {decision}").save(out / overlay_name)
    return {
        "image": str(path),
        "name": name,
        "score": score,
        "normalised": normalised,
        "decision": decision,
        "height": shape[0],
        "width": shape[1],
        "map": map_name,
        "overlay": overlay_name,
        "error": "",
    }


if __name__ == "__main__":
    app()
