"""Hybrid retrieval: dense (e5 via Chroma) + BM25 on words + BM25 on folded syllables, fused by RRF.

:class:`RetrievalIndex` holds what retrieval reads from a store (chunks, BM25 indexes, the diacritic
restorer) and rebuilds it when the store's generation changes. :class:`HybridSearcher` runs a query;
:class:`HybridRetriever` is the LangChain face of it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from bot.diacritics import DiacriticRestorer
from bot.query import ParsedQuery, QueryAnalyzer, common_phrases
from settings import Settings
from vectorstore.embeddings import Embedder
from vectorstore.records import KINDS
from vectorstore.sparse import BM25Index, folded_tokens, word_tokens
from vectorstore.store import Store, StoredChunk

log = logging.getLogger(__name__)

COMPONENTS = ("dense", "bm25", "folded")


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the rank it had in each component."""

    chunk: StoredChunk
    score: float
    dense: float | None = None  # cosine similarity, when the dense path found it
    ranks: dict[str, int] = field(default_factory=dict)

    def to_dict(self, rank: int) -> dict[str, Any]:
        c = self.chunk
        return {"rank": rank, "doc_id": c.doc_id, "chunk_id": c.chunk_id, "score": round(self.score, 6),
                "dense": None if self.dense is None else round(self.dense, 4), "kind": c.kind,
                "title": c.title, "comment_no": c.comment_no, "char_start": c.char_start,
                "char_end": c.char_end, "text": c.text}


class RetrievalIndex:
    """The in-memory side of a store: chunk rows, BM25 indexes and the restorer, per generation."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._generation = -1
        self.chunks: list[StoredChunk] = []
        self.row_of: dict[str, int] = {}

    def refresh(self) -> None:
        """Reload when the store changed since the last load (cheap check)."""
        generation = self.store.generation()
        if generation == self._generation:
            return
        with self._lock:
            if generation == self._generation:
                return
            started = time.perf_counter()
            chunks = self.store.all_chunks()
            self.kinds = np.array([c.kind for c in chunks])
            self.doc_ids = np.array([c.doc_id for c in chunks])
            self.bm25 = BM25Index([word_tokens(c.segmented) for c in chunks])
            self.folded = BM25Index([folded_tokens(c.folded) for c in chunks])
            texts = [c.text for c in chunks] + [c.title for c in chunks]
            self.restorer = DiacriticRestorer.from_texts(texts + common_phrases() * 20)
            self.chunks, self.row_of = chunks, {c.chunk_id: i for i, c in enumerate(chunks)}
            self._generation = generation
            log.info("retrieval index: %d chunks in %.2fs", len(chunks), time.perf_counter() - started)

    def mask(self, kinds: Sequence[str] | None, doc_ids: Sequence[str] | None) -> np.ndarray | None:
        if not kinds and not doc_ids:
            return None
        mask = np.ones(len(self.chunks), dtype=bool)
        if kinds:
            mask &= np.isin(self.kinds, list(kinds))
        if doc_ids:
            mask &= np.isin(self.doc_ids, list(doc_ids))
        return mask


class HybridSearcher:
    """Runs one query through the enabled components and fuses their rankings."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder, index: RetrievalIndex | None = None) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.index = index or RetrievalIndex(store)

    def analyzer(self) -> QueryAnalyzer:
        self.index.refresh()
        return QueryAnalyzer(self.index.restorer)

    def search(
        self,
        question: str | ParsedQuery,
        k: int | None = None,
        *,
        kinds: Sequence[str] | None = None,
        doc_ids: Sequence[str] | None = None,
        by_doc: bool = False,
        components: Sequence[str] = COMPONENTS,
        weights: dict[str, float] | None = None,
    ) -> list[Hit]:
        """Top ``k`` chunks (or distinct documents with ``by_doc``) for ``question``."""
        unknown = set(kinds or ()) - set(KINDS)
        if unknown:
            raise ValueError(f"Loại tài liệu không hợp lệ: {', '.join(sorted(unknown))} (hợp lệ: {', '.join(KINDS)})")
        s = self.settings
        k = k or s.k
        query = question if isinstance(question, ParsedQuery) else self.analyzer().parse(question)
        self.index.refresh()
        if not self.index.chunks:
            return []
        weights = weights or {"dense": s.weight_dense, "bm25": s.weight_bm25, "folded": s.weight_bm25_folded}
        n = max(s.candidates, k * 3)
        mask = self.index.mask(kinds, doc_ids)
        rankings: dict[str, list[tuple[int, float]]] = {}
        if "dense" in components and weights.get("dense", 0):
            rankings["dense"] = self._dense(query.dense_text, n, kinds, doc_ids)
        if "bm25" in components and weights.get("bm25", 0):
            rankings["bm25"] = self.index.bm25.search(query.word_tokens, n, mask)
        if "folded" in components and weights.get("folded", 0):
            rankings["folded"] = self.index.folded.search(query.folded_tokens, n, mask)
        return self._fuse(rankings, weights, k, by_doc)

    def _dense(self, text: str, n: int, kinds: Sequence[str] | None, doc_ids: Sequence[str] | None) -> list[tuple[int, float]]:
        where: dict[str, Any] | None = None
        clauses = []
        if kinds:
            clauses.append({"kind": {"$in": list(kinds)}})
        if doc_ids:
            clauses.append({"doc_id": {"$in": list(doc_ids)}})
        if clauses:
            where = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        n = min(n, len(self.index.chunks))  # SQLite and Chroma hold the same chunk ids (see Store.reconcile)
        hits = self.store.query_dense(self.embedder.embed_query(text), n, where)
        return [(self.index.row_of[cid], sim) for cid, sim in hits if cid in self.index.row_of]

    def _fuse(self, rankings: dict[str, list[tuple[int, float]]], weights: dict[str, float], k: int, by_doc: bool) -> list[Hit]:
        rrf_k = self.settings.rrf_k
        fused: dict[int, float] = {}
        ranks: dict[int, dict[str, int]] = {}
        dense_sim: dict[int, float] = {}
        for name, ranking in rankings.items():
            weight = weights.get(name, 0.0)
            for rank, (row, score) in enumerate(ranking, start=1):
                fused[row] = fused.get(row, 0.0) + weight / (rrf_k + rank)
                ranks.setdefault(row, {})[name] = rank
                if name == "dense":
                    dense_sim[row] = score
        order = sorted(fused, key=lambda r: (-fused[r], r))
        hits = []
        seen_docs: set[str] = set()
        for row in order:
            chunk = self.index.chunks[row]
            if by_doc:
                if chunk.doc_id in seen_docs:
                    continue
                seen_docs.add(chunk.doc_id)
            hits.append(Hit(chunk, fused[row], dense_sim.get(row), ranks[row]))
            if len(hits) == k:
                break
        return hits


class HybridRetriever(BaseRetriever):
    """LangChain retriever over :class:`HybridSearcher` (metadata carries ids, offsets and scores)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: HybridSearcher
    k: int = 5
    kinds: list[str] | None = None
    doc_ids: list[str] | None = None
    by_doc: bool = False

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        hits = self.searcher.search(query, self.k, kinds=self.kinds, doc_ids=self.doc_ids, by_doc=self.by_doc)
        return [LCDocument(page_content=h.chunk.text, id=h.chunk.chunk_id, metadata=h.to_dict(i))
                for i, h in enumerate(hits, start=1)]
