#!/usr/bin/env bash
# Set up a virtual environment with the app, then start it (arguments go to imgfinder).
# This is the README's run command.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/imgfinder "$@"
