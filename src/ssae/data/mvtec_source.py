"""Get the selected MVTec AD categories into a folder, complete and verified, from any source.

- ``remote``: the archive from the first working mirror into ``cache_dir`` (reused while it
  verifies), then extracted.
- ``archive``: a hand-downloaded archive, checked against the same SHA-256, then extracted.
- ``directory``: an extracted tree, verified, then hard-linked (or copied) category by category.

Every category is verified against the official counts (``mvtec.OFFICIAL`` unless ``expected``
is given) before this returns.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path

from ssae.core.data_config import MvtecConfig
from ssae.data.dataset_format import DatasetError, index_category
from ssae.data.tar_extract import extract_categories
from ssae.data.http_download import DownloadError, cached_download, verify_file
from ssae.core.mvtec import ARCHIVE_NAME, LANDING_PAGE, OFFICIAL, CategorySpec, max_category_bytes, max_file_bytes
from ssae.data.mvtec_verify import verify_category, verify_tree

MANUAL = (
    f"download {ARCHIVE_NAME} by hand from {LANDING_PAGE} (accepting its licence) and set "
    f"data.mvtec.source: archive and data.mvtec.archive: /path/to/{ARCHIVE_NAME}"
)


def get_archive(
    cfg: MvtecConfig,
    protected: Path | None = None,
    *,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool = True,
) -> Path:
    """The verified archive: ``cfg.archive`` (source archive) or a cached download (remote).

    ``protected``: a folder the cache must not be inside (data/raw, replaced on every run).
    Raises ``DownloadError`` (remote: every mirror and why it failed, and what to do by hand).
    """
    if cfg.source == "archive":
        archive = Path(cfg.archive).expanduser()
        if not archive.is_file():
            raise DownloadError(f"data.mvtec.archive: {archive} is not a file")
        try:
            verify_file(archive, cfg.sha256, progress)
        except DownloadError as e:
            raise DownloadError(f"data.mvtec.archive: {e}") from None
        return archive
    cache = Path(cfg.cache_dir).expanduser().resolve()
    if protected is not None and cache.is_relative_to(Path(protected).resolve()):
        raise DownloadError(
            f"data.mvtec.cache_dir: {cache} is inside {protected}, which the download "
            "stage replaces; choose a folder outside it"
        )
    try:
        return cached_download(
            cfg.mirrors,
            cache,
            ARCHIVE_NAME,
            cfg.sha256,
            connect_timeout=cfg.connect_timeout,
            read_timeout=cfg.read_timeout,
            attempts=cfg.attempts,
            backoff=backoff,
            sleep=sleep,
            progress=progress,
        )
    except DownloadError as e:
        raise DownloadError(f"{e}. Or {MANUAL}") from None


def place_category(src: Path, dst: Path, exclude: Collection[str] = ()) -> str:
    """Hard-link every image and mask of ``src``'s layout (``dataset_format.index_category``) into a new
    ``dst`` (copy when linking fails, e.g. across file systems); return "linked" or "copied".
    ``exclude``: images not to place, nor their masks (paths relative to ``src``).

    Only the layout's files are placed, so other files and sub-folders (a symbolic link loop
    among them) are never walked; a symbolic link is placed as the file it points to (a
    relative link would break in ``dst``). ``src`` is never modified: DVC replaces the links by
    copies from its cache when it stores ``data/raw``. Raises ``DatasetError`` naming a file
    that cannot be placed.
    """
    src, dst = Path(src), Path(dst)
    table = index_category(src, exclude)
    how = {"linked": 0, "copied": 0}
    for f in [*table.image, *table["mask"].dropna()]:
        target = dst / Path(f).relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        real = os.path.realpath(f)
        try:
            try:
                os.link(real, target)
                how["linked"] += 1
            except OSError:
                shutil.copy2(real, target)
                how["copied"] += 1
        except OSError as e:
            raise DatasetError(f"{src.name}: cannot read {Path(f).relative_to(src)}: {e.strerror or e}") from None
    return "copied" if how["copied"] else "linked"


def acquire_mvtec(
    cfg: MvtecConfig,
    categories: tuple[str, ...],
    out: Path,
    expected: dict[str, CategorySpec] = OFFICIAL,
    protected: Path | None = None,
    **download_kwargs,
) -> None:
    """Write the verified ``categories`` to ``out/<category>/`` (MVTec AD layout).

    Raises ``DatasetError`` or ``DownloadError`` naming the category, file or mirror at fault;
    ``out`` may then hold partial results (the caller builds it in a temporary folder).
    """
    out = Path(out)
    if cfg.source == "directory":
        root = Path(cfg.directory).expanduser()
        for category in categories:
            src = root / category
            if not src.is_dir():
                raise DatasetError(f"data.mvtec.directory: {src} does not exist (category {category!r})")
            if category not in expected:
                raise DatasetError(f"{category}: no expected counts for this category")
            verify_category(src, expected[category], category)  # before linking thousands of files
            how = place_category(src, out / category)
            print(f"{category}: verified, {how} from {src}", file=sys.stderr)
        return
    if unknown := [c for c in categories if c not in expected]:
        raise DatasetError(f"{unknown[0]}: no expected counts for this category")
    archive = get_archive(cfg, protected, **download_kwargs)
    extract_categories(
        archive,
        categories,
        out,
        known=expected,
        progress=download_kwargs.get("progress", True),
        max_member_bytes=max(max_file_bytes(expected[c]) for c in categories),
        max_total_bytes=sum(max_category_bytes(expected[c]) for c in categories),
    )
    verify_tree(out, categories, expected)
    print(f"{', '.join(categories)}: extracted from {archive} and verified", file=sys.stderr)
