"""What DVC cannot see by itself: the files of a category that live outside the workspace.

``data.folder.root/<category>`` (``data.dataset: folder``) and ``data.mvtec.directory/<category>``
(``source: directory``) are read by the download stage, but DVC tracks only the workspace. The
``fingerprint`` stage (always run, about a millisecond per thousand files) writes for each
category a small deterministic manifest of that folder: every file's path relative to it, its
size and its modification time in ns (a listing, never a read: an MVTec-sized folder costs a
few ms). The category's download stage depends on its manifest, so an added, removed or changed
file re-runs exactly that category's stages, and a no-op ``dvc repro`` stays a no-op.

Embedded data is built from params, and an archive (local or downloaded) is pinned by its
SHA-256: their manifests hold no files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ssae.core.config import Params


def source_folder(params: Params, category: str) -> Path | None:
    """The folder outside the workspace that ``category`` is read from, or None."""
    if params.data.dataset == "folder":
        return Path(params.data.folder.root).expanduser() / category
    if params.data.dataset == "mvtec_ad" and params.data.mvtec.source == "directory":
        return Path(params.data.mvtec.directory).expanduser() / category
    return None


def listing(folder: Path) -> list[list]:
    """[[relative path, size, mtime_ns], ...] of every file under ``folder``, sorted.

    Symbolic links are followed (the download stage copies what they point to); a folder
    reached twice (a link loop) is listed once; an entry that cannot be read (a broken or
    looping link) is listed with size and time -1, so the download stage reports it.
    """
    rows: list[list] = []
    seen: set[tuple[int, int]] = set()

    def walk(d: Path, rel: str) -> None:
        try:
            st = d.stat()
        except OSError:
            rows.append([rel or ".", -1, -1])
            return
        if (st.st_dev, st.st_ino) in seen:
            return
        seen.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            rows.append([rel or ".", -1, -1])
            return
        for e in entries:
            r = f"{rel}/{e.name}" if rel else e.name
            try:
                if e.is_dir():  # follows links
                    walk(Path(e.path), r)
                    continue
                s = e.stat()  # follows links
                rows.append([r, s.st_size, s.st_mtime_ns])
            except OSError:
                rows.append([r, -1, -1])

    walk(Path(folder), "")
    return sorted(rows)


def manifest(params: Params, category: str) -> dict:
    """The fingerprint of ``category``'s source: {"folder": str | None, "files": listing | None}
    (None for a missing folder, which the download stage reports)."""
    folder = source_folder(params, category)
    if folder is None:
        return {"folder": None, "files": []}
    return {"folder": str(folder), "files": listing(folder) if folder.is_dir() else None}


def manifest_bytes(m: dict) -> bytes:
    """Deterministic JSON: one file per line, so that a diff of two manifests reads well."""
    files = m["files"]
    body = (
        "null" if files is None else "[" + ",".join("\n  " + json.dumps(f) for f in files) + ("\n]" if files else "]")
    )
    return f'{{"folder": {json.dumps(m["folder"])},\n "files": {body}}}\n'.encode()
