"""Shared start-up of the stage commands: their --help text, and params, set-up and the
category's table, or one clear error line and exit status 2.

Imports only what --help needs at module level (no numpy, pandas or torch): a stage's help
appears without loading the libraries its command uses.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TypeVar
from collections.abc import Callable

import typer

from ssae.core import paths
from ssae.core.config import ConfigError, Params, load_params

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")
CATEGORY = "<category>"  # the placeholder for a category in the paths of help texts


def stage_help(what: str, reads: str, writes: str, example: str) -> str:
    """A stage's --help: what it does, what it reads and writes, one example; one paragraph
    each (the source's line breaks are joined, the terminal wraps)."""
    one = lambda text: " ".join(text.split())  # noqa: E731
    return "\n\n".join([one(what), "Reads: " + one(reads), "Writes: " + one(writes), "Example: " + one(example)])


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` to stderr; return the exit to raise (status 2)."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code=2)


def stage_category(category: str | None) -> str:
    """``--category``, or else the category of the DVC stage running this command (``DVC_STAGE``,
    e.g. ``train@widget``). dvc.yaml passes no category on the command line: DVC runs ``cmd``
    through a shell, and a category name must never reach one."""
    if category is not None:
        return category
    stage = os.environ.get("DVC_STAGE", "")
    head, colon, tail = stage.partition(":")
    if colon and head.endswith(("dvc.yaml", "dvc.yml")):  # a dvc.yaml outside the root: "sub/dvc.yaml:train@x"
        stage = tail
    _, at, item = stage.partition("@")
    if not at:
        raise fail("--category is required (outside `dvc repro`)")
    return item


def params_or_exit(category: str | None = None) -> Params:
    """params.yaml as ``Params`` (as ``category`` sees them: ``Params.for_category``); exit 2
    naming the bad key, or a category not in ``categories``."""
    try:
        params = load_params(paths.PARAMS)
    except ConfigError as e:  # says which file
        raise fail(str(e)) from None
    if category is not None and category not in params.categories:
        raise fail(f"category {category!r} is not in {paths.PARAMS} categories {list(params.categories)}")
    return params if category is None else params.for_category(category)


def start(category: str, setup: Callable[[Params], T] = lambda params: None) -> tuple[Params, pd.DataFrame, T]:
    """The preamble of a per-category stage: params.yaml checked, ``setup(params)`` run (e.g.
    ``runtime.setup``; a ``RuntimeError`` is an error), data/raw/<category> indexed (a
    ``DatasetError`` is an error). Returns (params, the category's table, what setup returned)."""
    from ssae.data.dataset_format import DatasetError, index_category  # pandas: not needed for --help

    params = params_or_exit(category)
    try:
        done = setup(params)
        table = index_category(paths.raw_category(category))
    except (RuntimeError, DatasetError) as e:
        raise fail(str(e)) from None
    return params, table, done
