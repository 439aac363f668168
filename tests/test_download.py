"""Getting MVTec AD: every source in-process (tiny archive, injected counts), then the real
download stage as a subprocess on a category with the official counts (toothbrush)."""

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from conftest import TINY, make_archive, write_fake_category
from ssae.data.mvtec_source import acquire_mvtec
from ssae.core.data_config import MvtecConfig
from ssae.data.dataset_format import DatasetError, index_category
from ssae.data.http_download import DownloadError

ROOT = Path(__file__).resolve().parents[1]
QUICK = dict(sleep=lambda s: None, backoff=0.0, progress=False)


def remote(mirror, tmp_path, sha, paths=("/mvtec.tar.xz",)) -> MvtecConfig:
    return MvtecConfig(
        source="remote",
        mirrors=tuple(mirror.url(p) for p in paths),
        sha256=sha,
        cache_dir=str(tmp_path / "cache"),
        connect_timeout=2.0,
        read_timeout=0.5,
        attempts=2,
    )


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_remote_falls_through_a_404_then_reuses_the_cache_without_network(mirror, tiny_mvtec, tmp_path):
    mirror.files["/mvtec.tar.xz"] = tiny_mvtec.archive.read_bytes()
    cfg = remote(mirror, tmp_path, tiny_mvtec.sha256, ("/moved.tar.xz", "/mvtec.tar.xz"))
    acquire_mvtec(cfg, ("bottle",), tmp_path / "one", tiny_mvtec.expected, **QUICK)
    assert [(p, s) for p, _, s in mirror.log] == [("/moved.tar.xz", 404), ("/mvtec.tar.xz", 200)]
    assert files(tmp_path / "one" / "bottle") == files(tiny_mvtec.tree / "bottle")
    assert files(tmp_path / "cache") == ["mvtec_anomaly_detection.tar.xz", "mvtec_anomaly_detection.tar.xz.lock"]
    # other categories, every mirror unreachable: the verified cached archive is used
    offline = replace(cfg, mirrors=("http://127.0.0.1:9/none.tar.xz",))
    acquire_mvtec(offline, ("bottle", "screw"), tmp_path / "two", tiny_mvtec.expected, **QUICK)
    assert len(mirror.log) == 2
    assert files(tmp_path / "two" / "screw") == files(tiny_mvtec.tree / "screw")


def test_remote_wrong_checksum_extracts_nothing_and_says_how_to_download_by_hand(mirror, tiny_mvtec, tmp_path):
    mirror.files["/mvtec.tar.xz"] = tiny_mvtec.archive.read_bytes()
    cfg = remote(mirror, tmp_path, "ab" * 32)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DownloadError) as e:
        acquire_mvtec(cfg, ("bottle",), out, tiny_mvtec.expected, **QUICK)
    msg = str(e.value)
    assert f"{mirror.url('/mvtec.tar.xz')}: served a file with SHA-256 {tiny_mvtec.sha256}" in msg
    assert "by hand" in msg and "data.mvtec.source: archive" in msg
    assert list(out.iterdir()) == [] and files(tmp_path / "cache") == ["mvtec_anomaly_detection.tar.xz.lock"]


def test_the_cache_must_not_be_inside_data_raw(mirror, tiny_mvtec, tmp_path):
    cfg = replace(remote(mirror, tmp_path, tiny_mvtec.sha256), cache_dir=str(tmp_path / "data/raw/cache"))
    with pytest.raises(DownloadError, match="data.mvtec.cache_dir: .* is inside"):
        acquire_mvtec(cfg, ("bottle",), tmp_path / "out", tiny_mvtec.expected, protected=tmp_path / "data/raw", **QUICK)
    assert mirror.log == []


def test_local_archive_source_is_checksummed_then_extracted(tiny_mvtec, tmp_path):
    cfg = MvtecConfig(source="archive", archive=str(tiny_mvtec.archive), sha256=tiny_mvtec.sha256)
    acquire_mvtec(cfg, ("screw", "carpet"), tmp_path / "out", tiny_mvtec.expected, progress=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["carpet", "screw"]
    with pytest.raises(DownloadError, match=r"data.mvtec.archive: .* SHA-256 is [0-9a-f]{64}, expected 0{64}"):
        acquire_mvtec(replace(cfg, sha256="0" * 64), ("bottle",), tmp_path / "bad", tiny_mvtec.expected)
    assert not (tmp_path / "bad").exists()


def test_an_archive_with_a_missing_mask_names_the_image(tmp_path):
    tree = tmp_path / "tree"
    write_fake_category(tree / "bottle")
    (tree / "bottle/ground_truth/combined/000_mask.png").unlink()
    sha = make_archive(tree, tmp_path / "a.tar.xz")
    cfg = MvtecConfig(source="archive", archive=str(tmp_path / "a.tar.xz"), sha256=sha)
    with pytest.raises(DatasetError, match=r"bottle: no ground_truth/combined folder for .*test/combined/000.png"):
        acquire_mvtec(cfg, ("bottle",), tmp_path / "out", {"bottle": TINY}, progress=False)


def test_the_archive_source_caps_extraction_at_the_expected_sizes(tmp_path):
    tree = tmp_path / "tree"
    write_fake_category(tree / "bottle")
    (tree / "bottle/train/good/004.png").write_bytes(bytes(2_000_000))  # zeros: a tiny archive, 2 MB out
    sha = make_archive(tree, tmp_path / "a.tar.xz")
    cfg = MvtecConfig(source="archive", archive=str(tmp_path / "a.tar.xz"), sha256=sha)
    with pytest.raises(DatasetError, match=r"refusing archive member 'bottle/train/good/004.png': 2000000 bytes"):
        acquire_mvtec(cfg, ("bottle",), tmp_path / "out", {"bottle": TINY}, progress=False)  # 32-px images
    assert list((tmp_path / "out").iterdir()) == []


def test_local_directory_source_is_verified_then_linked(tiny_mvtec, tmp_path):
    cfg = MvtecConfig(source="directory", directory=str(tiny_mvtec.tree))
    hidden = tiny_mvtec.tree / "bottle/train/good/._000.png"
    hidden.write_bytes(b"\x00\x05\x16\x07" + bytes(4000))  # a macOS AppleDouble file: never an image
    acquire_mvtec(cfg, ("bottle", "screw"), tmp_path / "out", tiny_mvtec.expected)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["bottle", "screw"]
    assert files(tmp_path / "out" / "screw") == files(tiny_mvtec.tree / "screw")
    assert not (tmp_path / "out/bottle/train/good/._000.png").exists()
    with pytest.raises(DatasetError, match=r"data.mvtec.directory: .*/zipper does not exist \(category 'zipper'\)"):
        acquire_mvtec(cfg, ("zipper",), tmp_path / "out2", {"zipper": TINY})
    (tiny_mvtec.tree / "screw/test/good/001.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")  # MVTec AD stays strict
    with pytest.raises(DatasetError, match=r"screw: cannot decode test/good/001.png"):
        acquire_mvtec(cfg, ("screw",), tmp_path / "out3", tiny_mvtec.expected)


# --- the stage script -------------------------------------------------------------------------


def run_download(workdir: Path, categories: list[str], **mvtec) -> subprocess.CompletedProcess:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["dataset"] = "mvtec_ad"
    params["data"]["mvtec"].update(mvtec)
    params["categories"] = categories
    workdir.mkdir(exist_ok=True)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    return subprocess.run(
        [sys.executable, str(ROOT / "stages" / "download.py"), "--category", categories[0]],
        cwd=workdir,
        capture_output=True,
        text=True,
    )


def assert_nothing_written(work: Path) -> None:
    assert not (work / "data" / "raw").exists()
    assert not any(p.name.startswith(".raw.") for p in (work / "data").iterdir())


@pytest.mark.slow  # starts processes
def test_stage_archive_source_with_the_official_counts(toothbrush, tmp_path):
    r = run_download(
        tmp_path / "work", ["toothbrush"], source="archive", archive=str(toothbrush.archive), sha256=toothbrush.sha256
    )
    assert r.returncode == 0, r.stderr
    raw = tmp_path / "work" / "data" / "raw"
    assert [p.name for p in raw.iterdir()] == ["toothbrush"]
    t = index_category(raw / "toothbrush")
    assert (t.split == "train").sum() == 60 and len(t) == 102 and set(t.defect) == {"good", "defective"}


@pytest.mark.slow  # starts processes
def test_stage_remote_source_downloads_into_the_cache(mirror, toothbrush, tmp_path):
    mirror.files["/mvtec.tar.xz"] = toothbrush.archive.read_bytes()
    r = run_download(
        tmp_path / "work",
        ["toothbrush"],
        source="remote",
        sha256=toothbrush.sha256,
        mirrors=[mirror.url("/old.tar.xz"), mirror.url("/mvtec.tar.xz")],
        cache_dir=str(tmp_path / "cache"),
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cache" / "mvtec_anomaly_detection.tar.xz").read_bytes() == toothbrush.archive.read_bytes()
    assert len(index_category(tmp_path / "work" / "data" / "raw" / "toothbrush")) == 102


@pytest.mark.slow  # starts processes
def test_stage_fails_in_one_line_when_every_mirror_fails(mirror, tmp_path):
    r = run_download(
        tmp_path / "work",
        ["toothbrush"],
        source="remote",
        cache_dir=str(tmp_path / "cache"),
        mirrors=[mirror.url("/a.tar.xz"), mirror.url("/b.tar.xz")],
    )
    assert r.returncode == 2
    error = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and r.stderr.rstrip().endswith(error[0])
    assert (
        f"[1] {mirror.url('/a.tar.xz')}: HTTP 404" in error[0]
        and f"[2] {mirror.url('/b.tar.xz')}: HTTP 404" in error[0]
    )
    assert "data.mvtec.source: archive" in error[0]
    assert_nothing_written(tmp_path / "work")


@pytest.mark.slow  # starts processes
def test_stage_local_directory_source(toothbrush, tmp_path):
    r = run_download(tmp_path / "work", ["toothbrush"], source="directory", directory=str(toothbrush.tree))
    assert r.returncode == 0, r.stderr
    assert files(tmp_path / "work" / "data" / "raw" / "toothbrush") == files(toothbrush.tree / "toothbrush")


@pytest.mark.slow  # starts processes
def test_stage_a_missing_mask_stops_with_a_clear_error_and_writes_nothing(toothbrush, tmp_path):
    src = tmp_path / "mvtec"
    shutil.copytree(toothbrush.tree, src)
    (src / "toothbrush" / "ground_truth" / "defective" / "001_mask.png").unlink()
    r = run_download(tmp_path / "work", ["toothbrush"], source="directory", directory=str(src))
    assert r.returncode == 2
    assert "toothbrush/defective: images without a mask" in r.stderr and "'001.png'" in r.stderr
    assert_nothing_written(tmp_path / "work")


@pytest.mark.slow  # starts processes
def test_stage_removes_the_temporary_folders_of_a_killed_run(tmp_path):
    stale = tmp_path / "work" / "data" / ".raw.toothbrush.k1ll3d"
    (stale / "toothbrush" / "train").mkdir(parents=True)
    (stale / "toothbrush" / "train" / "000.png").write_bytes(b"half a dataset")
    r = run_download(tmp_path / "work", ["toothbrush"], source="directory", directory=str(tmp_path / "missing"))
    assert r.returncode == 2 and "does not exist" in r.stderr
    assert_nothing_written(tmp_path / "work")  # no data/raw, no data/.raw.*
