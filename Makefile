# One entry point for people and CI. `make up` runs everything locally on
# embedded defaults; `make check` runs every check (lint, types, schema, tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up check lint types test schema bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/matchgraph up

check: lint types test

lint: $(STAMP)
	$(BIN)/ruff check api graph jobs tests bench
	$(BIN)/ruff format --check api graph jobs tests bench

types: $(STAMP)
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/pytest

schema: $(STAMP)
	$(BIN)/matchgraph export-schema --output schema.graphql

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
