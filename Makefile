VENV ?= .venv
PY := $(VENV)/bin/python
BOT := $(VENV)/bin/helpdesk-bot
PORT ?= 8000

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## Create .venv and install the bot with its dev tools

run: install ## Start web, worker and beat (embedded Redis and sandbox desks when not configured)
	$(BOT) up --port $(PORT)

test: install ## Run the test suite (uses the Redis on 127.0.0.1:6379 if one answers, else starts its own)
	$(VENV)/bin/pytest -q

chaos: install ## Chaos run: kill the worker and Redis under signed traffic, check every ticket triaged once
	$(PY) -m tests.chaos.run

lint: install ## ruff and mypy, strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: install ## Run the benchmarks in tests/bench and print their figures
	$(PY) -m tests.bench.run_all

.PHONY: help install run test chaos lint bench
