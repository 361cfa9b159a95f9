# The README's two commands: `make start` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PRISM := tests/prism/node_modules/.bin/prism
CHROMIUM := /usr/bin/chromium
NGINX := /usr/sbin/nginx
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install start test test-dates lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Prism (a mock of Twilio's API from its OpenAPI description) for the provider tests.
$(PRISM): tests/prism/package.json tests/prism/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/prism --ignore-scripts --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm not found: the tests against Prism will be skipped"; \
	fi

# Debian's Chromium (and a CJK font for readable screenshots) for the browser tests;
# Playwright drives it through executable_path, never `playwright install`.
$(CHROMIUM):
	@if command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-zenhei) \
			|| echo "chromium could not be installed: the browser tests will be skipped"; \
	else \
		echo "apt-get not found: the browser tests will be skipped"; \
	fi

# The reverse proxy of the production recipe (docs/deployment.md), which the faults
# tier runs; Debian's nginx-light is enough (config/nginx.conf).
$(NGINX):
	@if command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && apt-get install -y -qq nginx-light) \
			|| echo "nginx could not be installed: the nginx faults test will be skipped"; \
	else \
		echo "apt-get not found: the nginx faults test will be skipped"; \
	fi

install: $(STAMP)

start: $(STAMP)
	HOST=$(HOST) PORT=$(PORT) scripts/start

test: $(STAMP) $(PRISM) $(CHROMIUM) $(NGINX)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

# The unit and integration tiers on SQLite with every process's wall clock moved to
# instants that have broken date logic before (scripts/test-dates lists them).
test-dates: $(STAMP)
	scripts/test-dates

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Benchmarks need the local PostgreSQL (scratch databases are created and dropped)
# and wrk, a Debian package, for the webhook load.
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.formation
	$(BIN)/python -m bench.roster_import
	$(BIN)/python -m bench.grammar
	$(BIN)/python -m bench.dispatcher
	$(BIN)/python -m bench.webhook
	$(BIN)/python -m bench.admin
	$(BIN)/python -m bench.mainland
	$(BIN)/python -m bench.scheduler
	$(BIN)/python -m bench.rollups
	$(BIN)/python -m bench.rollups_page
	$(BIN)/python -m bench.escalation

clean:
	rm -rf $(VENV) tests/prism/node_modules instance/*.db test-artifacts
