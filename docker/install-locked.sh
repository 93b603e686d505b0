#!/bin/sh
# Install tweetbot with one extra into a new virtual environment, every package
# exactly as uv.lock pins it and hash-checked, nothing else. The trainer and MLflow
# images build with it, and tests/deploy/test_images.py runs it in a clean folder.
# Run from the project root with uv on PATH:
#
#   docker/install-locked.sh EXTRA VENV
#
# The venv's Python is uv's choice of 3.11 (a managed one where none is installed).
set -eu
extra=$1
venv=$2
requirements=$(mktemp)
trap 'rm -f "$requirements"' EXIT
uv export --frozen --no-dev --no-emit-project --extra "$extra" --quiet \
    --output-file "$requirements"
uv venv --quiet --python 3.11 "$venv"
uv pip install --quiet --python "$venv/bin/python" --no-deps --require-hashes \
    --requirement "$requirements"
uv pip install --quiet --python "$venv/bin/python" --no-deps .
