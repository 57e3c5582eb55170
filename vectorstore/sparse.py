"""Sparse retrieval: Vietnamese word segmentation and BM25 indexes over the stored chunks.

Two token views of a chunk are indexed: ``words`` (pyvi word segments plus syllables) and
``folded`` (diacritic-free syllables plus syllable bigrams, so 'can cuoc' matches 'căn cước'
without matching every 'can').
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Sequence

import numpy as np

from vectorstore.text import fold, words

_PUNCT_TOKEN = re.compile(r"^[^\w]+$")


def segment(text: str) -> str:
    """Lower-cased, word-segmented text ('thủ_tục hành_chính'), punctuation dropped."""
    from pyvi import ViTokenizer  # imported lazily: the CRF model loads in ~0.3 s

    tokens = ViTokenizer.tokenize(text).lower().split()
    return " ".join(t for t in tokens if not _PUNCT_TOKEN.match(t))


def word_tokens(segmented: str) -> list[str]:
    """Multi-syllable words ('thủ_tục') and every syllable ('thủ', 'tục')."""
    out = []
    for token in segmented.split():
        parts = words(token.replace("_", " "))
        out.extend(parts)
        if len(parts) > 1:
            out.append("_".join(parts))
    return out


def folded_tokens(text: str) -> list[str]:
    """Diacritic-free syllables and adjacent-syllable bigrams ('can', 'cuoc', 'can_cuoc')."""
    syl = words(fold(text).replace("_", " "))
    return syl + [f"{a}_{b}" for a, b in itertools.pairwise(syl)]


class BM25Index:
    """BM25 (bm25s) over pre-tokenised documents; returns (row, score) pairs."""

    def __init__(self, corpus_tokens: Sequence[list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s forces DEBUG on import

        self.size = len(corpus_tokens)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if self.size:
            self._bm25.index([t or ["\x00"] for t in corpus_tokens], show_progress=False)

    def search(self, query_tokens: list[str], n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        if not self.size or not query_tokens:
            return []
        scores = self._bm25.get_scores(query_tokens)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(n, self.size)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
