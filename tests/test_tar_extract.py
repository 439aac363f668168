"""Selective, safe extraction of the archive."""

import io
import tarfile
from pathlib import Path

import pytest

from conftest import make_archive, write_fake_category
from ssae.data.dataset_format import index_category
from ssae.data.tar_extract import ArchiveError, extract_categories


def test_only_the_selected_categories_are_extracted(tiny_mvtec, tmp_path):
    out = tmp_path / "out"
    extract_categories(tiny_mvtec.archive, ["bottle", "screw"], out, known=tiny_mvtec.expected, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["bottle", "screw"]  # no carpet, licence or temp folder
    for c in ("bottle", "screw"):
        got = sorted(p.relative_to(out / c) for p in (out / c).rglob("*") if p.is_file())
        assert got == sorted(
            p.relative_to(tiny_mvtec.tree / c) for p in (tiny_mvtec.tree / c).rglob("*") if p.is_file()
        )
        assert (out / c / "test" / "combined" / "000.png").read_bytes() == (
            tiny_mvtec.tree / c / "test" / "combined" / "000.png"
        ).read_bytes()


def test_an_archive_with_one_top_level_folder_works_too(tmp_path):
    tree = tmp_path / "tree"
    write_fake_category(tree / "bottle")
    archive = tmp_path / "a.tar.xz"
    make_archive(tree, archive, top="mvtec_anomaly_detection")
    extract_categories(archive, ["bottle"], tmp_path / "out", progress=False)
    assert len(index_category(tmp_path / "out" / "bottle")) == len(index_category(tree / "bottle"))


def test_a_category_missing_from_the_archive_is_named(tiny_mvtec, tmp_path):
    with pytest.raises(ArchiveError, match=r"no folder for categories \['zipper'\]"):
        extract_categories(tiny_mvtec.archive, ["bottle", "zipper"], tmp_path / "out", progress=False)
    assert list((tmp_path / "out").iterdir()) == []


def hostile(kind: str) -> tarfile.TarInfo:
    if kind == "absolute":
        info = tarfile.TarInfo("/tmp/ssae-evil.png")
    elif kind == "dotdot":
        info = tarfile.TarInfo("bottle/../../evil.png")
    elif kind == "symlink":
        info = tarfile.TarInfo("bottle/train/good/link.png")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    elif kind == "hardlink":
        info = tarfile.TarInfo("bottle/train/good/hard.png")
        info.type, info.linkname = tarfile.LNKTYPE, "../../../../etc/passwd"
    elif kind == "device":
        info = tarfile.TarInfo("bottle/train/good/dev.png")
        info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    else:
        info = tarfile.TarInfo("carpet/fifo")  # refused even outside the selected categories
        info.type = tarfile.FIFOTYPE
    return info


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink", "hardlink", "device", "fifo"])
def test_hostile_members_are_refused_by_name_and_nothing_is_extracted(tmp_path, kind):
    tree = tmp_path / "tree"
    write_fake_category(tree / "bottle")
    archive = tmp_path / "hostile.tar"
    bad = hostile(kind)
    with tarfile.open(archive, "w") as tar:  # good files first: extraction is under way when it stops
        for p in sorted(tree.rglob("*")):
            if p.is_file():
                tar.add(p, arcname=p.relative_to(tree).as_posix())
        data = b"x" * 10 if bad.isfile() else b""
        bad.size = len(data)
        tar.addfile(bad, io.BytesIO(data))
    out = tmp_path / "work" / "out"
    with pytest.raises(ArchiveError, match="refusing archive member") as e:
        extract_categories(archive, ["bottle"], out, progress=False)
    assert repr(bad.name) in str(e.value)
    assert list(out.iterdir()) == []  # no category, no temporary folder
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "work" / "evil.png").exists()


def test_a_truncated_archive_is_an_error_not_a_partial_category(tiny_mvtec, tmp_path):
    cut = tmp_path / "cut.tar.xz"
    cut.write_bytes(tiny_mvtec.archive.read_bytes()[: tiny_mvtec.archive.stat().st_size // 2])
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        extract_categories(cut, ["bottle", "screw"], tmp_path / "out", known=tiny_mvtec.expected, progress=False)
    assert list((tmp_path / "out").iterdir()) == []


def archive_with(tmp_path, members: dict[str, bytes], name: str = "bomb.tar.xz") -> Path:
    """tar.xz of the fake bottle category plus ``members`` (name -> bytes), added after it."""
    tree = tmp_path / "tree"
    write_fake_category(tree / "bottle")
    archive = tmp_path / name
    with tarfile.open(archive, "w:xz", preset=0) as tar:
        for p in sorted(tree.rglob("*")):
            if p.is_file():
                tar.add(p, arcname=p.relative_to(tree).as_posix())
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


def test_a_member_expanding_far_beyond_any_image_is_refused_before_it_is_written(tmp_path):
    archive = archive_with(tmp_path, {"bottle/train/good/100.png": bytes(50_000_000)})  # 50 MB of zeros
    assert archive.stat().st_size < 200_000  # ... in a small archive
    out = tmp_path / "out"
    with pytest.raises(ArchiveError, match=r"refusing archive member 'bottle/train/good/100.png': 50000000 bytes"):
        extract_categories(archive, ["bottle"], out, progress=False, max_member_bytes=1 << 20, max_total_bytes=1 << 24)
    assert list(out.iterdir()) == []


def test_members_together_past_the_total_cap_are_refused_by_name(tmp_path):
    archive = archive_with(tmp_path, {f"bottle/test/good/{i:03d}.png": bytes(60_000) for i in range(10, 30)})
    with pytest.raises(
        ArchiveError, match=r"refusing archive member 'bottle/test/good/0\d\d.png': it takes the extracted"
    ):
        extract_categories(
            archive, ["bottle"], tmp_path / "out", progress=False, max_member_bytes=70_000, max_total_bytes=500_000
        )


def test_a_write_error_names_the_member_not_the_temporary_folder(tmp_path):
    # a file where the next member needs a folder: mkdir fails inside the temporary folder
    archive = archive_with(tmp_path, {"bottle/extra": b"x", "bottle/extra/000.png": b"y"})
    with pytest.raises(ArchiveError) as e:
        extract_categories(archive, ["bottle"], tmp_path / "out", progress=False)
    assert str(e.value).startswith("cannot extract archive member 'bottle/extra/000.png': ")
    assert ".extract." not in str(e.value) and str(tmp_path) not in str(e.value)
