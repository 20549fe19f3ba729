# The two commands the README opens with. Each sets up .venv with Python 3.11 and what it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-live lint bench clean

# The hub, and its sandboxes and demo firm (their own distribution, not in the hub's wheel).
$(STAMP): pyproject.toml sandbox/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./sandbox
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/handoff-demo

test: $(STAMP)
	$(BIN)/ruff check src sandbox tests benchmarks
	$(BIN)/ruff format --check src sandbox tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2 --dist loadfile --durations=25 -m "not e2e"
	$(BIN)/pytest -q -n 2 --dist loadfile --durations=10 -m "e2e and not live"

# The Odoo contract suite and the month end to end against a real Odoo 18 on this machine
# (../shared/real-odoo/setup.sh installs it; without it this says loudly that it skipped).
test-live: $(STAMP)
	bash .ci/test-live

lint: $(STAMP)
	$(BIN)/ruff check src sandbox tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/ruff format --check src sandbox tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/engine_overhead.py
	$(BIN)/python benchmarks/ingestion.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache
