"""The downloader against a test mirror on 127.0.0.1 with injected faults."""

import hashlib
import socket
import threading
import time

import pytest

from ssae.data import http_download
from ssae.data.http_download import DownloadError, cached_download, download

FAST = dict(connect_timeout=2.0, read_timeout=0.5, attempts=3, backoff=0.0, sleep=lambda s: None, progress=False)


@pytest.fixture
def payload(mirror):
    data = bytes(range(256)) * 1200  # 300 KB, several network chunks
    mirror.files["/a/f.bin"] = data
    mirror.files["/b/f.bin"] = data
    return data, hashlib.sha256(data).hexdigest()


def fetch(mirror, sha, tmp_path, paths=("/a/f.bin",), **kw):
    return download([mirror.url(p) for p in paths], tmp_path / "f.bin", sha, **{**FAST, **kw})


def test_plain_download_is_verified_and_leaves_no_part(mirror, payload, tmp_path):
    data, sha = payload
    dest = fetch(mirror, sha, tmp_path)
    assert dest.read_bytes() == data
    assert not (tmp_path / "f.bin.part").exists()
    assert mirror.log == [("/a/f.bin", None, 200)]


def test_a_dropped_connection_resumes_with_a_range_request(mirror, payload, tmp_path):
    data, sha = payload
    mirror.faults["/a/f.bin"] = ["drop"]
    assert fetch(mirror, sha, tmp_path).read_bytes() == data
    (_, first_range, first), (_, resumed, status) = mirror.log
    assert first_range is None and first == 200
    start = int(resumed.removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= len(data) // 2 and status == 206


def test_a_server_ignoring_range_restarts_cleanly_from_zero(mirror, payload, tmp_path):
    data, sha = payload
    mirror.ranges = False
    mirror.faults["/a/f.bin"] = ["drop"]
    assert fetch(mirror, sha, tmp_path).read_bytes() == data  # not the first half twice
    assert [(r is not None, s) for _, r, s in mirror.log] == [(False, 200), (True, 200)]


@pytest.mark.parametrize("fault", ["stall", "stall_mid"])
def test_a_stalled_server_times_out_and_the_retry_succeeds(mirror, payload, tmp_path, fault):
    data, sha = payload
    mirror.faults["/a/f.bin"] = [fault]
    waits = []
    assert fetch(mirror, sha, tmp_path, backoff=0.01, sleep=waits.append).read_bytes() == data
    assert len(mirror.log) == 2
    assert waits == [0.01]  # one backoff before the second attempt


def test_backoff_doubles_and_repeated_failure_falls_through(mirror, payload, tmp_path):
    data, sha = payload
    mirror.faults["/a/f.bin"] = ["stall"] * 3
    waits = []
    dest = fetch(mirror, sha, tmp_path, paths=("/a/f.bin", "/b/f.bin"), backoff=0.5, sleep=waits.append)
    assert dest.read_bytes() == data
    assert waits == [0.5, 1.0]
    assert [p for p, _, _ in mirror.log] == ["/a/f.bin"] * 3 + ["/b/f.bin"]


def test_a_404_mirror_falls_through_to_the_next_without_retrying(mirror, payload, tmp_path):
    data, sha = payload
    dest = fetch(mirror, sha, tmp_path, paths=("/gone/f.bin", "/b/f.bin"))
    assert dest.read_bytes() == data
    assert [(p, s) for p, _, s in mirror.log] == [("/gone/f.bin", 404), ("/b/f.bin", 200)]


def test_a_wrong_checksum_leaves_no_file_and_names_every_mirror(mirror, payload, tmp_path):
    _, sha = payload
    with pytest.raises(DownloadError) as e:
        fetch(mirror, "0" * 64, tmp_path, paths=("/gone/f.bin", "/a/f.bin"))
    msg = str(e.value)
    assert mirror.url("/gone/f.bin") + ": HTTP 404" in msg
    assert mirror.url("/a/f.bin") + f": served a file with SHA-256 {sha}, expected {'0' * 64}" in msg
    assert list(tmp_path.iterdir()) == []  # neither the final name nor a .part


def test_when_all_attempts_fail_the_partial_file_is_kept_for_the_next_run(mirror, payload, tmp_path):
    data, sha = payload
    mirror.faults["/a/f.bin"] = ["drop"] * 3
    with pytest.raises(DownloadError, match=r"3 attempts failed.*partial download kept"):
        fetch(mirror, sha, tmp_path)
    kept = (tmp_path / "f.bin.part").stat().st_size
    assert 0 < kept < len(data) and not (tmp_path / "f.bin").exists()
    assert fetch(mirror, sha, tmp_path).read_bytes() == data  # the next run resumes
    assert mirror.log[-1][1:] == (f"bytes={kept}-", 206)


def test_a_cached_file_is_reused_without_network_and_a_corrupt_one_set_aside(mirror, payload, tmp_path):
    data, sha = payload
    urls = [mirror.url("/a/f.bin")]
    cached_download(urls, tmp_path, "f.bin", sha, **FAST)
    assert len(mirror.log) == 1
    assert cached_download(["http://127.0.0.1:9/unreachable"], tmp_path, "f.bin", sha, **FAST).read_bytes() == data
    (tmp_path / "f.bin").write_bytes(b"corrupt")
    assert cached_download(urls, tmp_path, "f.bin", sha, **FAST).read_bytes() == data
    assert (tmp_path / "f.bin.rejected").read_bytes() == b"corrupt"
    assert len(mirror.log) == 2


def test_a_stale_partial_file_with_other_bytes_is_restarted_not_blamed_on_the_mirror(mirror, payload, tmp_path):
    data, sha = payload
    (tmp_path / "f.bin.part").write_bytes(b"not the same file" * 100)
    assert fetch(mirror, sha, tmp_path).read_bytes() == data
    assert [(r is not None, s) for _, r, s in mirror.log] == [(True, 206), (False, 200)]


def test_parallel_runs_share_one_download(mirror, payload, tmp_path, monkeypatch):
    # the mirror holds the first run's request until the second run has asked for the lock, so the
    # two runs overlap for certain
    data, sha = payload
    mirror.faults["/a/f.bin"] = ["hold"]
    asked = []
    real_flock = http_download.fcntl.flock

    def flock(fd, op):
        asked.append(op)
        return real_flock(fd, op)

    monkeypatch.setattr(http_download.fcntl, "flock", flock)
    results = []

    def one_run():
        slow_ok = {**FAST, "read_timeout": 60.0}  # the held request must not time out
        results.append(cached_download([mirror.url("/a/f.bin")], tmp_path, "f.bin", sha, **slow_ok).read_bytes())

    first = threading.Thread(target=one_run)
    first.start()
    wait_for(lambda: len(asked) == 1)  # the first run takes the lock; the mirror holds its request
    second = threading.Thread(target=one_run)
    second.start()
    wait_for(lambda: len(asked) == 2)  # the second run asks for the lock while the first holds it
    assert not results
    mirror.release.set()
    first.join()
    second.join()
    assert results == [data, data]
    assert len(mirror.log) == 1  # one download, found in the cache by the second run


def wait_for(condition, timeout: float = 30.0) -> None:
    """Poll ``condition`` until true; fail after ``timeout`` s (a generous bound, not a timing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_a_refused_connection_says_so(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/a/long/path/to/mvtec_anomaly_detection.tar.xz"
    with pytest.raises(DownloadError) as e:
        download([url], tmp_path / "f.bin", "0" * 64, **{**FAST, "attempts": 1})
    assert f"{url}: 1 attempts failed, the last: ConnectionError: Connection refused" in str(e.value)
