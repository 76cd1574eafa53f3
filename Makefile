# make run  : install into .venv, create ./callvault-home with the demo, serve http://127.0.0.1:8000
# make test : lint, type-check and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOME_DIR ?= callvault-home
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck unit bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "callvault needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	@if [ ! -f "$(HOME_DIR)/callvault.toml" ]; then \
		CALLVAULT_HOME=$(HOME_DIR) $(BIN)/callvault init --demo; \
	else echo "using the existing home $(HOME_DIR)"; \
		CALLVAULT_HOME=$(HOME_DIR) $(BIN)/callvault check --repair; fi
	CALLVAULT_HOME=$(HOME_DIR) $(BIN)/callvault serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q -n auto --dist loadgroup

test: lint typecheck unit

bench: install
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_audit.py
	$(BIN)/python bench/bench_policy.py
	$(BIN)/python bench/bench_vault.py
	$(BIN)/python bench/bench_playback.py
	$(BIN)/python bench/bench_search_load.py
	$(BIN)/python bench/bench_demand.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
