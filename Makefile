# One entry point for people and CI. Every target creates the virtualenv it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint types fmt bench clean browser promtool lock

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

## demo: install, then run the demo end to end on the embedded default (no services needed)
demo: $(STAMP)
	$(BIN)/warmup demo

## browser: Debian's Chromium for the dashboard's browser test, installed when missing (as root)
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && \
		apt-get update -q && apt-get install -y -q chromium; } || \
		{ echo "the dashboard test needs Chromium: apt-get install -y chromium" >&2; exit 1; }

## promtool: Debian's Prometheus tools for the alert rules' test, installed when missing (as root)
promtool:
	@command -v promtool >/dev/null || { [ "$$(id -u)" = 0 ] && \
		apt-get update -q && apt-get install -y -q --no-install-recommends prometheus; } || \
		{ echo "the alert rules' test needs promtool: apt-get install -y prometheus" >&2; exit 1; }

## test: install, then run the whole test suite (unit, integration, e2e). The slow fault tests
## (real processes that mostly wait: leases, kills, throttles) run after the rest, four at a
## time: each has its own Redis server, emulator, ports and PostgreSQL schema.
test: $(STAMP) browser promtool
	$(BIN)/pytest -q -m "not slow"
	$(BIN)/pytest -q -m slow -n 4

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
	$(BIN)/python benchmarks/pipeline.py throughput --seconds 30
	$(BIN)/python benchmarks/campaign_start.py
	$(BIN)/python benchmarks/webhook_intake.py
	$(BIN)/python benchmarks/per_email.py
	$(BIN)/python benchmarks/profile_send.py
	$(BIN)/python benchmarks/template_bombs.py
	$(BIN)/python benchmarks/scale.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

## lock: the image's pinned dependencies, with hashes, from pyproject.toml (no extras)
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu -o deploy/requirements.lock
