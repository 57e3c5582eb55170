"""Adapt the embedding model to an ingested corpus, offline: ``python -m workshop.finetune --store DIR``.

No labelled questions are used. Training pairs come from the store itself:

* title pairs: an article's distinctive title (numbering such as "Điều 15.1.NĐ.3." removed) as the query, the
  article's first chunk *without* its title as the passage -- so the model learns what a short topic phrase is
  about, not to copy words;
* diacritic-free copies of those titles, so text typed without marks lands where the marked text does;
* inverse-cloze pairs: one sentence of a chunk as the query, the rest of the chunk (with its title, as at
  search time) as the passage.

The loss is in-batch multiple-negatives ranking (each query against every passage of its batch) on the e5
prompts. Only the top ``train_layers`` encoder layers learn; the embeddings (250k x 384) and the lower layers stay
frozen, which keeps the run cheap on a CPU (pháp điển, 6k pairs: 29 min on 2 cores) and the vocabulary intact.
Measured on the citizen questions it did not help (see the README); it is kept as a tool for other pair recipes.

The result is an ordinary sentence-transformers folder; point ``embedding_model`` at it and re-ingest (the store
refuses vectors from another model).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from settings import Settings
from vectorstore.embeddings import Embedder
from vectorstore.store import Store, StoredChunk
from vectorstore.text import fold, normalize, words
from vectorstore.text import sentences as split_sentences

log = logging.getLogger(__name__)

_ARTICLE_NO = re.compile(r"\bĐiều\s+[\dA-Za-zĐđ]+(?:\.[\dA-Za-zĐđ]+)*\.?\s*", re.UNICODE)
MIN_TITLE_WORDS = 3
MIN_SENTENCE_WORDS = 6


@dataclass(frozen=True)
class Pair:
    query: str
    passage: str
    source: str  # "title", "title_folded" or "cloze"


def title_query(title: str) -> str:
    """The topic words of a title: article numbering and separators removed."""
    text = _ARTICLE_NO.sub(" ", normalize(title))
    text = re.sub(r"\s*[–—-]\s*$|^\s*[–—-]\s*", "", text.strip())
    return re.sub(r"\s+", " ", text).strip(" .–—-")


def make_pairs(chunks: list[StoredChunk], seed: int = 0, max_cloze: int = 2000) -> list[Pair]:
    """Training pairs from a store's chunks (see the module docstring); at most ``max_cloze`` cloze pairs."""
    rng = random.Random(seed)
    first: dict[str, StoredChunk] = {}
    for c in chunks:
        if c.kind != "comment" and (c.doc_id not in first or c.position < first[c.doc_id].position):
            first[c.doc_id] = c
    topics = {doc_id: title_query(c.title) for doc_id, c in first.items()}
    counts = Counter(topics.values())
    pairs: list[Pair] = []
    for doc_id, c in first.items():
        topic = topics[doc_id]
        if counts[topic] == 1 and len(words(topic)) >= MIN_TITLE_WORDS and c.text.strip():
            pairs.append(Pair(topic, c.text, "title"))
            pairs.append(Pair(fold(topic), c.text, "title_folded"))
    cloze: list[Pair] = []
    for c in chunks:
        sentences = [s for s in split_sentences(c.text, ends=".!?…;:") if len(words(s)) >= MIN_SENTENCE_WORDS]
        if len(sentences) < 2:
            continue
        pick = rng.randrange(len(sentences))
        rest = " ".join(s for i, s in enumerate(sentences) if i != pick)
        cloze.append(Pair(sentences[pick], f"{c.title}\n{rest}" if c.title else rest, "cloze"))
    pairs += rng.sample(cloze, min(max_cloze, len(cloze)))
    rng.shuffle(pairs)
    return pairs


def _batches(pairs: list[Pair], size: int) -> list[list[Pair]]:
    """Batches with no passage twice (a duplicate would be its own false negative)."""
    out, batch, seen = [], [], set()
    for p in pairs:
        if p.passage in seen:
            continue
        batch.append(p)
        seen.add(p.passage)
        if len(batch) == size:
            out.append(batch)
            batch, seen = [], set()
    if len(batch) > 1:
        out.append(batch)
    return out


def finetune(
    embedder: Embedder,
    pairs: list[Pair],
    out_dir: Path,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 3e-5,
    max_tokens: int = 128,
    train_layers: int = 6,
    scale: float = 20.0,
    seed: int = 0,
) -> dict:
    """Train ``embedder.model`` in place on ``pairs`` and save it to ``out_dir``; return a training summary."""
    import torch

    torch.manual_seed(seed)
    model: Any = embedder.model
    serving_length = model.max_seq_length
    model.max_seq_length = max_tokens  # shorter passages while training; the saved model keeps its own limit
    layers = model[0].auto_model.config.num_hidden_layers
    frozen = ("embeddings.", *(f"encoder.layer.{i}." for i in range(max(0, layers - train_layers))))
    for name, param in model.named_parameters():
        param.requires_grad = not any(f in name for f in frozen)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    orders = [pairs] + [random.Random(seed + e).sample(pairs, len(pairs)) for e in range(1, epochs)]
    batches = [b for order in orders for b in _batches(order, batch_size)]
    warmup = max(1, len(batches) // 10)
    decay = max(1, len(batches) - warmup)
    scheduler = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, then linear decay to 0
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (len(batches) - step) / decay))
    )
    model.train()
    started, losses = time.perf_counter(), []

    def embed(texts: list[str], prompt: str):
        features = model.tokenize([prompt + t for t in texts])
        return model(features)["sentence_embedding"]

    for step, batch in enumerate(batches, start=1):
        q = embed([p.query for p in batch], embedder.query_prompt)
        d = embed([p.passage for p in batch], embedder.passage_prompt)
        q = torch.nn.functional.normalize(q, dim=-1)
        d = torch.nn.functional.normalize(d, dim=-1)
        logits = scale * q @ d.T
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if step % 10 == 0 or step == len(batches) or step <= 3:
            elapsed = time.perf_counter() - started
            log.info(
                "step %d/%d loss %.3f (%.0f s, ~%.0f s left)",
                step,
                len(batches),
                sum(losses[-10:]) / len(losses[-10:]),
                elapsed,
                elapsed / step * (len(batches) - step),
            )
    model.eval()
    model.max_seq_length = serving_length
    model.prompts = {"query": embedder.query_prompt, "passage": embedder.passage_prompt}
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    summary = {
        "base_model": embedder.name,
        "pairs": len(pairs),
        "steps": len(batches),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seconds": round(time.perf_counter() - started, 1),
        "loss_first": round(sum(losses[:10]) / max(1, len(losses[:10])), 4),
        "loss_last": round(sum(losses[-10:]) / max(1, len(losses[-10:])), 4),
        "sources": dict(Counter(p.source for p in pairs)),
    }
    (out_dir / "finetune.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workshop.finetune", description="Thích nghi mô hình nhúng với kho đã nạp (ngoại tuyến)."
    )
    parser.add_argument("--store", help="thư mục kho dữ liệu đã nạp (mặc định: theo cấu hình)")
    parser.add_argument("--out", help="thư mục lưu mô hình (mặc định: <cache>/models/e5-ft-<tên kho>)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--max-tokens", type=int, default=128, help="độ dài tối đa của đoạn khi huấn luyện")
    parser.add_argument("--train-layers", type=int, default=6, help="số lớp trên cùng được huấn luyện")
    parser.add_argument("--max-pairs", type=int, help="giới hạn số cặp huấn luyện (chạy thử)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.load(**({"store_dir": args.store} if args.store else {}))
    embedder = Embedder.from_settings(  # trainable
        settings.model_copy(update={"embedding_backend": "torch", "embedding_precision": "fp32"})
    )
    store = Store(settings, settings.embedding_key)  # the store as the settings built it (bf16: another name)
    try:
        chunks = store.all_chunks()
    finally:
        store.close()
    if not chunks:
        print("Kho dữ liệu trống: hãy nạp tài liệu trước (python -m ingest ...).", file=sys.stderr)
        return 2
    pairs = make_pairs(chunks)[: args.max_pairs or None]
    default_out = Path(settings.cache_path) / "models" / f"e5-ft-{Path(settings.store_path).name}"
    out = Path(args.out) if args.out else default_out
    log.info("%d training pairs from %d chunks -> %s", len(pairs), len(chunks), out)
    summary = finetune(
        embedder,
        pairs,
        out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        max_tokens=args.max_tokens,
        train_layers=args.train_layers,
    )
    print(json.dumps(summary, ensure_ascii=False))
    print(
        f"Xong. Dùng mô hình: CCHC_EMBEDDING_MODEL={out} rồi nạp lại kho vào một thư mục mới "
        f"(kho cũ giữ vectơ của mô hình cũ).",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
