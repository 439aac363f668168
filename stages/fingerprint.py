"""Stage `fingerprint`: a manifest of each category's folder outside the workspace (always run).

DVC tracks the workspace only; a user's photo folder (data.folder.root) or an extracted MVTec AD
tree (data.mvtec.directory) is not in it. This stage lists each category's folder (relative
path, size, mtime; ``ssae.data.fingerprint``) into data/fingerprints/<category>.json, which the
category's download stage depends on: any added, removed or changed file re-runs that
category's stages alone. It runs on every `dvc repro` (always_changed) and costs a listing; an
unchanged folder gives the same bytes, so nothing downstream runs.

It is also the first stage to run: params.yaml is validated here, so a bad category name (a
shell or path metacharacter) stops the pipeline with one line before any category's stage.
"""

from __future__ import annotations

import typer

from ssae.core import paths
from ssae.startup import stage_help

app = typer.Typer(add_completion=False)


@app.command(
    help=stage_help(
        "List each category's source folder outside the workspace, so that DVC sees edits to it.",
        f"{paths.PARAMS}: categories, data (data.folder.root, or data.mvtec.directory with source directory).",
        f"{paths.FINGERPRINTS}/<category>.json (relative path, size, mtime_ns of every file).",
        "python stages/fingerprint.py   (in the pipeline: runs on every dvc repro)",
    )
)
def main() -> None:
    import shutil

    from ssae.core.artifacts import atomic_write
    from ssae.startup import params_or_exit
    from ssae.data.fingerprint import manifest, manifest_bytes

    params = params_or_exit()
    shutil.rmtree(paths.FINGERPRINTS, ignore_errors=True)  # a removed category leaves no manifest
    for category in params.categories:
        atomic_write(paths.fingerprint_file(category), manifest_bytes(manifest(params, category)))


if __name__ == "__main__":
    app()
