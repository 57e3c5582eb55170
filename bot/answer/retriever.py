"""Hybrid retrieval: dense (exact cosine over the snapshot, or Chroma) + BM25 on words + BM25 on folded
syllables, fused by weighted RRF with ties broken by the snapshot's stable chunk order (doc id, position), so
one question on one store ranks the same in every process.

:func:`search` runs a parsed query over a :class:`~bot.snapshot.CorpusSnapshot`; :class:`HybridRetriever` is
the LangChain ``BaseRetriever`` the answer chain invokes (and any LangChain pipeline can).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from bot.answer.options import AskOptions, Weights
from bot.answer.query import ParsedQuery
from bot.answer.types import Hit
from vectorstore.embeddings import Embedder
from vectorstore.records import date_key
from vectorstore.text import is_english

if TYPE_CHECKING:
    from bot.snapshot import CorpusSnapshot


def search(
    snapshot: CorpusSnapshot,
    embedder: Embedder,
    query: ParsedQuery,
    k: int,
    *,
    weights: Weights,
    candidates: int,
    rrf_k: int,
    kinds: Sequence[str] = (),
    doc_ids: Sequence[str] = (),
    by_doc: bool = False,
    as_of: str | None = None,
) -> list[Hit]:
    """Top ``k`` chunks (or distinct documents with ``by_doc``) for ``query``; with ``as_of``, only of documents
    dated on or before that day."""
    if not snapshot.chunks:
        return []
    n = max(candidates, k * 3)
    mask = snapshot.mask(kinds, doc_ids, as_of)
    rankings: dict[str, list[tuple[int, float]]] = {}
    if weights.dense:
        rankings["dense"] = _dense(snapshot, embedder, query.dense_text, n, mask, kinds, doc_ids, as_of)
    if weights.bm25:
        rankings["bm25"] = snapshot.bm25.search(query.word_tokens, n, mask)
    if weights.folded:
        rankings["folded"] = snapshot.folded.search(query.folded_tokens, n, mask)
    blind = snapshot.english != is_english(query.text)  # chunks in another language than the question's
    return _fuse(snapshot, rankings, weights.as_dict(), rrf_k, k, by_doc, blind)


def _dense(
    snapshot: CorpusSnapshot,
    embedder: Embedder,
    text: str,
    n: int,
    mask: Any,
    kinds: Sequence[str],
    doc_ids: Sequence[str],
    as_of: str | None = None,
) -> list[tuple[int, float]]:
    vector = embedder.embed_query(text)
    if snapshot.vectors is not None:
        return snapshot.nearest(vector, n, mask)
    clauses: list[dict[str, Any]] = []
    if kinds:
        clauses.append({"kind": {"$in": list(kinds)}})
    if doc_ids:
        clauses.append({"doc_id": {"$in": list(doc_ids)}})
    if as_of:  # every vector's metadata carries its document's date_key (0: undated)
        clauses += [{"date_key": {"$gt": 0}}, {"date_key": {"$lte": date_key(as_of)}}]
    where = None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}
    hits = snapshot.store.query_dense(vector, min(n, len(snapshot.chunks)), where)
    rows = [(snapshot.row_of[cid], sim) for cid, sim in hits if cid in snapshot.row_of]
    return sorted(rows, key=lambda rs: (-rs[1], rs[0]))


def _fuse(
    snapshot: CorpusSnapshot,
    rankings: dict[str, list[tuple[int, float]]],
    weights: dict[str, float],
    rrf_k: int,
    k: int,
    by_doc: bool,
    blind: np.ndarray | None = None,
) -> list[Hit]:
    """Weighted RRF of ``rankings``. A chunk in another language than the question's (``blind``) cannot share its
    words, so the word lanes rank it no better than the dense lane does: a Vietnamese question whose answer is in
    an English article is not outvoted by lanes that cannot read it."""
    fused: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    dense_sim: dict[int, float] = {}
    for name, ranking in rankings.items():
        for rank, (row, score) in enumerate(ranking, start=1):
            ranks.setdefault(row, {})[name] = rank
            if name == "dense":
                dense_sim[row] = score
    # a blind chunk's rank in the word lanes: its dense rank among the chunks of its own language
    own: dict[int, int] = {}
    if blind is not None:
        for row, _ in rankings.get("dense", []):
            if blind[row]:
                own[row] = len(own) + 1
    for row, found in ranks.items():
        for name in rankings:
            lane_rank = found.get(name)
            if row in own and name != "dense":
                lane_rank = own[row] if lane_rank is None else min(lane_rank, own[row])
            if lane_rank is not None:
                fused[row] = fused.get(row, 0.0) + weights.get(name, 0.0) / (rrf_k + lane_rank)
    hits: list[Hit] = []
    seen_docs: set[str] = set()
    for row in sorted(fused, key=lambda r: (-round(fused[r], 12), r)):
        chunk = snapshot.chunks[row]
        if by_doc:
            if chunk.doc_id in seen_docs:
                continue
            seen_docs.add(chunk.doc_id)
        hits.append(Hit(chunk, fused[row], dense_sim.get(row), ranks[row]))
        if len(hits) == k:
            break
    return hits


class HybridRetriever(BaseRetriever):
    """LangChain retriever over one corpus snapshot with one request's options.

    Each document's metadata is ``Hit.to_dict`` plus the component ranks; :meth:`hits` maps documents back."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    snapshot: Any  # CorpusSnapshot (pinned for the whole request)
    embedder: Any  # Embedder
    options: AskOptions  # resolved
    candidates: int = 100
    rrf_k: int = 60
    by_doc: bool = False

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        o = self.options
        assert o.k is not None and o.weights is not None, "options must be resolved"
        found = search(
            self.snapshot,
            self.embedder,
            self.snapshot.parse(query),
            o.k,
            weights=o.weights,
            candidates=self.candidates,
            rrf_k=self.rrf_k,
            kinds=o.kinds,
            doc_ids=o.doc_ids,
            by_doc=self.by_doc,
            as_of=o.as_of,
        )
        return [
            LCDocument(
                page_content=h.chunk.text,
                id=h.chunk.chunk_id,
                metadata={**h.to_dict(i), "score": h.score, "dense": h.dense, "ranks": h.ranks},
            )
            for i, h in enumerate(found, start=1)
        ]

    def hits(self, documents: Sequence[LCDocument]) -> list[Hit]:
        """The :class:`Hit` of each document this retriever returned."""
        rows = self.snapshot.row_of
        return [
            Hit(
                self.snapshot.chunks[rows[d.metadata["chunk_id"]]],
                d.metadata["score"],
                d.metadata["dense"],
                dict(d.metadata["ranks"]),
            )
            for d in documents
        ]


__all__ = ["Hit", "HybridRetriever", "search"]
