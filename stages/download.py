"""Stage `download`: put the dataset in MVTec AD layout under data/raw/<category>/.

data.dataset = embedded: build the offline benchmark from scikit-image photos.
data.dataset = mvtec_ad: get the selected categories from data.mvtec.source (remote mirrors
with a download cache, a local archive, or an extracted directory), verified against the
official counts, every mask paired and every file decoded.
data.dataset = folder: the selected categories of data.folder.root (any names, counts and
sizes; masks optional), every file decoded and every mask paired, then linked like a directory.
The result appears under data/raw only once complete (built in a temporary folder, renamed);
on any failure nothing is left there and the stage exits 2 with a one-line error. The
temporary folders of a killed run (data/.raw.*) are removed by the next one.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import typer

from ssae import paths
from ssae.mvtec_source import acquire_mvtec
from ssae.artifacts import umask_mode
from ssae.cli import fail, params_or_exit
from ssae.layout import DatasetError, index_category
from ssae.embedded import build
from ssae.folder_source import acquire_folder
from ssae.http_download import DownloadError

app = typer.Typer(add_completion=False)


@app.command()
def main() -> None:
    """Build or fetch the dataset into data/raw (reads params.yaml: seed, categories, data)."""
    params = params_or_exit()
    paths.DATA.mkdir(parents=True, exist_ok=True)
    for stale in paths.DATA.glob(".raw.*"):  # left by a killed run, whose clean-up never ran
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=paths.DATA, prefix=".raw."))
    try:
        if params.data.dataset == "embedded":
            build(params.categories, params.data.embedded, params.seed, tmp)
        elif params.data.dataset == "folder":
            acquire_folder(params.data.folder, params.categories, tmp)
        else:
            acquire_mvtec(params.data.mvtec, params.categories, tmp, protected=paths.RAW)
        for category in params.categories:
            index_category(tmp / category)  # what the next stages will read must parse
    except (DatasetError, DownloadError) as e:
        shutil.rmtree(tmp)
        raise fail(str(e)) from None
    except BaseException:
        shutil.rmtree(tmp)
        raise
    tmp.chmod(umask_mode(0o777))  # mkdtemp made it private; data/raw is shared like any output
    shutil.rmtree(paths.RAW, ignore_errors=True)
    tmp.rename(paths.RAW)


if __name__ == "__main__":
    app()
