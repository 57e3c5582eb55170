#!/usr/bin/env bash
# Dependency drift: install the NEWEST versions pyproject.toml allows (no lock) into a scratch venv and run the tests
# of the LLM and answer paths there, so a breaking upstream release (openai moving to httpx2, say) shows up as a named
# failure here before users meet it. Prints what differs from requirements/lock.txt. Exit code: pytest's.
# Usage: bash scripts/drift.sh [PYTEST ARGS]   (.ci/run runs it when the lock is a week old or more)
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${CCHC_DRIFT_DIR:-$(mktemp -d)}"
python3 -m venv "$scratch/venv"
py="$scratch/venv/bin/python"
$py -m pip install -q --upgrade pip
$py -m pip install -q "torch==2.13.0"
$py -m pip install -q --upgrade --upgrade-strategy eager -e ".[test,llm]"
echo "== newest allowed versions that differ from requirements/lock.txt:"
$py -m pip freeze --exclude-editable | sort >"$scratch/newest.txt"
grep -v '^#' requirements/lock.txt | sort | comm -13 - "$scratch/newest.txt" | grep -v '^torch==' || echo "(none)"
# the models come from the project's own install (data/cache: scripts/test.sh puts them there); only packages differ
tests=(tests/bot/test_llm_faults.py tests/bot/test_llm_local.py tests/bot/test_chain.py tests/bot/test_extractive.py
       tests/app/test_api.py)
[ "$#" -gt 0 ] && tests=("$@")
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
$py -m pytest -q -p no:cacheprovider "${tests[@]}"
