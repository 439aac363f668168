"""A folder of one's own images in MVTec AD layout (``data.dataset: folder``) into data/raw.

The same path as MVTec AD's ``source: directory``: each selected category is verified
(``mvtec_verify.verify_category`` with no published counts: every file decodes, every mask
pairs with an image of its size), then hard-linked (or copied) by ``mvtec_source.place_category``.
The user's tree is never modified. Files outside the layout (other suffixes, sub-folders of
train/good, a ``.DS_Store``) are not read: the stage lists them, so that nothing is skipped
silently.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

from ssae.core.data_config import FolderConfig
from ssae.data.dataset_format import DatasetError, index_category
from ssae.data.fingerprint import listing
from ssae.data.mvtec_source import place_category
from ssae.data.mvtec_verify import verify_category


def folder_categories(root: Path) -> list[str]:
    """The sub-folders of ``root`` that have a train/ folder: the categories a user can select."""
    return sorted(p.name for p in Path(root).iterdir() if (p / "train").is_dir()) if Path(root).is_dir() else []


def colour_counts(root: Path) -> dict[str, int]:
    """How many of the category's images are stored greyscale and how many in colour (headers only)."""
    counts = {"greyscale": 0, "colour": 0}
    for image in index_category(root).image:
        with Image.open(image) as im:
            counts["greyscale" if im.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F") else "colour"] += 1
    return counts


def skipped_files(root: Path, table) -> list[str]:
    """Files under ``root`` that are not an image or mask of its ``index_category`` table,
    relative to ``root`` (symbolic-link loops are not followed twice)."""
    used = {str(Path(f).relative_to(root)) for f in [*table.image, *table["mask"].dropna()]}
    return [rel for rel, *_ in listing(root) if rel not in used]


def acquire_folder(cfg: FolderConfig, categories: tuple[str, ...], out: Path) -> None:
    """Write the verified ``categories`` of ``cfg.root`` to ``out/<category>/``.

    Raises ``DatasetError`` naming the folder or file at fault, and, for a category that is not
    there, the categories that are.
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
        verify_category(src, None, category)
        how = place_category(src, Path(out) / category)
        counts = colour_counts(src)
        mixed = " (mixed: all are read as RGB, greyscale repeated to 3 channels)" if all(counts.values()) else ""
        print(
            f"{category}: verified, {how} from {src}; {counts['greyscale']} greyscale, "
            f"{counts['colour']} colour images{mixed}",
            file=sys.stderr,
        )
        if skipped := skipped_files(src, index_category(src)):
            more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
            print(
                f"{category}: skipped {len(skipped)} files outside the layout (images directly in train/good, "
                f"test/<type>, ground_truth/<type>): {skipped[:10]}{more}",
                file=sys.stderr,
            )
