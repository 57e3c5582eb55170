"""Verbatim wording lookup: where do the documents say this phrase, exactly or nearly, and how do they word it?

Staff paste a phrase (with or without diacritics) and get, in order:

1. ``exact`` matches: the normalised phrase occurs verbatim (whitespace runs may differ);
2. ``folded`` matches: it occurs when case and diacritics are ignored (``vectorstore.text.fold``), with the
   folded offsets mapped back to offsets in the original text;
3. ``near`` matches: the document sentences (runs of 1-3 sentences) nearest in wording, found among the
   chunks ``service.retrieve`` returns and ranked by ``difflib.SequenceMatcher`` over folded word lists.

Each match carries its whole paragraph, its position (document, paragraph number, character offsets) and a
word-level diff between what was typed and what the document actually says. Everything but
:func:`lookup_wording` is a pure function over strings.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any, Literal, Protocol

from vectorstore.records import Document
from vectorstore.text import fold, has_diacritics, normalize, sentence_spans, trim_span, words

if TYPE_CHECKING:  # pragma: no cover
    from bot.answer.types import Hit

MatchKind = Literal["exact", "folded", "near"]
MAX_PHRASE_CHARS = 2000
MIN_NEAR_SCORE = 0.4  # SequenceMatcher ratio below which a sentence is not shown as a near wording
MAX_RUN = 3  # a near match may span up to this many consecutive sentences of one paragraph

_PARA_BREAK = re.compile(r"\n[ \t]*\n\s*")
_TOKEN = re.compile(r"\S+")


# --- folding with offsets ------------------------------------------------------------------------


@dataclass(frozen=True)
class FoldedText:
    """``fold(text)`` with a map from folded positions back to positions in ``text``.

    For NFC Vietnamese every character folds to exactly one character (``starts`` is then ``None``: the
    identity). Characters that fold to zero (a stray combining mark) or several characters (a Hangul
    syllable decomposes into jamo) make ``starts`` explicit.
    """

    text: str
    folded: str
    starts: tuple[int, ...] | None = None  # starts[i]: index in text of the character folded[i] came from

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the folded span ``folded[start:end]``."""
        if self.starts is None:
            return start, end
        if start >= len(self.starts):
            return len(self.text), len(self.text)
        if end <= start:
            return self.starts[start], self.starts[start]
        return self.starts[start], self.starts[end - 1] + 1


def fold_with_offsets(text: str) -> FoldedText:
    """Fold ``text`` keeping a way back to the original offsets (exact, also for the rare cases)."""
    if all(len(fold(ch)) == 1 for ch in set(text)):
        folded = fold(text)
        if len(folded) == len(text):
            return FoldedText(text, folded)
    pieces = [fold(ch) for ch in text]
    starts = tuple(i for i, piece in enumerate(pieces) for _ in piece)
    return FoldedText(text, "".join(pieces), starts)


# --- paragraphs and sentences --------------------------------------------------------------------


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every blank-line-separated paragraph of ``text``, in order."""
    spans = []
    position = 0
    for m in _PARA_BREAK.finditer(text):
        if text[position : m.start()].strip():
            spans.append(trim_span(text, position, m.start()))
        position = m.end()
    if text[position:].strip():
        spans.append(trim_span(text, position, len(text)))
    return spans


def paragraph_around(
    text: str, start: int, end: int, spans: Sequence[tuple[int, int]] | None = None
) -> tuple[int, int, int]:
    """The paragraph(s) holding ``text[start:end]``: ``(paragraph_start, paragraph_end, number)``.

    ``number`` is 1-based (the first paragraph of the document is 1). A span crossing a paragraph break
    gets all the paragraphs it touches.
    """
    spans = list(spans) if spans is not None else paragraph_spans(text)
    if not spans:
        return 0, len(text), 1
    starts = [s for s, _ in spans]
    first = max(0, bisect.bisect_right(starts, start) - 1)
    if spans[first][1] <= start and first + 1 < len(spans):  # start falls in the gap after a paragraph
        first += 1
    last = max(first, bisect.bisect_left(starts, max(end, start + 1)) - 1)
    return min(spans[first][0], start), max(spans[last][1], end), first + 1


# --- word diff -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffOp:
    """One step from the typed phrase to the document's wording.

    ``op`` is ``equal`` (same words: ``document`` holds the document's spelling), ``delete`` (typed words
    the document does not have), ``insert`` (document words that were not typed) or ``replace``.
    """

    op: Literal["equal", "delete", "insert", "replace"]
    typed: str
    document: str


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _key(token: str, ignore_diacritics: bool) -> str:
    core = "".join(words(token)) or token
    return fold(core) if ignore_diacritics else core.lower()


def word_diff(typed: str, document: str, ignore_diacritics: bool | None = None) -> list[DiffOp]:
    """Word-level diff from ``typed`` to ``document`` (punctuation and case never count as differences).

    ``ignore_diacritics`` defaults to "the typed phrase has no diacritics at all": someone typing without
    diacritics did not mean different words, so only real word differences are shown. When the typed
    phrase has diacritics, a word spelt with other diacritics is a difference.
    """
    if ignore_diacritics is None:
        ignore_diacritics = not has_diacritics(typed)
    a = [t for t, _, _ in _tokens(normalize(typed))]
    b = [t for t, _, _ in _tokens(document)]
    matcher = SequenceMatcher(
        None, [_key(t, ignore_diacritics) for t in a], [_key(t, ignore_diacritics) for t in b], autojunk=False
    )
    ops = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        ops.append(DiffOp(tag, " ".join(a[i1:i2]), " ".join(b[j1:j2])))
    return ops


def diff_is_equal(ops: Sequence[DiffOp]) -> bool:
    return all(o.op == "equal" for o in ops)


# --- exact search -----------------------------------------------------------------------------------


def _phrase_pattern(phrase: str) -> re.Pattern[str] | None:
    parts = phrase.split()
    if not parts:
        return None
    body = r"\s+".join(re.escape(p) for p in parts)
    lead = r"(?<!\w)" if re.match(r"\w", parts[0]) else ""
    tail = r"(?!\w)" if re.search(r"\w$", parts[-1]) else ""
    return re.compile(lead + body + tail)


def find_exact(text: str, phrase: str) -> list[tuple[int, int]]:
    """Spans where ``phrase`` (normalised, whitespace-flexible, whole words) occurs verbatim in ``text``."""
    pattern = _phrase_pattern(normalize(phrase))
    return [] if pattern is None else [m.span() for m in pattern.finditer(text)]


def find_folded(folded: FoldedText, phrase: str) -> list[tuple[int, int]]:
    """Spans (original offsets) where ``phrase`` occurs ignoring case and diacritics."""
    pattern = _phrase_pattern(fold(normalize(phrase)))
    if pattern is None:
        return []
    return [folded.to_original(*m.span()) for m in pattern.finditer(folded.folded)]


# --- near search --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NearSpan:
    start: int
    end: int
    score: float


def best_wording(phrase: str, text: str, start: int, end: int) -> NearSpan | None:
    """The span of ``text[start:end]`` (a paragraph) worded most like ``phrase``.

    Candidates are runs of 1..MAX_RUN consecutive sentences; within a run the aligned window (the
    document words matched to typed words, widened by the typed words left unmatched at either edge) is
    scored by ``SequenceMatcher.ratio`` over folded words.
    """
    typed = [_key(t, True) for t, _, _ in _tokens(normalize(phrase))]
    if not typed:
        return None
    sentences = sentence_spans(text, start, end)
    best: NearSpan | None = None
    for i in range(len(sentences)):
        for j in range(i, min(i + MAX_RUN, len(sentences))):
            s, e = sentences[i][0], sentences[j][1]
            toks = [(tok, s + ts, s + te) for tok, ts, te in _tokens(text[s:e])]
            keys = [_key(t, True) for t, _, _ in toks]
            window = _aligned_window(typed, keys)
            if window is None:
                continue
            lo, hi, score = window
            if best is None or score > best.score + 1e-9:
                best = NearSpan(toks[lo][1], toks[hi - 1][2], score)
            if j > i and len(keys) > 3 * len(typed):  # longer runs only dilute the match
                break
    return best


def _aligned_window(typed: list[str], keys: list[str]) -> tuple[int, int, float] | None:
    matcher = SequenceMatcher(None, typed, keys, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not blocks:
        return None
    first, last = blocks[0], blocks[-1]
    lo = max(0, first.b - first.a)
    hi = min(len(keys), last.b + last.size + (len(typed) - last.a - last.size))
    score = SequenceMatcher(None, typed, keys[lo:hi], autojunk=False).ratio()
    return lo, hi, score


# --- the lookup ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WordingMatch:
    """One place where the documents say (nearly) what was typed."""

    kind: MatchKind
    score: float  # 1.0 for exact and folded matches; the SequenceMatcher ratio for near ones
    doc_id: str
    title: str
    doc_kind: str
    comment_no: int | None
    source: str
    char_start: int  # the matched wording is document.text[char_start:char_end]
    char_end: int
    text: str
    paragraph_no: int  # 1-based
    paragraph_start: int
    paragraph_end: int
    paragraph: str
    diff: list[DiffOp] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WordingDoc:
    """A document prepared for wording lookup (held by the corpus snapshot)."""

    doc_id: str
    title: str
    kind: str
    comment_no: int | None
    source: str
    text: str
    folded: FoldedText
    paragraphs: tuple[tuple[int, int], ...]


def wording_doc(doc: Document) -> WordingDoc:
    return WordingDoc(
        doc.doc_id,
        doc.title,
        doc.kind,
        doc.comment_no,
        doc.source,
        doc.text,
        fold_with_offsets(doc.text),
        tuple(paragraph_spans(doc.text)),
    )


def _match(kind: MatchKind, score: float, doc: WordingDoc, start: int, end: int, phrase: str) -> WordingMatch:
    p_start, p_end, number = paragraph_around(doc.text, start, end, doc.paragraphs)
    span = doc.text[start:end]
    return WordingMatch(
        kind,
        round(score, 4),
        doc.doc_id,
        doc.title,
        doc.kind,
        doc.comment_no,
        doc.source,
        start,
        end,
        span,
        number,
        p_start,
        p_end,
        doc.text[p_start:p_end],
        word_diff(phrase, span),
    )


def exact_matches(docs: Sequence[WordingDoc], phrase: str, limit: int) -> list[WordingMatch]:
    """Verbatim matches first, then diacritic/case-insensitive ones, in document order."""
    exact: list[WordingMatch] = []
    folded: list[WordingMatch] = []
    for doc in docs:
        found = set()
        for start, end in find_exact(doc.text, phrase):
            found.add((start, end))
            if len(exact) < limit:
                exact.append(_match("exact", 1.0, doc, start, end, phrase))
        if len(exact) + len(folded) >= limit:
            continue
        for start, end in find_folded(doc.folded, phrase):
            if (start, end) not in found and len(folded) < limit:
                folded.append(_match("folded", 1.0, doc, start, end, phrase))
    return (exact + folded)[:limit]


class WordingCorpus(Protocol):
    """What :func:`lookup_wording` reads of a corpus (``bot.snapshot.CorpusSnapshot``, which imports this module)."""

    @property
    def documents(self) -> Mapping[str, WordingDoc]: ...

    def documents_with(self, phrase: str) -> Sequence[WordingDoc]: ...


def lookup_wording(
    snapshot: WordingCorpus, retrieve: Callable[[str, int], Sequence[Hit]], phrase: str, limit: int = 10
) -> list[WordingMatch]:
    """Exact matches of ``phrase`` in every document, then the nearest wordings, at most ``limit`` in all.

    Exact and folded matches are searched only in the documents that the snapshot's word index says hold the
    phrase's inner words (its first and last words may be cut); near wordings come from ``retrieve``."""
    phrase = normalize(phrase or "").strip()[:MAX_PHRASE_CHARS]
    typed = words(phrase)
    if not typed or limit <= 0:
        return []
    inner = " ".join(typed[1:-1]) if len(typed) >= 3 else " ".join(typed)
    results = exact_matches(snapshot.documents_with(inner), phrase, limit)
    if len(results) >= limit:
        return results
    docs = snapshot.documents
    taken = [(m.doc_id, m.char_start, m.char_end) for m in results]
    seen_paragraphs: set[tuple[str, int]] = set()
    near: list[WordingMatch] = []
    for hit in retrieve(phrase, max(10, 2 * limit)):
        doc = docs.get(hit.chunk.doc_id)
        if doc is None:
            continue
        for p_start, p_end in doc.paragraphs:
            if p_end <= hit.chunk.char_start or p_start >= hit.chunk.char_end:
                continue
            if (doc.doc_id, p_start) in seen_paragraphs:
                continue
            seen_paragraphs.add((doc.doc_id, p_start))
            span = best_wording(phrase, doc.text, p_start, p_end)
            if span is None or span.score < MIN_NEAR_SCORE:
                continue
            if any(d == doc.doc_id and s < span.end and span.start < e for d, s, e in taken):
                continue
            near.append(_match("near", span.score, doc, span.start, span.end, phrase))
    near.sort(key=lambda m: (-m.score, m.doc_id, m.char_start))
    return results + near[: limit - len(results)]


__all__ = [
    "DiffOp",
    "FoldedText",
    "WordingCorpus",
    "WordingDoc",
    "WordingMatch",
    "best_wording",
    "diff_is_equal",
    "exact_matches",
    "find_exact",
    "find_folded",
    "fold_with_offsets",
    "lookup_wording",
    "paragraph_around",
    "paragraph_spans",
    "word_diff",
    "wording_doc",
]
