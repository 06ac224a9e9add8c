# The Experience Plane. `make` (or `make help`) lists the targets.
# Every target creates the virtual environment first, so each works from a fresh clone.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
GRAPHIQL       := web/graphiql
GRAPHIQL_BUILT := src/experience_plane/graphiql/static/manifest.json

.DEFAULT_GOAL := help
.PHONY: help install graphiql run test lint typecheck pytest frontend format schema bench soak clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP) $(GRAPHIQL_BUILT) ## Create .venv, install the project with its dev tools, build GraphiQL

# GraphiQL's assets come from the npm registry through web/graphiql's lockfile; without Node the
# API says on /graphql that they were not built, and this says it here.
$(GRAPHIQL_BUILT): $(GRAPHIQL)/package-lock.json $(GRAPHIQL)/build.mjs $(wildcard $(GRAPHIQL)/src/*)
	@if command -v npm >/dev/null 2>&1; then \
		cd $(GRAPHIQL) && npm ci --no-audit --no-fund && npm run build; \
	else \
		echo "*** Node.js is not installed: GraphiQL's assets were NOT built. Install Node 20+ and run 'make graphiql'."; \
	fi

graphiql: ## Build GraphiQL's assets from web/graphiql (npm ci + esbuild; needs Node 20+)
	rm -f $(GRAPHIQL_BUILT)
	$(MAKE) --no-print-directory $(GRAPHIQL_BUILT)

run: $(STAMP) $(GRAPHIQL_BUILT) ## Run the API with the reference Runtime (PORT=8000 RUNTIME_PORT=8001 to move them)
	$(BIN)/experience-plane dev $(if $(PORT),--port $(PORT)) $(if $(RUNTIME_PORT),--runtime-port $(RUNTIME_PORT))

test: lint typecheck pytest ## Lint, type-check and run the whole test suite (what CI runs)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP) ## mypy --strict over src/
	$(BIN)/mypy src

# Two workers, whole files each, so a module's shared processes start once: most tests wait on
# real processes rather than compute, so two workers roughly halve the time even on two cores.
pytest: $(STAMP) $(GRAPHIQL_BUILT) ## The test suite alone (tests/frontend needs Node.js 20+; says loudly when absent)
	$(BIN)/pytest -q -n 2 --dist loadfile

frontend: $(STAMP) ## The frontend tests alone: real JavaScript clients and headless Chromium
	$(BIN)/pytest -q tests/frontend

format: $(STAMP) ## Format and autofix the code
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

schema: $(STAMP) ## Re-export schema/schema.graphql and schema/possible-types.json from the code
	$(BIN)/experience-plane export-schema --output schema/schema.graphql \
		--possible-types schema/possible-types.json

bench: $(STAMP) ## Run every benchmark and print its figures (BENCH_ARGS="--quick" or "--only NAME")
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@# wrk (Debian's) is the query benchmark's load generator; without it, an aiohttp one is used.
	@if ! command -v wrk >/dev/null; then \
		sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo"; fi; \
		$$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends wrk \
			|| echo "*** wrk could not be installed: bench/query_overhead.py falls back to aiohttp"; \
	fi
	$(BIN)/python bench/run.py $(BENCH_ARGS)

soak: $(STAMP) ## Soak: Runtime faults, a frozen Runtime, rolling restart of 2 replicas (~6 min; SOAK_ARGS="--quick")
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
