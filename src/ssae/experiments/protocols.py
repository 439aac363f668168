"""Named protocols: sets of params.yaml overrides, run as DVC experiments.

A protocol is a YAML file in ``protocols/`` mapping dotted params keys to values
(``train.image_size: 256``). It is nothing but a list of ``dvc exp run -S key=value``
overrides: every value it changes shows in ``dvc exp show`` and ``dvc params diff``, and
params.yaml stays the one place the pipeline reads. ``python -m ssae.experiments.protocols NAME`` prints
and runs the experiment; extra ``-S key=value`` arguments after the name are passed on (the
dataset, its directory, the categories).

Every key must exist in params.yaml and the result must validate (``config.parse_params``), so a
protocol with a typo fails before DVC runs anything.
"""

from __future__ import annotations

import copy
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from ssae.core import paths
from ssae.core.config import ConfigError, parse_params

PROTOCOLS = Path("protocols")


def load_protocol(name: str) -> dict[str, Any]:
    """The overrides of ``protocols/<name>.yaml`` (or of a path), as {dotted key: value}."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else PROTOCOLS / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PROTOCOLS.glob("*.yaml"))
        raise ConfigError(f"{path}: no such protocol (known: {known})")
    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{path}: must map dotted params keys to values")
    return raw


def apply(raw: dict, overrides: dict[str, Any]) -> dict:
    """A copy of the params mapping ``raw`` with ``overrides`` set; each key must exist."""
    out = copy.deepcopy(raw)
    for key, value in overrides.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"{key}: no such params key")
            node = node[part]
        if leaf not in node:
            raise ConfigError(f"{key}: no such params key")
        node[leaf] = value
    return out


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """``["-S", "k=v", ...]`` (values in YAML syntax, as DVC reads them) -> {k: v}."""
    out = {}
    for flag, item in zip(args[::2], args[1::2]):
        if flag != "-S" or "=" not in item:
            raise ConfigError(f"expected -S key=value pairs, got {flag} {item}")
        key, value = item.split("=", 1)
        out[key] = yaml.safe_load(value)
    if len(args) % 2:
        raise ConfigError(f"expected -S key=value pairs, got a lone {args[-1]!r}")
    return out


def command(overrides: dict[str, Any]) -> list[str]:
    """The ``dvc exp run`` command of a protocol (one ``-S`` per key, values as compact JSON).

    No ``-n NAME``: DVC checks a name for conflicts only after the whole run, so a second run
    of a protocol would fail at its end; DVC names the experiment and its params tell it apart.
    """
    cmd = ["dvc", "exp", "run"]
    for key, value in overrides.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        cmd += ["-S", f"{key}={text}"]
    return cmd


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(
            "usage: python -m ssae.experiments.protocols NAME [-S key=value ...] (NAME: a file in protocols/)",
            file=sys.stderr,
        )
        return 2
    name, extra = argv[0], argv[1:]
    try:
        overrides = load_protocol(name) | parse_overrides(extra)
        parse_params(apply(yaml.safe_load(paths.PARAMS.read_text()), overrides))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cmd = command(overrides)
    print(shlex.join(cmd), flush=True)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
