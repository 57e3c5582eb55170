"""Specific details a question names, which the sources must contain before anything is answered.

A question about "phiên họp thứ năm" must not be answered from a text about "phiên họp thứ tư", nor one about the
"cấp tỉnh" steering committee from a text about the Government's. Lexical coverage cannot see this (most words
match), so the details are checked one by one: years and document numbers, ordinals of sessions and rounds,
administrative levels, officials' titles, proper names (runs of capitalised syllables) and the glossary's named
things (an acronym such as CCCD, or its expansion typed in full; either form in a source satisfies it).
Situational numbers (an age, a count of days) are not required: the law states rules, not the asker's case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from vectorstore.text import fold, normalize, words

_YEAR_OR_NUMBER = re.compile(r"\b(?:(?:19|20)\d\d|\d+(?:/\d+)+(?:/[\w-]+)?)\b")
# matched on the folded text, so that questions typed without diacritics are covered too
_ORDINAL = re.compile(
    r"\b(?:lan|phien|phien hop|ky|ky hop|khoa|dot|hoi nghi)\s+"
    r"(thu\s+(?:\d+|nhat|hai|ba|tu|bon|nam|sau|bay|tam|chin|muoi))\b"
)
_LEVEL = re.compile(r"\b(cap\s+(?:tinh|huyen|xa|bo|trung uong|thanh pho|quan|phuong|thi xa))\b")
_OFFICIAL = re.compile(  # an official's title followed by the body's name: "Bộ trưởng Bộ Nội vụ"
    r"\b(?:phó\s+)?(?:bộ trưởng|thứ trưởng|chủ tịch|giám đốc|trưởng ban|cục trưởng|vụ trưởng|chánh án|viện trưởng)"
    r"\s+[^\W\d_]+\s+[^\W\d_]+",
    re.IGNORECASE,
)
_SYLLABLE = re.compile(r"[^\W\d_]+", re.UNICODE)
_SENTENCE_OPENERS = frozenset('.!?:;\n"“(')
# words that open sentences with a capital but do not start names ("Trong Ban chỉ đạo…", "Theo Bộ…")
_OPENING_WORDS = frozenset(fold(
    "trong theo tại với khi nếu năm ngày tháng sau trước các những để từ về đối cũng người ông bà tỉnh "
    "thành phố xã huyện bộ ban ở vào cho tính đến hiện nay hôm qua đây đó"
).split())  # fmt: skip


def _starts_sentence(text: str, at: int) -> bool:
    """True when only blanks separate ``text[at]`` from the start of the text or a sentence opener."""
    i = at - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return i < 0 or text[i] in _SENTENCE_OPENERS


def proper_names(text: str) -> list[str]:
    """Runs of two or more capitalised syllables (acronyms excluded), e.g. 'Phạm Minh Chính', 'Bộ Nội'.
    Anything but blanks between two syllables ends a run: "Năm 2022 Quảng Ninh" names "Quảng Ninh", not
    "Năm Quảng Ninh". A lone capital letter ("nhóm A") and a sentence's first word when it is a common opener
    ("Trong", "Theo", "Năm") never start a run."""
    names: list[str] = []
    run: list[str] = []
    previous_end = 0
    for m in _SYLLABLE.finditer(text):
        token = m.group()
        capital = token[0].isupper() and len(token) > 1 and not token.isupper()
        joined = not text[previous_end : m.start()].strip()
        previous_end = m.end()
        if capital and run and joined:
            run.append(token)
            continue
        if len(run) >= 2:
            names.append(" ".join(run))
        opener = _starts_sentence(text, m.start()) and fold(token) in _OPENING_WORDS
        run = [token] if capital and not opener else []
    if len(run) >= 2:
        names.append(" ".join(run))
    return names


def specifics(question: str, glossary: Mapping[str, tuple[str, str]] | None = None) -> list[str]:
    """The details of ``question`` that an answer must be grounded on, as typed (NFC).

    ``glossary`` maps a folded acronym to ``(acronym, expansion)``; a glossary term is returned as the acronym."""
    text = normalize(question)
    found = [m.group() for m in _YEAR_OR_NUMBER.finditer(text)]
    folded = fold(text).lower()
    same_length = len(folded) == len(text)  # fold() maps each NFC character to one: spans carry over
    for pattern in (_ORDINAL, _LEVEL):
        found += [text[m.start(1) : m.end(1)] if same_length else m.group(1) for m in pattern.finditer(folded)]
    found += [m.group() for m in _OFFICIAL.finditer(text) if all(w[0].isupper() for w in m.group().split()[-2:])]
    found += proper_names(text)
    if glossary:
        key = folded_key(text)
        found += [
            acronym
            for folded_acronym, (acronym, expansion) in glossary.items()
            if f" {folded_acronym} " in key or folded_key(expansion) in key
        ]
    return list(dict.fromkeys(re.sub(r"\s+", " ", f) for f in found))


def folded_key(text: str) -> str:
    """Folded words joined by single blanks and padded with one, for whole-word containment tests."""
    return " " + " ".join(words(fold(text))) + " "


def missing_specifics(
    question: str, sources: Iterable[str], glossary: Mapping[str, tuple[str, str]] | None = None
) -> list[str]:
    """The specifics of ``question`` found in none of ``sources`` (compared without diacritics or case)."""
    wanted = specifics(question, glossary)
    if not wanted:
        return []
    haystack = "\n".join(folded_key(s) for s in sources)
    expansions = {acronym: expansion for acronym, expansion in (glossary or {}).values()}

    def present(term: str) -> bool:
        return folded_key(term) in haystack or (term in expansions and folded_key(expansions[term]) in haystack)

    return [w for w in wanted if not present(w)]
