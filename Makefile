# paybill developer entry points. `make run` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SPECS ?= specs

.PHONY: run test lint bench install install-test schemas clean mutate

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"

run: install
	$(BIN)/paybill compile $(SPECS)

# the suite on two pytest-xdist workers (CI has two cores); PostgreSQL tests stay on one of them
# (tests/conftest.py). `make test PYTEST_WORKERS=0` runs it in one process.
PYTEST_WORKERS ?= 2

test: install-test install-checkov install-node-example
	$(BIN)/ruff check compiler tests benchmarks tools
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup

lint: install-test
	$(BIN)/ruff check compiler tests benchmarks tools
	$(BIN)/lint-imports
	$(BIN)/mypy

schemas: install
	$(BIN)/paybill schema --out schemas

# the sizes bench_incremental compiles: 10k (full, unchanged, identity, label and plan edits), then 30k
# and 100k (full compile: time, peak memory, floor). `make bench BENCH_SIZES=10000` is the quick run.
BENCH_SIZES ?= 10000,30000,100000

bench: install-test
	BENCH_SIZES=$(BENCH_SIZES) $(BIN)/python benchmarks/run.py

# single-point mutation testing of the guard runtime (docs/guard.md); slow, so not part of `make test`
# shadow_report.py is left out: it summarises shadow logs for people (no decision depends on it) and
# its tests (tests/authzen/test_authzen_cli.py) run the command as a user does, outside tests/guard.
GUARD_MODULES := $(filter-out %/__init__.py %/db.py %/shadow_report.py %/guard/files.py,$(wildcard compiler/paybill/guard/*.py)) compiler/paybill/contract/files.py
mutate: install-test
	$(BIN)/python tools/mutate.py $(GUARD_MODULES) --tests tests/guard -j 2

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(NODE_EXAMPLE)/node_modules .pytest_cache .ruff_cache .hypothesis .bench .import_linter_cache .mypy_cache

# the TypeScript agent example (official MCP TypeScript SDK) that tests/serve runs under Node 20
NODE_EXAMPLE := examples/typescript-agent
.PHONY: install-node-example
install-node-example: $(NODE_EXAMPLE)/node_modules/.package-lock.json
$(NODE_EXAMPLE)/node_modules/.package-lock.json: $(NODE_EXAMPLE)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "need node 20 and npm on PATH (tests/serve runs the TypeScript example)"; exit 2; }
	cd $(NODE_EXAMPLE) && npm ci --no-audit --no-fund --loglevel=error

# checkov lives in its own venv (its pins conflict with ours); tests/terraform/test_checkov.py runs it.
CHECKOV_VENV ?= .venv-checkov
.PHONY: install-checkov
install-checkov: $(CHECKOV_VENV)/bin/checkov
$(CHECKOV_VENV)/bin/checkov: tools/checkov-requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r tools/checkov-requirements.txt
	@touch $@
