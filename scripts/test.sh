#!/usr/bin/env bash
# Set up a virtual environment with the app and its test tools, then run every test.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet -e ".[test]"
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
