#!/usr/bin/env bash
# Refresh requirements/lock.txt: resolve every extra we install (base, test, llm, server, train, eval) to the newest
# versions pyproject.toml allows, in a scratch venv, and freeze them. pyproject.toml says what we support; the lock
# says what we tested. Run it, then bash scripts/test.sh, then commit the lock with what the tests needed.
# Usage: bash scripts/lock.sh            (torch stays pinned in pyproject.toml to the CPU wheel, outside the lock)
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
pip="$scratch/venv/bin/python -m pip"
$pip install -q --upgrade pip
$pip install -q "torch==2.13.0"   # the CPU wheel first, so nothing pulls a CUDA build
$pip install -q -e ".[test,llm,server,train,eval]"
{
  echo "# Every Python package the project installs, at the versions its tests passed with (all extras)."
  echo "# Made by: bash scripts/lock.sh on $(date -u +%Y-%m-%d) with $($scratch/venv/bin/python -V)."
  echo "# Used as pip constraints by scripts/install.sh (and so scripts/test.sh, .ci/run, deploy/Dockerfile)."
  echo "# torch is pinned in pyproject.toml (torch==2.13.0, the CPU wheel), not here."
  $pip freeze --all --exclude-editable | grep -viE '^(torch|cchc-chatbot)[ =@]'
} > requirements/lock.txt
echo "wrote requirements/lock.txt ($(grep -vc '^#' requirements/lock.txt) packages)"
