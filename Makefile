# caremesh — `make run` to try it, `make test` to check everything.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV_HOME := .uv
UV := $(UV_HOME)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

export UV_PYTHON_DOWNLOADS := never

.PHONY: install install-dev run test lint test-sqlite test-postgres test-api-schema bench clean

$(UV):
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# The runtime alone for `make run`; the test and lint tools only for `make test` (dependency group `dev`).
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --no-dev --python $(PYTHON)
	@rm -f $(VENV)/.installed-dev
	@touch $@

$(VENV)/.installed-dev: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@rm -f $(VENV)/.installed
	@touch $@

install: $(VENV)/.installed ## create .venv and install the locked runtime dependencies

install-dev: $(VENV)/.installed-dev ## the runtime plus the test and lint tools

run: install ## migrate, seed demo data and serve on the embedded default (SQLite, in-process events)
	$(BIN)/caremesh serve --demo --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

# The suite runs in parallel workers (pytest-xdist), each on its own database; TEST_WORKERS=0 runs it in one
# process. Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set: each worker would compile every module.
TEST_WORKERS ?= auto
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

test-sqlite: install-dev
	$(PYTEST)

test-postgres: install-dev
	@if [ -n "$$CAREMESH_TEST_DATABASE_URL" ]; then \
		echo "== the suite again on PostgreSQL ($$CAREMESH_TEST_DATABASE_URL)"; \
		$(PYTEST); \
	else \
		echo "== CAREMESH_TEST_DATABASE_URL is not set: PostgreSQL run skipped (.ci/run sets it)"; \
	fi

# Schemathesis over the whole OpenAPI document, in process on SQLite, derandomized (a few minutes).
test-api-schema: install-dev
	CAREMESH_SCHEMATHESIS=1 CAREMESH_TEST_DATABASE_URL= $(BIN)/pytest tests/api_schema

test: lint ## lint, import contracts, the suite on SQLite and (when configured) on PostgreSQL, schemathesis
	CAREMESH_TEST_DATABASE_URL= $(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres
	$(MAKE) --no-print-directory test-api-schema

bench: install-dev ## booking throughput through the API vs direct driver inserts, on SQLite and PostgreSQL
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(UV_HOME) .pytest_cache .ruff_cache
