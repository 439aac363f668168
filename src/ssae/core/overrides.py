"""Per-category settings: ``overrides.<category>.{masks,train,score}`` in params.yaml, partial
and nested, applied on top of those sections for that category's stages only.

Each stage of a category lists its own entry in dvc.yaml (``overrides.${item.category}.train``)
so that editing it re-runs that category alone; DVC fails on a params key that does not exist,
so every category has all three sections (``{}``: nothing to override).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable

from ssae.core.schema import check, replace_from

SECTIONS = ("masks", "train", "score")  # what a category may override


def empty(categories: Iterable[str]) -> dict[str, dict[str, dict]]:
    """No override for any of ``categories``: {category: {section: {}}}."""
    return {c: {s: {} for s in SECTIONS} for c in categories}


def complete(overrides: Any, named: list[str], sections: dict[str, Any]) -> dict[str, dict[str, dict]]:
    """``overrides`` checked (categories among ``named``, sections among ``SECTIONS``, every value
    valid for its section's dataclass in ``sections``) and filled in for every named category;
    ``ConfigError`` naming the key otherwise."""
    check("overrides", isinstance(overrides, dict), f"must be a mapping, got {type(overrides).__name__}")
    for category, entry in overrides.items():
        key = f"overrides.{category}"
        check(key, category in named, f"unknown category (known: {named})")
        check(key, isinstance(entry, dict), f"must be a mapping of {list(SECTIONS)}, got {entry!r}")
        extra = sorted(set(entry) - set(SECTIONS))
        check(
            f"{key}.{extra[0] if extra else ''}", not extra, f"unknown key (a category may override {list(SECTIONS)})"
        )
    full = empty(named)
    for category, entry in overrides.items():
        full[category].update({s: v if v is not None else {} for s, v in entry.items()})
    for category in full:
        apply(sections, full[category], category)  # every override validates against its section
    return full


def apply(sections: dict[str, Any], entry: dict[str, dict], category: str) -> dict[str, Any]:
    """{section: its dataclass with ``category``'s ``entry`` applied} for the ``SECTIONS``."""
    return {s: replace_from(sections[s], entry[s], f"overrides.{category}.{s}.") for s in SECTIONS}
