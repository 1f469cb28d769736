# Two commands set everything up: `make run` (the embedded stack) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install browser documents identity run test test-postgres lint demo histories bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# Browser tests drive Debian's Chromium through Playwright; never a downloaded browser.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  (apt-get install -y -q chromium chromium-driver || \
	   (apt-get update -q && apt-get install -y -q chromium chromium-driver)) >/dev/null; }

# Credit memo PDFs are printed by WeasyPrint through Debian's Pango; the tests read them back
# with pdftotext (poppler-utils).
documents:
	@{ ldconfig -p | grep -q libpango-1.0 && command -v pdftotext >/dev/null 2>&1; } || { \
	  echo "Installing Debian's Pango and poppler-utils for credit memo PDFs"; \
	  (apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 poppler-utils || \
	   (apt-get update -q && apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 \
	    poppler-utils)) >/dev/null; }

# The single sign-on tests sign in through a real OpenID provider (the npm package
# oidc-provider, at the version its lockfile pins) run by Node.js.
OIDC_DIR := tests/support/oidc
identity: $(OIDC_DIR)/node_modules/.package-lock.json

$(OIDC_DIR)/node_modules/.package-lock.json: $(OIDC_DIR)/package-lock.json
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
	  echo "Installing Debian's Node.js for the identity provider the tests sign in through"; \
	  (apt-get install -y -q nodejs npm || \
	   (apt-get update -q && apt-get install -y -q nodejs npm)) >/dev/null; }
	cd $(OIDC_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: install documents
	$(BIN)/disputeflow up

test: install browser identity documents
	$(BIN)/pytest

# The database-backed tests again, on PostgreSQL through the Alembic migrations.
test-postgres: install identity documents
	DISPUTEFLOW_TEST_POSTGRES_URL=$(PG_TEST_URL) $(BIN)/pytest tests/workflows tests/e2e tests/db tests/faults

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .

demo: install
	$(BIN)/disputeflow load-demo

# Record the workflow's histories under a new name for the replay test (after a deliberate,
# patched change): make histories VERSION=v6
histories: install
	@test -n "$(VERSION)" || { echo "say which: make histories VERSION=v6"; exit 2; }
	$(BIN)/python -m tests.histories.record $(VERSION)

bench: install
	$(BIN)/python bench/bench_queries.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
