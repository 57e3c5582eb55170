"""Sentence vectors for the reader: every sentence (and long sentence's clause) of the stored chunks, embedded once
at ingest with the store's model and kept beside the chunks (the ``sentence_vectors`` table), so the reader's
semantic score — how close a candidate sentence is to the question, across languages too — costs a lookup and a
dot product at question time instead of a forward pass per sentence.

Vectors are keyed by a hash of the sentence's text: identical sentences share one, nothing needs reconciling with
the chunks after a crash (:func:`fill` embeds whatever is missing and drops what no chunk holds),
and a sentence found without a vector at question time (a store filled by an older version, or a shared database
that does not answer) is embedded then.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence

import numpy as np

from vectorstore.embeddings import Embedder
from vectorstore.store import Embed, Store, StoreError
from vectorstore.text import reading_units

log = logging.getLogger(__name__)

FILL_BATCH = 256  # sentences embedded and stored per round (an interrupted fill keeps what it stored)


def sentence_key(text: str) -> str:
    """The key of a sentence's vector: a hash of its (NFC) text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def fill(store: Store, embed: Embed, doc_ids: Iterable[str] | None = None) -> tuple[int, int]:
    """Embed (with ``embed``, the store's model on passages) and store the vector of every reading unit of the
    stored chunks (of ``doc_ids`` only, when given) that has none, and drop the vectors no chunk uses any more;
    returns (added, dropped)."""
    used = {sentence_key(u): u for text in store.chunk_texts() for u in reading_units(text)}
    wanted = (
        used if doc_ids is None else {sentence_key(u): u for t in store.chunk_texts(doc_ids) for u in reading_units(t)}
    )
    have = store.sentence_keys()
    missing = [k for k in wanted if k not in have]
    stale = have - used.keys()
    if stale:
        store.put_sentence_vectors({}, stale)
    for start in range(0, len(missing), FILL_BATCH):
        keys = missing[start : start + FILL_BATCH]
        store.put_sentence_vectors(dict(zip(keys, embed([wanted[k] for k in keys]))))
    if missing or stale:
        log.info("sentence vectors: %d embedded, %d dropped", len(missing), len(stale))
    return len(missing), len(stale)


class SentenceVectors:
    """The store's sentence vectors as the reader reads them, through the store's own embedding model."""

    def __init__(self, store: Store, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder

    def similarities(self, query: np.ndarray, texts: Sequence[str]) -> list[float]:
        """The cosine similarity of each of ``texts`` to the (normalised) ``query`` vector."""
        if not texts:
            return []
        keys = [sentence_key(t) for t in texts]
        try:
            found = self.store.sentence_vectors(keys)
        except StoreError as exc:  # the shared database is down: answers go on from the snapshot, so embed here
            log.warning("sentence vectors unreadable, embedding %d sentences now: %s", len(texts), exc.detail)
            found = {}
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            log.debug("%d of %d sentences without a stored vector: embedded now", len(missing), len(texts))
            for i, vector in zip(missing, self.embedder.embed_passages([texts[i] for i in missing])):
                found[keys[i]] = vector
        matrix = np.stack([found[k] for k in keys])
        return [float(x) for x in matrix @ np.asarray(query, dtype=np.float32)]


__all__ = ["SentenceVectors", "fill", "sentence_key"]
