"""`python -m ssae.core.check_params`: validate params.yaml before DVC reads it (`make repro` runs it).

DVC itself refuses some bad category names with its own, longer error (``..`` makes
``data/raw/..`` overlap other outputs); this prints the project's one line naming the key
instead (``error: ...``, as ``ssae.startup.params_or_exit``), and exits 2. Within `dvc repro`
the fingerprint stage, which runs first, does the same.
"""

from __future__ import annotations

import sys

from ssae.core import paths
from ssae.core.config import ConfigError, load_params


def main() -> int:
    try:
        params = load_params(paths.PARAMS)
    except ConfigError as e:  # says which file
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{paths.PARAMS}: valid ({params.data.dataset}, categories {list(params.categories)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
