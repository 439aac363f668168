# Two entry points: `make repro` (the pipeline) and `make test` (the test suite). Both
# install the locked environment first (uv is installed into .tools/ when missing).
# While developing: `make test-fast` (the tests that start no process, < 1 min) and `make lint`.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV_BIN := $(CURDIR)/.venv/bin
# DVC runs the stages' `python ...` commands: make it the project's interpreter
RUN := PATH="$(VENV_BIN):$$PATH"

.PHONY: env repro test test-fast lint compare seeds clean-env peer-env cpu-protocol cpu-long-protocol paper-protocol

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode
	touch $@

env: .venv/.synced

# params.yaml checked first: a bad category name gets the project's one-line error, not DVC's
repro: env
	$(RUN) python -m ssae.core.check_params
	$(RUN) dvc repro

test: env
	$(RUN) python -m pytest

# everything but the tests marked slow (stages, dvc, subprocesses) or browser (pyproject.toml)
test-fast: env
	$(RUN) python -m pytest -m "not slow and not browser"

# ruff (pyproject.toml): lint, then the formatting check
lint: env
	$(RUN) ruff check .
	$(RUN) ruff format --check .

# The experiments side by side in at most 120 columns: mean metrics, category count, changed
# params (src/ssae/experiments/compare.py).   make compare [CATEGORY=brick] [COMPARE_ARGS=-A]
CATEGORY ?=
COMPARE_ARGS ?=
compare: env
	$(RUN) python -m ssae.experiments.compare $(if $(CATEGORY),--category $(CATEGORY)) $(COMPARE_ARGS)

clean-env:
	rm -rf .venv .tools .venv-peer

# The protocols on real MVTec AD (docs/experiments.md "Protocols"): one DVC experiment each, whose overrides
# are protocols/<name>.yaml plus the dataset below; `dvc exp show` lists every value they set.
#   make cpu-protocol MVTEC_DIR=/data/mvtec_anomaly_detection CATEGORIES='[pill,bottle]'
# MVTEC_DIR empty: the archive is downloaded from the mirrors of params.yaml instead.
MVTEC_DIR ?=
CATEGORIES ?= [pill]
MVTEC_SOURCE = $(if $(MVTEC_DIR),-S data.mvtec.source=directory -S data.mvtec.directory=$(abspath $(MVTEC_DIR)),-S data.mvtec.source=remote)

# The current params (plus OVERRIDES) over SEEDS seeds as DVC experiments; mean ± std table
# (docs/experiments.md "Seed noise"):  make seeds NAME=plain_ae SEEDS=3 OVERRIDES='-S train.noise=none'
NAME ?= current
SEEDS ?= 3
OVERRIDES ?=
seeds: env
	$(RUN) python -m ssae.experiments.seed_study run $(NAME) --seeds $(SEEDS) $(OVERRIDES)

cpu-protocol cpu-long-protocol paper-protocol: env
	$(RUN) python -m ssae.experiments.protocols $(@:-protocol=) $(MVTEC_SOURCE) -S 'categories=$(CATEGORIES)'

# The peer benchmark's environment (benchmarks/peer.py): the project's locked packages, the
# project itself (editable) and anomalib (benchmarks/requirements-peer.txt). Separate from .venv
# so that anomalib never enters the project's lock.
PEER := .venv-peer
.venv-peer/.synced: uv.lock pyproject.toml benchmarks/requirements-peer.txt | $(UV)
	$(UV) venv --allow-existing --python 3.11 $(PEER)
	$(UV) export --frozen --no-dev --no-emit-project --no-hashes --quiet -o $(PEER)/lock.txt
	$(UV) pip install --python $(PEER)/bin/python -r $(PEER)/lock.txt -r benchmarks/requirements-peer.txt -e .
	touch $@

peer-env: .venv-peer/.synced
