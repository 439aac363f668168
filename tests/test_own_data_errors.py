"""Your own data: every input that cannot work stops with one line that names the file or
folder; what can work (good-only test sets, 0/1 masks, mixed greyscale and colour, a stray
unreadable or hidden image, left out and listed) does."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssae.evaluation.metrics import precision_recall_f1
from ssae.method.calibration import calibrate, holdout_split
from ssae.core.data_config import FolderConfig
from ssae.data.folder_source import acquire_folder
from ssae.data.dataset_format import DatasetError, index_category, load_image, load_mask
from ssae.evaluation.metrics import evaluate
from conftest import write_custom_tree


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_custom_tree(tmp_path / "photos")


def acquire(tree: Path, tmp_path: Path, categories=("widget-A", "plate_2")) -> None:
    acquire_folder(FolderConfig(root=str(tree)), categories, tmp_path / "out")


def one_line_error(tree: Path, tmp_path: Path, categories=("widget-A", "plate_2")) -> str:
    with pytest.raises(DatasetError) as e:
        acquire(tree, tmp_path, categories)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_a_valid_custom_tree_is_linked_and_says_what_it_found(tree, tmp_path, capsys):
    acquire(tree, tmp_path)
    assert len(index_category(tmp_path / "out/widget-A")) == 7 + 3 + 3
    assert "plate_2: verified" in capsys.readouterr().err


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda t: [p.unlink() for p in (t / "widget-A/train/good").iterdir()],
            r"widget-A: no training images in .*widget-A/train/good",
        ),
        (
            lambda t: (t / "plate_2/test/crack/1.png").unlink(),
            r"plate_2/crack: masks without an image in .*: \['1_mask.png'\]",
        ),
        (
            lambda t: (t / "plate_2/ground_truth/crack/2_mask.png").unlink(),
            r"plate_2/crack: images without a mask in .*: \['2.png'\]",
        ),
        (
            lambda t: [(t / f"widget-A/train/good/{i:02d}.jpg").write_bytes(b"") for i in range(7)],
            r"widget-A: no training images in .*widget-A/train/good that can be read \(7 left out: "
            r"cannot decode train/good/00.jpg: .*; cannot decode train/good/06.jpg",
        ),
        (
            lambda t: [
                (t / f"plate_2/test/{d}").write_bytes(b"\xff\xd8 truncated")
                for d in ("good/0.png", "good/1.png", "crack/0.png", "crack/1.png", "crack/2.png")
            ],
            r"plate_2: no test images in .*plate_2/test \(test/good or test/<defect type>\) that can be read "
            r"\(5 left out: cannot decode test/crack/0.png",
        ),
        (
            lambda t: (t / "plate_2/ground_truth/crack/0_mask.png").write_bytes(b"garbage"),
            r"plate_2: cannot decode ground_truth/crack/0_mask.png",
        ),
        (
            lambda t: Image.new("L", (10, 10)).save(t / "plate_2/ground_truth/crack/0_mask.png"),
            r"plate_2: ground_truth/crack/0_mask.png is 10x10 px but its image is 36x48",
        ),
        (lambda t: shutil.rmtree(t / "widget-A/test"), r"widget-A: missing folder .*widget-A/test"),
    ],
)
def test_a_bad_input_is_one_line_naming_the_file(tree, tmp_path, edit, message):
    edit(tree)
    assert re.search(message, one_line_error(tree, tmp_path))


def test_an_unknown_category_lists_the_ones_there(tree, tmp_path):
    msg = one_line_error(tree, tmp_path, ("bottle",))
    assert "no category 'bottle'" in msg and "['plate_2', 'widget-A']" in msg


def test_a_missing_root_is_named(tmp_path):
    msg = one_line_error(tmp_path / "nowhere", tmp_path, ("x",))
    assert msg.startswith("data.folder.root:") and "nowhere" in msg


def test_a_good_only_test_set_scores_and_reports_what_it_can(tree, tmp_path):
    for d in ("dent", "scuff"):
        shutil.rmtree(tree / "widget-A/test" / d)
    table = index_category(tree / "widget-A")
    assert set(table[table.split == "test"].defect) == {"good"}
    scores, labels = np.array([0.1, 0.3, 0.2]), np.zeros(3, bool)
    row, curve = evaluate(scores, labels, np.zeros((3, 4, 4)), np.zeros((3, 4, 4), bool), threshold=0.25)
    assert np.isnan(row["image_auroc"]) and np.isnan(row["pixel_auroc"]) and curve is None
    assert row["precision"] == 0 and np.isnan(row["recall"])  # one false alarm, nothing to recall


def test_zero_one_and_zero_255_masks_mean_the_same(tmp_path):
    m = np.zeros((6, 6), np.uint8)
    m[1:3, 2:5] = 1
    for value in (1, 255):
        Image.fromarray(m * value).save(tmp_path / f"{value}.png")
        assert load_mask(tmp_path / f"{value}.png", (6, 6)).sum() == 6


def test_greyscale_and_colour_files_are_both_read_as_rgb(tree):
    grey = load_image(tree / "plate_2/train/good/0.png", 16)
    colour = load_image(tree / "plate_2/train/good/2.png", 16)  # the colour one of a greyscale category
    assert grey.shape == colour.shape == (3, 16, 16)
    assert np.array_equal(grey[0], grey[2]) and not np.array_equal(colour[0], colour[2])
    Image.fromarray((np.arange(256, dtype=np.uint16) * 257).reshape(16, 16)).save(tree / "deep.png")  # 16-bit
    deep = load_image(tree / "deep.png", 16)
    assert deep.max() == pytest.approx(1.0) and deep.min() == 0


def test_holdout_is_seeded_disjoint_and_needs_two_images():
    fit, held = holdout_split(20, 0.1, 0, "a")
    assert len(held) == 2 and not set(fit) & set(held) and len(fit) + len(held) == 20
    assert np.array_equal(held, holdout_split(20, 0.1, 0, "a")[1])
    assert len(holdout_split(2, 0.5, 0, "a")[1]) == 1
    with pytest.raises(ValueError, match="at least 2 normal training images"):
        holdout_split(1, 0.1, 0, "a")


def test_normalised_scores_are_monotone_with_one_half_at_the_threshold():
    cal = calibrate(np.array([1.0, 2.0, 3.0, 4.0]), 1.0)
    assert cal.threshold == 4.0 and cal.scale == pytest.approx(np.std([1, 2, 3, 4]))
    s = np.linspace(-100, 100, 1001)
    n = cal.normalise(s)
    assert np.all(np.diff(n) >= 0) and 0 <= n.min() and n.max() <= 1
    assert cal.normalise(np.array([4.0]))[0] == 0.5 and cal.decide(np.array([4.0, 4.01])).tolist() == [False, True]
    assert precision_recall_f1(np.array([1, 5, 5]), np.array([0, 1, 0]), 4.0) == {
        "precision": 0.5,
        "recall": 1.0,
        "f1": 2 / 3,
    }


@pytest.mark.slow  # starts processes
def test_predict_names_a_bad_input(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    r = subprocess.run(
        [sys.executable, "-m", "ssae.deploy.predict", str(tmp_path), str(bad)], capture_output=True, text=True
    )
    assert r.returncode == 2 and "not a model folder" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    from ssae.deploy.predict_io import InputError, find_images, read_image

    with pytest.raises(InputError, match=r"bad.png: cannot decode"):
        read_image(bad)
    with pytest.raises(InputError, match=r"missing/\*.jpg: no such image"):
        find_images([str(tmp_path / "missing" / "*.jpg")])


def test_link_loops_are_one_line_or_never_walked(tree, tmp_path):
    (tree / "widget-A/train/good/up").symlink_to("..")  # a folder loop: outside the layout, never walked
    acquire(tree, tmp_path, ("widget-A",))
    assert (tmp_path / "out/widget-A/train/good/00.jpg").is_file() and not (
        tmp_path / "out/widget-A/train/good/up"
    ).exists()
    (tree / "widget-A/test/good/self.jpg").symlink_to("self.jpg")  # a file loop: left out, named
    acquire(tree, tmp_path / "again", ("widget-A",))
    (entry,) = json.loads((tmp_path / "again/out/widget-A/left_out.json").read_text())["left_out"]
    assert entry["file"] == "test/good/self.jpg" and "Too many levels of symbolic links" in entry["reason"]


def test_a_relative_link_is_placed_as_the_file_it_points_to(tree, tmp_path):
    (tree / "widget-A/train/good/link.jpg").symlink_to("00.jpg")
    acquire(tree, tmp_path, ("widget-A",))
    placed = tmp_path / "out/widget-A/train/good/link.jpg"
    assert not placed.is_symlink() and placed.read_bytes() == (tree / "widget-A/train/good/00.jpg").read_bytes()


def test_webp_is_read_and_what_is_skipped_is_listed(tree, tmp_path, capsys):
    Image.open(tree / "widget-A/train/good/00.jpg").save(tree / "widget-A/train/good/w.webp")
    (tree / "widget-A/train/good/more").mkdir()
    shutil.copy(tree / "widget-A/train/good/01.jpg", tree / "widget-A/train/good/more/x.jpg")
    (tree / "widget-A/notes.txt").write_text("n")
    acquire(tree, tmp_path, ("widget-A",))
    assert (tmp_path / "out/widget-A/train/good/w.webp").is_file()
    err = capsys.readouterr().err
    assert "widget-A: skipped 2 files, hidden or outside the layout" in err
    assert "train/good/more/x.jpg" in err and "notes.txt" in err
    # the image among them is listed with the data; notes.txt is not (a new one would re-train)
    left_out = json.loads((tmp_path / "out/widget-A/left_out.json").read_text())
    assert left_out == {"left_out": [], "skipped": ["train/good/more/x.jpg"]}


def test_a_clean_folder_writes_no_left_out_file(tree, tmp_path):
    (tree / "widget-A/.DS_Store").write_bytes(b"Bud1")  # skipped, on stderr only: data/raw as without it
    acquire(tree, tmp_path)
    assert not list((tmp_path / "out").rglob("left_out.json"))


def truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_unreadable_and_hidden_images_are_left_out_and_listed(tree, tmp_path, capsys):
    w, p = tree / "widget-A", tree / "plate_2"
    (w / "train/good/._00.jpg").write_bytes(b"\x00\x05\x16\x07" + bytes(4000))  # a macOS AppleDouble file
    shutil.copy(w / "train/good/00.jpg", w / "train/good/.hidden.jpg")  # a valid image, but hidden
    for f in ("train/good/01.jpg", "test/good/g1.jpg", "test/dent/0.jpg"):
        truncated(w / f)
    truncated(p / "test/crack/1.png")  # its mask goes with it
    before = {f: f.read_bytes() for f in tree.rglob("*") if f.is_file()}
    acquire(tree, tmp_path)
    raw = tmp_path / "out/widget-A"
    assert sorted(f.relative_to(raw).as_posix() for f in raw.rglob("*") if f.is_file()) == [
        "left_out.json",
        "test/dent/1.jpg",
        "test/good/g0.jpg",
        "test/good/g2.jpg",
        "test/scuff/0.jpg",
        *[f"train/good/{i:02d}.jpg" for i in (0, 2, 3, 4, 5, 6)],
    ]
    left_out = json.loads((raw / "left_out.json").read_text())
    assert [e["file"] for e in left_out["left_out"]] == ["test/dent/0.jpg", "test/good/g1.jpg", "train/good/01.jpg"]
    assert all(e["reason"].startswith(f"cannot decode {e['file']}: ") for e in left_out["left_out"])
    assert left_out["skipped"] == ["train/good/._00.jpg", "train/good/.hidden.jpg"]
    plate = json.loads((tmp_path / "out/plate_2/left_out.json").read_text())["left_out"]
    assert plate[0] == {"file": "ground_truth/crack/1_mask.png", "reason": "its image test/crack/1.png is left out"}
    assert plate[1]["file"] == "test/crack/1.png" and len(plate) == 2
    assert len(index_category(tmp_path / "out/plate_2")) == 5 + 2 + 2  # what the next stages read parses
    err = capsys.readouterr().err
    assert re.search(
        r"widget-A: left out 3 images that cannot be read \(listed in left_out.json\): cannot decode "
        r"test/dent/0.jpg: .*; cannot decode test/good/g1.jpg: .*; cannot decode train/good/01.jpg",
        err,
    )
    assert "plate_2: left out 1 images that cannot be read and their 1 masks" in err
    assert re.search(r"widget-A: skipped 2 files, hidden .*'train/good/._00.jpg', 'train/good/.hidden.jpg'", err)
    assert {f: f.read_bytes() for f in tree.rglob("*") if f.is_file()} == before  # the user's tree is untouched
    acquire(tree, tmp_path / "again")  # the same bytes on every run
    assert (tmp_path / "again/out/widget-A/left_out.json").read_bytes() == (raw / "left_out.json").read_bytes()


def test_a_float_tiff_out_of_range_is_refused_by_name(tree, tmp_path):
    Image.fromarray(np.full((40, 56), 120.0, np.float32), mode="F").save(tree / "widget-A/train/good/f.tif")
    acquire(tree, tmp_path, ("widget-A",))
    (entry,) = json.loads((tmp_path / "out/widget-A/left_out.json").read_text())["left_out"]
    assert entry["file"] == "train/good/f.tif" and not (tmp_path / "out/widget-A/train/good/f.tif").exists()
    assert entry["reason"].startswith("train/good/f.tif: a floating-point image with values in [120, 120]")
