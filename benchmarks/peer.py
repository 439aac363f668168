"""Side by side: anomalib's DRAEM and our method on one MVTec AD category, same budget.

Usage (needs anomalib: ``make peer-env`` builds .venv-peer/, the project's locked packages +
anomalib, benchmarks/requirements-peer.txt; ``--methods ours`` alone runs in .venv too):

    .venv-peer/bin/python benchmarks/peer.py --category-dir /path/to/mvtec/pill \\
        --size 128 --epochs 40 --seeds 0 1 2 --minutes 15 --device auto --out peer.json

Both methods see the same images (the project's loader, resized to ``--size``), train on the
same device for ``--epochs`` epochs (DRAEM: or until ``--minutes`` of training wall time are
spent, whichever comes first), and are scored the same way: image score = maximum of the anomaly
map (the official MVTec semantics), metrics at the ground-truth resolution (maps upsampled
bilinearly, as the aggregate stage does) with the project's metric functions. Train time
counts everything from images in memory to a trained model (ours: the mask bank too); score
time is the test set's forward passes and maps; the metrics are timed by neither.

DRAEM (Zavrtanik et al., ICCV 2021) as anomalib 2.x ships it, driven by a plain torch loop
instead of anomalib's Lightning engine: ``DraemModel()`` (reconstructive + discriminative
sub-networks, no SSPCAB, no pretrained weights), ``DraemLoss`` (L2 + 2 x SSIM + focal),
Adam at anomalib's lr 1e-4 with its MultiStepLR (x0.1 after epochs 400 and 600, so constant
in any short run), batch ``--draem-batch-size`` (8, the DRAEM paper's; anomalib's MVTec
datamodule defaults to 32). Simulated anomalies: anomalib's ``PerlinAnomalyGenerator`` with
DRAEM's blend range beta in [0.1, 1.0] and the generator's default probability 0.5 per image.
anomalib's ``Draem`` module would download DTD textures as the anomaly source; this machine
cannot, so the generator runs with ``anomaly_source_path=None``. Its fill is then the Perlin
noise field itself: the same (randomly rotated) noise whose > 0.5 level set is the anomaly
mask, mapped to grey ``0.5 * noise + 0.25`` on all three channels, passed through 3 of
anomalib's 10 random image augmentations (contrast/hue/saturation jitter, brightness,
sharpness, solarize, posterize, invert, AutoAugment, equalize, affine) and blended into the
image as ``(1 - beta) * image + beta * fill`` inside the mask. A greyscale noise fill is a
weaker anomaly source than DTD's textures: DRAEM's published numbers (pill 97.6 pixel AUROC)
used DTD. Inference output: ``softmax(discriminator)[:, 1]`` at model resolution, unsmoothed.
DRAEM's randomness is anomalib's (torch's global RNG, seeded per run); ours is seeded per
(seed, epoch, image) as in the pipeline.

Our method: ``run_ours`` calls the library as stages/train.py and stages/score.py do, with the
params of ``--params`` (train.image_size, train.epochs and train.device overridden by the
flags). ``train()`` plans its learning-rate schedule for ``--epochs``; a budget that stops it
earlier keeps the weights of the last finished epoch, mid-schedule: give it epochs that fit.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from ssae.core import runtime
from ssae.method.augment import augment_policy
from ssae.core.config import Params, parse_params
from ssae.experiments.protocols import apply, load_protocol, parse_overrides
from ssae.data.dataset_format import image_shape, index_category, load_images, load_mask
from ssae.evaluation.metrics import aupro, image_auroc, pixel_auroc
from ssae.method.model import SDCCCM
from ssae.data.resolution import upsample
from ssae.method.anomaly_maps import anomaly_maps, image_scores, reconstruct
from ssae.method.corruption_masks import mask_bank
from ssae.method.training import train

DRAEM_LR = 1e-4  # anomalib's Draem.configure_optimizers
DRAEM_MILESTONES = [400, 600]  # epochs; its MultiStepLR, gamma 0.1
DRAEM_BETA = (0.1, 1.0)  # anomalib's Draem default blend range


def import_anomalib():
    """(DraemModel, DraemLoss, PerlinAnomalyGenerator), or exit with how to get them."""
    try:
        with warnings.catch_warnings():  # anomalib.models imports every model, some deprecated
            warnings.simplefilter("ignore", FutureWarning)
            from anomalib.data.utils.generators.perlin import PerlinAnomalyGenerator
            from anomalib.models.image.draem.loss import DraemLoss
            from anomalib.models.image.draem.torch_model import DraemModel
    except ImportError as e:
        sys.exit(
            f"error: anomalib is not importable ({e}).\n"
            "Run `make peer-env`, then `.venv-peer/bin/python benchmarks/peer.py ...` "
            "(or `--methods ours` for our method alone)."
        )
    return DraemModel, DraemLoss, PerlinAnomalyGenerator


@dataclasses.dataclass
class Data:
    """One category at model resolution, and its ground truth at its own."""

    train: np.ndarray  # (N, 3, S, S) float32 in [0, 1]
    test: np.ndarray  # (M, 3, S, S) float32 in [0, 1]
    labels: np.ndarray  # (M,) bool, True = defective
    masks: np.ndarray  # (M, H, W) bool at the ground-truth resolution


def load_data(root: Path, size: int, limit_train: int | None, limit_test: int | None) -> Data:
    """The category under ``root`` (MVTec layout). ``limit_train``: the first N training images;
    ``limit_test``: the first N test images of each defect type and of the good ones (smoke runs)."""
    table = index_category(root)
    train_rows = table[table.split == "train"].head(limit_train)
    test = table[table.split == "test"]
    if limit_test is not None:
        test = test.groupby("defect", sort=False).head(limit_test)
    test = test.reset_index(drop=True)
    shape = image_shape(test.image[0])
    return Data(
        train=load_images(list(train_rows.image), size),
        test=load_images(list(test.image), size),
        labels=test.label.to_numpy(bool),
        masks=np.stack([load_mask(m, shape) for m in test["mask"]]),
    )


def run_draem(
    data: Data, seed: int, epochs: int, deadline: float, batch_size: int, eval_batch: int, device: torch.device
) -> tuple[np.ndarray, float, float, float]:
    """Train DRAEM, then score the test set: (maps (M, S, S) float32, epochs done, train s, score s).
    Stops at the first step past ``deadline`` (time.perf_counter())."""
    DraemModel, DraemLoss, PerlinAnomalyGenerator = import_anomalib()
    start = time.perf_counter()
    model = DraemModel().to(device)  # initialised from torch's global RNG (seeded by runtime.setup)
    loss_fn = DraemLoss().to(device)
    augmenter = PerlinAnomalyGenerator(anomaly_source_path=None, blend_factor=DRAEM_BETA)
    opt = torch.optim.Adam(model.parameters(), lr=DRAEM_LR)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=DRAEM_MILESTONES, gamma=0.1)
    images = torch.from_numpy(data.train).to(device)
    order_rng = torch.Generator().manual_seed(seed)
    steps = -(-len(images) // batch_size)
    done = 0  # optimiser steps
    bar = tqdm(total=epochs * steps, desc=f"draem seed {seed}", unit="step")
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(images), generator=order_rng).split(batch_size):
            clean = images[idx.to(device)]
            with torch.no_grad():
                corrupted, mask = augmenter(clean)  # (B, 3, S, S), (B, 1, S, S)
            recon, pred = model(corrupted)  # (B, 3, S, S), (B, 2, S, S) logits
            loss = loss_fn(clean, recon, mask, pred)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.4f}", epoch=f"{done / steps:.2f}")
            if time.perf_counter() > deadline:
                break
        sched.step()
        if time.perf_counter() > deadline:
            break
    bar.close()
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    model.eval()
    with torch.no_grad():
        maps = [
            model(torch.from_numpy(data.test[i : i + eval_batch]).to(device)).anomaly_map.float().cpu().numpy()
            for i in range(0, len(data.test), eval_batch)
        ]
    return np.concatenate(maps), done / steps, train_s, time.perf_counter() - start


class _OutOfTime(Exception):
    def __init__(self, state: dict):
        self.state = state


def run_ours(
    data: Data, params: Params, category: str, seed: int, deadline: float, device: torch.device
) -> tuple[np.ndarray, float, float, float]:
    """Train and score our method as the train and score stages do: (maps (M, S, S) float32,
    epochs done, train s, score s). Stops after the first epoch that ends past ``deadline``."""
    cfg = params.train
    start = time.perf_counter()
    bank = mask_bank(len(data.train), cfg.image_size, params.masks, seed, category)

    def on_epoch(epoch: int, loss: float, snapshot) -> None:
        if time.perf_counter() > deadline and epoch + 1 < cfg.epochs:
            raise _OutOfTime(snapshot())

    try:
        model, losses = train(
            data.train,
            bank,
            cfg,
            seed,
            device,
            on_epoch,
            augment_policy(cfg.augment, category),
            desc=f"ours seed {seed}",
        )
    except _OutOfTime as stop:
        model = SDCCCM(cfg.model)
        model.load_state_dict(stop.state["model"])
        model, losses = model.to(device).eval(), stop.state["losses"]
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    recon = reconstruct(model, data.test, params.score.batch_size, device)
    maps = anomaly_maps(data.test, recon, params.score.sigma, params.score.map)
    return maps, float(len(losses)), train_s, time.perf_counter() - start


def evaluate_maps(maps: np.ndarray, data: Data, fpr_limit: float) -> dict[str, float]:
    """Metrics in % at the ground-truth resolution; image score = max of the model-resolution map."""
    scores = image_scores(maps)
    full = upsample(maps, data.masks.shape[1:])
    return {
        "image_auroc": 100 * image_auroc(scores, data.labels),
        "pixel_auroc": 100 * pixel_auroc(full, data.masks),
        "aupro": 100 * float(aupro(full, data.masks, fpr_limit)),
    }


COLUMNS = [
    ("method", "{}"),
    ("seed", "{}"),
    ("epochs", "{:.2f}"),
    ("train_s", "{:.1f}"),
    ("img_per_s", "{:.1f}"),
    ("score_s", "{:.1f}"),
    ("image_auroc", "{:.1f}"),
    ("pixel_auroc", "{:.1f}"),
    ("aupro", "{:.1f}"),
]


def with_means(rows: list[dict]) -> list[dict]:
    """Rows, and per method with several seeds a row of mean ± std (sample std) of each number."""
    out = list(rows)
    for method in dict.fromkeys(r["method"] for r in rows):
        group = [r for r in rows if r["method"] == method]
        if len(group) > 1:
            summary = {"method": method, "seed": "mean±std"}
            for key, _ in COLUMNS[2:]:
                v = np.array([r[key] for r in group], float)
                summary[key], summary[key + "_std"] = float(v.mean()), float(v.std(ddof=1))
            out.append(summary)
    return out


def format_table(rows: list[dict]) -> str:
    def cell(r: dict, key: str, fmt: str) -> str:
        s = fmt.format(r[key])
        return f"{s}±{fmt.format(r[key + '_std'])}" if key + "_std" in r else s

    cells = [[k for k, _ in COLUMNS]] + [[cell(r, k, f) for k, f in COLUMNS] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells
    ]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--category-dir", type=Path, required=True, help="one category in MVTec layout; its name picks the augmentation"
    )
    ap.add_argument("--protocol", default=None, help="apply protocols/NAME.yaml to --params first (e.g. cpu)")
    ap.add_argument(
        "-S",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one more params override, as dvc exp run -S (repeatable; after the protocol)",
    )
    ap.add_argument(
        "--size", type=int, default=None, help="model resolution, px (both methods; default: train.image_size)"
    )
    ap.add_argument("--epochs", type=int, default=None, help="training epochs (both methods; default: train.epochs)")
    ap.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="training wall-clock budget per DRAEM run (default: none); ours always trains its epochs",
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--methods", nargs="+", choices=["draem", "ours"], default=["draem", "ours"])
    ap.add_argument(
        "--params", type=Path, default=Path("params.yaml"), help="our method's params (train, masks, score, aggregate)"
    )
    ap.add_argument("--draem-batch-size", type=int, default=8)
    ap.add_argument("--limit-train", type=int, default=None, help="first N training images (smoke runs)")
    ap.add_argument("--limit-test", type=int, default=None, help="first N test images per defect type (smoke runs)")
    ap.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    args = ap.parse_args()

    if "draem" in args.methods:
        import_anomalib()  # fail before loading anything
    raw = yaml.safe_load(args.params.read_text())
    overrides = (load_protocol(args.protocol) if args.protocol else {}) | parse_overrides(
        [w for kv in args.overrides for w in ("-S", kv)]
    )
    params = parse_params(apply(raw, overrides))
    args.size = args.size or params.train.image_size
    args.epochs = args.epochs or params.train.epochs
    params = dataclasses.replace(
        params, train=dataclasses.replace(params.train, image_size=args.size, epochs=args.epochs, device=args.device)
    )
    category = args.category_dir.resolve().name
    data = load_data(args.category_dir, args.size, args.limit_train, args.limit_test)
    print(
        f"{category}: {len(data.train)} train, {len(data.test)} test images ({data.labels.sum()} defective), "
        f"model {args.size} px, evaluated at {data.masks.shape[2]}x{data.masks.shape[1]} px",
        file=sys.stderr,
    )

    rows = []
    for seed in args.seeds:
        for method in args.methods:
            device = runtime.setup(seed, args.device, reproducible=False, threads=0)
            budget = args.minutes * 60 if args.minutes is not None and method == "draem" else float("inf")
            deadline = time.perf_counter() + budget
            if method == "draem":
                maps, epochs, train_s, score_s = run_draem(
                    data, seed, args.epochs, deadline, args.draem_batch_size, params.score.batch_size, device
                )
            else:
                maps, epochs, train_s, score_s = run_ours(data, params, category, seed, deadline, device)
            rows.append(
                {
                    "method": method,
                    "seed": seed,
                    "epochs": epochs,
                    "train_s": train_s,
                    "img_per_s": epochs * len(data.train) / train_s,
                    "score_s": score_s,
                    **evaluate_maps(maps, data, params.aggregate.fpr_limit),
                }
            )
            print(format_table(rows[-1:]).splitlines()[-1], file=sys.stderr)

    rows = with_means(rows)
    print(
        f"\nour params: {args.params}"
        + (f" + protocols/{args.protocol}.yaml" if args.protocol else "")
        + "".join(f" -S {kv}" for kv in args.overrides)
    )
    print(
        f"{category}, {args.size} px, up to {args.epochs} epochs"
        + (f" (DRAEM: at most {args.minutes:g} min)" if args.minutes is not None else "")
        + f", device {device.type}; metrics in %, at the ground-truth resolution\n"
    )
    print(format_table(rows))
    if args.out is not None:
        args.out.write_text(
            json.dumps(
                {
                    "category": category,
                    "protocol": args.protocol,
                    "overrides": overrides,
                    "size": args.size,
                    "epochs": args.epochs,
                    "minutes": args.minutes,
                    "device": device.type,
                    "rows": rows,
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
