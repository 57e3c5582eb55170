"""The values that flow between the answer path's steps: a retrieved :class:`Hit`, a numbered :class:`Passage`
shown to a generator, and a reader's :class:`Candidate` sentence. They sit below the retriever, the reader, the
generators and the wording lookup, which all read them, so none of those imports another for a type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vectorstore.store import StoredChunk


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the rank it had in each component."""

    chunk: StoredChunk
    score: float
    dense: float | None = None  # cosine similarity, when the dense path found it
    ranks: dict[str, int] = field(default_factory=dict)

    def to_dict(self, rank: int) -> dict[str, Any]:
        c = self.chunk
        return {
            "rank": rank,
            "doc_id": c.doc_id,
            "chunk_id": c.chunk_id,
            "score": round(self.score, 6),
            "dense": None if self.dense is None else round(self.dense, 4),
            "kind": c.kind,
            "title": c.title,
            "comment_no": c.comment_no,
            "char_start": c.char_start,
            "char_end": c.char_end,
            "text": c.text,
        }


@dataclass(frozen=True)
class Passage:
    """A numbered retrieved passage shown to a generator; ``n`` is the citation marker [n]."""

    n: int
    doc_id: str
    chunk_id: str
    title: str
    kind: str
    text: str
    score: float
    comment_no: int | None = None
    source: str = ""


@dataclass(frozen=True)
class Candidate:
    """A sentence (or clause) of a retrieved passage that might answer."""

    passage: Passage
    text: str
    rank: int  # the passage's rank (0 = best)
    features: dict[str, float] = field(default_factory=dict, compare=False)
    probability: float = 0.0
    lead: str = ""  # the lead line a list item or table row follows ("Mức phí làm hộ chiếu online …:")

    @property
    def coverage(self) -> float:
        return self.features.get("lexical", 0.0)
