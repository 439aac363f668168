"""Safe, selective extraction of the MVTec AD archive.

The archive (``mvtec_anomaly_detection.tar.xz``) is read once as a stream. Members are
``<category>/...`` (optionally under one top-level folder); only the selected categories are
written, as plain files, into a temporary folder that is moved into place once the whole
archive has been read. Any member that is not a plain file or folder (links of any kind, device
files, fifos), or whose name is absolute or contains ``..``, stops extraction with an error
naming the member: MVTec AD has none, so such an archive is not MVTec AD. So does a member
larger than ``max_member_bytes``, or one that brings the bytes written past ``max_total_bytes``
(a compression bomb expands a small archive into terabytes): both are checked against the
member's declared size before a byte of it is written.
"""

from __future__ import annotations

import lzma
import os
import shutil
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from ssae.data.dataset_format import DatasetError


class ArchiveError(DatasetError):
    """The archive is unreadable, hostile or lacks a selected category; names the member."""


def _refuse_unsafe(m: tarfile.TarInfo) -> None:
    """Raise ``ArchiveError`` unless ``m`` is a plain file or folder with a relative, clean name."""
    name = m.name
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or ":" in name.split("/")[0]:
        raise ArchiveError(f"refusing archive member {name!r}: absolute path")
    if ".." in name.replace("\\", "/").split("/"):
        raise ArchiveError(f"refusing archive member {name!r}: '..' in its path")
    if m.issym() or m.islnk():
        raise ArchiveError(
            f"refusing archive member {name!r}: a {'symbolic' if m.issym() else 'hard'} "
            f"link to {m.linkname!r} (MVTec AD has no links)"
        )
    if m.ischr() or m.isblk() or m.isfifo():
        raise ArchiveError(f"refusing archive member {name!r}: a device file or fifo")
    if not (m.isfile() or m.isdir()):
        raise ArchiveError(f"refusing archive member {name!r}: unsupported member type {m.type!r}")


def _place(name: str, known: set[str]) -> tuple[str, PurePosixPath] | None:
    """(category, path inside it) of a member name, or None when it is not inside a category."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    for i in (0, 1):  # <category>/... or <top>/<category>/...
        if len(parts) > i + 1 and parts[i] in known:
            return parts[i], PurePosixPath(*parts[i + 1 :])
    return None


def extract_categories(
    archive: Path,
    categories: Iterable[str],
    out: Path,
    known: Iterable[str] | None = None,
    progress: bool = True,
    max_member_bytes: int | None = None,
    max_total_bytes: int | None = None,
) -> None:
    """Write the files of ``categories`` from ``archive`` (a tar, optionally compressed) to
    ``out/<category>/``, all of them or (on any error) none.

    ``known`` is every category name the archive may hold (default: ``categories``); it locates
    the category folder in member names. ``out/<category>`` must not exist yet. The byte caps
    (None: none) apply to the files written.
    """
    archive, out = Path(archive), Path(out)
    categories = list(categories)
    known = set(known or ()) | set(categories)
    out.mkdir(parents=True, exist_ok=True)
    if present := [c for c in categories if (out / c).exists()]:
        raise ArchiveError(f"{out}: already holds {present}")
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=".extract."))
    written = 0
    try:
        with (
            open(archive, "rb") as raw,
            tqdm.wrapattr(
                raw,
                "read",
                total=archive.stat().st_size,
                desc=f"extracting {archive.name}",
                disable=not progress,
                file=sys.stderr,
                mininterval=0.5,
            ) as f,
            tarfile.open(fileobj=f, mode="r|*") as tar,
        ):
            for m in tar:
                _refuse_unsafe(m)
                where = _place(m.name, known)
                if m.isdir() or where is None or where[0] not in categories:
                    continue
                if max_member_bytes is not None and m.size > max_member_bytes:
                    raise ArchiveError(
                        f"refusing archive member {m.name!r}: {m.size} bytes, more than the "
                        f"{max_member_bytes} any file of these categories can have"
                    )
                written += m.size
                if max_total_bytes is not None and written > max_total_bytes:
                    raise ArchiveError(
                        f"refusing archive member {m.name!r}: it takes the extracted files past "
                        f"{max_total_bytes} bytes, more than these categories can have"
                    )
                dst = tmp.joinpath(where[0], *where[1].parts)
                try:
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(m) as src, open(dst, "wb") as fout:
                        shutil.copyfileobj(src, fout, 1 << 20)
                except OSError as e:  # its strerror: the path in str(e) is a temporary folder, gone by now
                    raise ArchiveError(
                        f"cannot extract archive member {m.name!r}: {e.strerror or type(e).__name__}"
                    ) from None
        missing = [c for c in categories if not (tmp / c).is_dir()]
        if missing:
            raise ArchiveError(f"{archive}: holds no folder for categories {missing}")
        for c in categories:
            os.replace(tmp / c, out / c)
    except (tarfile.TarError, lzma.LZMAError, EOFError, zlib.error) as e:
        raise ArchiveError(f"{archive}: not a readable tar archive ({type(e).__name__}: {e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
