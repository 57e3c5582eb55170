"""Where the benchmarks keep their stores: one folder per corpus and embedding model (data/bench-stores/)."""

from __future__ import annotations

from pathlib import Path

from settings import E5_SMALL, PROJECT_DIR, Settings

STORES = PROJECT_DIR / "data" / "bench-stores"


def bench_store(corpus: str, settings: Settings) -> Path:
    """``phapdien`` for e5-small (the stores' first model), ``phapdien-embeddinggemma@256`` for another one."""
    key = settings.embedding_key
    return STORES / (corpus if key == E5_SMALL else f"{corpus}-{key.replace('/', '_')}")
