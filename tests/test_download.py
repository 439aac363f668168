"""The download stage with a local MVTec AD directory (fake tree in MVTec layout)."""

import subprocess
import sys
from pathlib import Path

import yaml

from conftest import write_fake_category
from ssae.dataset import index_category

ROOT = Path(__file__).resolve().parents[1]


def run_download(workdir: Path, mvtec_dir: Path, categories: list[str]) -> subprocess.CompletedProcess:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(dataset="mvtec_ad", mvtec_dir=str(mvtec_dir))
    params["categories"] = categories
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    return subprocess.run([sys.executable, str(ROOT / "stages" / "download.py")], cwd=workdir,
                          capture_output=True, text=True)


def test_local_directory_copies_the_selected_categories(tmp_path):
    src = tmp_path / "mvtec"
    write_fake_category(src / "bottle")
    write_fake_category(src / "screw", grey=True)
    write_fake_category(src / "carpet")
    work = tmp_path / "work"
    work.mkdir()
    r = run_download(work, src, ["bottle", "screw"])
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (work / "data" / "raw").iterdir()) == ["bottle", "screw"]
    t = index_category(work / "data" / "raw" / "screw")
    assert len(t) == len(index_category(src / "screw"))


def test_a_missing_mask_stops_with_a_clear_error_and_writes_nothing(tmp_path):
    src = tmp_path / "mvtec"
    write_fake_category(src / "bottle")
    (src / "bottle" / "ground_truth" / "scratch" / "001_mask.png").unlink()
    work = tmp_path / "work"
    work.mkdir()
    r = run_download(work, src, ["bottle"])
    assert r.returncode == 2
    assert "bottle/scratch: images without a mask" in r.stderr and "'001'" in r.stderr
    assert not (work / "data" / "raw").exists()
    assert not any(p.name.startswith(".raw.") for p in (work / "data").iterdir())


def test_a_missing_category_is_named(tmp_path):
    src = tmp_path / "mvtec"
    write_fake_category(src / "bottle")
    work = tmp_path / "work"
    work.mkdir()
    r = run_download(work, src, ["bottle", "zipper"])
    assert r.returncode == 2 and "category 'zipper'" in r.stderr
