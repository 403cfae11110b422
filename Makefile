# relaydesk: `make run` sets up and runs the product; `make test` sets up and runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck imports pytest lock clean bench

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/relaydesk init --demo
	$(BIN)/relaydesk serve

lint: install
	$(BIN)/ruff check bots tickets knowledge drafting tests bench

typecheck: install
	$(BIN)/mypy bots tickets knowledge drafting

imports: install
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest -q -p no:cacheprovider

test: lint typecheck imports pytest

# Regenerate the lock file from pyproject.toml (run after changing dependencies).
lock:
	rm -rf .lockenv
	$(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade "pip>=24"
	.lockenv/bin/python -m pip install --quiet ".[dev]"
	.lockenv/bin/python -m pip freeze --exclude relaydesk | grep -v '^-e' > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .relaydesk .mypy_cache .ruff_cache
