"""One corpus snapshot per store generation, shared by everything that answers.

Sparse retrieval (two BM25 indexes), exact dense search, IDF weights, diacritic restoration and the wording
lookup all read the same snapshot, built once when the store's generation changes (an ingest or a delete
commits) instead of three private copies of the corpus. Building reads the generation first, then the rows, so
a snapshot is never older than its label; a newer store makes the next request rebuild it.
"""

from __future__ import annotations

import datetime
import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from functools import cached_property, lru_cache

import numpy as np

from bot.answer.diacritics import DiacriticRestorer
from bot.answer.grounding import proper_names
from bot.answer.query import QueryAnalyzer, common_phrases
from bot.answer.timeline import Chronology, reported_year
from bot.wording import WordingDoc, wording_doc
from vectorstore.records import Timeline
from vectorstore.sparse import BM25Index, folded_tokens, word_tokens
from vectorstore.store import Store, StoredChunk, StoreError
from vectorstore.text import fold, is_english, words

log = logging.getLogger(__name__)


class CorpusSnapshot:
    """The in-memory side of one store generation (immutable once built)."""

    def __init__(
        self,
        store: Store,
        generation: int,
        chunks: list[StoredChunk],
        vectors: np.ndarray | None,
        timelines: Mapping[str, Timeline] | None = None,
    ) -> None:
        self.store = store
        self.generation = generation
        self.chunks = chunks
        # every document's dates, the texts replaced, and the year each undated document reports on
        self.chronology = Chronology(timelines or {}, reported_years(chunks, timelines or {}))
        self.row_of = {c.chunk_id: i for i, c in enumerate(chunks)}
        self.kinds = np.array([c.kind for c in chunks])
        self.doc_ids = np.array([c.doc_id for c in chunks])
        self.english = np.array([is_english(c.text) for c in chunks], dtype=bool)  # the rest: Vietnamese
        self.bm25 = BM25Index([word_tokens(c.segmented) for c in chunks])
        folded = [folded_tokens(c.folded) for c in chunks]
        self.folded = BM25Index(folded)
        self.idf = idf_table(folded)
        self.restorer = DiacriticRestorer.from_texts(
            [c.text for c in chunks] + [c.title for c in chunks] + common_phrases() * 20
        )
        self.vectors = vectors  # exact dense search when the corpus is small enough (None: ask Chroma)
        self._analyzer = QueryAnalyzer(self.restorer)
        self.parse = lru_cache(maxsize=512)(self._analyzer.parse)
        self._lazy_lock = threading.Lock()

    @classmethod
    def build(cls, store: Store, exact_search_max_chunks: int) -> CorpusSnapshot:
        for attempt in range(3):
            generation = store.generation()
            chunks = store.all_chunks()
            timelines = store.timelines()
            try:
                vectors = (
                    store.vectors([c.chunk_id for c in chunks]) if len(chunks) <= exact_search_max_chunks else None
                )
            except StoreError:
                if store.generation() != generation and attempt < 2:
                    continue  # a delete committed between the two reads: read again
                raise
            return cls(store, generation, chunks, vectors, timelines)
        raise AssertionError("unreachable")

    def mask(
        self, kinds: Sequence[str] | None, doc_ids: Sequence[str] | None, as_of: str | None = None
    ) -> np.ndarray | None:
        """Which chunks a search may return: of these kinds, of these documents, dated on or before ``as_of``."""
        if not kinds and not doc_ids and not as_of:
            return None
        mask = np.ones(len(self.chunks), dtype=bool)
        if kinds:
            mask &= np.isin(self.kinds, list(kinds))
        if doc_ids:
            mask &= np.isin(self.doc_ids, list(doc_ids))
        if as_of:
            mask &= np.isin(self.doc_ids, sorted(self.chronology.dated_until(as_of)))
        return mask

    def nearest(self, query: np.ndarray, n: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
        """Exact cosine search over the snapshot's vectors: (row, similarity), best first, ties by row."""
        assert self.vectors is not None
        sims = self.vectors @ query
        if mask is not None:
            sims = np.where(mask, sims, -np.inf)
        n = min(n, len(sims))
        if n <= 0:
            return []
        top = np.argpartition(-sims, n - 1)[:n]
        top = top[np.lexsort((top, -sims[top]))]
        return [(int(i), float(sims[i])) for i in top if np.isfinite(sims[i])]

    @cached_property
    def names(self) -> dict[str, str]:
        """The names the corpus writes (runs of capitalised syllables: "Đà Nẵng", "Thừa Thiên Huế"), by their lower
        case, each as written."""
        found: dict[str, str] = {}
        for text in dict.fromkeys(t for c in self.chunks for t in (c.title, c.text)):
            for name in proper_names(text):
                found.setdefault(name.lower(), name)
        return found

    def cased(self, text: str) -> str:
        """``text`` typed in lower case (restored: "đà nẵng thì sao") with the corpus's names capitalised as the
        corpus writes them ("Đà Nẵng thì sao"); a text with any capital is left as typed."""
        if text != text.lower():
            return text
        tokens = text.split(" ")
        for size in (4, 3, 2):  # longest names first
            for i in range(len(tokens) - size + 1):
                bare = [token.strip("?!.,;:…") for token in tokens[i : i + size]]
                name = self.names.get(" ".join(bare))
                if name is not None:  # as the corpus writes it, the punctuation kept ("hải phòng?")
                    for j, part in enumerate(name.split(" ")):
                        tokens[i + j] = tokens[i + j].replace(bare[j], part, 1)
        return " ".join(tokens)

    @cached_property
    def titles(self) -> list[str]:
        """The distinct titles of the documents that are not readers' comments, in store order."""
        return list(dict.fromkeys(c.title for c in self.chunks if c.kind != "comment"))

    # --- the wording side, built on first use -------------------------------------------------------
    @cached_property
    def documents(self) -> dict[str, WordingDoc]:
        """Every document's text, folded text and paragraphs."""
        with self._lazy_lock:
            return {doc.doc_id: wording_doc(doc) for doc in self.store.all_documents()}

    @cached_property
    def postings(self) -> dict[str, frozenset[str]]:
        """Folded word -> ids of the documents holding it: the wording lookup's index."""
        found: dict[str, set[str]] = defaultdict(set)
        for doc_id, doc in self.documents.items():
            for word in set(words(doc.folded.folded)):
                found[word].add(doc_id)
        return {w: frozenset(ids) for w, ids in found.items()}

    def documents_with(self, phrase: str) -> list[WordingDoc]:
        """The documents holding every word of ``phrase`` (compared folded), in id order."""
        terms = set(words(fold(phrase)))
        if not terms:
            return []
        postings = self.postings
        ids = set.intersection(*(set(postings.get(t, ())) for t in terms))
        docs = self.documents
        return [docs[i] for i in sorted(ids)]


class SnapshotHolder:
    """Hands out the current snapshot; one thread rebuilds it when the store changed, the others keep using
    the previous one meanwhile (or wait when there is none yet)."""

    def __init__(self, store: Store, exact_search_max_chunks: int) -> None:
        self.store = store
        self.exact_search_max_chunks = exact_search_max_chunks
        self._snapshot: CorpusSnapshot | None = None
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        """The generation of the snapshot held now, without asking the store (-1 before the first build)."""
        snapshot = self._snapshot
        return snapshot.generation if snapshot is not None else -1

    def current(self) -> CorpusSnapshot:
        snapshot = self._snapshot
        try:
            generation = self.store.generation()
        except StoreError as exc:
            if snapshot is None:
                raise
            log.warning("store revision unreadable, answering from snapshot %d: %s", snapshot.generation, exc.detail)
            return snapshot  # the shared database is down: keep answering from what was read last
        if snapshot is not None and snapshot.generation >= generation:
            return snapshot
        if not self._lock.acquire(blocking=snapshot is None):
            return snapshot  # type: ignore[return-value]  # another thread is rebuilding: serve the last one
        try:
            snapshot = self._snapshot
            if snapshot is None or snapshot.generation < self.store.generation():
                started = time.perf_counter()
                snapshot = CorpusSnapshot.build(self.store, self.exact_search_max_chunks)
                self._snapshot = snapshot
                log.info(
                    "corpus snapshot %d: %d chunks in %.2fs",
                    snapshot.generation,
                    len(snapshot.chunks),
                    time.perf_counter() - started,
                )
            return snapshot
        finally:
            self._lock.release()


def reported_years(chunks: Sequence[StoredChunk], timelines: Mapping[str, Timeline]) -> dict[str, int]:
    """Each undated document's latest year its text reports on (see :func:`reported_year`)."""
    this_year = datetime.date.today().year
    found: dict[str, int] = {}
    for c in chunks:
        t = timelines.get(c.doc_id)
        if t is None or not (t.date or t.effective or t.number):
            year = reported_year(c.text, this_year)
            if year:
                found[c.doc_id] = max(year, found.get(c.doc_id, 0))
    return found


def idf_table(documents: list[list[str]]) -> dict[str, float]:
    """Smoothed IDF of tokens over tokenised documents."""
    df: dict[str, int] = {}
    for tokens in documents:
        for t in set(tokens):
            df[t] = df.get(t, 0) + 1
    n = len(documents)
    return {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}


__all__ = ["CorpusSnapshot", "SnapshotHolder", "idf_table"]
