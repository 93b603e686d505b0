# The two commands of the README; each does its own set-up on a fresh machine.
#   make demo   train on the sample corpus end to end and print generated tweets
#   make test   the whole test suite (what CI runs)

PYTHON ?= python3.11
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV_PY := .venv/bin/python
DEMO_DIR := .tweetbot/demo
export UV_PYTHON_DOWNLOADS := never
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup demo test clean

setup: .venv/.synced

# uv lives in its own small venv so `uv sync` never removes it from .venv.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	touch $@

test: setup
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(VENV_PY) -m training.sample_corpus $(DEMO_DIR)/raw.csv
	$(VENV_PY) -m training.split $(DEMO_DIR)/raw.csv $(DEMO_DIR)/splits
	rm -rf $(DEMO_DIR)/base
	$(VENV_PY) -m training.train --checkpoint-dir $(DEMO_DIR)/base --data-dir $(DEMO_DIR)/splits \
		--batch-size 32 --seq-len 64 --embedding-size 32 --rnn-size 128 --optimizer adam \
		--learning-rate 0.005 --num-epochs 6 --seed 7 --run-name demo
	$(VENV_PY) -m training.generate --checkpoint-dir $(DEMO_DIR)/base -n 5 --temperature 0.7 --seed 7

clean:
	rm -rf .venv $(TOOLS) .tweetbot .pytest_cache
