"""Shared fixtures and helpers: a tiny fake MVTec AD tree and a custom tree, tiny archives of them, a
faulty mirror on 127.0.0.1, and temporary copies of the project to run stages and dvc in."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from ssae.core.mvtec import GREYSCALE, OFFICIAL, CategorySpec


def write_fake_category(
    root: Path,
    size: int = 32,
    grey: bool = False,
    n_train: int = 4,
    defects: dict[str, int] | None = None,
    n_good: int = 2,
    seed: int = 0,
) -> Path:
    """A category in MVTec AD layout with random images and a square defect mask per image."""
    rng = np.random.default_rng(seed)
    defects = {"scratch": 2, "combined": 1} if defects is None else defects

    def img(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        shape = (size, size) if grey else (size, size, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)

    for i in range(n_train):
        img(root / "train" / "good" / f"{i:03d}.png")
    for i in range(n_good):
        img(root / "test" / "good" / f"{i:03d}.png")
    for d, n in defects.items():
        for i in range(n):
            img(root / "test" / d / f"{i:03d}.png")
            m = np.zeros((size, size), np.uint8)
            m[4:12, 4:12] = 255
            (root / "ground_truth" / d).mkdir(parents=True, exist_ok=True)
            Image.fromarray(m).save(root / "ground_truth" / d / f"{i:03d}_mask.png")
    return root


@pytest.fixture
def fake_category(tmp_path: Path) -> Path:
    return write_fake_category(tmp_path / "bottle")


# --- MVTec AD acquisition: tiny archives and a faulty mirror on 127.0.0.1 -------------------

TINY = CategorySpec(train=4, test_good=2, test_anomalous=3, defect_types=2, side=32)  # write_fake_category


def write_official_category(root: Path, name: str) -> Path:
    """A category with the official counts and side of ``name`` (flat images: quick to write)."""
    spec = OFFICIAL[name]
    grey = name in GREYSCALE
    n_types = spec.defect_types
    per = [spec.test_anomalous // n_types + (i < spec.test_anomalous % n_types) for i in range(n_types)]
    defects = {("defective" if n_types == 1 else f"type{i}"): n for i, n in enumerate(per)}
    shape = (spec.side, spec.side) if grey else (spec.side, spec.side, 3)

    def img(path: Path, value: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full(shape, value, np.uint8)).save(path, compress_level=1)

    for i in range(spec.train):
        img(root / "train" / "good" / f"{i:03d}.png", i % 256)
    for i in range(spec.test_good):
        img(root / "test" / "good" / f"{i:03d}.png", i % 256)
    mask = np.zeros((spec.side, spec.side), np.uint8)
    mask[: spec.side // 8, : spec.side // 8] = 255
    for d, n in defects.items():
        for i in range(n):
            img(root / "test" / d / f"{i:03d}.png", 128)
            (root / "ground_truth" / d).mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask).save(root / "ground_truth" / d / f"{i:03d}_mask.png")
    return root


def make_archive(tree: Path, dest: Path, top: str | None = None, extra: dict[str, bytes] | None = None) -> str:
    """tar.xz of the files under ``tree`` (names relative to it, under ``top`` if given) plus
    ``extra`` top-level files; return its SHA-256."""
    with tarfile.open(dest, "w:xz", preset=0) as tar:
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for p in sorted(tree.rglob("*")):
            if p.is_file():
                rel = p.relative_to(tree).as_posix()
                tar.add(p, arcname=f"{top}/{rel}" if top else rel)
    return hashlib.sha256(dest.read_bytes()).hexdigest()


@dataclass
class TinyMvtec:
    tree: Path  # extracted: bottle (RGB), screw (greyscale), carpet; scratch + combined defects
    archive: Path
    sha256: str
    expected: dict[str, CategorySpec]


@pytest.fixture
def tiny_mvtec(tmp_path: Path) -> TinyMvtec:
    tree = tmp_path / "mvtec_tree"
    write_fake_category(tree / "bottle")
    write_fake_category(tree / "screw", grey=True, seed=1)
    write_fake_category(tree / "carpet", seed=2)
    # incompressible top-level files, as the real archive has (licence, readme): makes the
    # archive large enough (~300 KB) that a connection dropped half-way has already delivered data
    pad = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    archive = tmp_path / "mvtec_anomaly_detection.tar.xz"
    sha = make_archive(tree, archive, extra={"license.txt": b"CC BY-NC-SA 4.0\n", "readme.txt": pad})
    return TinyMvtec(tree, archive, sha, {c: TINY for c in ("bottle", "screw", "carpet")})


@dataclass
class Mirror:
    """State of the test server: files by URL path, faults to inject and a request log."""

    files: dict[str, bytes] = field(default_factory=dict)
    faults: dict[str, list[str]] = field(default_factory=dict)  # path -> one fault per request
    ranges: bool = True  # honour Range requests
    # a stalled or held request waits for this event: set when the test ends (stall: the client
    # times out first, however loaded the machine) or by the test itself (hold)
    release: threading.Event = field(default_factory=threading.Event)
    log: list[tuple[str, str | None, int]] = field(default_factory=list)  # (path, Range, status)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        m: Mirror = self.server.mirror  # type: ignore[attr-defined]
        queue = m.faults.get(self.path, [])
        fault = queue.pop(0) if queue else ""
        rng = self.headers.get("Range")
        data = m.files.get(self.path)
        if fault == "404" or data is None:
            m.log.append((self.path, rng, 404))
            self.send_error(404)
            return
        if fault == "stall":  # say nothing until the client gives up
            m.log.append((self.path, rng, 0))
            m.release.wait(60)
            self.close_connection = True
            return
        if fault == "hold":  # answer normally once the test sets ``release``
            m.release.wait(60)
        start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1)) if rng and m.ranges else 0
        if start >= len(data) > 0:
            m.log.append((self.path, rng, 416))
            self.send_error(416)
            return
        status = 206 if rng and m.ranges else 200
        m.log.append((self.path, rng, status))
        self.send_response(status)
        self.send_header("Content-Length", str(len(data) - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        body = data[start:]
        if fault in ("drop", "stall_mid"):  # half the body, then hang up (or fall silent)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if fault == "stall_mid":
                m.release.wait(60)
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def mirror():
    """A threaded HTTP server on 127.0.0.1 (free port) serving ``Mirror.files``."""
    m = Mirror()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.mirror = m  # type: ignore[attr-defined]
    m.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield m
    m.release.set()  # let stalled handlers end
    server.shutdown()
    server.server_close()


@dataclass
class RealLayout:
    tree: Path  # tree/toothbrush with the official counts and side (60/12/30, 1 type, 1024 px)
    archive: Path  # tar.xz of tree, as MVTec AD ships it (categories at the top, plus a licence)
    sha256: str


@pytest.fixture(scope="session")
def toothbrush(tmp_path_factory) -> RealLayout:
    """Built once per session (~2 s); tests must not modify it."""
    root = tmp_path_factory.mktemp("real_layout")
    tree = root / "mvtec_anomaly_detection"
    write_official_category(tree / "toothbrush", "toothbrush")
    archive = root / "mvtec_anomaly_detection.tar.xz"
    sha = make_archive(tree, archive, extra={"license.txt": b"CC BY-NC-SA 4.0\n"})
    return RealLayout(tree, archive, sha)


# --- the project in a temporary directory: stages and dvc as subprocesses --------------------

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the environment's bin/: dvc, and the python the stages run with
STAGES = ROOT / "stages"


def merge(base: dict, over: dict) -> dict:
    """``base`` with ``over`` merged in, recursively (a params.yaml and its overrides)."""
    return {k: merge(base.get(k, {}), v) if isinstance(v, dict) else v for k, v in over.items()} | {
        k: v for k, v in base.items() if k not in over
    }


GIT_IDENTITY = {
    k: "ssae test" if k.endswith("NAME") else "test@example.invalid"
    for k in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
}


def run(args: list[str], cwd: Path) -> str:
    """Run a command (git, dvc, python) in ``cwd`` with the environment's bin/ first; its stdout,
    or a failed assertion with the end of its output."""
    # git identity for the commits of `git commit` and `dvc exp run`, whatever the user's config
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", DVC_NO_ANALYTICS="1", **GIT_IDENTITY)
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(args)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def new_project(dst: Path, params: dict) -> Path:
    """A git repository at ``dst`` with the project's files (no results, no dvc.lock) and
    params.yaml with ``params`` merged in, committed; returns ``dst``."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for f in files:
        if f.startswith(("data/", "reports/")) or f == "dvc.lock" or not (ROOT / f).is_file():
            continue
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dst / f)
    (dst / "params.yaml").write_text(
        yaml.safe_dump(merge(yaml.safe_load((ROOT / "params.yaml").read_text()), params), sort_keys=False)
    )
    run(["git", "init", "-q"], dst)
    commit(dst, "project")
    return dst


def commit(repo: Path, message: str) -> None:
    """Commit everything in ``repo`` (an empty commit if nothing changed)."""
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "--allow-empty", "-qm", message], repo)


def stage(name: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run stages/<name>.py in ``cwd`` (not through DVC); its completed process."""
    return subprocess.run([sys.executable, str(STAGES / f"{name}.py"), *args], cwd=cwd, capture_output=True, text=True)


# --- your own data: a custom tree -------------------------------------------------------------

SIZE = {"widget-A": (40, 56), "plate_2": (48, 36)}  # (H, W): neither square nor the model's 32
# the masks and train params of every tiny pipeline in the tests (test_pipeline, FOLDER_TINY)
TINY_TRAINING = {
    "masks": {"per_image": 2},
    "train": {
        "image_size": 32,
        "epochs": 1,
        "batch_size": 3,
        "model": {"widths": [8, 16], "sdc_blocks": 1, "dilations": [1, 2]},
    },
}
# the params of a tiny pipeline on write_custom_tree (test_folder, test_own_data_tracking)
FOLDER_TINY = {
    "categories": ["widget-A", "plate_2"],
    # DVC tracks each category's override entry: your own categories need one (docs/datasets.md)
    "overrides": {c: {"masks": {}, "train": {}, "score": {}} for c in ("widget-A", "plate_2")},
    **TINY_TRAINING,
}


def write_custom_tree(root: Path) -> Path:
    """widget-A: RGB JPEGs, 7 train / 3 good / 2 dent + 1 scuff, no masks. plate_2: greyscale
    PNGs (one colour image among them), 5 train / 2 good / 3 crack with 0/1 masks."""
    rng = np.random.default_rng(0)

    def texture(shape, grey: bool) -> np.ndarray:
        base = 120 + 40 * np.sin(np.arange(shape[1]) / 3.0)[None, :] + rng.normal(0, 6, shape)
        return np.clip(base if grey else np.repeat(base[..., None], 3, 2) * [1.0, 0.8, 0.6], 0, 255).astype(np.uint8)

    def save(path: Path, arr: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(path)

    h, w = SIZE["widget-A"]
    for i in range(7):
        save(root / f"widget-A/train/good/{i:02d}.jpg", texture((h, w), False))
    for i in range(3):
        save(root / f"widget-A/test/good/g{i}.jpg", texture((h, w), False))
    for d, n in (("dent", 2), ("scuff", 1)):
        for i in range(n):
            img = texture((h, w), False)
            img[10:20, 20:34] = 250
            save(root / f"widget-A/test/{d}/{i}.jpg", img)
    h, w = SIZE["plate_2"]
    for i in range(5):
        save(root / f"plate_2/train/good/{i}.png", texture((h, w), i != 2))  # 2.png: colour
    for i in range(2):
        save(root / f"plate_2/test/good/{i}.png", texture((h, w), True))
    for i in range(3):
        img, mask = texture((h, w), True), np.zeros((h, w), np.uint8)
        img[5:15, 8:20], mask[5:15, 8:20] = 0, 1  # a 0/1 mask: defect where non-zero
        save(root / f"plate_2/test/crack/{i}.png", img)
        save(root / f"plate_2/ground_truth/crack/{i}_mask.png", mask)
    return root
