# The two commands of the README: `make demo` (the tour on a generated sample) and `make test`
# (lint, format and type checks, then the tests; `make check` runs the checks alone).
VENV ?= .venv
SAMPLE ?= data/sample
BIN = $(VENV)/bin

.PHONY: setup demo test check bench

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh $(SAMPLE)

# The checks first (fast, and a failure there says more than a failing test): lint, format, types.
LINTED = zod cli tests benchmarks examples scripts

check: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

test: setup check
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/run_all.py
