"""Selective, safe extraction of the archive."""

import io
import tarfile

import pytest

from conftest import make_archive, write_fake_category
from ssae.layout import index_category
from ssae.tar_extract import ArchiveError, extract_categories


def test_only_the_selected_categories_are_extracted(tiny_mvtec, tmp_path):
    out = tmp_path / "out"
    extract_categories(tiny_mvtec.archive, ["bottle", "screw"], out, known=tiny_mvtec.expected, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["bottle", "screw"]  # no carpet, licence or temp folder
    for c in ("bottle", "screw"):
        got = sorted(p.relative_to(out / c) for p in (out / c).rglob("*") if p.is_file())
        assert got == sorted(p.relative_to(tiny_mvtec.tree / c) for p in (tiny_mvtec.tree / c).rglob("*") if p.is_file())
        assert (out / c / "test" / "combined" / "000.png").read_bytes() == \
            (tiny_mvtec.tree / c / "test" / "combined" / "000.png").read_bytes()


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
