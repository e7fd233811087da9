# The two commands: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Installs come from the locks, exact versions with hashes: a fresh machine gets what CI
# tested. `make lock` regenerates them from pyproject.toml; `make test-newest` tries the
# newest releases so a break is found by us first.
RUN_LOCK := requirements/run.lock
TEST_LOCK := requirements/test.lock
UV_VERSION := 0.13.10
HASH := $(shell cat pyproject.toml $(RUN_LOCK) $(TEST_LOCK) | sha1sum | cut -c1-12)
# `make run` needs only the package (wheels, nothing compiles: about a minute on a fresh machine);
# `make test` adds the dev tools and llama-cpp-python[server], which compiles from source once.
RUN_STAMP := $(VENV)/.run-$(HASH)
STAMP := $(VENV)/.installed-$(HASH)
PIP := pip install --quiet --disable-pip-version-check

.PHONY: run test setup lint typecheck pytest schema bench clean-venv browser spreadsheet lock test-newest test-lowest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): $(BIN)/python pyproject.toml $(RUN_LOCK)
	$(BIN)/$(PIP) --require-hashes --no-deps -r $(RUN_LOCK)
	$(BIN)/$(PIP) --no-deps -e .
	touch $(RUN_STAMP)

$(STAMP): $(BIN)/python pyproject.toml $(TEST_LOCK)
	$(BIN)/$(PIP) --require-hashes --no-deps -r $(TEST_LOCK)
	$(BIN)/$(PIP) --no-deps -e .
	$(BIN)/pip check --quiet >/dev/null || $(BIN)/pip check
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

# Two workers on two cores: most tests wait on subprocesses and servers (see README, Figures).
pytest: setup browser spreadsheet
	$(BIN)/python -m pytest -q -n auto --dist loadgroup

test: lint typecheck pytest

schema: setup
	$(BIN)/case-summarizer schema > schemas/case_report.schema.json

bench: setup
	for script in bench/clean.py bench/local_batch.py bench/batch_api.py bench/ingest_memory.py bench/local.py bench/review.py bench/pdf.py bench/request_tokens.py bench/startup.py bench/local_prefill.py bench/eval_scripted.py; do $(BIN)/python $$script || exit 1; done

clean-venv:
	rm -rf $(VENV)

# Both locks from pyproject.toml, for every platform (uv's universal resolution), with hashes;
# the run lock takes the test lock's versions, so `make run` and `make test` agree. Pins
# already in the lock are kept (a new dependency is added); `make lock UPGRADE=1` takes the
# newest releases (run `make test-newest` first).
lock: $(BIN)/python
	$(BIN)/$(PIP) uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra server --universal \
	  --python-version 3.11 --generate-hashes $(if $(UPGRADE),--upgrade) --quiet -o $(TEST_LOCK)
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	  --quiet -c $(TEST_LOCK) -o $(RUN_LOCK)

# The newest releases of every dependency, in a venv of their own, through the whole of
# `make test`'s checks; it first lists what differs from the lock. Green: `make lock` and commit.
NEWEST := .venv-newest
test-newest: browser spreadsheet
	rm -rf $(NEWEST) && $(PYTHON) -m venv $(NEWEST)
	$(NEWEST)/bin/$(PIP) --upgrade pip
	$(NEWEST)/bin/$(PIP) --upgrade --upgrade-strategy eager -e '.[dev,server]'
	$(NEWEST)/bin/python requirements/newer.py $(TEST_LOCK)
	$(NEWEST)/bin/ruff check . && $(NEWEST)/bin/ruff format --check .
	$(NEWEST)/bin/mypy
	$(NEWEST)/bin/python -m pytest -q -n auto --dist loadgroup

# The oldest releases pyproject.toml allows for each direct dependency, in a venv of their
# own, through pytest: the lower bounds users are promised are ones we tested.
LOWEST := .venv-lowest
test-lowest: browser spreadsheet $(BIN)/python
	rm -rf $(LOWEST) && $(PYTHON) -m venv $(LOWEST)
	$(BIN)/$(PIP) uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra server --universal \
	  --python-version 3.11 --resolution lowest-direct --quiet -o $(LOWEST)/lowest.txt
	$(LOWEST)/bin/$(PIP) --no-deps -r $(LOWEST)/lowest.txt
	$(LOWEST)/bin/$(PIP) --no-deps -e .
	$(LOWEST)/bin/python -m pytest -q -n auto --dist loadgroup
