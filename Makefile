# Two commands on a fresh machine (each creates the environment first):
#   make live   - the live retrieval window on the built-in simulated armband
#   make test   - the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: live test test-all lint bench env clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24" -c constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

env: $(STAMP)

live: $(STAMP)
	$(BIN)/myostream live

test: $(STAMP) lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m "not slow"

# ruff (lint + format check) and mypy on the package (pyproject.toml holds their settings)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-all: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/myostream report bench all

clean:
	rm -rf $(VENV) build *.egg-info
