"""Shared start-up of the stage commands: params and category checks with clear errors."""

from __future__ import annotations

import sys

import typer

from ssae import paths
from ssae.config import ConfigError, Params, load_params


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` to stderr; return the exit to raise (status 2)."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code=2)


def params_or_exit(category: str | None = None) -> Params:
    """params.yaml as ``Params``; exit 2 naming the bad key, or a category not in ``categories``."""
    try:
        params = load_params(paths.PARAMS)
    except ConfigError as e:
        raise fail(f"{paths.PARAMS}: {e}") from None
    if category is not None and category not in params.categories:
        raise fail(f"category {category!r} is not in {paths.PARAMS} categories {list(params.categories)}")
    return params

