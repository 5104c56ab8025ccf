# The README's commands. Each bootstraps what it needs: uv (into .tools/ when it is not on
# PATH), then the workspace environment from uv.lock.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)

.PHONY: up test lint setup clean

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet --disable-pip-version-check uv

.venv/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --all-packages
	touch $@

setup: .venv/.synced

up: setup
	$(UV) run --frozen mlconnector up

test: setup
	$(UV) run --frozen pytest

# The chaos test on the full month (CI runs it reduced, within `make test`), with its figures:
# counts per kind of record, cycles, faults and kills. CHAOS_SEED=N chooses another seed.
.PHONY: chaos
chaos: setup
	CHAOS_FULL=1 $(UV) run --frozen pytest -m chaos -s tests/chaos

# Figures, not tests: the mapper's events/s beside a bare nats-py loop (bench/mapper/run.py);
# st-ingest's backfill records/s beside a bare fetch -> publish loop, and calls/s (bench/ingest);
# audit's consume rate beside a bare nats-py loop and its page times at 100,000 records
# (bench/audit/run.py); the QBWC gateway under 50/200/500 concurrent Web Connectors
# (bench/gateway/run.py).
.PHONY: bench bench-gateway
bench: setup
	$(UV) run --frozen python -m bench.mapper $(BENCH_ARGS)
	$(UV) run --frozen python -m bench.ingest
	$(UV) run --frozen python -m bench.audit $(AUDIT_BENCH_ARGS)
	$(UV) run --frozen python -m bench.gateway $(GATEWAY_BENCH_ARGS)
	$(UV) run --frozen python -m bench.gateway.backlog

bench-gateway: setup
	$(UV) run --frozen python -m bench.gateway $(GATEWAY_BENCH_ARGS)
	$(UV) run --frozen python -m bench.gateway.backlog

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

clean:
	rm -rf .venv .tools
