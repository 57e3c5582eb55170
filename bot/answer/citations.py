"""Citation verification: every [n] in an answer must point at a verbatim quote of passage n's document.

Works for any generator. A claim (sentence) whose text is a verbatim span of the cited document is
kept with that span as its quote; a paraphrasing claim is *repaired* by citing the passage sentence
it overlaps most (when the overlap is high enough) and otherwise *dropped*. The result only holds
citations where ``quote == document_text[char_start:char_end]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

from bot.answer.types import Passage
from vectorstore.records import Document
from vectorstore.text import content_words, fold, sentence_spans

_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*,\s*\d+)*\])+[\s.]*")
MIN_OVERLAP = 0.6  # share of a claim's content syllables that the cited sentence must contain
MIN_CLAIM_WORDS = 4  # a claim with fewer content words is a bare name or number
COMMENT_LABEL = "Ý kiến bạn đọc"  # put before a quoted reader's comment: "Ý kiến bạn đọc: … [n]."
_LABEL = re.compile(rf"^(?:{COMMENT_LABEL}\s*:\s*|…(?=\w))")  # a comment's label; "…" before a clause
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_PARTS = re.compile(r"[,;:](?!\d)")


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    kind: str
    comment_no: int | None
    source: str
    quote: str
    char_start: int
    char_end: int
    date: str | None = None  # the document's date (ISO), when known
    effective: str | None = None  # a legal text's entry into force
    number: str | None = None  # a legal text's number
    superseded_by: str = ""  # "Đã được thay thế bởi … (từ …)" when a held document replaces this text

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class VerifiedAnswer:
    text: str  # the answer with only verified markers, renumbered 1..N in order of appearance
    citations: list[Citation]
    dropped: list[str]  # claims removed because no cited passage supports them


def is_valid(citation: Citation, document_text: str) -> bool:
    """The one rule: the quote is non-empty and is exactly the document text at its offsets."""
    return bool(citation.quote.strip()) and document_text[citation.char_start : citation.char_end] == citation.quote


def split_claims(answer: str) -> list[tuple[str, list[int]]]:
    """Split an answer into (claim text without markers, cited numbers) pairs, in order.

    Markers may stand before or after the final full stop ("text [2]." or "text. [2]"). Claims are the project's
    sentences, line by line: "TP. Hải Phòng" or "ông M. Chính" does not cut a quote in two."""
    claims: list[tuple[str, list[int]]] = []
    for start, end in sentence_spans(answer, lines=True):
        sentence = answer[start:end]
        lead = _LEADING_MARKERS.match(sentence)
        if lead and claims:  # markers left after the previous sentence's full stop belong to it
            numbers = [int(x) for m in _MARKER.finditer(lead.group()) for x in m.group(1).split(",")]
            claims[-1] = (claims[-1][0], claims[-1][1] + numbers)
            sentence = sentence[lead.end() :]
        numbers = [int(x) for m in _MARKER.finditer(sentence) for x in m.group(1).split(",")]
        text = _MARKER.sub("", sentence).strip()
        if text.strip(" .…!?;:"):
            claims.append((text, numbers))
    return claims


def verify(
    answer: str,
    passages: list[Passage],
    get_document: Callable[[str], Document | None],
    answering: Sequence[str] | None = None,
    question: str = "",
) -> VerifiedAnswer:
    """Check and repair every citation of ``answer`` against the cited passages' documents.

    With ``answering`` (the sentences the reader found to answer ``question``), a bare claim — a name or a number,
    fewer than :data:`MIN_CLAIM_WORDS` content words — must come from the part of one of them (between commas or
    semicolons) that also holds a word of the question: a name the passage mentions in another role ("xếp thứ hai
    là Bộ X" for "bộ nào dẫn đầu") is not the answer."""
    by_n = {p.n: p for p in passages}
    kept_claims: list[str] = []
    citations: list[Citation] = []
    dropped: list[str] = []
    key_to_number: dict[tuple[str, int, int], int] = {}
    documents: dict[str, Document | None] = {}
    for claim, numbers in split_claims(answer):
        found: list[Citation] = []
        label, claim = _split_label(claim)
        if answering is not None and len(_content(claim)) < MIN_CLAIM_WORDS and _core(claim):
            if not _answers(_core(claim), answering, _content(question)):
                dropped.append(label + _core(claim))
                continue
        for n in numbers:
            passage = by_n.get(n)
            if passage is None:
                continue
            if passage.doc_id not in documents:
                documents[passage.doc_id] = get_document(passage.doc_id)
            doc = documents[passage.doc_id]
            if doc is None:
                continue
            span = locate(claim, passage, doc.text)
            if span is not None:
                start, end = span
                found.append(
                    Citation(
                        0, doc.doc_id, doc.title, doc.kind, doc.comment_no, doc.source, doc.text[start:end], start, end
                    )
                )
        if not found and numbers:
            found = _verbatim_elsewhere(claim, passages, numbers, documents, get_document)
        if not found:
            if numbers or _looks_substantive(claim):
                dropped.append(label + claim)
            else:
                kept_claims.append(label + claim)  # a connective line with no claim ("Cụ thể:")
            continue
        markers = []
        for c in found:
            key = (c.doc_id, c.char_start, c.char_end)
            if key not in key_to_number:
                key_to_number[key] = len(citations) + 1
                citations.append(replace(c, n=key_to_number[key]))
            markers.append(f"[{key_to_number[key]}]")
        kept_claims.append(label + _attach(claim, "".join(dict.fromkeys(markers))))
    if not citations:
        return VerifiedAnswer("", [], dropped)
    return VerifiedAnswer(" ".join(kept_claims).strip(), citations, dropped)


def _verbatim_elsewhere(
    claim: str,
    passages: list[Passage],
    cited: list[int],
    documents: dict[str, Document | None],
    get_document: Callable[[str], Document | None],
) -> list[Citation]:
    """A claim copied word for word from a passage other than the one it cites: cite the one it came from."""
    core = _core(claim)
    if len(core) < 12:
        return []
    for passage in passages:
        if passage.n in cited or core not in passage.text:
            continue
        if passage.doc_id not in documents:
            documents[passage.doc_id] = get_document(passage.doc_id)
        doc = documents[passage.doc_id]
        span = locate(claim, passage, doc.text) if doc is not None else None
        if doc is not None and span is not None:
            start, end = span
            return [
                Citation(
                    0, doc.doc_id, doc.title, doc.kind, doc.comment_no, doc.source, doc.text[start:end], start, end
                )
            ]
    return []


def _answers(claim: str, answering: Sequence[str], question_terms: set[str]) -> bool:
    """Whether a bare claim stands, in an answering sentence, in a part that speaks of the question."""
    wanted = fold(claim)
    own = _content(claim)
    for sentence in answering:
        for part in _PARTS.split(sentence):
            if wanted in fold(part) and (not question_terms or (_content(part) - own) & question_terms):
                return True
    return False


def _split_label(claim: str) -> tuple[str, str]:
    """("Ý kiến bạn đọc: ", the quote) for a labelled quote of a comment, ("…", the clause) for a clause quoted from
    inside its sentence, ("", claim) otherwise."""
    m = _LABEL.match(claim)
    return (m.group(), claim[m.end() :]) if m else ("", claim)


def _core(claim: str) -> str:
    return claim.strip().strip("\"“”'").rstrip(".…;:").strip()


def locate(claim: str, passage: Passage, document_text: str) -> tuple[int, int] | None:
    """Offsets in the document of the passage text that supports ``claim``, or None."""
    base = document_text.find(passage.text)
    if base < 0:
        return None
    core = _core(claim)
    if len(core) >= 12:
        at = passage.text.find(core)
        if at >= 0:
            return base + at, base + at + len(core)
    # Repair: the passage sentence that contains most of the claim's content syllables and all of its numbers.
    claim_terms = _content(claim)
    if not claim_terms:
        return None
    claim_numbers = set(_NUMBER.findall(claim))
    best, best_score = None, 0.0
    for start, end in sentence_spans(passage.text):
        sentence = passage.text[start:end]
        if not claim_numbers <= set(_NUMBER.findall(sentence)):
            continue
        score = len(claim_terms & _content(sentence)) / len(claim_terms)
        if score > best_score:
            best, best_score = (base + start, base + end), score
    return best if best_score >= MIN_OVERLAP else None


def _content(text: str) -> set[str]:
    return {w for w in content_words(text) if len(w) > 1}


def _looks_substantive(claim: str) -> bool:
    return len(_content(claim)) >= 4


def _attach(claim: str, markers: str) -> str:
    body = claim.rstrip()
    end = ""
    if body and body[-1] in ".!?…":
        body, end = body[:-1], body[-1]
    return f"{body} {markers}{end or '.'}"
