# The two commands: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
# `make run` needs only the package (wheels, nothing compiles: about a minute on a fresh machine);
# `make test` adds the dev tools and llama-cpp-python[server], which compiles from source once.
RUN_STAMP := $(VENV)/.run-$(HASH)
STAMP := $(VENV)/.installed-$(HASH)

.PHONY: run test setup lint typecheck pytest schema bench clean-venv browser spreadsheet

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,server]'
	touch $(STAMP) $(RUN_STAMP)

setup: $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/case-summarizer summarize examples/leiomyosarcoma-cervical-spine.txt

# Headless Chromium for the HTML-output and review-page tests (Debian package; skipped where apt is unavailable).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: the browser test will be skipped"; }

# LibreOffice Calc, headless, for the review table's spreadsheet round-trip test (Debian
# package; the test is skipped where apt is unavailable).
spreadsheet:
	@command -v soffice >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-calc-nogui >/dev/null) \
	  || echo "libreoffice not installed: the spreadsheet round-trip test will be skipped"; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup browser spreadsheet
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

schema: setup
	$(BIN)/case-summarizer schema > schemas/case_report.schema.json

bench: setup
	for script in bench/clean.py bench/local_batch.py bench/batch_api.py bench/ingest_memory.py bench/local.py; do $(BIN)/python $$script || exit 1; done

clean-venv:
	rm -rf $(VENV)
