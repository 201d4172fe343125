# WhatsApp Gateway — developer commands. `make run` starts the product; `make test` runs the whole suite.
# The newest supported interpreter on PATH (3.13, 3.12, 3.11, then python3 if it is one of those). Each candidate is
# run, not just looked up: a pyenv shim exists for every version pyenv knows but fails unless that version is active.
SUPPORTED_PY = python3.13 python3.12 python3.11 python3
ifeq ($(origin PYTHON),undefined)
PYTHON := $(firstword $(foreach p,$(SUPPORTED_PY),$(shell $(p) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' >/dev/null 2>&1 && command -v $(p))))
endif
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS  ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=

.PHONY: install run test test-fast test-pg test-browser lint format check demo clean bench soak reliability security

$(STAMP): pyproject.toml clients/python/pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
	  if [ -z "$(PYTHON)" ]; then \
	    echo "No supported Python found: WhatsApp Gateway needs Python 3.11, 3.12 or 3.13 as python3.13, python3.12," \
	         "python3.11 or python3 on PATH (e.g. apt-get install python3, or pyenv install 3.13)," \
	         "or name one with make PYTHON=/path/to/python3.x" >&2; exit 1; fi; \
	  echo "Creating $(VENV) with $$($(PYTHON) -V) ($(PYTHON))"; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	@echo "Installing into $(VENV) ($$($(BIN)/python -V))"
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./clients/python
	touch $(STAMP)

install: $(STAMP)

## Start web + worker on http://127.0.0.1:8000 with the embedded defaults (SQLite, sandbox provider).
run: install
	$(BIN)/whatsapp-gateway run

## The whole suite on the embedded default (SQLite, Huey on SQLite / eager). Browser tests need /usr/bin/chromium.
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

## Everything except the browser tests.
test-fast: install
	$(BIN)/pytest -m "not browser" $(PYTEST_ARGS)

## The same suite against PostgreSQL + Redis.
test-pg: install
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) $(BIN)/pytest $(PYTEST_ARGS)

test-browser: install
	$(BIN)/pytest -m browser $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench clients/python
	$(BIN)/ruff format --check src tests bench clients/python
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format src tests bench clients/python
	$(BIN)/ruff check --fix src tests bench clients/python

check: install
	$(BIN)/whatsapp-gateway check

## Fault-injection (tests/reliability) and hostile-input (tests/security) suites; both also run in `make test`.
reliability: install
	$(BIN)/pytest -p no:randomly tests/reliability $(PYTEST_ARGS)

security: install
	$(BIN)/pytest -p no:randomly tests/security $(PYTEST_ARGS)

## A longer reliability run: GATEWAY_SOAK (5) times the messages, instances and worker kills, on PostgreSQL + Redis.
## The PostgreSQL restart runs on a private throw-away server; GATEWAY_RELIABILITY_PG_RESTART=1 also restarts the
## server at PG_URL (do not set it on a machine others are using).
soak: install
	GATEWAY_SOAK=$${GATEWAY_SOAK:-5} DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) \
		$(BIN)/pytest -p no:randomly tests/reliability $(PYTEST_ARGS)

demo: install
	$(BIN)/whatsapp-gateway demo

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
