"""Where the benchmarks keep their stores: one folder per corpus and embedding model (data/bench-stores/)."""

from __future__ import annotations

from pathlib import Path

from settings import DEFAULT_EMBEDDING_MODEL, PROJECT_DIR, Settings

STORES = PROJECT_DIR / "data" / "bench-stores"


def bench_store(corpus: str, settings: Settings) -> Path:
    """``phapdien`` for the default e5-small, ``phapdien-embeddinggemma@256`` for another model or size."""
    key = settings.embedding_key
    return STORES / (corpus if key == DEFAULT_EMBEDDING_MODEL else f"{corpus}-{key.replace('/', '_')}")
