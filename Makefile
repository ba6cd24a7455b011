VENV ?= .venv
PY := $(VENV)/bin/python
BOT := $(VENV)/bin/helpdesk-bot
PORT ?= 8000

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# The lock: requirements.txt (what the bot runs on: the image installs it), requirements-dev.txt (that plus the
# dev tools and the build backend: `make install`), requirements-build.txt (the build backend alone, for the
# image). Every pin carries its hashes; `make lock` writes all three from pyproject.toml's ranges.
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_FLAGS)

# A fresh venv each time the lock changes, so nothing outside the lock survives in it.
$(VENV)/.installed: pyproject.toml requirements-dev.txt
	python3 -m venv --clear $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed ## Create .venv with exactly the locked versions, the bot itself editable

lock: install ## Re-resolve pyproject.toml into the hashed lock files (LOCK_FLAGS=--upgrade: newest allowed)
	$(PIP_COMPILE) -o requirements.txt pyproject.toml
	$(PIP_COMPILE) --extra dev --all-build-deps -c requirements.txt -o requirements-dev.txt pyproject.toml
	$(PIP_COMPILE) --only-build-deps --build-deps-for wheel -c requirements-dev.txt -o requirements-build.txt pyproject.toml

run: install ## Start web, worker and beat (embedded Redis and sandbox desks when not configured)
	$(BOT) up --port $(PORT)

test: install ## Run the test suite (uses the Redis on 127.0.0.1:6379 if one answers, else starts its own)
	$(VENV)/bin/pytest -q -m "not soak"

soak: install ## The long checks CI adds: intake fuzzed with 10,000 bodies per desk, benchmarks and round-robin at load
	HELPDESK_BOT_TEST_FUZZ_EXAMPLES=10000 $(VENV)/bin/pytest -q tests/test_intake_properties.py
	$(VENV)/bin/pytest -q -m soak

chaos: install ## Chaos run: kill the worker and Redis under signed traffic, check every ticket triaged once
	$(PY) -m tests.chaos.run

lint: install ## ruff and mypy, strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: install ## Run the benchmarks in tests/bench and print their figures
	$(PY) -m tests.bench.run_all

.PHONY: help install lock run test soak chaos lint bench
