"""Stage `download`: put one category of the dataset in MVTec AD layout under data/raw/<category>/.

data.dataset = embedded: build the category of the offline benchmark from its scikit-image photo.
data.dataset = mvtec_ad: get the category from data.mvtec.source (remote mirrors with a download
cache shared by every category, a local archive, or an extracted directory), verified against
the official counts, every mask paired and every file decoded.
data.dataset = folder: the category from data.folder.root (any name, counts and sizes; masks
optional), every mask paired and decoded, then linked like a directory; an image that does not
decode is left out (with its mask), listed on stderr and in data/raw/<category>/left_out.json.

One stage per category (a DVC matrix): adding a category fetches only it. With source remote
the archive is downloaded once into data.mvtec.cache_dir and reused by the other categories'
stages (a lock file there makes parallel stages wait for one download); each category's stage
then reads the archive once to extract its own files.
The result appears under data/raw/<category> only once complete (built in a temporary folder,
renamed); on any failure nothing is left there and the stage exits 2 with a one-line error.
The temporary folders of a killed run (data/.raw.<category>.*) are removed by the next one.
"""

from __future__ import annotations


import typer

from ssae.core import paths
from ssae.startup import CATEGORY as C, stage_category, stage_help

app = typer.Typer(add_completion=False)


@app.command(
    help=stage_help(
        "Build (embedded) or fetch and verify (MVTec AD) one category of the dataset.",
        f"{paths.PARAMS}: seed, data (data.dataset: embedded builds from scikit-image photos; mvtec_ad "
        "downloads into data.mvtec.cache_dir, or reads data.mvtec.archive or data.mvtec.directory).",
        f"{paths.raw_category(C)}/ in MVTec AD layout: train/good/, test/<defect>/, ground_truth/<defect>/.",
        "python stages/download.py --category brick   (in the pipeline: dvc repro download@brick)",
    )
)
def main(
    category: str | None = typer.Option(
        None, help="Category to build or fetch (one of params.yaml categories; under dvc repro: the stage's)."
    ),
) -> None:
    import shutil  # imported here: --help stays fast
    import tempfile
    from pathlib import Path

    from ssae.core.artifacts import umask_mode
    from ssae.startup import fail, params_or_exit
    from ssae.data.embedded import build_category
    from ssae.data.folder_source import acquire_folder
    from ssae.data.http_download import DownloadError
    from ssae.data.dataset_format import DatasetError, index_category
    from ssae.data.mvtec_source import acquire_mvtec

    category = stage_category(category)
    params = params_or_exit(category)
    out = paths.raw_category(category)
    paths.DATA.mkdir(parents=True, exist_ok=True)
    for stale in paths.DATA.glob(f".raw.{category}.*"):  # left by a killed run, whose clean-up never ran
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=paths.DATA, prefix=f".raw.{category}."))
    try:
        if params.data.dataset == "embedded":
            build_category(category, params.data.embedded, params.seed, tmp / category)
        elif params.data.dataset == "folder":
            acquire_folder(params.data.folder, (category,), tmp)
        else:
            acquire_mvtec(params.data.mvtec, (category,), tmp, protected=paths.RAW)
        index_category(tmp / category)  # what the next stages will read must parse
    except (DatasetError, DownloadError) as e:
        shutil.rmtree(tmp)
        raise fail(str(e)) from None
    except BaseException:
        shutil.rmtree(tmp)
        raise
    (tmp / category).chmod(umask_mode(0o777))
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    (tmp / category).rename(out)
    tmp.rmdir()
    print(f"{category}: {out} ready")


if __name__ == "__main__":
    app()
