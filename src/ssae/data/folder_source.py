"""A folder of one's own images in MVTec AD layout (``data.dataset: folder``) into data/raw.

The same path as MVTec AD's ``source: directory``: each selected category is verified
(``mvtec_verify.verify_category`` with no published counts: every mask pairs with an image of
its size), then hard-linked (or copied) by ``mvtec_source.place_category``. The user's tree is
never modified. Unlike MVTec AD, one bad image does not stop the pipeline: an image that does
not decode (truncated, foreign) or whose mode is refused is left out, with its mask. Hidden files
(``._x.png``, ``.DS_Store``) and files outside the layout (other suffixes, sub-folders of
train/good) are not read. Nothing is skipped silently: the stage lists both on stderr, and
``paths.LEFT_OUT`` in the placed category lists the images left out, with their reasons, and the
files with an image suffix that were skipped. Other skipped files are not in it: it is part of
data/raw, so a new ``.DS_Store`` would re-train the category.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

from ssae.core.artifacts import save_json
from ssae.core.data_config import FolderConfig
from ssae.core.paths import LEFT_OUT
from ssae.data.dataset_format import IMAGE_SUFFIXES, DatasetError, index_category
from ssae.data.fingerprint import listing
from ssae.data.mvtec_source import place_category
from ssae.data.mvtec_verify import verify_category


def folder_categories(root: Path) -> list[str]:
    """The sub-folders of ``root`` that have a train/ folder: the categories a user can select."""
    return sorted(p.name for p in Path(root).iterdir() if (p / "train").is_dir()) if Path(root).is_dir() else []


def colour_counts(images: list[Path]) -> dict[str, int]:
    """How many of ``images`` are stored greyscale and how many in colour (headers only)."""
    counts = {"greyscale": 0, "colour": 0}
    for image in images:
        with Image.open(image) as im:
            counts["greyscale" if im.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F") else "colour"] += 1
    return counts


def _files(root: Path, table) -> set[str]:
    return {Path(f).relative_to(root).as_posix() for f in [*table.image, *table["mask"].dropna()]}


def skipped_files(root: Path, table) -> list[str]:
    """Files under ``root`` that are not an image or mask of its ``index_category`` table,
    relative to ``root`` (symbolic-link loops are not followed twice)."""
    used = _files(root, table)
    return [rel for rel, *_ in listing(root) if rel not in used]


def left_out_record(root: Path, table, unreadable: dict[str, str]) -> dict:
    """What ``paths.LEFT_OUT`` holds: ``left_out``, [{file, reason}] of the ``unreadable`` images
    and of their masks, and ``skipped``, the files with an image suffix outside ``table`` (the
    whole layout: hidden, or outside it); sorted, relative to ``root``."""

    def rel(p) -> str:
        return Path(p).relative_to(root).as_posix()

    left = [{"file": f, "reason": why} for f, why in unreadable.items()]
    left += [
        {"file": rel(m), "reason": f"its image {rel(i)} is left out"}
        for i, m in zip(table.image, table["mask"])
        if m is not None and rel(i) in unreadable
    ]
    skipped = [f for f in skipped_files(root, table) if Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return {"left_out": sorted(left, key=lambda e: e["file"]), "skipped": skipped}


def _first(unreadable: dict[str, str], n: int = 10) -> str:
    """The first ``n`` reasons on one line, and how many more."""
    more = f"; and {len(unreadable) - n} more" if len(unreadable) > n else ""
    return "; ".join(list(unreadable.values())[:n]) + more


def acquire_folder(cfg: FolderConfig, categories: tuple[str, ...], out: Path) -> None:
    """Write the verified ``categories`` of ``cfg.root`` to ``out/<category>/``.

    Images that cannot be read are left out (listed on stderr and in ``out/<category>/LEFT_OUT``).
    Raises ``DatasetError`` naming the folder or file at fault (a mask that does not decode or
    fit its image; a folder left with no images), and, for a category that is not there, the
    categories that are.
    """
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"data.folder.root: {root} is not a folder")
    for category in categories:
        src = root / category
        if not (src / "train").is_dir():
            raise DatasetError(
                f"data.folder.root: no category {category!r} in {root} (no {src / 'train'}); "
                f"categories there: {folder_categories(root)}"
            )
        unreadable = verify_category(src, None, category, leave_out=True)
        table = index_category(src)
        try:
            kept = index_category(src, unreadable)
        except DatasetError as e:  # the whole layout indexed: only leaving out can fail here
            raise DatasetError(f"{e} that can be read ({len(unreadable)} left out: {_first(unreadable)})") from None
        dst = Path(out) / category
        how = place_category(src, dst, exclude=unreadable)
        counts = colour_counts(list(kept.image))
        mixed = " (mixed: all are read as RGB, greyscale repeated to 3 channels)" if all(counts.values()) else ""
        print(
            f"{category}: verified, {how} from {src}; {counts['greyscale']} greyscale, "
            f"{counts['colour']} colour images{mixed}",
            file=sys.stderr,
        )
        record = left_out_record(src, table, unreadable)
        if record["left_out"] or record["skipped"]:
            save_json(dst / LEFT_OUT, record)
        if unreadable:
            masks = len(record["left_out"]) - len(unreadable)
            print(
                f"{category}: left out {len(unreadable)} images that cannot be read"
                + (f" and their {masks} masks" if masks else "")
                + f" (listed in {LEFT_OUT}): {_first(unreadable)}",
                file=sys.stderr,
            )
        if skipped := skipped_files(src, table):
            more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
            print(
                f"{category}: skipped {len(skipped)} files, hidden or outside the layout (images directly in "
                f"train/good, test/<type>, ground_truth/<type>): {skipped[:10]}{more}",
                file=sys.stderr,
            )
