#!/usr/bin/env bash
# Install everything the tests need (Chromium from Debian, the test + llm extras, the 0.5B LLM, EmbeddingGemma --
# whose Gemma Terms of Use the team has accepted for CI), then run ruff, mypy and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi
fi
bash scripts/install.sh --accept-gemma-terms test,llm
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
if .venv/bin/python -c "import xllamacpp" 2>/dev/null; then
  .venv/bin/python -m bot.models install-llm --size 0.5b
fi
# lint, format and types first: a failure here fails CI like a failing test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
set +e
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" = 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; exit 1; fi
exit "$rc"
