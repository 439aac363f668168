"""Evaluation resolution: numpy resampling that matches torch's, and the score file round trip."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from ssae.data.resolution import at_resolution, downsample_masks, resize, resize_weights, upsample
from ssae.evaluation.score_file import load_scores, save_scores

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "small, big", [((64, 64), (900, 900)), ((32, 32), (48, 48)), ((7, 5), (13, 22)), ((8, 8), (8, 8))]
)
def test_upsample_is_torchs_bilinear_interpolation(small, big):
    maps = np.random.default_rng(0).random((3, *small)).astype(np.float16)
    ref = F.interpolate(
        torch.from_numpy(maps.astype(np.float32))[:, None], size=big, mode="bilinear", align_corners=False
    )[:, 0].numpy()
    got = upsample(maps, big)
    assert got.dtype == np.float32 and got.shape == (3, *big)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)  # float32 rounding, nothing more


@pytest.mark.parametrize(
    "big, small", [((48, 48), (32, 32)), ((900, 900), (64, 64)), ((13, 22), (7, 5)), ((64, 64), (32, 32))]
)
def test_downsample_masks_is_torchs_adaptive_average_at_one_half(big, small):
    masks = np.random.default_rng(1).random((4, *big)) > 0.5
    ref = (F.adaptive_avg_pool2d(torch.from_numpy(masks.astype(np.float32))[:, None], small)[:, 0] >= 0.5).numpy()
    assert np.array_equal(downsample_masks(masks, small), ref)


@pytest.mark.parametrize("src, dst", [((300, 400), (64, 64)), ((37, 50), (128, 128)), ((800, 800), (128, 128))])
def test_resize_is_torchs_antialiased_bilinear_and_keeps_grey_channels_equal(src, dst):
    rng = np.random.default_rng(0)
    image = rng.random((*src, 3), dtype=np.float32)
    out = resize(image, dst)
    assert out.shape == (*dst, 3) and out.dtype == np.float32 and out.flags.c_contiguous
    ref = F.interpolate(torch.from_numpy(image).permute(2, 0, 1)[None], dst, mode="bilinear", antialias=True)
    assert np.abs(out - ref[0].permute(1, 2, 0).numpy()).max() < 1e-5
    matrix = np.einsum(
        "ij,jkc,lk->ilc", resize_weights(src[0], dst[0]), image, resize_weights(src[1], dst[1]), optimize=True
    )
    assert np.abs(out - matrix).max() < 1e-6  # the matrix form of the module doc, up to float32 rounding
    grey = resize(np.repeat(image[..., :1], 3, axis=2), dst)
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 0], grey[..., 2])
    assert np.array_equal(resize(image[..., 0], dst), out[..., 0])  # (H, W) alike


@pytest.mark.slow
def test_resize_gives_the_same_bytes_under_every_blas_kernel():
    """OpenBLAS picks its kernels by CPU; a matrix product's last bits follow them (the reason
    resize accumulates element-wise). Three kernels this x86-64 CPU can run stand in for three CPUs."""
    code = (
        "import hashlib, numpy as np; from ssae.data.resolution import resize; "
        "x = np.random.default_rng(0).random((300, 400, 3), dtype=np.float32); "
        "print(hashlib.sha256(resize(x, (64, 64)).tobytes()).hexdigest())"
    )
    digests = set()
    for core in ("Haswell", "Sandybridge", "Prescott"):
        env = {**os.environ, "OPENBLAS_CORETYPE": core}
        digests.add(
            subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
        )
    assert len(digests) == 1


def test_resolution_helpers():
    masks = np.zeros((1, 8, 8), bool)
    masks[0, :4, :3] = True  # 3 of 4 columns of the top-left 4x4 quadrant
    small = downsample_masks(masks, (2, 2))
    assert small.tolist() == [[[True, False], [False, False]]]
    maps = np.arange(4, dtype=np.float16).reshape(1, 2, 2)
    up = upsample(maps, (8, 8))
    assert up.shape == (1, 8, 8) and up.dtype == np.float32
    assert up.min() == 0 and up.max() == 3  # bilinear: no overshoot


def test_at_resolution_resamples_the_maps_or_the_masks():
    maps, masks = np.ones((2, 4, 4), np.float16), np.zeros((2, 8, 8), bool)
    m, g = at_resolution(maps, masks, "ground_truth")
    assert m.shape == g.shape == (2, 8, 8) and m.dtype == np.float32 and np.all(m == 1)
    m, g = at_resolution(maps, masks, "model")
    assert m.shape == g.shape == (2, 4, 4)


def test_the_score_file_round_trips(tmp_path):
    rng = np.random.default_rng(2)
    gt = rng.random((3, 10, 12)) > 0.7
    arrays = dict(
        maps=rng.random((3, 4, 4)).astype(np.float32),
        scores=np.array([0.1, 0.5, 0.2]),
        labels=np.array([0, 1, 1]),
        defects=np.array(["good", "crack", "hole"]),
        names=np.array(["good/000.png", "crack/000.png", "hole/000.png"]),
        gt=gt,
        known=np.array([True, True, False]),
        threshold=0.3,
    )
    save_scores(tmp_path / "s.npz", **arrays)
    d = load_scores(tmp_path / "s.npz")
    assert d["maps"].dtype == np.float16 and np.allclose(d["maps"], arrays["maps"], atol=1e-3)
    assert d["scores"].dtype == np.float32 and d["labels"].tolist() == [False, True, True]
    assert np.array_equal(d["gt"], gt) and d["names"].tolist() == arrays["names"].tolist()
    assert d["known"].tolist() == [True, True, False] and d["threshold"] == 0.3


@pytest.mark.slow  # starts processes
def test_the_aggregate_stage_does_not_import_torch():
    code = (
        "import runpy, sys; sys.argv = ['aggregate', '--help']\n"
        "try:\n    runpy.run_path('stages/aggregate.py', run_name='__main__')\n"
        "except SystemExit:\n    pass\nprint('torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert r.stdout.strip().endswith("False")
