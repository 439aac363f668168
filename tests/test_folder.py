"""Your own data end to end: a custom tree (non-official names, odd counts, non-square JPEGs, no
masks in one category, 0/1 masks in another) through the real dvc.yaml, then `predict` on torch
and on onnxruntime from the model folder alone, and the calibration never reading test/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ssae.core.artifacts import load_npz
from ssae.method.calibration import holdout_split
from conftest import BIN, FOLDER_TINY, ROOT, SIZE, new_project, run, write_custom_tree

pytestmark = pytest.mark.slow  # runs stages and dvc as processes


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("folder")
    tree = write_custom_tree(base / "photos")
    dst = new_project(base / "repo", FOLDER_TINY | {"data": {"dataset": "folder", "folder": {"root": str(tree)}}})
    run(["dvc", "repro"], dst)
    return dst


def test_the_pipeline_runs_on_a_custom_tree(repo):
    cal = json.loads((repo / "data/models/widget-A/calibration.json").read_text())
    _, held = holdout_split(7, 0.1, 0, "widget-A")  # round(0.1 * 7) = 1, seeded by seed and category
    assert cal["heldout"]["images"] == [f"train/good/{i:02d}.jpg" for i in held] and len(held) == 1
    assert cal["threshold"] == pytest.approx(cal["heldout"]["scores"][0])  # quantile of one score
    meta = json.loads((repo / "data/models/widget-A/meta.json").read_text())
    assert meta["n_train_images"] == 6 and meta["augment"] == "none"  # unknown category: no augmentation
    plate = load_npz(repo / "data/scores/plate_2.npz")
    assert plate["gt_shape"].tolist() == [5, 48, 36] and plate["known"].all()
    assert int(np.unpackbits(plate["gt_bits"]).sum()) == 3 * 10 * 12  # 0/1 masks are defects
    widget = load_npz(repo / "data/scores/widget-A.npz")
    assert widget["known"].tolist() == [False, False, True, True, True, False]  # dent, good, scuff
    metrics = json.loads((repo / "reports/metrics.json").read_text())["categories"]
    assert metrics["widget-A"]["pixel_auroc"] is None and metrics["widget-A"]["aupro"] is None
    assert 0 <= metrics["widget-A"]["image_auroc"] <= 1
    assert all(metrics["plate_2"][k] is not None for k in ("pixel_auroc", "aupro", "pixel_ap"))
    for row in metrics.values():
        assert {"precision", "recall", "f1"} <= set(row)
        assert row["recall"] is not None and 0 <= row["recall"] <= 1
    md = (repo / "reports/results.md").read_text()
    assert "| widget-A |" in md and "–" in md and "F1 @thr" in md
    pro = (repo / "reports/plots/pro.csv").read_text().splitlines()
    assert pro[0] == "category,fpr,pro"  # one file, a series per category: none for widget-A (no masks)
    assert any(r.startswith("plate_2,") for r in pro) and not any(r.startswith("widget-A,") for r in pro)


def predict(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        [sys.executable, "-m", "ssae.deploy.predict", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_predict_from_the_model_folder_alone_on_torch_and_onnx(repo, tmp_path):
    model = tmp_path / "widget-model"  # no params.yaml, no pipeline: only the folder
    shutil.copytree(repo / "data/models/widget-A", model)
    photos = repo / "data/raw/widget-A/test"
    r = predict([str(model), str(photos), "--out", str(tmp_path / "torch"), "--device", "cpu"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "img/s" in r.stdout
    table = pd.read_csv(tmp_path / "torch/predictions.csv")
    assert len(table) == 6 and set(table.decision) <= {"normal", "anomalous"}
    assert (
        (table.score > json.loads((model / "calibration.json").read_text())["threshold"])
        == (table.decision == "anomalous")
    ).all()
    assert ((table.normalised > 0.5) == (table.decision == "anomalous")).all()
    first = table.iloc[0]
    assert first["map"] == "dent/0.jpg.map.npy" and np.load(tmp_path / "torch" / first["map"]).shape == SIZE["widget-A"]
    with Image.open(tmp_path / "torch" / first.overlay) as im:
        assert im.size == SIZE["widget-A"][::-1] and im.mode == "RGB"
    # the same scores as the pipeline's score stage (names sorted alike: dent, good, scuff)
    scores = load_npz(repo / "data/scores/widget-A.npz")["scores"]
    assert np.allclose(table.score, scores, rtol=1e-4, atol=1e-7)

    onnx = tmp_path / "widget.onnx"
    r = subprocess.run(
        [sys.executable, "-m", "ssae.deploy.export", str(model), str(onnx)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    r = predict(
        [str(onnx), str(photos / "*" / "*.jpg"), "--out", str(tmp_path / "onnx"), "--map-format", "png16"], tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert "onnxruntime" in r.stdout
    onnx_table = pd.read_csv(tmp_path / "onnx/predictions.csv")
    assert np.allclose(onnx_table.score, table.score, rtol=1e-5, atol=1e-7)
    assert (onnx_table.decision == table.decision).all()
    with Image.open(tmp_path / "onnx" / "dent/0.jpg.map.png") as im:
        assert im.size == SIZE["widget-A"][::-1] and np.asarray(im).dtype in (np.uint16, np.int32)


def test_the_threshold_is_set_without_reading_the_test_set(repo, tmp_path):
    """The train stage, re-run where every test and ground-truth file is garbage and any attempt
    to open one fails, writes the same calibration (and model) as the pipeline did."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(repo / "params.yaml", work / "params.yaml")
    shutil.copytree(repo / "data/raw/widget-A", work / "data/raw/widget-A", copy_function=shutil.copy)
    shutil.copytree(repo / "data/masks", work / "data/masks")
    for f in (work / "data/raw/widget-A/test").rglob("*.jpg"):
        f.write_bytes(b"not an image")
    guard = (
        "import sys, runpy, PIL.Image as I\n"
        "real = I.open\n"
        "def guarded(fp, *a, **k):\n"
        "    if '/test/' in str(fp) or '/ground_truth/' in str(fp):\n"
        "        raise AssertionError(f'test set opened: {fp}')\n"
        "    return real(fp, *a, **k)\n"
        "I.open = guarded\n"
        f"sys.argv = ['train', '--category', 'widget-A']\n"
        f"runpy.run_path({str(ROOT / 'stages/train.py')!r}, run_name='__main__')\n"
    )
    r = subprocess.run([sys.executable, "-c", guard], cwd=work, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ("calibration.json", "model.pt"):
        assert (work / "data/models/widget-A" / name).read_bytes() == (
            repo / "data/models/widget-A" / name
        ).read_bytes()


def test_onnxruntime_maps_equal_torch_maps(repo, tmp_path):
    """The stated tolerance: maps and scores within 1e-5 absolute (measured: ~1e-7)."""
    import torch

    from ssae.deploy.scorer import OnnxScorer, export_onnx, load_deployed

    deployed, info = load_deployed(repo / "data/models/plate_2", torch.device("cpu"))
    export_onnx(deployed, info, tmp_path / "p.onnx")
    scorer = OnnxScorer(tmp_path / "p.onnx")
    assert scorer.info["calibration"]["threshold"] == info["calibration"]["threshold"]
    for shape in ((2, 48, 36, 3), (1, 17, 90, 3), (1, 300, 200, 3)):  # any size, down and up
        image = np.random.default_rng(len(shape)).integers(0, 256, shape, dtype=np.uint8)
        with torch.no_grad():
            ref = [t.numpy() for t in deployed(torch.from_numpy(image))]
        got = scorer(image)
        assert got[2].shape == shape[:3]
        for a, b in zip(got, ref):
            assert np.abs(a - b).max() < 1e-5
