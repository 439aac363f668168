"""Byte-deterministic, atomic artifact files: npz bundles, checkpoints, JSON.

Every writer goes through ``atomic_write``: bytes land in a temporary file next to the target
and are renamed into place, so a killed process never leaves a half-written file that looks
complete. No writer stores timestamps, so the same content gives the same bytes (DVC hashes).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


def umask_mode(mode: int = 0o666) -> int:
    """``mode`` as a plain ``open``/``mkdir`` would create it under the process umask
    (``mkstemp``/``mkdtemp`` always use 0600/0700, private to the user)."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def atomic_write(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, umask_mode(0o666))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Compressed .npz with fixed zip timestamps (readable by ``np.load``)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue())
    atomic_write(path, buf.getvalue())


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def save_json(path: Path, obj: Any) -> None:
    atomic_write(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def save_state_dict(path: Path, state: dict) -> None:
    """``torch.save`` of a state_dict, byte-identical for identical tensors."""
    import torch  # here, not at the top: stages that write no checkpoint start 3 s faster

    # Through a buffer: torch names the archive's root folder after the file, so saving to a
    # temporary name would change the bytes.
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(path, buf.getvalue())


def pack_masks(masks: np.ndarray) -> dict[str, np.ndarray]:
    """(N, H, W) bool -> bit-packed arrays for ``save_npz`` (8x smaller)."""
    return {"bits": np.packbits(masks.astype(bool), axis=-1), "shape": np.array(masks.shape, np.int64)}


def unpack_masks(bits: np.ndarray, shape: np.ndarray) -> np.ndarray:
    n, h, w = (int(s) for s in shape)
    return np.unpackbits(bits, axis=-1, count=w).astype(bool).reshape(n, h, w)
