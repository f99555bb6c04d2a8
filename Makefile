# The two commands of the README: `make demo` (the tour on a generated sample) and `make test`.
VENV ?= .venv
SAMPLE ?= data/sample
BIN = $(VENV)/bin

.PHONY: setup demo test bench

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh $(SAMPLE)

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/run_all.py
