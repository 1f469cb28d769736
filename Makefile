# Two commands set everything up: `make run` (the embedded stack) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install run test test-postgres lint demo histories clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

run: install
	$(BIN)/disputeflow up

test: install
	$(BIN)/pytest

# The database-backed tests again, on PostgreSQL through the Alembic migrations.
test-postgres: install
	DISPUTEFLOW_TEST_POSTGRES_URL=$(PG_TEST_URL) $(BIN)/pytest tests/workflows tests/e2e tests/db

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .

demo: install
	$(BIN)/disputeflow load-demo

# Re-record the workflow histories the replay test checks (after a deliberate, patched change).
histories: install
	$(BIN)/python -m tests.histories.record

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
