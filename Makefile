# Set-up and everyday commands; `make serve` and `make test` install what they need.

PYTHON ?= python3
VENV := .venv
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9

.PHONY: setup serve test lint schema bench

setup: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	touch $@

serve: setup
	$(VENV)/bin/smartlink serve $(SERVE_ARGS)

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check api domain jobs tests bench
	$(VENV)/bin/ruff format --check api domain jobs tests bench
	$(VENV)/bin/mypy

schema: setup
	$(VENV)/bin/smartlink export-schema > schema.graphql

# Automatic provisioning against plain httpx clients; see bench/README.md.
bench: setup
	$(VENV)/bin/python -m bench.run $(BENCH_ARGS)
