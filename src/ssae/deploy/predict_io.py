"""The file side of ``python -m ssae.deploy.predict``: which inputs, under which output names, read how,
and an output folder that is replaced as a whole.

- ``find_images``: files, globs and folders (recursive) -> image files. The output folder (and
  the temporary folders of a run, even a killed one) are never inputs, so ``--out`` may lie
  inside an input folder; nor is any earlier prediction found in an input folder (a folder
  with predictions.csv and .json); macOS resource files (``._x.png``) are skipped and counted.
- ``output_names``: each input's path relative to the inputs' common folder, suffix kept
  (``a/b.png``, ``a__b.png``, ``x.png``, ``x.jpg`` stay four names): unique, and the input is
  the name with the ``.map.npy`` / ``.overlay.png`` ending removed.
- ``read_image``: an image at most ``max_side`` px on its longer side; a JPEG is decoded
  reduced (PIL's draft mode, 1/2 to 1/8 in the decoder), other formats are box-reduced by an
  integer factor before the exact resize, so a 6000 x 4000 photo never exists in float.
- ``OutFolder``: results are written to a temporary folder beside ``--out`` and renamed into
  place when complete; an ``--out`` that holds an earlier prediction is replaced as a whole,
  one that holds anything else is refused, one that is a file is refused.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ssae.data.dataset_format import IMAGE_SUFFIXES
from ssae.data.images import decode_image
from ssae.data.resolution import resize

RESULTS = ("predictions.csv", "predictions.json")  # what marks a folder as predict's output
TMP = ".{}.predict-"  # prefix of the temporary folders beside --out


class InputError(ValueError):
    """An input that cannot be scored, or an output folder that cannot be written; the message names it."""


def _under(path: Path, folders: list[Path]) -> bool:
    return any(path.is_relative_to(f) for f in folders)


def find_images(inputs: list[str], exclude: list[Path] = ()) -> tuple[list[Path], list[str]]:
    """Files, globs and folders (recursive) -> (image files, sorted, no duplicates; notes on
    what was skipped). Nothing under ``exclude`` (resolved folders) is an input."""
    exclude = [Path(e).resolve() for e in exclude]
    found: list[Path] = []
    notes: list[str] = []
    apple = 0
    for item in inputs:
        p = Path(item).expanduser()
        if p.is_dir():
            hits = [f for f in sorted(p.rglob("*")) if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
            earlier = [j.parent for j in p.rglob(RESULTS[1]) if (j.parent / RESULTS[0]).is_file()]
            if earlier:  # an earlier prediction's maps and overlays are not photos to score
                notes += [f"skipped {d}: an earlier prediction" for d in earlier]
                hits = [f for f in hits if not _under(f, earlier)]
        elif p.is_file():
            hits = [p]
        else:
            hits = sorted(
                Path(f)
                for f in glob.glob(str(p), recursive=True)
                if Path(f).is_file() and Path(f).suffix.lower() in IMAGE_SUFFIXES
            )
        if not p.is_file():  # named explicitly: always tried
            apple += sum(f.name.startswith("._") for f in hits)
            hits = [f for f in hits if not f.name.startswith("._")]
        hits = [f for f in hits if not _under(f.resolve(), exclude)]
        if not hits:
            raise InputError(f"{item}: no such image file, or no images in that folder or glob")
        found += hits
    notes += [f"skipped {apple} macOS resource files (._*)"] if apple else []
    return list(dict.fromkeys(f.resolve() for f in found)), notes


def output_names(files: list[Path]) -> list[str]:
    """Each file's path relative to the files' common folder, suffix kept: unique for distinct
    files, and reversible (module doc)."""
    common = Path(os.path.commonpath([f.parent for f in files]))
    return [f.relative_to(common).as_posix() for f in files]


def read_image(path: Path, max_side: int = 0) -> tuple[np.ndarray, tuple[int, int]]:
    """(h, w, 3) uint8 under ``ssae.data.images``' RGB policy, reduced so that max(h, w) <=
    ``max_side`` (0: full size), and the file's own (H, W). Raises ``InputError`` naming it."""
    try:
        with Image.open(path) as im:
            w0, h0 = im.size
            target = None
            if max_side and max(w0, h0) > max_side:
                k = max_side / max(w0, h0)
                target = (max(1, round(h0 * k)), max(1, round(w0 * k)))  # (h, w)
                if im.format == "JPEG":
                    im.draft(im.mode, (target[1], target[0]))  # decoded at 1/2..1/8, never below target
                factor = min(im.size[0] // target[1], im.size[1] // target[0])
                if factor >= 2:
                    try:
                        im = im.reduce(factor)  # box filter, uint8: cheap
                    except ValueError:  # a mode reduce() does not take: resized in float below
                        pass
            img = decode_image(im, path)  # (h, w, 3) float32 in [0, 1]
    except InputError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:  # PIL's kinds
        msg = str(e) if str(e).startswith(str(path)) else f"{path}: cannot decode ({' '.join(str(e).split())})"
        raise InputError(msg) from None
    if target is not None:
        img = resize(img, target)
    return np.round(img * 255.0).astype(np.uint8), (h0, w0)


class OutFolder:
    """The output folder, written as a whole (module doc). ``check()`` before any work;
    ``path`` is where to write meanwhile; ``commit()`` puts it in place; ``discard()`` on failure."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path: Path | None = None

    def check(self) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {out}: is a file, not a folder")
        if out.is_dir() and any(out.iterdir()) and not any((out / r).is_file() for r in RESULTS):
            raise InputError(
                f"--out {out}: not empty and not an earlier prediction (no predictions.csv): "
                "choose a new or empty folder"
            )

    def open(self) -> Path:
        self.check()
        parent = self.out.resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        for stale in parent.glob(TMP.format(self.out.name) + "*"):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
        self.path = Path(tempfile.mkdtemp(dir=parent, prefix=TMP.format(self.out.name)))
        return self.path

    def scratch(self) -> list[Path]:
        """The folders no input may come from: --out and the temporary folders beside it."""
        parent = self.out.resolve().parent
        return [self.out.resolve(), *parent.glob(TMP.format(self.out.name) + "*")]

    def commit(self) -> None:
        from ssae.core.artifacts import umask_mode

        self.check()  # still ours to replace
        self.path.chmod(umask_mode(0o777))
        old = None
        if self.out.exists():
            old = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=TMP.format(self.out.name)))
            os.replace(self.out, old / "old")
        os.replace(self.path, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
