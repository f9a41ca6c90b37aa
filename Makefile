# aiod-kg -- every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install serve test lint format bench generate clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch before sentence-transformers: this pin takes the CPU wheel (else a multi-GB CUDA one)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	# the light client (clients/python) first: the server's [client] extra then finds it here
	$(BIN)/python -m pip install --quiet -e ./clients/python
	$(BIN)/python -m pip install --quiet -e ".[test,client]"
	$(BIN)/python tests/support/xsd_fetch.py $(VENV)/share/xsd
	# MiniLM's ONNX export (int8), made once from the shipped weights into the model cache
	$(BIN)/python -m kg.search.embed_onnx
	touch $(STAMP)

# the OIDC provider (npm oidc-provider) that tests/api/auth/test_oidc_provider.py starts on loopback;
# skipped when installed (or when Node.js is missing: that test then skips)
OIDC_STAMP := tests/oidc/node_modules/.installed
$(OIDC_STAMP): tests/oidc/package-lock.json
	if command -v npm >/dev/null 2>&1; then \
	  (cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed) \
	  || echo "WARNING: npm ci failed in tests/oidc: the OIDC provider test will be skipped"; \
	else echo "npm not found: the OIDC provider test will be skipped"; fi

install: $(STAMP) $(OIDC_STAMP)

serve: install
	$(BIN)/aiod-kg serve --demo

# the catalogue index, access tables, catalog, harvest lease and other state again on PostgreSQL
PG_TESTS = tests/kg/test_catalog.py tests/kg/store/test_concurrency.py \
	tests/kg/access/test_access.py tests/kg/test_contact_details_store.py \
	tests/kg/harvest/test_harvest_lease.py tests/kg/sync/test_sync_state.py tests/kg/linking \
	tests/kg/files tests/kg/quality

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)
	$(BIN)/python -m pytest -q -p no:cacheprovider --database=postgresql $(PG_TESTS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/rest.py

generate: install
	$(BIN)/aiod-kg generate

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
