"""Shared fixtures: a tiny fake MVTec AD tree, tiny archives of it, a faulty mirror on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
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
    stall_s: float = 0.6  # > the tests' read timeout (0.3 s)
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
            time.sleep(m.stall_s)
            self.close_connection = True
            return
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
                time.sleep(m.stall_s)
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
