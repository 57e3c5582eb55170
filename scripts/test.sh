#!/usr/bin/env bash
# Install everything the tests need (Chromium, PostgreSQL and nginx from Debian, the test + llm + server extras, the 0.5B
# LLM, EmbeddingGemma -- whose Gemma Terms of Use the team has accepted for CI), then run ruff, mypy and pytest.
# The shared-store tests start their own PostgreSQL cluster, Chroma server and nginx on loopback (tests/servers.py).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
if [ -n "$missing" ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
bash scripts/install.sh --accept-gemma-terms test,llm,server
# CCHC_REQUIRE_TOOLS: Chromium, PostgreSQL, nginx, the chroma CLI, the local LLM and EmbeddingGemma were all installed
# above, so every test that needs one must run: a missing tool fails the run, never skips
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False CCHC_REQUIRE_TOOLS=1
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
