"""Sentence- and paragraph-aware chunking, sized in the embedding model's tokens.

Pure: a token counter is passed in. Every chunk is an exact slice of the document text,
so a citation can quote ``text[char_start:char_end]`` and highlight it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vectorstore.records import Chunk, Document
from vectorstore.text import sentence_spans, trim_span

TokenCounter = Callable[[Sequence[str]], list[int]]

# Chunking packs finer units than answers quote: a clause ending in ; or : is a unit too.
_UNIT_ENDS = ".!?…;:"
_SOFT_BREAK = re.compile(r"(?<=[,;:])\s+|\s+(?=[-–•])")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    paragraph: int


def paragraphs(text: str) -> list[Span]:
    """Blank-line separated paragraphs as spans (paragraph index = order)."""
    return [Span(m.start(), m.end(), number) for number, m in enumerate(re.finditer(r"\S[\s\S]*?(?=\n\s*\n|\Z)", text))]


def sentences(text: str, span: Span) -> list[Span]:
    """Sentences (and lines) of one paragraph, trimmed, as spans into ``text``."""
    return [Span(s, e, span.paragraph) for s, e in sentence_spans(text, span.start, span.end, ends=_UNIT_ENDS)]


def _split_long(text: str, unit: Span, tokens: int, budget: int, count: TokenCounter) -> list[Span]:
    """Split a unit over budget at commas/semicolons, then at spaces, into pieces within budget."""
    if tokens <= budget:
        return [unit]
    body = text[unit.start : unit.end]
    cuts = [m.end() for m in _SOFT_BREAK.finditer(body)] or [m.end() for m in re.finditer(r"\s+", body)]
    if not cuts:  # one giant "word": cut by characters
        size = max(1, len(body) * budget // (tokens + 1))
        cuts = list(range(size, len(body), size))
    pieces, start = [], 0
    for cut in [*cuts, len(body)]:
        if cut > start:
            pieces.append(Span(unit.start + start, unit.start + cut, unit.paragraph))
            start = cut
    # Merge the pieces greedily back into spans within budget (recursing on pieces still too long).
    counts = count([text[p.start : p.end] for p in pieces])
    merged: list[Span] = []
    acc: Span | None = None
    acc_tokens = 0
    for piece, n in zip(pieces, counts):
        if acc is not None and acc_tokens + n <= budget:
            acc, acc_tokens = Span(acc.start, piece.end, acc.paragraph), acc_tokens + n
            continue
        if acc is not None:
            merged.append(acc)
        if n > budget and len(pieces) > 1:
            merged.extend(_split_long(text, piece, n, budget, count))
            acc, acc_tokens = None, 0
        else:
            acc, acc_tokens = piece, n
    if acc is not None:
        merged.append(acc)
    spans = [(piece, *trim_span(text, piece.start, piece.end)) for piece in merged]
    return [Span(start, end, piece.paragraph) for piece, start, end in spans if end > start]


def chunk_document(
    doc: Document,
    count_tokens: TokenCounter,
    max_tokens: int,
    overlap_tokens: int,
    overhead_tokens: int = 0,
) -> list[Chunk]:
    """Pack sentences into chunks of at most ``max_tokens`` (minus ``overhead_tokens`` for the
    prefix, specials and title the embedder adds), carrying ``overlap_tokens`` of trailing
    sentences into the next chunk. A new paragraph starts a new chunk once the current one is
    half full."""
    budget = max(16, max_tokens - overhead_tokens)
    text = doc.text
    units = [s for p in paragraphs(text) for s in sentences(text, p)]
    if not units:
        return []
    counts = count_tokens([text[u.start : u.end] for u in units])
    sized: list[tuple[Span, int]] = []
    for unit, n in zip(units, counts):
        pieces = _split_long(text, unit, n, budget, count_tokens)
        piece_counts = counts_for(pieces, unit, n, text, count_tokens)
        sized.extend(zip(pieces, piece_counts))

    groups: list[list[tuple[Span, int]]] = []
    current: list[tuple[Span, int]] = []
    used = 0
    for unit, n in sized:
        new_paragraph = bool(current) and unit.paragraph != current[-1][0].paragraph
        if current and (used + n > budget or (new_paragraph and used >= budget // 2)):
            groups.append(current)
            current, used = _overlap_tail(current, overlap_tokens, budget - n), 0
            used = sum(c for _, c in current)
        current.append((unit, n))
        used += n
    if current:
        groups.append(current)

    chunks = []
    for position, group in enumerate(groups):
        start, end = group[0][0].start, group[-1][0].end
        body = text[start:end]
        digest = hashlib.sha1(f"{doc.title}\x00{body}".encode()).hexdigest()[:12]
        chunks.append(
            Chunk(
                chunk_id=f"{doc.doc_id}::{position}::{digest}",
                doc_id=doc.doc_id,
                text=body,
                char_start=start,
                char_end=end,
                paragraph=group[0][0].paragraph,
                position=position,
            )
        )
    return chunks


def counts_for(pieces: list[Span], unit: Span, n: int, text: str, count: TokenCounter) -> list[int]:
    """Token counts of ``pieces`` (reusing ``n`` when the unit was not split)."""
    if len(pieces) == 1 and pieces[0] == unit:
        return [n]
    return count([text[p.start : p.end] for p in pieces])


def _overlap_tail(group: list[tuple[Span, int]], overlap_tokens: int, room: int) -> list[tuple[Span, int]]:
    """The trailing units of ``group`` that fit in ``overlap_tokens`` and in ``room``."""
    tail: list[tuple[Span, int]] = []
    total = 0
    for unit, n in reversed(group):
        if total + n > min(overlap_tokens, room):
            break
        tail.insert(0, (unit, n))
        total += n
    if len(tail) == len(group):  # never repeat a whole chunk
        tail = tail[1:]
    return tail
