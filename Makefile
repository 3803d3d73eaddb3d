# One entry point for people and CI. Every target creates the virtualenv it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint types fmt bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

## demo: install, then run the demo end to end on the embedded default (no services needed)
demo: $(STAMP)
	$(BIN)/warmup demo

## test: install, then run the whole test suite (unit, integration, e2e)
test: $(STAMP)
	$(BIN)/pytest -q

## check: lint, format check, strict types, then the tests
check: lint types test

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/emulator_throughput.py
	$(BIN)/python benchmarks/import_speed.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
