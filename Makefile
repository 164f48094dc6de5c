# make demo · make test · make bench: each sets up .venv on a fresh machine first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
PROJECTS := pyproject.toml $(wildcard plugins/*/pyproject.toml) tests/connectors/pyproject.toml
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
LINTED := host tests bench scripts $(PLUGINS)

.PHONY: setup test lint demo bench screenshots clean

setup: $(STAMP)

# Reinstalls only when a pyproject.toml changed; the code itself is installed editable.
$(STAMP): $(PROJECTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade "pip>=23" "hatchling>=1.18" "editables>=0.5"
	$(PIP) install --no-build-isolation -e ".[test]" $(addprefix -e ,$(PLUGINS)) -e tests/connectors
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n auto --dist worksteal

demo: $(STAMP)
	$(BIN)/ihost demo

bench: $(STAMP)
	$(BIN)/python -m bench

# the README's pictures of the dashboard (needs Debian's chromium)
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
