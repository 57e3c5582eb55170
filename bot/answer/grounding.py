"""Specific details a question names, which the sources must contain before anything is answered.

A question about "phiên họp thứ năm" must not be answered from a text about "phiên họp thứ tư", nor one about the
"cấp tỉnh" steering committee from a text about the Government's. Lexical coverage cannot see this (most words
match), so the details are checked one by one: years, dates and document numbers, ordinals of sessions and rounds
(these four compared by meaning, see ``vectorstore.details``: "1/7/2025" meets "July 1", "thứ 9" meets "9th"),
administrative levels, officials' titles, proper names (runs of capitalised syllables) and the glossary's named
things (an acronym such as CCCD, or its expansion typed in full; either form in a source satisfies it).
Situational numbers (the asker's age, a count of days) are not required: the law states rules, not the asker's
case. An age with a bound ("trẻ em dưới 6 tuổi", "từ đủ 14 tuổi") names a category the law writes rules for: it is
required, as the age ("6 tuổi" is met by "từ 0 - 6 tuổi", "06 tuổi", "under 6 years old").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from vectorstore import details
from vectorstore.details import Detail, Kind
from vectorstore.text import fold, normalize, words

_REQUIRED: frozenset[Kind] = frozenset({"year", "date", "doc_number"})  # + ordinals, of sessions and rounds only
_READ: frozenset[Kind] = _REQUIRED | {"ordinal"}
_ORDINAL_BEFORE = re.compile(r"\b(?:lan|phien|phien hop|ky|ky hop|khoa|dot|hoi nghi)\s+$")  # on folded text
_ORDINAL_AFTER = re.compile(
    r"\s+(?:plenary\s+)?(?:session|sitting|meeting|plenum|round|term|congress|conference)\b", re.IGNORECASE
)
_LEVEL = re.compile(r"\b(cap\s+(?:tinh|huyen|xa|bo|trung uong|thanh pho|quan|phuong|thi xa))\b")
_OFFICIAL = re.compile(  # an official's title followed by the body's name: "Bộ trưởng Bộ Nội vụ"
    r"\b(?:phó\s+)?(?:bộ trưởng|thứ trưởng|chủ tịch|giám đốc|trưởng ban|cục trưởng|vụ trưởng|chánh án|viện trưởng)"
    r"\s+[^\W\d_]+\s+[^\W\d_]+",
    re.IGNORECASE,
)
# on folded text: an age after a bound; the age alone is the specific
_BOUNDED_AGE = re.compile(
    r"\b(?:duoi|tren|tu du|tu|du|chua du|qua|under|over|below|above|at least|aged)\s+0*(\d{1,3})\s*(?:tuoi|years?)\b"
)
_AGE = re.compile(r"^(\d{1,3}) tuổi$")
_SYLLABLE = re.compile(r"[^\W\d_]+", re.UNICODE)
_SENTENCE_OPENERS = frozenset('.!?:;\n"“(')
# words that open sentences with a capital but do not start names ("Trong Ban chỉ đạo…", "Theo Bộ…")
_OPENING_WORDS = frozenset(fold(
    "trong theo tại với khi nếu năm ngày tháng sau trước các những để từ về đối cũng người ông bà tỉnh "
    "thành phố xã huyện bộ ban ở vào cho tính đến hiện nay hôm qua đây đó còn vậy thế thì nếu"
).split())  # fmt: skip


def _starts_sentence(text: str, at: int) -> bool:
    """True when only blanks separate ``text[at]`` from the start of the text or a sentence opener."""
    i = at - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return i < 0 or text[i] in _SENTENCE_OPENERS


KNOWN_NAMES_FILE = Path(__file__).parent.parent / "data" / "known_names.txt"


@cache
def _known_names() -> re.Pattern[str]:
    """The names of :data:`KNOWN_NAMES_FILE` as one pattern, longest first, matched without regard to case."""
    lines = KNOWN_NAMES_FILE.read_text(encoding="utf-8").splitlines()
    names = sorted({normalize(n).strip() for n in lines if n.strip() and not n.startswith("#")}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in names) + r")(?!\w)", re.I)


def known_names(text: str) -> list[str]:
    """The names of :data:`KNOWN_NAMES_FILE` that ``text`` writes as names (capitalised): "Bộ Nội vụ", "Đồng bằng
    sông Hồng"."""
    return [m.group() for m in _known_matches(text)]


def _known_matches(text: str) -> list[re.Match[str]]:
    return [m for m in _known_names().finditer(text) if m.group()[0].isupper()]


def proper_names(text: str) -> list[str]:
    """Runs of two or more capitalised syllables (acronyms excluded), e.g. 'Phạm Minh Chính', and the known names
    with lower-case syllables ('Bộ Nội vụ', not 'Bộ Nội'; 'Đồng bằng sông Hồng'), in the order written.
    Anything but blanks between two syllables ends a run: "Năm 2022 Quảng Ninh" names "Quảng Ninh", not
    "Năm Quảng Ninh". A lone capital letter ("nhóm A") and a sentence's first word when it is a common opener
    ("Trong", "Theo", "Năm") never start a run."""
    known = _known_matches(text)
    names: list[tuple[int, str]] = [(m.start(), m.group()) for m in known]
    run: list[str] = []
    run_start = previous_end = 0
    for m in _SYLLABLE.finditer(text):
        token = m.group()
        inside = any(k.start() <= m.start() < k.end() for k in known)
        capital = token[0].isupper() and len(token) > 1 and not token.isupper() and not inside
        joined = not text[previous_end : m.start()].strip()
        previous_end = m.end()
        if capital and run and joined:
            run.append(token)
            continue
        if len(run) >= 2:
            names.append((run_start, " ".join(run)))
        opener = _starts_sentence(text, m.start()) and fold(token) in _OPENING_WORDS
        run, run_start = ([token] if capital and not opener else []), m.start()
    if len(run) >= 2:
        names.append((run_start, " ".join(run)))
    return [name for _, name in sorted(names)]


def specifics(question: str, glossary: Mapping[str, tuple[str, str]] | None = None) -> list[str]:
    """The details of ``question`` that an answer must be grounded on, as typed (NFC).

    ``glossary`` maps a folded acronym to ``(acronym, expansion)``; a glossary term is returned as the acronym."""
    return list(_specifics(question, glossary))


def meant_specifics(question: str, glossary: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Detail | None]:
    """:func:`specifics` with what each means, where ``vectorstore.details`` reads one (a year, date, document
    number or ordinal; None for names, levels, titles and glossary terms, which are compared as words)."""
    return _specifics(question, glossary)


def states(term: str, detail: Detail | None, key: str, stated: Iterable[Detail]) -> bool:
    """Whether a text states a specific: ``detail`` by meaning among the text's ``stated`` details (see
    :func:`stated_details`), else ``term`` as whole words in the text's :func:`folded_key` ``key``."""
    if detail is not None:
        return details.matches(detail, stated)
    age = _AGE.match(term)
    if age:  # "6 tuổi" in "từ 0 - 6 tuổi", "dưới 06 tuổi", "under 6 years old", "a 6-year-old"
        return bool(re.search(rf" 0*{age.group(1)} (?:tuoi|years? old) ", unhyphenated(key)))
    if folded_key(term) in key:
        return True
    # a known name written another way: "Trung du và miền núi phía Bắc" is "Trung du miền núi phía Bắc",
    # "Bộ Lao động - Thương binh và Xã hội" is "Bộ Lao động, Thương binh và Xã hội"
    return bool(_known_names().fullmatch(term)) and _loose(folded_key(term)) in _loose(key)


def _loose(key: str) -> str:
    """A :func:`folded_key` without "và" and hyphens."""
    return " ".join(w for w in key.replace("-", " ").split() if w != "va").join("  ")


def _required_details(text: str) -> list[Detail]:
    """The years, dates, document numbers and ordinals of sessions or rounds that ``text`` names."""
    return [
        d
        for d in details.extract(text, _READ)
        if d.kind in _REQUIRED
        or (
            d.kind == "ordinal"
            and bool(_ORDINAL_BEFORE.search(fold(text[: d.start])) or _ORDINAL_AFTER.match(text, d.end))
        )
    ]


def _specifics(question: str, glossary: Mapping[str, tuple[str, str]] | None) -> dict[str, Detail | None]:
    """``specifics`` with the meaning of each that ``vectorstore.details`` reads (None for names, levels…)."""
    text = normalize(question)
    found: list[tuple[str, Detail | None]] = [(d.text, d) for d in _required_details(text)]
    folded = fold(text).lower()
    same_length = len(folded) == len(text)  # fold() maps each NFC character to one: spans carry over
    found += [(text[m.start(1) : m.end(1)] if same_length else m.group(1), None) for m in _LEVEL.finditer(folded)]
    found += [
        (m.group(), None) for m in _OFFICIAL.finditer(text) if all(w[0].isupper() for w in m.group().split()[-2:])
    ]
    found += [(name, None) for name in proper_names(text)]
    found += [(f"{int(m.group(1))} tuổi", None) for m in _BOUNDED_AGE.finditer(folded)]
    if glossary:
        key = folded_key(text)
        found += [
            (acronym, None)
            for folded_acronym, (acronym, expansion) in glossary.items()
            if f" {folded_acronym} " in key or folded_key(expansion) in key
        ]
    unique: dict[str, Detail | None] = {}
    for typed, detail in found:
        unique.setdefault(re.sub(r"\s+", " ", typed), detail)
    return unique


_BODY_WORDS = frozenset(fold("bộ ban sở cục ủy uỷ văn tổng thanh ngân chính quốc hội đảng trung viện tòa tòa").split())


def worded(question: str, glossary: Mapping[str, tuple[str, str]] | None = None) -> set[str]:
    """The specifics of ``question`` that only its own language's words state — administrative levels, officials'
    titles, bodies' names ("Bộ Nội vụ"), glossary terms — which a source in another language states in its own
    words ("provincial", "Ministry of Home Affairs"); years, dates, numbers, ordinals and the names of places and
    people read the same in both."""
    wanted = _specifics(question, glossary)
    known = known_names(question)  # "Đồng bằng sông Hồng" is "the Red River Delta" in an English source
    read_alike = {n for n in proper_names(question) if fold(n.split()[0]) not in _BODY_WORDS and n not in known}
    return {
        term for term, detail in wanted.items() if detail is None and term not in read_alike and not _AGE.match(term)
    }


def folded_key(text: str) -> str:
    """Folded words joined by single blanks and padded with one, for whole-word containment tests."""
    return " " + " ".join(words(fold(text))) + " "


def unhyphenated(key: str) -> str:
    """A :func:`folded_key` with hyphens between words as blanks: "kinh te-xa hoi" is "kinh te - xa hoi"."""
    return " ".join(key.replace("-", " ").split()).join("  ")


def stated_details(source: str) -> list[Detail]:
    """The details ``source`` states that a question may require (its situational numbers are not read)."""
    nfc = source if unicodedata.is_normalized("NFC", source) else unicodedata.normalize("NFC", source)
    return details.extract(nfc, _READ)


def states_its_specifics(question: str, sentence: str, glossary: Mapping[str, tuple[str, str]] | None = None) -> bool:
    """Whether ``sentence`` states every specific of ``question`` other than a year, and there is one (an ordinal
    of a session, a date, a document number, a name, an acronym): then it is about what is asked, however far apart
    their vectors are ("Phiên họp thứ tư diễn ra ngày nào?" and "… chủ trì phiên họp thứ tư của ban chỉ đạo")."""
    wanted = {t: d for t, d in _specifics(question, glossary).items() if d is None or d.kind != "year"}
    if not wanted:
        return False
    key, stated = folded_key(sentence), stated_details(sentence)
    return all(states(term, detail, key, stated) for term, detail in wanted.items())


def missing_specifics(
    question: str,
    sources: Iterable[str],
    glossary: Mapping[str, tuple[str, str]] | None = None,
    documents: Iterable[str] = (),
) -> list[str]:
    """The specifics of ``question`` found in none of ``sources``: years, dates, document numbers and ordinals
    compared by meaning, everything else as words without diacritics or case. A glossary term (CCHC, TTHC, …) names
    a topic, not a detail: it may be stated anywhere in the ``documents`` the sources come from (a passage of an
    article on CCHC that does not repeat the words is still about CCHC)."""
    wanted = _specifics(question, glossary)
    if not wanted:
        return []
    sources = list(sources)
    haystack = "\n".join(folded_key(s) for s in sources)
    stated = [d for s in sources for d in stated_details(s)] if any(wanted.values()) else []
    expansions = {acronym: expansion for acronym, expansion in (glossary or {}).values()}
    # read on the first glossary term the passages lack: the passages and then the documents, folded, with hyphens
    # between words as blanks for the expansions ("kinh tế-xã hội" is "kinh tế - xã hội")
    loose: list[str] = []
    topic: list[str] = []

    def present(term: str, detail: Detail | None) -> bool:
        if states(term, detail, haystack, stated):
            return True
        if detail is not None or term not in expansions:
            return False
        expansion = unhyphenated(folded_key(expansions[term]))
        if not loose:
            loose.append(unhyphenated(haystack))
        if expansion in loose[0]:
            return True
        if not topic:
            topic.append("\n".join(folded_key(d) for d in documents))
        return folded_key(term) in topic[0] or expansion in unhyphenated(topic[0])

    return [term for term, detail in wanted.items() if not present(term, detail)]
