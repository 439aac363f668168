"""`python -m ssae.check_params`: validate params.yaml before DVC reads it (`make repro` runs it).

DVC itself refuses some bad category names with its own, longer error (``..`` makes
``data/raw/..`` overlap other outputs); this prints the project's one line naming the key
instead, and exits 2. Within `dvc repro` the fingerprint stage, which runs first, does the same.
"""

from __future__ import annotations

from ssae import paths
from ssae.cli import params_or_exit


def main() -> None:
    params = params_or_exit()
    print(f"{paths.PARAMS}: valid ({params.data.dataset}, categories {list(params.categories)})")


if __name__ == "__main__":
    import typer

    try:
        main()
    except typer.Exit as e:  # params_or_exit printed the one line
        raise SystemExit(e.exit_code) from None
