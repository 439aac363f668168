"""params.yaml -> frozen, typed, validated dataclasses.

This is the only module that reads params.yaml. Every section is a frozen dataclass; a key
that is unknown, duplicated, of the wrong type (``ssae.core.schema``), non-finite or out of range
raises ``ConfigError`` naming the key (e.g. ``params.yaml: train.epochs: must be >= 1, got
-3``) before any stage does work.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import yaml

from ssae.core import mvtec
from ssae.core.data_config import DataConfig
from ssae.core.overrides import (
    SECTIONS,
    apply as apply_overrides,
    complete as complete_overrides,
    empty as no_overrides,
)
from ssae.core.schema import ConfigError, build, check

EMBEDDED_CATEGORIES = ("brick", "grass", "gravel", "tissue")
ALL_CATEGORIES = EMBEDDED_CATEGORIES + mvtec.CATEGORIES
# px of border margin for the textures (the embedded four and MVTec AD's five), which fill the
# frame: their edges have no quiet surroundings (docs/accuracy.md section 5)
TEXTURE_PAD = 4
FRAME_FILLING = EMBEDDED_CATEGORIES + mvtec.TEXTURES


def default_overrides() -> dict[str, dict[str, dict]]:
    """The committed params.yaml's overrides: none, but the textures' border margin."""
    out = no_overrides(ALL_CATEGORIES)
    for c in FRAME_FILLING:
        out[c]["train"] = {"model": {"pad": TEXTURE_PAD}}
    return out


@dataclass(frozen=True)
class MasksConfig:
    per_image: int = 8  # masks in the bank per training image
    min_count: int = 2  # shapes per mask, drawn uniformly in [min_count, max_count]
    max_count: int = 5
    min_radius: float = 0.03  # shape radius, fraction of the image side (strokes are 4 radii long)
    max_radius: float = 0.12
    bezier: float = 1.0  # relative weights of the shape families, chosen per mask:
    perlin: float = 1.0  # smooth closed Bezier blobs | thresholded smooth noise in a disc |
    stroke: float = 1.0  # thin elongated Bezier strokes
    min_stroke_width: float = 0.01  # stroke width, fraction of the image side
    max_stroke_width: float = 0.04

    def __post_init__(self) -> None:
        check("per_image", self.per_image >= 1, f"must be >= 1, got {self.per_image}")
        check("min_count", self.min_count >= 1, f"must be >= 1, got {self.min_count}")
        check(
            "max_count",
            self.max_count >= self.min_count,
            f"must be >= min_count ({self.min_count}), got {self.max_count}",
        )
        check("min_radius", 0 < self.min_radius <= 0.5, f"must be in (0, 0.5], got {self.min_radius}")
        check(
            "max_radius",
            self.min_radius <= self.max_radius <= 0.5,
            f"must be in [min_radius, 0.5], got {self.max_radius}",
        )
        for name in ("bezier", "perlin", "stroke"):
            check(name, getattr(self, name) >= 0, f"must be >= 0, got {getattr(self, name)}")
        check("stroke", self.bezier + self.perlin + self.stroke > 0, "bezier, perlin and stroke must not all be 0")
        check("min_stroke_width", 0 < self.min_stroke_width <= 0.5, f"must be in (0, 0.5], got {self.min_stroke_width}")
        check(
            "max_stroke_width",
            self.min_stroke_width <= self.max_stroke_width <= 0.5,
            f"must be in [min_stroke_width, 0.5], got {self.max_stroke_width}",
        )

    @property
    def family_weights(self) -> tuple[float, float, float]:
        """(bezier, perlin, stroke) normalised to sum to 1."""
        total = self.bezier + self.perlin + self.stroke
        return self.bezier / total, self.perlin / total, self.stroke / total


@dataclass(frozen=True)
class ModelConfig:
    widths: tuple[int, ...] = (16, 32, 64, 128)  # channels per encoder level; len-1 downsamplings
    sdc_blocks: int = 2  # stacked dilated-convolution blocks in the bottleneck
    dilations: tuple[int, ...] = (1, 2, 4, 8)  # parallel branches of one SDC block
    gates: bool = True  # convex-combination modules on the skips (False: plain additive skips)
    image_gate: bool = True  # a CCM between the input image and the decoded image at the output
    # px (each side, at model resolution) of mirror padding around the input, cropped off the
    # output: border pixels are reconstructed with context on both sides (0: none)
    pad: int = 0

    def __post_init__(self) -> None:
        check("widths", len(self.widths) >= 2, f"needs at least 2 levels, got {list(self.widths)}")
        check("widths", all(w >= 1 for w in self.widths), f"must be positive, got {list(self.widths)}")
        check("sdc_blocks", self.sdc_blocks >= 0, f"must be >= 0, got {self.sdc_blocks}")
        check("pad", self.pad >= 0, f"must be >= 0, got {self.pad}")
        check(
            "dilations",
            len(self.dilations) >= 1 and all(d >= 1 for d in self.dilations),
            f"must be a non-empty list of positive ints, got {list(self.dilations)}",
        )


@dataclass(frozen=True)
class TrainConfig:
    image_size: int = 64  # training and inference resolution, px (square)
    epochs: int = 18
    # a budget in optimiser steps instead of epochs: about this many steps, as whole epochs
    # (epochs_for), so that a protocol costs the same time on a category of any size; 0: epochs
    steps: int = 0
    batch_size: int = 4
    lr: float = 7e-3  # peak learning rate (AdamW)
    weight_decay: float = 0.0
    schedule: Literal["onecycle", "cosine", "constant"] = "onecycle"  # per-step learning-rate schedule
    warmup: float = 0.1  # fraction of the steps spent warming up (onecycle, cosine)
    # structured: the method (masked regions replaced, see corruption.py);
    # gaussian: an i.i.d. Gaussian-noise denoising autoencoder; none: a plain autoencoder
    noise: Literal["structured", "gaussian", "none"] = "structured"
    noise_std: float = 0.2  # std of the i.i.d. noise (noise: gaussian), image range [0, 1]
    corrupt_prob: float = 0.9  # probability that a training sample is corrupted (else left clean)
    corrupt_weight: float = 5.0  # extra L2 weight on corrupted pixels (loss weight 1 + this)
    fill_patch: float = 1.0  # relative weight of the fill "another training image's patch"
    fill_elastic: float = 1.0  # relative weight of the fill "elastic deformation of itself"
    fill_texture: float = 1.0  # relative weight of the fill "procedural texture"
    blend: float = 0.5  # fill opacity drawn uniformly in [1 - blend, 1] (0: opaque fills)
    ssim_weight: float = 0.0  # weight of an extra (1 - SSIM) loss term (0: L2 only)
    # std of i.i.d. Gaussian noise added to every input on top of the corruption ("Noise &
    # Pattern", Bauer & Mueller 2025); 0: none
    input_noise_std: float = 0.0
    # noisy: the target carries the same noise, so the model learns to keep it (Noise & Pattern:
    # a Tikhonov term that anchors the model's Jacobian at the identity); clean: the target is the
    # clean image, so the model learns to remove it (a denoising term, which smooths)
    input_noise_target: Literal["noisy", "clean"] = "noisy"
    # global gain jitter: each training image, input and target alike, multiplied by a factor
    # drawn uniformly in [1 - brightness, 1 + brightness] before it is corrupted, so a photo taken
    # under brighter or dimmer light is reconstructed at its own level (0: off)
    brightness: float = 0.0
    # auto: flips and 90-degree rotations for isotropic textures, flips for oriented ones
    # (brick, wood), nothing for objects (see augment.AUGMENT); or one policy for all
    augment: Literal["auto", "none", "flip", "flip_rot"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when present, else CPU
    amp: bool = True  # on CUDA: bfloat16 autocast (ignored on CPU)
    # fraction of the normal training images held out (seeded by seed and category) to calibrate
    # the decision threshold; never trained on (ssae.method.calibration)
    holdout: float = 0.1
    # the threshold is this quantile of the held-out images' scores (never the test set)
    threshold_quantile: float = 0.99
    # exponential moving average of the weights, decay per optimiser step (0: off); the averaged
    # model is the one saved (its decay ramps up as (1 + step) / (10 + step) early on)
    ema: float = 0.0
    # train on random crops of this side (px) of the image_size images, score whole images (the
    # model is fully convolutional); 0: whole images
    crop: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        check("image_size", self.image_size >= 16, f"must be >= 16, got {self.image_size}")
        stride = 2 ** (len(self.model.widths) - 1)
        check(
            "image_size",
            self.image_size % stride == 0,
            f"must be divisible by 2**(len(model.widths)-1) = {stride}, got {self.image_size}",
        )
        pad = self.model.pad
        check(
            "model.pad",
            pad % max(stride // 2, 1) == 0 and pad < min(self.image_size, self.crop or self.image_size),
            f"must be a multiple of {max(stride // 2, 1)} (image_size + 2 pad divisible by {stride}) and smaller "
            f"than the {'crop' if self.crop else 'image_size'}, got {pad}",
        )
        check("epochs", self.epochs >= 1, f"must be >= 1, got {self.epochs}")
        check("steps", self.steps >= 0, f"must be >= 0 (0: train.epochs), got {self.steps}")
        check("batch_size", self.batch_size >= 1, f"must be >= 1, got {self.batch_size}")
        check("lr", self.lr > 0, f"must be > 0, got {self.lr}")
        check("weight_decay", self.weight_decay >= 0, f"must be >= 0, got {self.weight_decay}")
        check("warmup", 0 <= self.warmup < 1, f"must be in [0, 1), got {self.warmup}")
        check("noise_std", self.noise_std > 0, f"must be > 0, got {self.noise_std}")
        check("corrupt_weight", self.corrupt_weight >= 0, f"must be >= 0, got {self.corrupt_weight}")
        check("corrupt_prob", 0 <= self.corrupt_prob <= 1, f"must be in [0, 1], got {self.corrupt_prob}")
        for name in ("fill_patch", "fill_elastic", "fill_texture"):
            check(name, getattr(self, name) >= 0, f"must be >= 0, got {getattr(self, name)}")
        check(
            "fill_texture",
            self.fill_patch + self.fill_elastic + self.fill_texture > 0,
            "fill_patch, fill_elastic and fill_texture must not all be 0",
        )
        check("blend", 0 <= self.blend <= 1, f"must be in [0, 1], got {self.blend}")
        check("ssim_weight", self.ssim_weight >= 0, f"must be >= 0, got {self.ssim_weight}")
        check("input_noise_std", self.input_noise_std >= 0, f"must be >= 0, got {self.input_noise_std}")
        check("brightness", 0 <= self.brightness < 1, f"must be in [0, 1), got {self.brightness}")
        check("ema", 0 <= self.ema < 1, f"must be in [0, 1), got {self.ema}")
        check(
            "crop",
            self.crop == 0 or (0 < self.crop <= self.image_size and self.crop % stride == 0),
            f"must be 0 or a multiple of {stride} up to image_size = {self.image_size}, got {self.crop}",
        )
        check("holdout", 0 < self.holdout <= 0.5, f"must be in (0, 0.5], got {self.holdout}")
        check(
            "threshold_quantile",
            0.5 <= self.threshold_quantile <= 1,
            f"must be in [0.5, 1], got {self.threshold_quantile}",
        )

    def epochs_for(self, n_images: int) -> int:
        """Epochs to train on ``n_images`` images: ``epochs``, or with a ``steps`` budget the
        fewest whole epochs of ``ceil(n_images / batch_size)`` steps that reach it."""
        if not self.steps:
            return self.epochs
        return max(1, math.ceil(self.steps / math.ceil(n_images / self.batch_size)))


@dataclass(frozen=True)
class ScoreConfig:
    # l2: squared error, mean over colour channels (the paper); msgms: 1 - multi-scale gradient
    # magnitude similarity (scoring.py)
    map: Literal["l2", "msgms"] = "l2"
    sigma: float = 2.0  # Gaussian smoothing of the anomaly map, px at model resolution (0: none)
    # image score: the mean of the map's highest image_topk fraction of pixels (0: the maximum)
    image_topk: float = 0.01
    # pixel: the image score is taken from the map divided, pixel by pixel, by how much the error
    # there varies over the trained normal images (plus spread_floor x the error's overall
    # spread); the map itself stays as it is (anomaly_maps.py, docs/accuracy.md section 6)
    spread: Literal["none", "pixel"] = "none"
    spread_floor: float = 0.1
    batch_size: int = 16
    gallery_per_type: int = 1  # highest- and lowest-scored examples per defect type in the gallery
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when present, else CPU

    def __post_init__(self) -> None:
        check("sigma", self.sigma >= 0, f"must be >= 0, got {self.sigma}")
        check("image_topk", 0 <= self.image_topk <= 1, f"must be in [0, 1], got {self.image_topk}")
        check("spread_floor", self.spread_floor > 0, f"must be > 0, got {self.spread_floor}")
        check("batch_size", self.batch_size >= 1, f"must be >= 1, got {self.batch_size}")
        check("gallery_per_type", self.gallery_per_type >= 1, f"must be >= 1, got {self.gallery_per_type}")


@dataclass(frozen=True)
class AggregateConfig:
    fpr_limit: float = 0.3  # AUPRO integration limit
    # ground_truth: maps upsampled to the masks' resolution (the official protocol);
    # model: masks downsampled (area >= 1/2) to the maps' resolution (common, cheaper, not comparable)
    eval_resolution: Literal["ground_truth", "model"] = "ground_truth"
    # stratified bootstrap resamples of the test images for the confidence intervals
    # (ssae.evaluation.bootstrap); 0: no intervals
    bootstrap: int = 1000
    confidence: float = 0.95  # level of the percentile intervals

    def __post_init__(self) -> None:
        check("fpr_limit", 0 < self.fpr_limit <= 1, f"must be in (0, 1], got {self.fpr_limit}")
        check(
            "bootstrap",
            self.bootstrap == 0 or self.bootstrap >= 100,
            f"must be 0 (no intervals) or >= 100 (fewer cannot place a 95 % interval), got {self.bootstrap}",
        )
        check("confidence", 0 < self.confidence < 1, f"must be in (0, 1), got {self.confidence}")


@dataclass(frozen=True)
class RuntimeConfig:
    # CPU: torch's kernels pinned to AVX2 and to ``threads`` threads, so that the train and
    # score stages give the same bytes on every x86-64 CPU with AVX2, whatever its core count
    # (runtime.py); CUDA: deterministic kernels, no autotuning, no TF32 (repeatable on one GPU
    # model). False: the fastest kernels of the machine and all its cores.
    reproducible: bool = True
    # torch's CPU threads; part of the result when reproducible (more threads than cores gives
    # the same bytes, only slower). 0: torch's default (the machine's cores), reproducible: false only
    threads: int = 2

    def __post_init__(self) -> None:
        check("threads", self.threads >= 0, f"must be >= 0, got {self.threads}")
        check(
            "threads",
            self.threads >= 1 or not self.reproducible,
            "must be >= 1 when reproducible is true (the thread count is part of the result)",
        )


@dataclass(frozen=True)
class Params:
    seed: int = 0
    categories: tuple[str, ...] = EMBEDDED_CATEGORIES
    data: DataConfig = field(default_factory=DataConfig)
    masks: MasksConfig = field(default_factory=MasksConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    aggregate: AggregateConfig = field(default_factory=AggregateConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    # category -> {masks: {...}, train: {...}, score: {...}}: values that category uses instead
    # of the sections above (partial, nested; ssae.core.overrides). A category left out has none.
    overrides: dict[str, dict[str, dict]] = field(default_factory=default_overrides)

    def __post_init__(self) -> None:
        check("seed", self.seed >= 0, f"must be >= 0, got {self.seed}")
        check("categories", len(self.categories) >= 1, "must list at least one category")
        check(
            "categories", len(set(self.categories)) == len(self.categories), f"has duplicates: {list(self.categories)}"
        )
        if self.data.dataset == "folder":  # any sub-folder of data.folder.root (the download stage checks)
            bad = [c for c in self.categories if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", c)]
            check(
                "categories",
                not bad,
                f"must be plain folder names (letters, digits, _ . -; not starting with . or -), got {bad}",
            )
        else:
            known = EMBEDDED_CATEGORIES if self.data.dataset == "embedded" else mvtec.CATEGORIES
            unknown = [c for c in self.categories if c not in known]
            check(
                "categories", not unknown, f"unknown for dataset {self.data.dataset!r}: {unknown}; known: {list(known)}"
            )
        named = list(dict.fromkeys(ALL_CATEGORIES + tuple(self.categories)))  # your own data's names too
        object.__setattr__(self, "overrides", complete_overrides(self.overrides, named, self._sections()))

    def _sections(self) -> dict:
        return {s: getattr(self, s) for s in SECTIONS}

    def for_category(self, category: str) -> Params:
        """These params as ``category``'s stages see them: masks, train and score with
        ``overrides.<category>`` applied (``ConfigError`` naming the overridden key if invalid)."""
        return replace(self, **apply_overrides(self._sections(), self.overrides[category], category))


def parse_params(raw: dict) -> Params:
    """Validate a params mapping (as loaded from YAML) into ``Params``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"the top level must be a mapping of the params sections, got {type(raw).__name__}")
    return build(Params, raw)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (PyYAML
    would keep the last value silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # super() reports it
            if key in seen:
                raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; raise ``ConfigError`` ("<path>: <key>: <problem>")
    naming the first bad key, a duplicated key, or an empty or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506  (a SafeLoader)
        if raw is None:
            raise ConfigError("empty: it must hold the params sections (seed, categories, data, masks, ...)")
        return parse_params(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None  # one line
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
