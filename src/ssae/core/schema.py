"""Plain mappings (parsed YAML or JSON) <-> frozen config dataclasses, checked against the hints.

``build`` turns a mapping into a dataclass: an unknown key, a value of the wrong type (bool,
int, finite float, str, ``Literal``, ``tuple[T, ...]``, nested dataclass) or a value the
dataclass's ``__post_init__`` rejects through ``check`` raises ``ConfigError`` naming the key
(``train.epochs: must be >= 1, got -3``). ``as_dict`` is the way back, for meta.json.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal


class ConfigError(ValueError):
    """A params.yaml (or config mapping) problem; the message names the offending key."""


def check(key: str, ok: bool, msg: str) -> None:
    """Raise ``ConfigError("key: msg")`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key}: {msg}")


def convert(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the type hint ``tp`` and convert lists to tuples."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        check(key, isinstance(value, dict), f"must be a mapping, got {type(value).__name__}")
        return build(tp, value, key + ".")
    if origin is Literal:
        check(key, value in typing.get_args(tp), f"must be one of {list(typing.get_args(tp))}, got {value!r}")
        return value
    if origin is tuple:
        (item_tp, _) = typing.get_args(tp)
        check(key, isinstance(value, (list, tuple)), f"must be a list, got {type(value).__name__}")
        return tuple(convert(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"unsupported hint for {key}")
    if tp is bool:
        check(key, isinstance(value, bool), f"must be true or false, got {value!r}")
    elif tp is int:
        check(key, isinstance(value, int) and not isinstance(value, bool), f"must be an integer, got {value!r}")
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        check(key, ok, f"must be a number, got {value!r}")
        value = float(value)
        check(key, math.isfinite(value), f"must be a finite number, got {value!r}")
    elif tp is str:
        check(key, isinstance(value, str), f"must be a string, got {value!r}")
    return value


def build(cls: type, raw: dict, prefix: str = "") -> Any:
    """The frozen dataclass ``cls`` from a mapping: unknown keys, wrong types and (through the
    dataclass's own checks) bad values raise ``ConfigError`` naming ``prefix`` + the key."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key (known keys: {sorted(names)})")
    kwargs = {k: convert(v, hints[k], prefix + k) for k, v in raw.items()}
    try:
        return cls(**kwargs)
    except ConfigError as e:
        if prefix and not str(e).startswith(prefix):
            raise ConfigError(prefix + str(e)) from None
        raise


def from_dict(cls: type, raw: dict, prefix: str = "") -> Any:
    """Build the config dataclass ``cls`` from a mapping (e.g. a checkpoint's meta.json),
    with the same checks as params.yaml; ``prefix`` is prepended to the keys in errors."""
    return build(cls, raw, prefix)


def deep_merge(base: dict, over: dict) -> dict:
    """``base`` with the keys of ``over`` set, nested mappings merged key by key."""
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def replace_from(obj: Any, raw: dict, prefix: str = "") -> Any:
    """The config dataclass ``obj`` with the (partial, nested) mapping ``raw`` applied on top,
    checked like params.yaml: unknown keys and bad values raise ``ConfigError`` naming
    ``prefix`` + the key."""
    check(prefix.rstrip("."), isinstance(raw, dict), f"must be a mapping, got {type(raw).__name__}")
    return build(type(obj), deep_merge(as_dict(obj), raw), prefix)


def as_dict(obj: Any) -> Any:
    """A dataclass config as plain JSON-able dicts and lists (for meta.json)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: as_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple):
        return [as_dict(v) for v in obj]
    return obj
