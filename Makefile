# The two commands of the README; each does its own set-up on a fresh machine.
#   make demo   run both DAGs end to end on the sample corpus; print the champion and tweets
#   make test   lint (ruff, the import layers), build the docs site, then the whole test suite
#               (what CI runs)
#   make docs   the documentation site, into .tweetbot/site
#   make bench  speed and memory against the tutorial's pipeline; writes benchmarks/RESULTS.md

PYTHON ?= python3.11
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV_PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never
export TF_CPP_MIN_LOG_LEVEL ?= 2
export NO_MKDOCS_2_WARNING := 1
MERMAID_JS := docs/javascripts/mermaid.min.js

.PHONY: setup demo test docs bench stack-up stack-down clean

setup: .venv/.synced

# uv lives in its own small venv so `uv sync` never removes it from .venv.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --compile-bytecode --python $(PYTHON)
	touch $@

test: setup $(MERMAID_JS)
	.venv/bin/ruff check .
	PYTHONPATH=dags:plugins .venv/bin/lint-imports
	.venv/bin/mkdocs build --strict --quiet
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

# The documentation site, into .tweetbot/site (`.venv/bin/mkdocs serve` to browse it).
docs: setup $(MERMAID_JS)
	.venv/bin/mkdocs build --strict

# Mermaid's browser bundle, from the npm registry, checked against a pinned SHA-256.
$(MERMAID_JS): docs/fetch_mermaid.py
	$(PYTHON) docs/fetch_mermaid.py

demo: setup
	$(VENV_PY) -m training.demo $(DEMO_ARGS)

# About four hours on two cores (search_quality three of them); BENCH_ARGS="--quick" checks it runs in minutes.
bench: setup
	$(VENV_PY) -m benchmarks.run $(BENCH_ARGS)

# The full stack as processes on this machine (PostgreSQL, S3, MLflow server,
# Airflow's services); prints the UI addresses. See README "The full stack".
stack-up: setup
	$(VENV_PY) -m training.stack up $(STACK_ARGS)

stack-down: setup
	$(VENV_PY) -m training.stack down $(STACK_ARGS)

clean:
	rm -rf .venv $(TOOLS) .tweetbot .pytest_cache
