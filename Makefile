# Every target creates .venv itself, so a fresh clone needs nothing but python3 (>= 3.11).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml clients/python/pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint audit fuzz load webhook-load bench bench-embedded bench-peer bench-instructions bench-quick package deploy-lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e clients/python  # the server, and cnx
	rm -f $(VENV)/.installed-* && touch $@

run: venv  ## serve on the embedded default (SQLite + ./.cloudnexus/) at http://$(HOST):$(PORT)
	$(BIN)/cloudnexus serve --host $(HOST) --port $(PORT)

TEST_WORKERS ?= 2
test: venv  ## the whole test suite in TEST_WORKERS processes (needs PostgreSQL at 127.0.0.1:5432, as on the dev and CI machines)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: venv  ## ruff (with the cold-start rule, TID253) and mypy --strict on the package, the clients and the tests; bandit (medium and high) on the package
	$(BIN)/ruff check src tests main.py bench clients/python
	$(BIN)/mypy --strict src main.py
	$(BIN)/mypy --strict clients/python/src
	$(BIN)/bandit -q -r src main.py -ll

audit: venv  ## pip-audit of the installed dependencies (needs PyPI's JSON API or OSV: not in CI here)
	$(BIN)/pip-audit --skip-editable --strict

fuzz: venv  ## the long form of the fuzzing: 150 examples per operation and per property
	FUZZ_EXAMPLES=150 $(BIN)/python -m pytest -q tests/test_openapi_fuzz.py tests/test_properties.py

load: venv  ## 50 clients of mixed work for 60 s on uvicorn + PostgreSQL + moto, then on the embedded default (SQLite + local folder), each audited
	$(BIN)/python -m bench.load --clients 50 --seconds 60

webhook-load: venv  ## 10,000 changes on the embedded default, each event delivered to a loopback receiver: none lost, repeats only retries (about 20 min on 2 shared cores)
	$(BIN)/python -m bench.webhook_load --changes 10000

bench-embedded: venv  ## the embedded default's write throughput beside PostgreSQL's (16 clients); merged into bench/results.json
	$(BIN)/python -m bench.embedded

bench-peer: venv  ## side by side with a running Supabase Storage (PEER_URL, PEER_JWT_SECRET: bench/peer/__init__.py); skips without one
	$(BIN)/python -m bench.peer

bench-instructions: venv  ## instructions per 1 KiB upload under valgrind, for trying a change (BASELINE=<commit> beside it); printed only
	$(BIN)/python -m bench.instructions $(if $(BASELINE),--baseline $(BASELINE))

bench: venv  ## benchmarks with targets (PostgreSQL at 127.0.0.1:5432); writes bench/results.json
	$(BIN)/python -m bench

bench-quick: venv  ## the same on 100,000 files, for trying
	$(BIN)/python -m bench --quick

package: venv  ## dist/deployment.zip for Lambda (arm64; PYTHON_VERSION=3.14)
	PYTHON=$(BIN)/python deploy/package.sh --python $(or $(PYTHON_VERSION),3.14)

deploy-lint:  ## cfn-lint and checkov on deploy/template.yaml (own venv: .venv-deploy)
	bash deploy/lint.sh

clean:
	rm -rf $(VENV) .cloudnexus dist build .pytest_cache
