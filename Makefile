VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export RENKEI_CORPUS_DIRS ?= ["corpus/sample"]
# axe-core (npm) for the browser accessibility test, installed into the git-ignored .tools/.
AXE_VERSION := 4.14.1
AXE := .tools/node_modules/axe-core/axe.min.js

.PHONY: setup run test lint ingest eval bench clean axe

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# CPU torch first so that nothing pulls the CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q torch==2.13.0 -e '.[test,lint]'
	# GiNZA NER (records/ner.py): ja-ginza pins sudachipy<0.7, the project's SudachiPy 0.7.0 runs it.
	$(PIP) install -q --no-deps ginza==5.3.0 ja-ginza==5.3.0
	touch $(STAMP)

axe: $(AXE)

$(AXE):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-save --no-audit --no-fund --prefix .tools axe-core@$(AXE_VERSION); \
	else echo "npm not found: the accessibility test will be skipped"; fi

ingest: setup
	$(VENV)/bin/renkei ingest

run: ingest
	$(VENV)/bin/renkei serve --host $(HOST) --port $(PORT)

test: setup axe
	$(PY) -m pytest -q $(PYTEST_ARGS)

# Formatting and lint (ruff, the whole tree) and types (mypy --strict on the library packages, see pyproject.toml).
lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

eval: setup
	$(VENV)/bin/renkei eval api/bench/questions/dev.yaml

bench: setup
	$(VENV)/bin/renkei bench --json

clean:
	rm -rf var .pytest_cache .tools .ruff_cache .mypy_cache
