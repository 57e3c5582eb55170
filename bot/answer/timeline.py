"""When the evidence is from, and which text is in force: the answer side of the policy timeline.

:class:`Chronology` (one per corpus snapshot) holds every document's :class:`~vectorstore.records.Timeline` and
which held legal texts another document says were replaced. :func:`time_of` reads what time a question asks about:
the present ("hiện nay", "mới nhất", or no time at all), a past time it names ("năm 2022", "trước khi sáp nhập"),
or a date it is asked as of ("theo quy định năm 2020", "tính đến năm 2023"; a figure "tính đến ngày …" is a past
day's, stated by a later document). :func:`in_time` puts the reader's answering sentences in the order the
question's time asks for: for the present, the text in force and the newest dated evidence first.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from bot.answer.types import Candidate
from ingest.dating import DocKey, doc_key, full_numbers, parse_date, same_text
from vectorstore.details import extract
from vectorstore.records import Timeline, date_key, vi_date
from vectorstore.text import fold

MERGER_DAY = "2025-06-30"  # the last day before the two-level local government and the 34 provinces (1/7/2025)
# a newer sentence leads when at least this probable relative to the best one: asked "now" ("hiện nay", "mới nhất"),
# or asked with no time at all (then only near-ties are reordered); chosen on the timeline and CCHC dev splits
NEWER_RATIO = 0.5
NEWER_RATIO_UNSAID = 0.8


@dataclass(frozen=True)
class Replacement:
    """A held legal text that another document says was replaced."""

    by: str  # the new text's number, as written
    since: str | None  # when: the new text's entry into force (or its date) when held, else the stating doc's date


@dataclass(frozen=True)
class QuestionTime:
    """What time a question asks about."""

    as_of: str | None = None  # only documents dated on or before this ISO date answer
    past: bool = False  # it names a past time: that time's evidence, not the newest
    present: bool = False  # it says "now" ("hiện nay", "mới nhất", "còn hiệu lực") or names no time
    said: bool = False  # it says "now" in words
    named: tuple[DocKey, ...] = ()  # the legal texts it names, by number


class Chronology:
    """Every document's dates and the replacements the corpus states, read once per snapshot."""

    def __init__(self, timelines: Mapping[str, Timeline], reported: Mapping[str, int] | None = None) -> None:
        self.timelines = dict(timelines)
        self.reported = dict(reported or {})  # an undated document's latest past year its text reports on
        held: dict[tuple[str, int | None], list[tuple[DocKey, str]]] = {}  # (number, year) -> (key, doc id)
        for doc_id, t in self.timelines.items():
            if t.number:
                key = doc_key(t.number)
                held.setdefault(key[:2], []).append((key, doc_id))
        self._held = held
        replaced: dict[tuple[str, int | None], list[tuple[DocKey, Replacement]]] = {}
        for t in self.timelines.values():
            for new, old in t.replaces:
                since = next((self.timelines[d].effective or self.timelines[d].date for d in self._holding(new)), None)
                candidate = Replacement(new, since or t.date)
                entries = replaced.setdefault(doc_key(old)[:2], [])
                entries.append((doc_key(old), candidate))
        self._replaced = replaced

    def _holding(self, number: str) -> list[str]:
        """The held documents that are (articles of) the legal text ``number``."""
        key = doc_key(number)
        return [doc_id for k, doc_id in self._held.get(key[:2], []) if same_text(k, key)]

    def _replacement(self, key: DocKey) -> Replacement | None:
        """The newest replacement a held document states for the text ``key``."""
        found = [
            r for k, r in self._replaced.get(key[:2], []) if same_text(k, key) and not same_text(doc_key(r.by), key)
        ]
        return max(found, key=lambda r: date_key(r.since)) if found else None

    def of(self, doc_id: str) -> Timeline:
        return self.timelines.get(doc_id) or Timeline()

    def when(self, doc_id: str) -> str | None:
        """The document's date, or for a legal text without one its entry into force."""
        t = self.of(doc_id)
        return t.date or t.effective

    def is_replaced(self, key: DocKey) -> bool:
        """Whether a held document says the text ``key`` was replaced."""
        return self._replacement(key) is not None

    def years(self, doc_id: str) -> range:
        """The years a document speaks for: a legal text from its issue (or entry into force; undated, the year
        its number names: "138/2020/NĐ-CP" was issued in 2020) until it was replaced (or this year), anything else
        its own year; empty when undated."""
        number = self.of(doc_id).number
        start = date_key(self.when(doc_id)) // 10_000 or ((doc_key(number)[1] or 0) if number else 0)
        if not start:
            return range(0)
        replaced = self.replaced_by(doc_id)
        if number:
            end = date_key(replaced.since) // 10_000 if replaced and replaced.since else datetime.date.today().year
            return range(start, max(start, end) + 1)
        return range(start, start + 1)

    def replaced_by(self, doc_id: str) -> Replacement | None:
        """The replacement of the legal text ``doc_id`` is (or is about), when a held document states one."""
        number = self.of(doc_id).number
        return self._replacement(doc_key(number)) if number else None

    def recency(self, doc_id: str, reported: bool = False) -> int:
        """How new a document is, for ordering (a :func:`date_key`): its date, else with ``reported`` the start of
        the latest year its text reports on (an undated report on "năm 2024" is no older than 2024), else 0."""
        dated = date_key(self.when(doc_id))
        return dated if dated or not reported else self.reported.get(doc_id, 0) * 10_000

    def dated_until(self, as_of: str) -> set[str]:
        """The documents dated on or before ``as_of`` (undated ones are not)."""
        limit = date_key(as_of)
        return {d for d in self.timelines if 0 < date_key(self.when(d)) <= limit}

    def newest(self, doc_ids: Sequence[str]) -> str | None:
        """The newest dated document among ``doc_ids`` (None when none is dated)."""
        dated = [d for d in doc_ids if self.when(d)]
        return max(dated, key=lambda d: date_key(self.when(d))) if dated else None


# what precedes a year that is a target or a bound, not a time reported on: "đến năm 2030", "giai đoạn 2021-2025"
_NOT_REPORTED = re.compile(
    r"\b(?:den|toi|giai doan|tam nhin|ke hoach|chien luoc|dinh huong|muc tieu|truoc|nhiem ky)(?: het)?"
    r"(?: nam| ngay)?\s*[\d/.-]*\s*(?:-|–|den)?\s*$"
)


def reported_year(text: str, this_year: int) -> int | None:
    """The latest year up to ``this_year`` that ``text`` reports on (a date's or a named year, not a target's: "đến
    năm 2030"): an undated document is no older than that year."""
    years = [
        d.value if isinstance(d.value, int) else cast(tuple, d.value)[0]
        for d in extract(text, ("date", "year"))
        if not _NOT_REPORTED.search(fold(text[max(0, d.start - 30) : d.start]))
    ]
    return max((y for y in years if y and y <= this_year), default=None)


_PRESENT = re.compile(r"\b(?:hien nay|hien hanh|hien tai|moi nhat|bay gio|luc nay|con hieu luc|dang co hieu luc|"
                      r"dang ap dung|dang duoc ap dung|nowadays|currently|current|latest|now)\b"
                      # "hiện" alone before a verb ("hiện có", "hiện quy định"), not in "thực hiện", "xuất hiện" …
                      r"|(?<!thuc )(?<!xuat )(?<!the )(?<!phat )(?<!bieu )(?<!tai )(?<!an )\bhien "
                      r"(?:dang|co|la|duoc|quy dinh|ap dung|con|gio)\b")  # fmt: skip
_BEFORE_MERGER = re.compile(r"\btruoc (?:khi )?(?:sap nhap|sap xep|hop nhat)\b")
_AS_OF = re.compile(
    r"\b(?:theo quy dinh(?: (?:cua|tai|vao))?(?: (?:nam|thoi diem|ngay))?|tinh den(?: (?:ngay|nam|thoi diem|het))?|"
    r"vao thoi diem|tai thoi diem|as of)\s+$"
)


def time_of(question: str) -> QuestionTime:
    """The time ``question`` asks about (see :class:`QuestionTime`)."""
    folded = fold(question)
    named = tuple(doc_key(d.text) for d in full_numbers(question))
    if _PRESENT.search(folded) and not _BEFORE_MERGER.search(folded):
        return QuestionTime(present=True, said=True, named=named)
    if _BEFORE_MERGER.search(folded):
        return QuestionTime(as_of=MERGER_DAY, past=True)
    for detail in extract(question, ("date", "year")):
        if said := _AS_OF.search(fold(question[: detail.start]) + " "):
            value = detail.value
            y, m, d = value if isinstance(value, tuple) else (value, None, None)
            if d and said.group().startswith("tinh den"):
                # a figure counted up to a day ("Tính đến ngày 27/4/2021, … bao nhiêu"): reported on a later day,
                # by a sentence that states that day (the details gate asks for it), not by an older document
                return QuestionTime(past=True)
            as_of = _end_of(y, m, d)  # type: ignore[arg-type]
            if as_of:
                return QuestionTime(as_of=as_of, past=True)
    if extract(question, ("date", "year")):
        return QuestionTime(past=True)
    if named:
        return QuestionTime(named=named)  # about one named text: what it says, whatever its time
    return QuestionTime(present=True)


def _end_of(year: int | None, month: int | None, day: int | None) -> str | None:
    """The last day a year, month or day named covers, as ISO."""
    if not year:
        return None
    if not month:
        return f"{year:04d}-12-31"
    if not day:
        last = 31 if month in (1, 3, 5, 7, 8, 10, 12) else 30 if month != 2 else 29 if year % 4 == 0 else 28
        return f"{year:04d}-{month:02d}-{last:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}"


def check_as_of(value: str) -> str:
    """A user's as-of date ("2020-12-31", "31/12/2020", "2020") as ISO, covering the whole year or month named;
    ``ValueError`` when it is not a date."""
    parsed = parse_date(value.strip())
    if not parsed:
        raise ValueError(value)
    parts = [int(p) for p in parsed.split("-")]
    return _end_of(*(parts + [None] * (3 - len(parts))))  # type: ignore[return-value]


def covered_years(missing: Sequence[str], doc_ids: Sequence[str], chronology: Chronology) -> list[str]:
    """``missing`` (details of a question no passage states) without the years the passages' documents speak for:
    a 2017 article answers for "năm 2017" though its text never writes the year. A date naming its day
    ("19/4/2022") is not covered so: the article's year does not say it speaks of that day."""
    spoken = {y for doc_id in doc_ids for y in chronology.years(doc_id)}
    kept = []
    for item in missing:
        years = [d.value for d in extract(item, ("year",))]
        dates = [cast(tuple, d.value) for d in extract(item, ("date",))]
        a_day = any(day is not None for _, _, day in dates)
        if a_day or not (years or dates) or any(y not in spoken for y in years + [y for y, _, _ in dates]):
            kept.append(item)
    return kept


def in_time(
    candidates: Sequence[Candidate], chronology: Chronology, time: QuestionTime, floor: float
) -> list[Candidate]:
    """The reader's candidates in the order the question's time asks for. For the present: a question naming a
    text another held document replaces ("Nghị định 138/2020 còn hiệu lực không?") is answered first by the
    sentence stating the replacement; otherwise, among the sentences near the best (at least ``floor`` and
    :data:`NEWER_RATIO` of the best's probability, :data:`NEWER_RATIO_UNSAID` when the question names no time; a
    reader's comment, or a sentence in conflict with the question, never moves), one from a text in force comes
    before one from a replaced text, then the newest dated first (asked "now" in words, an undated document by the
    latest year it reports on). A past or as-of question keeps the reader's order
    (retrieval already kept only what the as-of date allows)."""
    if not candidates or not time.present:
        return list(candidates)
    replaced = [key for key in time.named if chronology.is_replaced(key)]
    stating = next((c for c in candidates if replaced and _states_replacement(c.text, replaced)), None)
    if stating is not None:
        return [stating, *(c for c in candidates if c is not stating)]
    best = candidates[0].probability
    ratio = NEWER_RATIO if time.said else NEWER_RATIO_UNSAID
    leading = [
        c
        for c in candidates
        if c.probability >= max(floor, ratio * best) and c.passage.kind != "comment" and not c.features.get("conflict")
    ]
    if len(leading) < 2:
        return list(candidates)

    def order(c: Candidate) -> tuple[bool, int]:
        doc_id = c.passage.doc_id
        return chronology.replaced_by(doc_id) is not None, -chronology.recency(doc_id, reported=time.said)

    ordered = sorted(leading, key=order)
    return ordered + [c for c in candidates if c not in ordered]


def _states_replacement(sentence: str, replaced: Sequence[DocKey]) -> bool:
    """Whether ``sentence`` says that one of the ``replaced`` texts was replaced ("… thay thế Nghị định số …")."""
    if "thay the" not in fold(sentence):
        return False
    return any(same_text(doc_key(d.text), key) for d in full_numbers(sentence) for key in replaced)


def written_as_of(timeline: Timeline) -> str:
    """How an answer says when its source is from: "Theo tài liệu ngày 10/6/2025", "Theo Nghị định số
    23/2015/NĐ-CP (ban hành ngày 16/2/2015, có hiệu lực từ 10/4/2015)"; "" for an undated source."""
    if timeline.number and timeline.effective:
        issued = f"ban hành ngày {vi_date(timeline.date)}, " if timeline.date else ""
        return f"Theo văn bản số {timeline.number} ({issued}có hiệu lực từ {vi_date(timeline.effective)})"
    return f"Theo tài liệu {when_said(timeline)}" if timeline.date else ""


def when_said(timeline: Timeline) -> str:
    """A document's time in words: "ngày 10/6/2025", "tháng 6/2025", "năm 2024", or for a legal text known only by
    its entry into force "có hiệu lực từ 1/7/2014"."""
    if not timeline.date:
        return f"có hiệu lực từ {vi_date(timeline.effective)}"
    return ("ngày", "tháng", "năm")[2 - timeline.date.count("-")] + " " + vi_date(timeline.date)


def replaced_note(replacement: Replacement) -> str:
    since = f" (từ {vi_date(replacement.since)})" if replacement.since else ""
    return f"Đã được thay thế bởi {replacement.by}{since}"


_SAID_AS_OF = re.compile(
    r"^(?:Tính đến ngày [^.]+\. )?Theo (?:tài liệu|văn bản)[^:]*: |(?<=\s)Trước đó, theo tài liệu [^:]+: "
)


def quoted_only(answer: str) -> str:
    """An answer without what it says of its sources' dates ("Theo tài liệu ngày 9/6/2025: ", "Trước đó, …: "):
    what the documents say, for checking an answer's facts."""
    return _SAID_AS_OF.sub("", answer)


def dates_label(date: str | None, effective: str | None, number: str | None, kind: str = "law") -> str:
    """What a citation shows of its document's time: "ngày 9/6/2025"; "số 23/2015/NĐ-CP, ban hành 16/2/2015,
    hiệu lực từ 10/4/2015"; for an article about a legal text "ngày 9/6/2025, về văn bản số 118/2025/NĐ-CP";
    "không rõ ngày" when the document does not say."""
    legal = kind == "law"
    parts = [f"số {number}"] if number and legal else []
    if date:
        parts.append(("ban hành " if number and legal else "ngày ") + vi_date(date))
    if effective:
        parts.append(f"hiệu lực từ {vi_date(effective)}")
    if not date and not effective:
        parts.append("không rõ ngày")
    if number and not legal:
        parts.append(f"về văn bản số {number}")
    return ", ".join(parts)


__all__ = [
    "Chronology",
    "QuestionTime",
    "Replacement",
    "check_as_of",
    "covered_years",
    "dates_label",
    "in_time",
    "quoted_only",
    "replaced_note",
    "reported_year",
    "time_of",
    "when_said",
    "written_as_of",
]
