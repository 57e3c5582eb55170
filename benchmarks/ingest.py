"""Ingest benchmark: full ingest of the pháp điển corpus vs raw ``encode`` of the same chunks.

    python benchmarks/ingest.py [--corpus ../shared/corpus/phapdien/corpus.jsonl] [--store DIR]

Prints chunks/s of the ingest (without the reader's sentence vectors, reported apart: their count, seconds and
sentences/s), raw encode throughput on the same chunk texts, their ratio (target >= 0.8) and the time of an
unchanged re-ingest as a fraction of the first (target <= 0.05).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest.pipeline import Ingestor
from settings import PROJECT_DIR, Settings
from vectorstore.embeddings import Embedder

DEFAULT_CORPUS = PROJECT_DIR.parent / "shared" / "corpus" / "phapdien" / "corpus.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--store", type=Path, help="store dir (default: a temporary one, removed after)")
    parser.add_argument("--limit", type=int, help="only the first N documents of the corpus (a quicker run)")
    args = parser.parse_args()
    if not args.corpus.exists():
        print(f"corpus not found: {args.corpus} (needs ../shared)", file=sys.stderr)
        return 2
    store_dir = args.store or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    if args.limit:
        subset = store_dir.parent / f"{store_dir.name}-first{args.limit}.jsonl"
        with args.corpus.open(encoding="utf-8") as src:
            subset.write_text("".join(line for _, line in zip(range(args.limit), src)), encoding="utf-8")
        args.corpus = subset
    settings = Settings.load(store_dir=store_dir)
    embedder = Embedder.from_settings(settings)
    embedder.embed_passages(["khởi động mô hình"])  # warm-up outside the timings

    ingestor = Ingestor(settings, embedder=embedder)
    ingestor.store.reset()
    first = ingestor.run([args.corpus])
    chunks = ingestor.store.all_chunks()
    embed_texts = [text for _, text in ingestor.store.embed_texts()]

    started = time.perf_counter()
    embedder.embed_passages(embed_texts, batch_size=settings.embedding_batch_size)
    raw_seconds = time.perf_counter() - started

    second = Ingestor(settings, embedder=embedder).run([args.corpus])
    chunk_seconds = first.seconds - first.sentences_seconds
    ingest_rate = first.chunks_added / chunk_seconds
    raw_rate = len(embed_texts) / raw_seconds
    figures = {
        "documents": first.documents,
        "chunks": len(chunks),
        "ingest_seconds": round(first.seconds, 1),
        "chunk_ingest_seconds": round(chunk_seconds, 1),
        "sentences": first.sentences_embedded,
        "sentence_seconds": round(first.sentences_seconds, 1),
        "sentences_per_s": round(first.sentences_embedded / max(first.sentences_seconds, 1e-9), 2),
        "ingest_chunks_per_s": round(ingest_rate, 2),
        "raw_encode_chunks_per_s": round(raw_rate, 2),
        "ratio_ingest_to_encode": round(ingest_rate / raw_rate, 3),
        "reingest_seconds": round(second.seconds, 2),
        "reingest_chunks_added": second.chunks_added,
        "reingest_fraction": round(second.seconds / first.seconds, 4),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    print(
        f"ingest {ingest_rate:.1f} chunks/s vs raw encode {raw_rate:.1f} chunks/s "
        f"-> ratio {figures['ratio_ingest_to_encode']}"
        f" (target >= 0.8); unchanged re-ingest {figures['reingest_fraction']:.3f} of first (target <= 0.05)"
    )
    if not args.store:
        shutil.rmtree(store_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
