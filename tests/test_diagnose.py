"""The diagnosis of a score file: detection per defect type, map maxima, missed defects, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ssae.evaluation.diagnose import app, best_f1_threshold, border, diagnose, shift
from ssae.evaluation.score_file import load_scores, save_scores

S, BG = 16, 0.001  # map side; the maps' background error
NORMAL = [0.010 + 0.003 * i for i in range(10)]  # 0.010 .. 0.037; the calibrated threshold 0.03 flags 3
BIG = [0.08, 0.09, 0.10, 0.11]  # found: peaks in their masks
# copied: error 0.0005 in the mask (below the background), peak 0.002 elsewhere -> model
# outranked: error 0.005 in the mask (5x the normal level), score 0.005 < every normal -> scoring


def _synthetic() -> dict:
    """10 normal and 8 defective maps with known peaks; masks at 2x the maps' side; images at S."""
    maps, scores, defects, peaks = [], [], [], []
    gt = np.zeros((18, 2 * S, 2 * S), bool)
    images = np.full((18, S, S, 3), 50, np.uint8)
    images[:, 4:12, 4:12] = 150  # the object: a square in the middle
    for i, s in enumerate(NORMAL):
        peaks.append((5, 5) if i == 9 else (1, i + 1))  # the highest-scoring normal: on a bright spot
        maps.append(np.full((S, S), BG)), scores.append(s), defects.append("good")
    images[9, 5, 5] = 255
    for kind, values in [("big", BIG), ("copied", [0.002, 0.002]), ("outranked", [0.005, 0.005])]:
        for s in values:
            m = np.full((S, S), BG)
            if kind == "copied":
                m[4:8, 4:8] = 0.0005
                peaks.append((14, 1))
            else:
                m[4:8, 4:8] = s
                peaks.append((6, 6))
            maps.append(m), scores.append(s), defects.append(kind)
    for m, (r, c), s in zip(maps, peaks, scores):
        m[r, c] = s
    gt[10:, 8:16, 8:16] = True  # map rows/cols 4..7
    n = len(scores)
    names = [f"{d}/{i:03d}.png" for i, d in enumerate(defects)]
    labels = np.array([d != "good" for d in defects])
    return dict(
        maps=np.stack(maps).astype(np.float16),
        scores=np.array(scores, np.float32),
        labels=labels,
        defects=np.array(defects),
        names=np.array(names),
        gt=gt,
        known=np.ones(n, bool),
        threshold=0.03,
        images=images,
    )


def _write(tmp_path: Path, d: dict, masks: bool = True) -> tuple[Path, Path]:
    """The score file and a category folder with the test images; ``masks`` False: no ground truth."""
    arrays = {k: v for k, v in d.items() if k != "images"}
    if not masks:
        arrays["gt"], arrays["known"] = np.zeros_like(d["gt"]), ~d["labels"]
    npz = tmp_path / "scores.npz"
    save_scores(npz, **arrays)
    root = tmp_path / "cat"
    for name, img in zip(d["names"], d["images"]):
        (root / "test" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / "test" / name)
    return npz, root


def _images(d: dict) -> np.ndarray:
    return d["images"].transpose(0, 3, 1, 2).astype(np.float32) / 255


def test_the_best_f1_threshold_flags_exactly_the_best_cut():
    d = _synthetic()
    t = best_f1_threshold(d["scores"], d["labels"])
    assert np.array_equal(d["scores"] > t, d["scores"] >= np.float32(0.08))  # F1 8/12 beats 16/26 (flag all)
    assert best_f1_threshold(d["scores"][:10], d["labels"][:10]) is None


def test_detection_shares_per_defect_type_at_both_thresholds():
    r = diagnose(_synthetic())
    det = r["detection"]
    assert list(det) == ["big", "copied", "good", "outranked"]
    assert det["big"]["flagged"] == {"calibrated": 1.0, "best_f1": 1.0} and det["big"]["n"] == 4
    assert det["copied"]["flagged"] == {"calibrated": 0.0, "best_f1": 0.0}
    assert det["outranked"]["flagged"] == {"calibrated": 0.0, "best_f1": 0.0}
    assert det["good"]["flagged"] == {"calibrated": 0.3, "best_f1": 0.0} and det["good"]["n"] == 10
    assert det["big"]["median_score"] == pytest.approx(0.095) and r["thresholds"]["calibrated"] == 0.03


def test_missed_defects_are_model_when_copied_and_scoring_when_repaired_but_outranked():
    m = diagnose(_synthetic())["missed"]
    assert m["normal_level"] == pytest.approx(BG, rel=1e-3)  # 10 peak pixels of 2560: below the 99th percentile
    copied, outranked, big = (m["per_defect"][t] for t in ("copied", "outranked", "big"))
    for key in ("all", "best_f1", "calibrated"):  # copied and outranked are missed at both thresholds
        assert copied[key] == {
            "n": 2,
            "model": 2,
            "scoring": 0,
            "median_ratio": pytest.approx(0.71875, rel=1e-2),
        }  # a mask corner: 7/16 background
        assert outranked[key] == {"n": 2, "model": 0, "scoring": 2, "median_ratio": pytest.approx(5, rel=1e-2)}
    assert big["all"]["n"] == 4 and big["all"]["scoring"] == 4  # found: they count among all, not among the missed
    assert big["best_f1"] == big["calibrated"] == {"n": 0, "model": 0, "scoring": 0, "median_ratio": None}
    rows = {r["name"]: r for r in m["images"]}
    assert len(rows) == 8 and rows["big/010.png"]["missed"] == {"calibrated": False, "best_f1": False}
    assert rows["outranked/016.png"]["region_max"] == pytest.approx(0.005, rel=1e-3)
    assert rows["outranked/016.png"]["outranked_by"] == 10 and rows["copied/014.png"]["class"] == "model"
    assert rows["copied/014.png"]["missed"] == {"calibrated": True, "best_f1": True}


def test_a_defect_missed_only_at_the_calibrated_threshold_counts_there_only():
    d = _synthetic()
    d["threshold"] = 0.085  # big/010 (0.08) is missed at the calibrated threshold, found at the best F1
    per = diagnose(d)["missed"]["per_defect"]["big"]
    assert per["calibrated"]["n"] == 1 and per["calibrated"]["scoring"] == 1 and per["best_f1"]["n"] == 0


def test_map_maxima_positions_and_where_they_sit_in_the_image():
    d = _synthetic()
    r = diagnose(d, _images(d))
    recs = {q["name"]: q for q in r["maxima"]["images"]}
    top = recs["good/009.png"]
    assert (top["y"], top["x"], top["border"]) == (5.5 / S, 5.5 / S, 5 / S) and top["top_normal"]
    assert top["on_object"] and top["brightness_pct"] > 99  # the image's one brightest pixel
    low = recs["good/002.png"]  # peak (1, 3) on the background
    assert (low["y"], low["x"], low["border"]) == (1.5 / S, 3.5 / S, 1 / S) and not low["on_object"]
    assert "top_normal" not in low and recs["big/010.png"]["in_mask"] and not recs["copied/014.png"]["in_mask"]
    s = r["maxima"]["summary"]
    assert s["top_normal"]["n"] == 5 and s["all_normal"]["n"] == 10 and s["defective"]["n"] == 8
    assert s["top_normal"]["on_object"] == 0.2 and s["top_normal"]["bright_spot"] == 0.2
    assert s["defective"]["in_mask"] == 0.75 and s["defective"]["on_object"] == 0.75
    assert "on_object" not in diagnose(d)["maxima"]["summary"]["top_normal"]  # no images: skipped


def test_the_border_profile_sees_a_bright_frame_and_not_an_interior_peak():
    s = 64
    labels = np.array([False] * 3 + [True])
    maps = np.full((4, s, s), 0.01, np.float32)
    maps[:3, 0], maps[:3, :, -1] = 0.05, 0.03  # normal images: a bright top row and right column
    maps[3, 30:34, 30:34] = 1.0  # the defect: an interior peak of 16 pixels
    b = border(maps, labels)  # ring 0: 252 px
    assert b["ring_to_interior"][0] == pytest.approx((0.05 * 63 + 0.03 * 64 + 0.01 * 125) / 252 / 0.01, rel=1e-5)
    assert b["ring_to_interior"][1:] == pytest.approx([1.0] * 7, rel=1e-5)
    # top 1 % = 41 px: on the normal images the bright row and column, on the defect image its 16
    # interior pixels and 25 ties of the flat background (where argpartition puts them)
    assert b["top1pct_near_border"] > 0.75
    assert b["near_border_area"] == pytest.approx(1 - (s - 8) ** 2 / s**2)
    flat = border(np.full((4, s, s), 0.01, np.float32), labels)
    assert flat["ring_to_interior"] == pytest.approx([1.0] * 8)


def test_the_cli_writes_the_same_bytes_twice(tmp_path):
    npz, root = _write(tmp_path, _synthetic())
    runner, outputs = CliRunner(), []
    for run in ("a", "b"):
        res = runner.invoke(app, [str(npz), "--images", str(root), "--out", str(tmp_path / run)])
        assert res.exit_code == 0, res.output
        outputs.append(
            {f: (tmp_path / run / f).read_bytes() for f in ("diagnosis.json", "diagnosis.md", "diagnosis.png")}
        )
    assert outputs[0] == outputs[1]
    r = json.loads(outputs[0]["diagnosis.json"])
    assert r["missed"]["per_defect"]["outranked"]["best_f1"]["scoring"] == 2 and r["maxima"]["with_images"]
    assert r["detection"]["good"]["flagged"]["calibrated"] == 0.3 and r["thresholds"]["best_f1"] == pytest.approx(0.08)
    md = outputs[0]["diagnosis.md"].decode()
    assert (
        "| outranked | 2 | 0 | 2 | 5.00 | 0 | 2 | 0 | 2 |" in md
        and "| copied | 2 | 2 | 0 | 0.72 | 2 | 0 | 2 | 0 |" in md
        and "| good (false positives) | 10 | 30 % | 0 % |" in md
    )
    assert outputs[0]["diagnosis.png"].startswith(b"\x89PNG")


def test_a_file_without_masks_skips_the_pixel_parts(tmp_path):
    npz, _ = _write(tmp_path, _synthetic(), masks=False)
    res = CliRunner().invoke(app, [str(npz), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    r = json.loads((tmp_path / "out" / "diagnosis.json").read_text())
    assert set(r["missed"]) == {"skipped"} and not r["maxima"]["with_images"]
    assert r["detection"]["copied"]["flagged"]["best_f1"] == 0.0
    assert all("in_mask" not in q and "on_object" not in q for q in r["maxima"]["images"])
    assert "Missed defects: skipped" in (tmp_path / "out" / "diagnosis.md").read_text()
    assert (tmp_path / "out" / "diagnosis.png").stat().st_size > 0
    assert not load_scores(npz)["known"][10:].any()


@pytest.mark.parametrize("content", [None, b"not a zip", "wrong arrays"])
def test_a_missing_or_invalid_scores_file_is_one_error_line(tmp_path, content):
    path = tmp_path / "x.npz"
    if content == "wrong arrays":
        np.savez(path, maps=np.zeros((1, 2, 2)))
    elif content is not None:
        path.write_bytes(content)
    res = CliRunner().invoke(app, [str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and res.output.startswith("error: ") and res.output.count("\n") == 1
    assert str(path) in res.output and not (tmp_path / "out").exists()


def test_images_missing_from_the_category_folder_are_one_error_line(tmp_path):
    npz, _ = _write(tmp_path, _synthetic())
    res = CliRunner().invoke(app, [str(npz), "--images", str(tmp_path / "elsewhere"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "18 test images" in res.output and res.output.count("\n") == 1


def test_the_shift_compares_normal_test_scores_with_the_held_out_ones():
    alike = shift([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4])
    assert alike["auroc"] == 0.5 and alike["p"] == pytest.approx(1.0)
    higher = shift([0.01, 0.02, 0.03, 0.04, 0.05], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert higher["auroc"] == 1.0 and higher["p"] < 0.01 and higher["n_heldout"] == 5 and higher["n_normal"] == 6
    assert shift([0.5, 0.6], [0.1, 0.7])["auroc"] == 0.5  # one below both, one above both
    assert shift([0.5, 0.6], [0.5, 0.1])["auroc"] == 0.125  # a tie counts half


def _calibration(folder: Path, heldout: list[float]) -> Path:
    folder.mkdir()
    cal = {"threshold": 0.03, "scale": 0.01, "quantile": 0.99, "map": "l2", "sigma": 2.0, "image_topk": 0.01}
    (folder / "calibration.json").write_text(json.dumps(cal | {"heldout": {"images": [], "scores": heldout}}))
    return folder


def test_the_cli_reports_the_shift_with_a_model_folder_and_only_then(tmp_path):
    npz, _ = _write(tmp_path, _synthetic(), masks=False)
    model = _calibration(tmp_path / "model", [0.001, 0.002, 0.003])  # below every normal test score
    res = CliRunner().invoke(app, [str(npz), "--model", str(model), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    r = json.loads((tmp_path / "out" / "diagnosis.json").read_text())
    assert r["shift"]["auroc"] == 1.0 and r["shift"]["n_normal"] == len(NORMAL) and r["shift"]["n_heldout"] == 3
    md = (tmp_path / "out" / "diagnosis.md").read_text()
    assert "Shift: the 10 normal test images against the 3 held-out" in md
    assert r["shift"]["p"] < 0.05 and "`train.brightness`" in md  # a significant upward shift names the remedy
    res = CliRunner().invoke(app, [str(npz), "--out", str(tmp_path / "plain")])
    assert res.exit_code == 0 and "shift" not in json.loads((tmp_path / "plain" / "diagnosis.json").read_text())


def test_a_model_folder_without_a_calibration_is_one_error_line(tmp_path):
    npz, _ = _write(tmp_path, _synthetic(), masks=False)
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(app, [str(npz), "--model", str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and res.output.startswith("error: ") and res.output.count("\n") == 1
    assert "calibration.json" in res.output and not (tmp_path / "out").exists()


def test_a_defect_copied_exactly_is_drawn_not_a_crash(tmp_path):
    # an image-level gate can pass a region through untouched: error exactly 0, ratio 0, log2 -inf
    d = _synthetic()
    copied = list(d["defects"]).index("copied")
    d["maps"][copied, 2:10, 2:10] = 0  # the mask (map rows and columns 4-7) and its bilinear neighbours
    npz, _ = _write(tmp_path, d, masks=True)
    res = CliRunner().invoke(app, [str(npz), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    r = json.loads((tmp_path / "out" / "diagnosis.json").read_text())
    assert min(q["ratio"] for q in r["missed"]["images"]) == 0.0
    assert (tmp_path / "out" / "diagnosis.png").read_bytes().startswith(b"\x89PNG")
