"""Shared start-up of the stage commands: params, set-up and the category's table, or one clear
error line and exit status 2."""

from __future__ import annotations

import sys
from typing import Callable, TypeVar

import pandas as pd
import typer

from ssae import paths
from ssae.config import ConfigError, Params, load_params
from ssae.layout import DatasetError, index_category

T = TypeVar("T")


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` to stderr; return the exit to raise (status 2)."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code=2)


def params_or_exit(category: str | None = None) -> Params:
    """params.yaml as ``Params``; exit 2 naming the bad key, or a category not in ``categories``."""
    try:
        params = load_params(paths.PARAMS)
    except ConfigError as e:  # says which file
        raise fail(str(e)) from None
    if category is not None and category not in params.categories:
        raise fail(f"category {category!r} is not in {paths.PARAMS} categories {list(params.categories)}")
    return params


def start(category: str, setup: Callable[[Params], T] = lambda params: None) -> tuple[Params, pd.DataFrame, T]:
    """The preamble of a per-category stage: params.yaml checked, ``setup(params)`` run (e.g.
    ``runtime.setup``; a ``RuntimeError`` is an error), data/raw/<category> indexed (a
    ``DatasetError`` is an error). Returns (params, the category's table, what setup returned)."""
    params = params_or_exit(category)
    try:
        done = setup(params)
        table = index_category(paths.raw_category(category))
    except (RuntimeError, DatasetError) as e:
        raise fail(str(e)) from None
    return params, table, done
