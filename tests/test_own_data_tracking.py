"""DVC sees every change to your folder (the fingerprint stage), and no category name reaches a
shell: issue 18, failures 1 and 7."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssae.core.config import parse_params
from ssae.data.fingerprint import listing, manifest, manifest_bytes
from conftest import BIN, FOLDER_TINY, GIT_IDENTITY, new_project, run, write_custom_tree


def folder_params(root: Path, categories=("widget-A",)):
    return parse_params({"categories": list(categories), "data": {"dataset": "folder", "folder": {"root": str(root)}}})


def test_the_manifest_changes_with_every_added_removed_or_changed_file(tmp_path):
    tree = write_custom_tree(tmp_path / "photos")
    params = folder_params(tree)
    first = manifest_bytes(manifest(params, "widget-A"))
    assert first == manifest_bytes(manifest(params, "widget-A"))  # deterministic
    edits = [
        lambda: shutil.copy(tree / "widget-A/test/dent/0.jpg", tree / "widget-A/test/dent/9.jpg"),  # added
        lambda: (tree / "widget-A/train/good/00.jpg").unlink(),  # removed
        lambda: (tree / "widget-A/test/good/g0.jpg").write_bytes(b"x" * 10),  # changed
        lambda: os.utime(tree / "widget-A/test/good/g1.jpg", ns=(1, 1)),  # touched
    ]
    seen = {first}
    for edit in edits:
        edit()
        now = manifest_bytes(manifest(params, "widget-A"))
        assert now not in seen
        seen.add(now)
    other = folder_params(tree, ("plate_2",))
    assert b"widget-A" not in manifest_bytes(manifest(other, "plate_2"))  # one manifest per category


def test_the_manifest_of_embedded_data_or_an_archive_holds_no_files():
    assert manifest(parse_params({}), "brick") == {"folder": None, "files": []}
    mvtec = parse_params(
        {
            "categories": ["bottle"],
            "data": {"dataset": "mvtec_ad", "mvtec": {"source": "directory", "directory": "/nowhere"}},
        }
    )
    assert manifest(mvtec, "bottle") == {"folder": "/nowhere/bottle", "files": None}  # missing: download says so


def test_the_listing_survives_link_loops_and_broken_links(tmp_path):
    d = tmp_path / "cat"
    (d / "sub").mkdir(parents=True)
    (d / "a.png").write_bytes(b"12")
    (d / "sub" / "up").symlink_to("..")  # a folder loop: listed once
    (d / "self.png").symlink_to("self.png")  # a file loop
    (d / "gone.png").symlink_to("nowhere.png")
    rows = listing(d)
    assert [r[0] for r in rows] == ["a.png", "gone.png", "self.png"]
    assert rows[0][1] == 2 and rows[1][1:] == [-1, -1] and rows[2][1:] == [-1, -1]


def dvc(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", DVC_NO_ANALYTICS="1", **GIT_IDENTITY)
    return subprocess.run(["dvc", *args], cwd=cwd, env=env, capture_output=True, text=True)


def ran(out: str) -> set[str]:
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}


def mask(path: Path, shape: tuple[int, int]) -> None:
    m = np.zeros(shape, np.uint8)
    m[10:20, 20:34] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(m).save(path)


@pytest.mark.slow
def test_edits_to_the_folder_rerun_exactly_that_category(tmp_path):
    tree = write_custom_tree(tmp_path / "photos")
    repo = new_project(tmp_path / "repo", FOLDER_TINY | {"data": {"dataset": "folder", "folder": {"root": str(tree)}}})
    run(["dvc", "repro"], repo)
    assert ran(run(["dvc", "repro"], repo)) == {"fingerprint"}  # a no-op stays a no-op
    # the edit: 4 defect images with masks added, 2 training images removed
    w = tree / "widget-A"
    (w / "test/hole").mkdir()
    for i in range(4):
        shutil.copy(w / "test/dent/0.jpg", w / f"test/hole/h{i}.jpg")
        mask(w / f"ground_truth/hole/h{i}_mask.png", (40, 56))
    (w / "train/good/00.jpg").unlink()
    (w / "train/good/01.jpg").unlink()
    out = run(["dvc", "repro"], repo)
    assert ran(out) == {
        "fingerprint",
        "download@widget-A",
        "masks@widget-A",
        "train@widget-A",
        "score@widget-A",
        "aggregate",
    }
    assert len(list((repo / "data/raw/widget-A/test/hole").iterdir())) == 4
    # touched, not changed: the download re-runs, finds the same bytes, and nothing else runs
    os.utime(tree / "plate_2/train/good/0.png", ns=(5, 5))
    assert ran(run(["dvc", "repro"], repo)) == {"fingerprint", "download@plate_2"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["x;touch pwned", "$(touch pwned)", "`touch pwned`", "a b"])
def test_a_category_name_never_reaches_a_shell(tmp_path, name):
    tree = tmp_path / "photos"
    write_custom_tree(tree)
    repo = new_project(
        tmp_path / "repo",
        {
            "categories": [name],
            "overrides": {name: {"masks": {}, "train": {}, "score": {}}},
            "data": {"dataset": "folder", "folder": {"root": str(tree)}},
        },
    )
    r = dvc(["repro"], repo)
    assert r.returncode != 0
    assert "error: params.yaml: categories: must be plain folder names" in r.stderr + r.stdout
    assert "Running stage 'download" not in r.stdout  # stopped by the first stage, before any category's
    assert not any(p.name == "pwned" for p in tmp_path.rglob("pwned"))


@pytest.mark.slow
def test_make_repro_checks_params_before_dvc(tmp_path):
    """'..' is refused by DVC itself (data/raw/.. overlaps); the check before it gives the
    project's one line."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "params.yaml").write_text("categories: ['..']\ndata: {dataset: folder, folder: {root: /tmp}}\n")
    r = subprocess.run([sys.executable, "-m", "ssae.core.check_params"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "categories: must be plain folder names" in r.stderr and "'..'" in r.stderr
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert "python -m ssae.core.check_params\n\t$(RUN) dvc repro" in makefile
