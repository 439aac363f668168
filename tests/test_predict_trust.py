"""predict and export you can trust (issue 18, failures 2-6 and the weak spots): unique output
names, bad files as error rows, an output folder written as a whole, atomic export, images
read correctly or refused by name, model folders checked on load; one error line each."""

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
import torch
from PIL import Image
from typer.testing import CliRunner

from ssae.deploy import export as export_cli, predict as predict_cli
from ssae.method.calibration import calibrate
from ssae.method.checkpoint import ModelError, save_calibration, save_model
from ssae.core.artifacts import save_npz
from ssae.core.config import ModelConfig, TrainConfig
from ssae.deploy.scorer import load_deployed
from ssae.method.model import SDCCCM, init_weights
from ssae.deploy.predict_io import find_images, output_names, read_image
from ssae.data.images import UnsupportedImage, decode

CFG = TrainConfig(image_size=16, model=ModelConfig(widths=(8, 16), sdc_blocks=1, dilations=(1, 2)))


def make_model(folder: Path) -> Path:
    model = init_weights(SDCCCM(CFG.model), torch.Generator().manual_seed(0)).eval()
    save_model(
        model,
        folder / "model.pt",
        folder / "meta.json",
        category="widget",
        seed=0,
        cfg=CFG,
        policy="none",
        device=torch.device("cpu"),
        n_train_images=4,
        losses=[0.1],
    )
    save_calibration(
        folder / "calibration.json",
        calibrate(np.array([0.01, 0.02, 0.03]), 0.99),
        map_kind="l2",
        sigma=1.0,
        heldout_images=[],
    )
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return make_model(tmp_path_factory.mktemp("model") / "widget")


def photo(path: Path, shape: tuple[int, int], seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)).save(path)
    return path


def predict(*args) -> click.testing.Result:  # noqa: F821
    return CliRunner().invoke(predict_cli.app, [str(a) for a in args], catch_exceptions=False)


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# --- failure 2: output names ------------------------------------------------------------------

FOUR = {"x.png": (20, 24), "x.jpg": (22, 26), "a/b.png": (24, 28), "a__b.png": (26, 30)}


def test_output_names_are_unique_and_reversible(tmp_path):
    files = [tmp_path / n for n in FOUR]
    names = output_names(files)
    assert names == list(FOUR)  # suffix kept, sub-folder kept: the input is the name
    assert len({f"{n}.map.npy" for n in names} | {f"{n}.overlay.png" for n in names}) == 8


def test_predict_writes_one_map_per_image_and_each_row_points_at_its_own(model, tmp_path):
    for i, (name, shape) in enumerate(FOUR.items()):  # a different size each: a mixed-up map shows
        photo(tmp_path / "in" / name, shape, i)
    r = predict(model, tmp_path / "in", "--out", tmp_path / "out", "--device", "cpu")
    assert r.exit_code == 0, r.stderr
    table = pd.read_csv(tmp_path / "out/predictions.csv")
    assert len(table) == 4 and table["map"].nunique() == 4
    for row in table.itertuples():
        assert Path(row.image).relative_to(tmp_path / "in").as_posix() == row.name
        assert np.load(tmp_path / "out" / row.map).shape == FOUR[row.name] == (row.height, row.width)
        with Image.open(tmp_path / "out" / row.overlay) as im:
            assert im.size[::-1] == FOUR[row.name]
    assert len([f for f in (tmp_path / "out").rglob("*") if f.is_file()]) == 4 * 2 + 2


# --- failure 3: bad files, and an --out written as a whole -----------------------------------


def test_a_bad_file_gets_an_error_row_and_the_batch_goes_on(model, tmp_path):
    photo(tmp_path / "in/good.png", (20, 20))
    (tmp_path / "in/broken.png").write_bytes(b"\x89PNG truncated")
    (tmp_path / "in/._good.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # skipped in a folder
    r = predict(model, tmp_path / "in", "--out", tmp_path / "out")
    assert r.exit_code == 1
    assert "1 of 2 files could not be scored" in r.stderr and "skipped 1 macOS resource files" in r.stderr
    table = pd.read_csv(tmp_path / "out/predictions.csv").set_index("name")
    assert (
        table.loc["broken.png", "decision"] == "error"
        and "broken.png: cannot decode" in table.loc["broken.png", "error"]
    )
    assert table.loc["good.png", "decision"] in ("normal", "anomalous")
    rows = json.loads((tmp_path / "out/predictions.json").read_text())["predictions"]
    assert [r["decision"] == "error" for r in rows] == [True, False]


def test_a_rerun_replaces_the_output_folder_as_a_whole(model, tmp_path):
    for i in range(3):
        photo(tmp_path / "in" / f"{i}.png", (20, 20), i)
    assert predict(model, tmp_path / "in", "--out", tmp_path / "out").exit_code == 0
    (tmp_path / "in/2.png").unlink()
    photo(tmp_path / "in/0.png", (30, 20), 7)  # changed
    assert predict(model, tmp_path / "in", "--out", tmp_path / "out").exit_code == 0
    table = pd.read_csv(tmp_path / "out/predictions.csv")
    on_disk = sorted(str(f.relative_to(tmp_path / "out")) for f in (tmp_path / "out").rglob("*") if f.is_file())
    assert on_disk == sorted(
        [*table["map"], *table["overlay"], "predictions.csv", "predictions.json"]
    )  # no stale 2.png files
    assert np.load(tmp_path / "out/0.png.map.npy").shape == (30, 20)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no temporary folder left


def test_a_failure_midway_leaves_the_earlier_output_untouched(model, tmp_path, monkeypatch):
    for i in range(3):
        photo(tmp_path / "in" / f"{i}.png", (20, 20), i)
    assert predict(model, tmp_path / "in", "--out", tmp_path / "out").exit_code == 0
    before = {f: f.read_bytes() for f in (tmp_path / "out").rglob("*") if f.is_file()}
    real, calls = predict_cli.write_one, []

    def dies(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed midway")  # a crash (click turns KeyboardInterrupt into exit 1)
        return real(*a, **k)

    monkeypatch.setattr(predict_cli, "write_one", dies)
    with pytest.raises(RuntimeError, match="killed midway"):
        predict(model, tmp_path / "in", "--out", tmp_path / "out", "--batch-size", "1")
    assert {f: f.read_bytes() for f in (tmp_path / "out").rglob("*") if f.is_file()} == before


def test_a_foreign_or_file_out_is_refused_untouched(model, tmp_path):
    photo(tmp_path / "in/a.png", (20, 20))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/thesis.tex").write_text("keep")
    r = predict(model, tmp_path / "in", "--out", tmp_path / "mine")
    assert r.exit_code == 2 and "not empty and not an earlier prediction" in one_line(r)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.tex"]
    r = predict(model, tmp_path / "in", "--out", tmp_path / "mine/thesis.tex")
    assert r.exit_code == 2 and "is a file, not a folder" in one_line(r)


def test_an_out_inside_the_input_folder_is_never_scored(model, tmp_path):
    photo(tmp_path / "in/a.png", (20, 20))
    for _ in range(2):
        r = predict(model, tmp_path / "in", "--out", tmp_path / "in/out")
        assert r.exit_code == 0, r.stderr
        assert pd.read_csv(tmp_path / "in/out/predictions.csv")["name"].tolist() == ["a.png"]
    r = predict(model, tmp_path / "in", "--out", tmp_path / "elsewhere")  # an earlier prediction inside: not photos
    assert pd.read_csv(tmp_path / "elsewhere/predictions.csv")["name"].tolist() == ["a.png"]
    assert "an earlier prediction" in r.stderr


def test_device_and_option_errors_are_one_line(model, tmp_path):
    photo(tmp_path / "in/a.png", (20, 20))
    r = predict(model, tmp_path / "in", "--out", tmp_path / "o", "--device", "gpu")
    assert r.exit_code == 2 and "--device must be one of auto, cpu, cuda" in one_line(r)
    if not torch.cuda.is_available():
        r = predict(model, tmp_path / "in", "--out", tmp_path / "o", "--device", "cuda")
        assert r.exit_code == 2 and "no CUDA device" in one_line(r)


# --- failure 4 and the .onnx suffix: export --------------------------------------------------


def export(*args):
    return CliRunner().invoke(export_cli.app, [str(a) for a in args], catch_exceptions=False)


def test_export_is_atomic(model, tmp_path, monkeypatch):
    out = tmp_path / "m.onnx"
    assert export(model, out).exit_code == 0
    good = out.read_bytes()

    def killed(module, args, f, **kw):
        Path(f).write_bytes(good[: len(good) // 3])  # a truncated graph, then the crash
        raise RuntimeError("killed midway")

    monkeypatch.setattr(torch.onnx, "export", killed)
    with pytest.raises(RuntimeError, match="killed midway"):
        export(model, out)
    assert out.read_bytes() == good and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_export_refuses_a_name_without_onnx_and_a_folder(model, tmp_path):
    r = export(model, tmp_path / "m.bin")
    assert r.exit_code == 2 and "must end in .onnx" in one_line(r) and not (tmp_path / "m.bin").exists()
    (tmp_path / "d.onnx").mkdir()
    r = export(model, tmp_path / "d.onnx")
    assert r.exit_code == 2 and "is a folder" in one_line(r)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only case")
def test_an_onnx_model_never_falls_back_to_the_cpu_silently(model, tmp_path):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    assert export(model, tmp_path / "m.onnx").exit_code == 0
    photo(tmp_path / "in/a.png", (20, 20))
    r = predict(tmp_path / "m.onnx", tmp_path / "in", "--out", tmp_path / "o", "--device", "cuda")
    assert r.exit_code == 2 and "no CUDA provider" in one_line(r)
    truncated = tmp_path / "t.onnx"
    truncated.write_bytes((tmp_path / "m.onnx").read_bytes()[:2000])
    r = predict(truncated, tmp_path / "in", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "t.onnx: not a readable ONNX graph" in one_line(r)


# --- failure 5: image modes ------------------------------------------------------------------


def test_a_float_tiff_in_0_1_is_read_at_its_values(tmp_path):
    a = np.linspace(0, 1, 12 * 10, dtype=np.float32).reshape(12, 10)
    Image.fromarray(a, mode="F").save(tmp_path / "f.tif")
    x = decode(tmp_path / "f.tif")
    assert x.shape == (12, 10, 3) and np.allclose(x[..., 1], a) and x.max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda p: Image.fromarray(np.full((8, 8), 200.0, np.float32), mode="F").save(p / "x.tif"),
            r"x.tif: a floating-point image with values in \[200, 200\]",
        ),
        (
            lambda p: Image.fromarray(np.full((8, 8), 100000, np.int32), mode="I").save(p / "x.tif"),
            r"x.tif: a 32-bit integer image",
        ),
        (
            lambda p: Image.new("RGB", (8, 8)).convert("LAB").save(p / "x.tif"),
            r"x.tif: image mode 'LAB' is not supported",
        ),
    ],
)
def test_a_mode_that_would_be_misread_is_refused_by_name(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(UnsupportedImage, match=message):
        decode(tmp_path / "x.tif")
    with pytest.raises(Exception, match=message):  # predict: the file's error row
        read_image(tmp_path / "x.tif")


# --- failure 6 and damaged model folders -----------------------------------------------------


def edited(model: Path, tmp_path: Path, how) -> Path:
    m = tmp_path / "m"
    shutil.copytree(model, m)
    how(m)
    return m


def name_spread(m: Path, spread: np.ndarray | None) -> None:
    """calibration.json names an image-score spread (score.spread: pixel); write it unless None."""
    cal = json.loads((m / "calibration.json").read_text())
    cal["spread"] = {"kind": "pixel", "floor": 0.1, "file": "spread.npz"}
    (m / "calibration.json").write_text(json.dumps(cal))
    if spread is not None:
        save_npz(m / "spread.npz", spread=spread)


def set_image_size(m: Path, size) -> None:
    meta = json.loads((m / "meta.json").read_text())
    meta["train"]["image_size"] = size
    (m / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "how, message",
    [
        (lambda m: set_image_size(m, 32), r"meta.json: does not match model.pt \(checksum differs"),
        (lambda m: set_image_size(m, 3), r"meta.json: does not match model.pt"),
        (lambda m: (m / "meta.json").unlink(), r"meta.json: missing"),
        (lambda m: (m / "meta.json").write_text("{"), r"meta.json: not valid JSON"),
        (
            lambda m: (m / "model.pt").write_bytes((m / "model.pt").read_bytes()[:3000]),
            r"meta.json: does not match model.pt",
        ),
        (lambda m: (m / "calibration.json").write_text("[]"), r"calibration.json: not a JSON object"),
        (lambda m: (m / "calibration.json").write_text('{"map": "l2"}'), r"calibration.json: not a calibration"),
        (lambda m: name_spread(m, None), r"spread.npz: missing \(calibration.json names it"),
        (lambda m: name_spread(m, np.ones((8, 8), np.float32)), r"spread.npz: must hold 16 x 16 positive numbers"),
        (lambda m: name_spread(m, np.zeros((16, 16), np.float32)), r"spread.npz: must hold 16 x 16 positive numbers"),
    ],
)
def test_a_damaged_model_folder_is_one_line_naming_the_file(model, tmp_path, how, message):
    m = edited(model, tmp_path, how)
    with pytest.raises(ModelError, match=message) as e:
        load_deployed(m, torch.device("cpu"))
    assert "\n" not in str(e.value)
    photo(tmp_path / "in/a.png", (20, 20))
    r = predict(m, tmp_path / "in", "--out", tmp_path / "o")
    assert r.exit_code == 2 and one_line(r) and not (tmp_path / "o").exists()
    r = export(m, tmp_path / "m.onnx")
    assert r.exit_code == 2 and one_line(r) and not (tmp_path / "m.onnx").exists()


def test_a_folder_with_a_spread_scores_by_it_in_predict_and_onnx(model, tmp_path):
    photo(tmp_path / "in/a.png", (20, 20))
    scores = {}
    for name, spread in (("plain", None), ("spread", np.full((16, 16), 0.5, np.float32))):
        m = shutil.copytree(model, tmp_path / name)
        if spread is not None:
            name_spread(m, spread)
        assert load_deployed(m, torch.device("cpu"))[0].divide == (spread is not None)
        assert predict(m, tmp_path / "in", "--out", tmp_path / f"o_{name}").exit_code == 0
        scores[name] = pd.read_csv(tmp_path / f"o_{name}/predictions.csv").score[0]
        assert export(m, tmp_path / f"{name}.onnx").exit_code == 0
        assert predict(tmp_path / f"{name}.onnx", tmp_path / "in", "--out", tmp_path / f"x_{name}").exit_code == 0
        assert pd.read_csv(tmp_path / f"x_{name}/predictions.csv").score[0] == pytest.approx(scores[name], rel=1e-5)
    assert scores["spread"] == pytest.approx(2 * scores["plain"], rel=1e-5)  # a uniform spread of 0.5


def test_without_a_checksum_the_weights_must_still_fit(model, tmp_path):
    def old_and_truncated(m: Path) -> None:
        meta = json.loads((m / "meta.json").read_text())
        del meta["checksum"]  # a folder written before checksums
        (m / "meta.json").write_text(json.dumps(meta))
        (m / "model.pt").write_bytes((m / "model.pt").read_bytes()[:3000])

    with pytest.raises(ModelError, match=r"model.pt: unreadable, not a saved model"):
        load_deployed(edited(model, tmp_path, old_and_truncated), torch.device("cpu"))


# --- large images -----------------------------------------------------------------------------


def test_a_large_jpeg_is_decoded_reduced(tmp_path, monkeypatch):
    """(benchmarks/bench_large_jpeg.py measures time and memory at 6000 x 4000.)"""
    big = Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 120, 3), dtype=np.uint8)).resize((2400, 1600))
    big.save(tmp_path / "big.jpg", quality=80)
    drafts = []
    from PIL import JpegImagePlugin

    real = JpegImagePlugin.JpegImageFile.draft
    monkeypatch.setattr(
        JpegImagePlugin.JpegImageFile, "draft", lambda im, mode, size: drafts.append(size) or real(im, mode, size)
    )
    img, shape = read_image(tmp_path / "big.jpg", max_side=400)
    assert shape == (1600, 2400) and img.shape == (267, 400, 3) and img.dtype == np.uint8
    assert drafts == [(400, 267)]  # decoded reduced by the JPEG decoder
    full, _ = read_image(tmp_path / "big.jpg", max_side=0)
    assert full.shape == (1600, 2400, 3)
    # the reduced decode sees the same picture (mean absolute difference of a few grey levels)
    from ssae.data.resolution import resize

    ref = resize(full.astype(np.float32), (267, 400))
    assert np.abs(ref - img).mean() < 4


def test_find_images_reads_webp_and_skips_its_own_output(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.webp")
    photo(tmp_path / "out/x.png", (8, 8))
    files, _ = find_images([str(tmp_path)], exclude=[tmp_path / "out"])
    assert [f.name for f in files] == ["a.webp"]


@pytest.mark.slow
def test_predict_errors_are_one_line_in_a_real_process(model, tmp_path):
    """The whole command as a user runs it: no traceback for a damaged model folder."""
    m = edited(model, tmp_path, lambda m: set_image_size(m, 32))
    photo(tmp_path / "in/a.png", (20, 20))
    r = subprocess.run(
        [sys.executable, "-m", "ssae.deploy.predict", str(m), str(tmp_path / "in"), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "meta.json: does not match model.pt" in r.stderr
