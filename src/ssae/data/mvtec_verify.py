"""Verification of an MVTec AD tree against the published counts and sizes (``mvtec.OFFICIAL``).

``verify_category`` checks one extracted category against its ``CategorySpec``: image counts
per split, number of defect types, every defect image paired with its mask (by stem, via
``layout.index_category``), every file decodable, images of the published side and masks of
their image's size.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from ssae.data.dataset_format import DatasetError, index_category
from ssae.core.mvtec import OFFICIAL, CategorySpec
from ssae.data.images import UnsupportedImage, check_mode


def _numbering(names: list[str], expected: int | None = None) -> str:
    """Which files of a folder numbered 000, 001, ... (the MVTec AD naming) are missing or extra.

    With ``expected``, the folder should hold exactly 000 .. expected-1; without, gaps are missing.
    """
    numbers = {int(Path(n).stem): n for n in names if Path(n).stem.isdigit()}
    top = expected if expected is not None else max(numbers, default=-1) + 1
    missing = [f"{i:03d}" for i in range(top) if i not in numbers]
    extra = sorted(n for n in names if not Path(n).stem.isdigit() or int(Path(n).stem) >= top)
    notes = ([f"missing {missing[:10]}"] if missing else []) + ([f"extra {extra[:10]}"] if extra else [])
    return f" ({', '.join(notes)})" if notes else ""


def _check_counts(name: str, table, spec: CategorySpec) -> None:
    """Compare the image counts of an ``index_category`` table with ``spec``."""

    def folder(split: str, defect: str, expected: int | None = None) -> str:
        images = table[(table.split == split) & (table.defect == defect)].image
        return f"{split}/{defect}: {len(images)}" + _numbering([p.name for p in images], expected)

    defects = sorted(set(table[table.label == 1].defect))
    if len(defects) != spec.defect_types:
        raise DatasetError(
            f"{name}: {len(defects)} defect types, expected {spec.defect_types}; found test/{{{', '.join(defects)}}}"
        )
    checks = [
        ("train", int((table.split == "train").sum()), spec.train, [folder("train", "good", spec.train)]),
        (
            "test good",
            int(((table.split == "test") & (table.label == 0)).sum()),
            spec.test_good,
            [folder("test", "good", spec.test_good)],
        ),
        ("test anomalous", int((table.label == 1).sum()), spec.test_anomalous, [folder("test", d) for d in defects]),
    ]
    for what, n, expected, detail in checks:
        if n != expected:
            diff = f"{expected - n} missing" if n < expected else f"{n - expected} extra"
            raise DatasetError(f"{name}: {n} {what} images, expected {expected} ({diff}); found {'; '.join(detail)}")


def _check_file(image: Path, mask: Path | None, side: int | None, root: Path) -> tuple[Path, str] | None:
    """None if the image (and its mask) decode at the right size, else the file at fault and the
    reason, naming it."""

    def decoded_size(path: Path) -> tuple[int, int]:
        with Image.open(path) as im:
            im.load()
            check_mode(im, path.relative_to(root))  # pixels the preprocessing would misread
            return im.size

    try:
        size = decoded_size(image)
    except UnsupportedImage as e:
        return image, str(e)
    except (OSError, SyntaxError, ValueError) as e:  # what PIL raises for truncated or foreign files
        return image, f"cannot decode {image.relative_to(root)}: {' '.join(str(e).split())}"
    if side is not None and size != (side, side):
        return image, f"{image.relative_to(root)} is {size[0]}x{size[1]} px, expected {side}x{side}"
    if mask is not None:
        try:
            m = decoded_size(mask)
        except UnsupportedImage as e:
            return mask, str(e)
        except (OSError, SyntaxError, ValueError) as e:
            return mask, f"cannot decode {mask.relative_to(root)}: {' '.join(str(e).split())}"
        if m != size:
            return mask, f"{mask.relative_to(root)} is {m[0]}x{m[1]} px but its image is {size[0]}x{size[1]}"
    return None


def verify_category(
    root: Path, spec: CategorySpec | None, name: str | None = None, workers: int = 4, *, leave_out: bool = False
) -> dict[str, str]:
    """Check an extracted category against ``spec``; raise ``DatasetError`` naming what is wrong.

    Decodes every image and mask (threads: PIL releases the GIL while decoding). ``spec=None``
    (a folder of one's own, ``data.dataset: folder``): no counts or sizes to meet, masks optional;
    every file must still decode and every mask match its image's size. ``leave_out``: an image
    that does not decode (or of a mode ``check_mode`` refuses) is no error but returned, as
    {path relative to ``root``: reason naming it}, sorted; a mask is still an error. Without it: {}.
    """
    root = Path(root)
    name = name or root.name
    if not root.is_dir():
        raise DatasetError(f"{name}: {root} does not exist")
    table = index_category(root)  # folders present, stems of images and masks pair up
    if spec is not None:
        unmasked = table[(table.label == 1) & table["mask"].isna()]
        if len(unmasked):  # MVTec AD ships a mask for every defect image
            raise DatasetError(f"{name}: no ground_truth/{unmasked.defect.iloc[0]} folder for {unmasked.image.iloc[0]}")
        _check_counts(name, table, spec)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        problems = [
            p
            for p in pool.map(lambda r: _check_file(r.image, r.mask, spec and spec.side, root), table.itertuples())
            if p
        ]
    images = set(table.image) if leave_out else set()
    left_out = {f.relative_to(root).as_posix(): why for f, why in problems if f in images}
    if errors := [why for f, why in problems if f not in images]:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise DatasetError(f"{name}: {errors[0]}{more}")
    return dict(sorted(left_out.items()))


def verify_tree(root: Path, categories: tuple[str, ...], expected: dict[str, CategorySpec] = OFFICIAL) -> None:
    """``verify_category`` for each of ``categories`` under ``root`` (raises on the first bad one)."""
    for category in categories:
        if category not in expected:
            raise DatasetError(f"{category}: no expected counts for this category")
        verify_category(Path(root) / category, expected[category], category)
