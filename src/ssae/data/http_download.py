"""Download one large file from a list of mirrors, verified against a pinned SHA-256.

Streaming with a progress bar on stderr; connect and read timeouts; per mirror up to
``attempts`` tries with exponential backoff, each resuming the ``<name>.part`` file with an
HTTP ``Range`` request (a server that ignores Range, answering 200, restarts it from byte 0);
404-like answers, timeouts and repeated failures fall through to the next mirror. The file is
renamed to its final name only after its SHA-256 matched, so a final name always means
verified bytes. ``cached_download`` reuses a verified file and sets aside a corrupt one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import requests
from tqdm import tqdm

CHUNK = 1 << 16  # bytes per network read (a dropped connection loses at most one)


class DownloadError(RuntimeError):
    """The file could not be obtained or failed verification; the message says why."""


class _Retry(Exception):
    """This attempt failed; another attempt at the same mirror may succeed."""


class _GiveUp(Exception):
    """This mirror cannot serve the file (404 and the like)."""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sha256_file(path: Path, progress: bool = False) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with (
        open(path, "rb") as f,
        tqdm(
            total=os.path.getsize(path),
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=f"SHA-256 {Path(path).name}",
            disable=not progress,
            file=sys.stderr,
            mininterval=0.5,
        ) as bar,
    ):
        while chunk := f.read(1 << 20):
            h.update(chunk)
            bar.update(len(chunk))
    return h.hexdigest()


def verify_file(path: Path, sha256: str, progress: bool = False) -> None:
    """Raise ``DownloadError`` unless ``path`` has the given SHA-256."""
    got = sha256_file(path, progress)
    if got != sha256.lower():
        raise DownloadError(f"{path}: SHA-256 is {got}, expected {sha256.lower()} (a different or corrupt file)")


def _content_range(value: str | None) -> tuple[int, int | None]:
    """``bytes START-END/TOTAL`` -> (START, TOTAL or None)."""
    m = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", (value or "").strip())
    if not m:
        raise _Retry(f"unusable Content-Range {value!r}")
    return int(m.group(1)), None if m.group(2) == "*" else int(m.group(2))


def _fetch_once(session: requests.Session, url: str, part: Path, timeouts: tuple[float, float], progress: bool) -> int:
    """Bring ``part`` to the server's full file, or raise ``_Retry`` / ``_GiveUp``; return the
    byte it resumed from (0: a fresh download)."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}  # byte ranges of the file itself, not of a gzip stream
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with session.get(url, headers=headers, stream=True, timeout=timeouts) as r:
        if r.status_code == 416 and offset:
            return offset  # nothing after `offset`: the part may be complete; the checksum decides
        if r.status_code in (408, 429) or r.status_code >= 500:
            raise _Retry(f"HTTP {r.status_code}")
        if r.status_code not in (200, 206):
            raise _GiveUp(f"HTTP {r.status_code} {r.reason}")
        if r.status_code == 206:
            start, total = _content_range(r.headers.get("Content-Range"))
            if start != offset:
                part.unlink()
                raise _Retry(f"asked to resume at byte {offset}, server sent from {start}; restarting")
        else:
            if offset:
                _log(f"{url}: server ignored the Range request; restarting from byte 0")
            offset = 0
            length = r.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        with (
            open(part, "ab" if offset else "wb") as f,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
                disable=not progress,
                file=sys.stderr,
                mininterval=0.5,
            ) as bar,
        ):
            for chunk in r.iter_content(CHUNK):
                f.write(chunk)
                bar.update(len(chunk))
            size = f.tell()
    if total is not None and size != total:
        raise _Retry(f"connection closed at byte {size} of {total}")
    return offset


def _innermost(e: BaseException) -> BaseException:
    """The error at the bottom of requests' and urllib3's wrappers (for a refused or failed
    connection: the socket's ``OSError``)."""
    chain = [e]
    while True:
        reason = getattr(e, "reason", None)  # urllib3's MaxRetryError
        if not isinstance(reason, BaseException):
            reason = e.args[0] if e.args and isinstance(e.args[0], BaseException) else e.__cause__
        if reason is None or reason in chain:
            return e
        chain.append(e := reason)


def _reason(e: Exception, timeouts: tuple[float, float]) -> str:
    if isinstance(e, requests.ConnectTimeout):
        return f"no connection within {timeouts[0]:g} s"
    if isinstance(e, requests.ReadTimeout) or "timed out" in str(e).lower():
        return f"no data for {timeouts[1]:g} s (read timeout)"
    if isinstance(e, requests.RequestException):  # their str() is a long repr that buries the cause
        inner = _innermost(e)
        return f"{type(e).__name__}: {inner.strerror if isinstance(inner, OSError) and inner.strerror else inner}"
    return str(e)


def download(
    mirrors: Sequence[str],
    dest: Path,
    sha256: str,
    *,
    connect_timeout: float = 30.0,
    read_timeout: float = 60.0,
    attempts: int = 4,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool = True,
) -> Path:
    """Download to ``dest`` from the first mirror that delivers bytes with ``sha256``.

    Waits ``backoff * 2**k`` s before the (k+2)-th attempt at a mirror. Raises ``DownloadError``
    listing every mirror and why it failed; a partial ``dest.part`` is kept for the next call
    (it is deleted when it was complete but had the wrong checksum).
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    timeouts = (connect_timeout, read_timeout)
    failures: list[str] = []
    with requests.Session() as session:
        session.headers["User-Agent"] = "ssae-mvtec-download (python-requests)"
        for url in mirrors:
            reason = "no attempt made"
            for attempt in range(1, attempts + 1):
                try:
                    start = _fetch_once(session, url, part, timeouts, progress)
                except _GiveUp as e:
                    reason = str(e)
                    break
                except (_Retry, requests.RequestException, OSError) as e:
                    reason = _reason(e, timeouts)
                    if attempt == attempts:
                        reason = f"{attempts} attempts failed, the last: {reason}"
                        break
                    wait = backoff * 2 ** (attempt - 1)
                    _log(f"{url}: {reason}; attempt {attempt + 1}/{attempts} in {wait:g} s")
                    sleep(wait)
                    continue
                got = sha256_file(part, progress)
                if got == sha256.lower():
                    os.replace(part, dest)  # only verified bytes get the final name
                    return dest
                part.unlink()
                reason = f"served a file with SHA-256 {got}, expected {sha256.lower()}"
                if start and attempt < attempts:  # maybe a stale partial file: once more from byte 0
                    _log(f"{url}: resumed download has the wrong SHA-256; restarting from byte 0")
                    continue
                break
            _log(f"{url}: {reason}")
            failures.append(f"[{len(failures) + 1}] {url}: {reason}")
    kept = f" (partial download kept at {part}, resumed next time)" if part.exists() else ""
    raise DownloadError(
        f"could not download {dest.name} from any of {len(failures)} mirror(s): " + "; ".join(failures) + kept
    )


def cached_download(mirrors: Sequence[str], cache_dir: Path, name: str, sha256: str, **kwargs) -> Path:
    """``cache_dir/name`` if it verifies, else a fresh ``download`` (kwargs as there).

    A cached file with the wrong checksum is renamed ``<name>.rejected`` (never deleted: the
    pin may be what is wrong) and downloaded again.
    """
    dest = Path(cache_dir).expanduser() / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.with_name(name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel run (dvc exp run -j 2) waits, then finds it cached
        return _cached_download(mirrors, dest, sha256, **kwargs)


def _cached_download(mirrors: Sequence[str], dest: Path, sha256: str, **kwargs) -> Path:
    name = dest.name
    if dest.is_file():
        got = sha256_file(dest, kwargs.get("progress", True))
        if got == sha256.lower():
            _log(f"using the verified cached archive {dest}")
            return dest
        rejected = dest.with_name(name + ".rejected")
        os.replace(dest, rejected)
        _log(
            f"warning: cached {dest} has SHA-256 {got}, expected {sha256.lower()}; moved it to "
            f"{rejected} (delete it if you do not need it) and downloading again"
        )
    return download(mirrors, dest, sha256, **kwargs)
