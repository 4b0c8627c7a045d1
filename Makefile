# One entry point for people and CI. `make up` runs everything locally on
# embedded defaults; `make check` runs every check (lint, types, schema, tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The JavaScript clients tests/test_js_clients.py drives (graphql-ws, graphql-http, Apollo).
JS := tests/js
JS_STAMP := $(JS)/node_modules/.installed

# promtool (Prometheus's checker: tests run /metrics, the alert rules and the dashboard's
# queries through it): the binary alone from Debian's prometheus package, unpacked into the
# venv (no daemon, no user, about 20 MB); one already on PATH is linked instead.
PROMTOOL := $(BIN)/promtool

.PHONY: up check lint types test schema bench clean

# First run: a few minutes of downloads. Not --quiet: pip says what it fetches and
# installs (with progress bars on a terminal, plain lines in CI logs).
$(STAMP): pyproject.toml
	@echo "==> setting up $(VENV): the project and its dev tools (first run: a few minutes)"
	@test -x $(BIN)/python || { echo "==> creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> upgrading pip"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> installing matchgraph with its [dev] extras (pip's progress follows)"
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)
	@echo "==> $(VENV) ready (reinstalled only when pyproject.toml changes)"

# Exactly the versions package-lock.json pins; node >= 20 and npm come with the machine.
$(JS_STAMP): $(JS)/package.json $(JS)/package-lock.json
	@echo "==> installing the JavaScript test clients in $(JS) (npm ci)"
	cd $(JS) && npm ci
	touch $(JS_STAMP)

$(PROMTOOL): | $(STAMP)
	@if command -v promtool >/dev/null 2>&1; then \
	  ln -sf "$$(command -v promtool)" $(PROMTOOL); \
	else \
	  echo "==> promtool into $(BIN) (Debian's prometheus package, binary only)"; \
	  tmp=$$(mktemp -d) && chmod 755 $$tmp && dest=$$(realpath $(BIN)) && cd $$tmp && \
	  { apt-get download prometheus || { apt-get update && apt-get download prometheus; }; } && \
	  dpkg-deb -x prometheus_*.deb root && install -m 0755 root/usr/bin/promtool $$dest/promtool; \
	  rc=$$?; rm -rf $$tmp; exit $$rc; \
	fi

up: $(STAMP)
	@echo "==> matchgraph up: demo data if missing (with progress), Redis, one worker, the API"
	$(BIN)/matchgraph up

check: lint types test

lint: $(STAMP)
	@echo "==> lint (ruff)"
	$(BIN)/ruff check api graph jobs tests bench
	$(BIN)/ruff format --check api graph jobs tests bench

types: $(STAMP)
	@echo "==> types (mypy)"
	$(BIN)/mypy

test: $(STAMP) $(JS_STAMP) $(PROMTOOL)
	@echo "==> tests (pytest)"
	$(BIN)/pytest

schema: $(STAMP)
	$(BIN)/matchgraph export-schema --output schema.graphql

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(JS)/node_modules
