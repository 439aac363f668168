"""Stage `download`: put the dataset in MVTec AD layout under data/raw/<category>/.

data.dataset = embedded: build the offline benchmark from scikit-image photos.
data.dataset = mvtec_ad: copy the selected categories of an extracted MVTec AD tree
(data.mvtec_dir), after checking that every defect image pairs with its mask.
The result appears under data/raw only once complete (built in a temporary folder, renamed).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import typer

from ssae import paths
from ssae.cli import fail, params_or_exit
from ssae.dataset import DatasetError, index_category
from ssae.embedded import build

app = typer.Typer(add_completion=False)


def copy_mvtec(source: Path, categories: tuple[str, ...], out: Path) -> None:
    for category in categories:
        src = source / category
        if not src.is_dir():
            raise DatasetError(f"data.mvtec_dir: {src} does not exist (category {category!r})")
        index_category(src)
        shutil.copytree(src, out / category)


@app.command()
def main() -> None:
    """Build or copy the dataset into data/raw (reads params.yaml: seed, categories, data)."""
    params = params_or_exit()
    paths.DATA.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=paths.DATA, prefix=".raw."))
    try:
        if params.data.dataset == "embedded":
            build(params.categories, params.data.embedded, params.seed, tmp)
        else:
            copy_mvtec(Path(params.data.mvtec_dir).expanduser(), params.categories, tmp)
        for category in params.categories:
            index_category(tmp / category)  # what the next stages will read must parse
    except DatasetError as e:
        shutil.rmtree(tmp)
        raise fail(str(e)) from None
    except BaseException:
        shutil.rmtree(tmp)
        raise
    shutil.rmtree(paths.RAW, ignore_errors=True)
    tmp.rename(paths.RAW)


if __name__ == "__main__":
    app()
