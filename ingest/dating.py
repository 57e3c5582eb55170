"""A document's dates, read at ingest: when it was issued or published, and for a legal text its number, its entry
into force and the texts it replaces. Sources, most trusted first:

1. an explicit metadata field (JSONL ``date`` / ``source.date``; HTML ``article:published_time``, ``<time>``, meta
   ``date``; DOCX / PDF core properties, which the loaders copy into the metadata);
2. the legal citation line ("… Nghị định số 23/2015/NĐ-CP … ngày 16/02/2015 của Chính phủ, có hiệu lực thi hành kể
   từ ngày 10/04/2015");
3. the text's own opening ("Ngày 9/6/2025, Chính phủ ban hành …", "Hà Nội, ngày 10 tháng 6 năm 2025");
4. a dated URL or file name (".../2025/06/10/...", "...-20250610...").

What no source states stays unknown (None), never guessed. Dates are meanings read by :mod:`vectorstore.details`.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

from vectorstore.details import DateValue, Detail, DocValue, extract
from vectorstore.records import Document, Timeline
from vectorstore.text import fold

# metadata keys holding the document's own date, most specific first (JSONL columns are flattened with dots)
DATE_KEYS = ("date", "source.date", "published_time", "article:published_time", "datePublished", "published",
             "issued", "ngay_ban_hanh", "created")  # fmt: skip
NUMBER_KEYS = ("number", "so_hieu", "source.number")
CITATION_KEYS = ("source.citation", "citation")
DocKey = tuple[str, int | None, str]  # ("118", 2025, "nd-cp"): a legal text's number, year and kind (folded)
OPENING_CHARS = 700  # the opening the text's own date is read from: a title line, a dateline and the lead
LEAD_CHARS = 400  # the lead paragraph an article's subject is read from
_ISO = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:[T\s].*)?$")
_EFFECTIVE = re.compile(r"hiệu\s+lực(?:\s+thi\s+hành)?(?:\s+(?:kể\s+)?từ)?\s+ngày\s*$", re.IGNORECASE)
_ISSUED_CUE = re.compile(r"(?:ngày|ban\s+hành(?:\s+ngày)?)\s*$", re.IGNORECASE)
_OPENING = re.compile(
    r"(?:^|\n|[.!?]\s+|\)\s*[-–—]\s*|[-–—]\s+)(?:\(?[^\n,()]{0,40}\)?\s*[-–—,]\s*)?(?P<cue>ngày|hôm|sáng|trưa|chiều|tối|on)(?:\s+(?:ngày|nay|qua))?\s+$",
    re.IGNORECASE,
)
_URL_DATE = (
    re.compile(r"(?<!\d)(20\d\d|19\d\d)[/_-](0?[1-9]|1[0-2])[/_-](0?[1-9]|[12]\d|3[01])(?!\d)"),
    re.compile(r"(?<!\d)(20\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)"),
)
_ISSUED_AFTER = re.compile(r"^[^()]{0,200}?\bban\s+hành\s+(?:ngày\s*)?(?=\d|ngày)", re.IGNORECASE)
HEADER_CHARS = 1500
_ISSUED_LABEL = re.compile(r"Ngày\s+ban\s+hành\s*:?[\s|]*", re.IGNORECASE)
_EFFECTIVE_LABEL = re.compile(r"Ngày\s+(?:có\s+)?hiệu\s+lực\s*:?[\s|]*", re.IGNORECASE)
_DATELINE = re.compile(r"(?:^|\n)[ \t]*[A-Z][A-Za-z .'-]{1,30},[ \t]+$")
_DOC_WORDS = r"(?:luat|bo luat|nghi dinh|nghi quyet|thong tu(?: lien tich)?|quyet dinh|phap lenh|chi thi)"
_LIST_GAP = re.compile(
    rf"^\s*(?:ngay\s+\S+\s*)?(?:cua\s+[^,;]{{0,60}}?)?\s*(?:,|;|va|hoac)\s*(?:cac\s+)?(?:{_DOC_WORDS}\s*)?(?:so\s*)?$"
)
_REPLACES = re.compile(r"thay\s+thế\s+(?:cho\s+)?", re.IGNORECASE)
_LEGAL_TITLE = re.compile(r"^\s*(?:Luật|Bộ luật|Nghị định|Nghị quyết|Thông tư|Quyết định|Pháp lệnh|Chỉ thị)\b", re.I)


def date_documents(docs: Sequence[Document]) -> dict[str, Timeline]:
    """Each document's :class:`Timeline`; a legal text's issue date may come from another of them (an article's
    citation line often gives only the entry into force, while another article of the same text, or a
    cross-reference, gives the issue date)."""
    own_lines: dict[DocKey, list[str]] = defaultdict(list)  # the text's own citation lines: trusted first
    referred: dict[DocKey, list[str]] = defaultdict(list)  # other texts' cross-references to it
    for doc in docs:
        citation = _first_text(doc.metadata, CITATION_KEYS)
        for key, value in stated_issue_dates(citation + "\n" + doc.text).items():
            referred[key].append(value)
        number = _number(doc, citation)
        own, effective = _citation_dates(citation) if citation else (None, None)
        own = _issued_for(own, number, effective)
        if number and own:
            own_lines[doc_key(number)].append(own)
    issued = {key: own_lines[key] + referred[key] for key in own_lines.keys() | referred.keys()}
    return {doc.doc_id: date_document(doc, issued) for doc in docs}


def date_document(doc: Document, issued_dates: Mapping[DocKey, Sequence[str]] | None = None) -> Timeline:
    """Everything ``doc`` says of its own time (see the module docstring for the order of trust);
    ``issued_dates``: legal texts' issue dates stated elsewhere in the corpus, by :func:`doc_key`, most trusted
    first (the first that can be this text's is taken)."""
    citation = _first_text(doc.metadata, CITATION_KEYS)
    number = _number(doc, citation)
    issued, effective = _citation_dates(citation) if citation else (None, None)
    header_issued, header_effective = _header_dates(doc.text)
    effective = effective or header_effective
    issued, header_issued = _issued_for(issued, number, effective), _issued_for(header_issued, number, effective)
    if not issued and number:
        issued = _issued_for(stated_issue_dates(citation + "\n" + doc.text).get(doc_key(number)), number, effective)
    date, date_from = None, ""
    for value, where in ((_metadata_date(doc), "metadata"), (issued, "citation"), (header_issued, "text"),
                         (_opening_date(doc.text), "text"), (_url_date(doc.source, doc.doc_id), "url")):  # fmt: skip
        if value:
            date, date_from = value, where
            break
    stated = (issued_dates or {}).get(doc_key(number), ()) if number else ()
    elsewhere = next((v for v in stated if _issued_for(v, number, effective)), None)
    if not date and elsewhere:
        date, date_from = elsewhere, "corpus"  # another article of the same text says
    return Timeline(date, date_from, effective, number, tuple(replacements(doc.text, number)))


def _issued_for(value: str | None, number: str | None, effective: str | None) -> str | None:
    """``value`` if it can be the issue date of the text numbered ``number``: in the number's year (texts are
    numbered by the year they are issued) and not after the text takes ``effective``. A citation line that names
    another text's date ("… hướng dẫn Nghị định số 23/2015/NĐ-CP ngày 16/02/2015 …" in Thông tư 01/2020/TT-BTP)
    gives none."""
    if not value:
        return None
    year = doc_key(number)[1] if number else None
    if (year and value[:4] != str(year)) or (effective and value > effective):
        return None
    return value


def doc_key(number: str) -> DocKey:
    """A legal text's number as a key: ("118", 2025, "nd-cp") for "118/2025/NĐ-CP"; "NĐ 118/2025" gives ("118",
    2025, "nd"), which :func:`same_text` matches with it."""
    found = full_numbers(number)
    if found:
        num, year, kind = cast(DocValue, found[0].value)
        return str(num), year, kind or ""
    return fold(number).replace(" ", ""), None, ""


def same_text(a: DocKey, b: DocKey) -> bool:
    """Whether two keys name one text: same number and year, and one kind is the other or begins it ("nd" and
    "nd-cp"; never "tt-bct" and "tt-bca")."""
    if a[:2] != b[:2]:
        return False
    ka, kb = sorted((a[2], b[2]), key=len)
    return ka == kb or not ka or kb.startswith(ka + "-")


def replacements(text: str, own_number: str | None) -> list[tuple[str, str]]:
    """(new, old) pairs a text states: "Nghị định này thay thế Nghị định số 61/2018/NĐ-CP và Nghị định số
    107/2021/NĐ-CP" in text 118/2025 gives both; in an article, the new text is the one named last before "thay
    thế" in the same sentence. Only the texts listed right after "thay thế" are replaced ("… thay thế Thông tư số
    20/2015/TT-BTP … hướng dẫn Nghị định số 23/2015/NĐ-CP" replaces the circular, not the decree it guided), and
    never a text of a higher rank than the new one (a circular does not replace a decree)."""
    pairs: list[tuple[str, str]] = []
    for m in _REPLACES.finditer(text):
        start = max(text.rfind(".", 0, m.start()), text.rfind("\n", 0, m.start())) + 1
        end = min(i for i in (text.find(".\n", m.end()), text.find(". ", m.end()), len(text)) if i >= 0)
        before = _numbers(full_numbers(text[start : m.start()]))
        new = own_number if own_number and re.search(r"\bnày\b", text[start : m.start()]) else None
        new = new or (before[-1] if before else own_number)
        for old in _listed(text[m.end() : end]):
            if (
                new
                and not same_text(doc_key(old), doc_key(new))
                and _rank(old) <= _rank(new)
                and (new, old) not in pairs
            ):
                pairs.append((new, old))
    return pairs


def _listed(after: str) -> list[str]:
    """The document numbers listed first in ``after``: the first one, and each next one joined to the previous by
    a list word ("và", ",", ";"), optionally after the previous one's date and issuer."""
    found = full_numbers(after)
    listed: list[Detail] = []
    for detail in found:
        gap = after[listed[-1].end if listed else 0 : detail.start]
        if listed and not _LIST_GAP.match(fold(gap)):
            break
        if not listed and len(fold(gap).split()) > 6:  # "thay thế các quy định trái với …": not a list of texts
            break
        listed.append(detail)
    return _numbers(listed)


_RANKS = {"qh": 3, "ubtvqh": 3, "nd": 2, "nq": 2, "qd": 1, "ct": 1, "tt": 1, "ttlt": 1}


def _rank(number: str) -> int:
    """A legal text's rank by its number's kind: a law (QH) over a decree or resolution (NĐ, NQ) over a decision or
    circular (QĐ, TT); 2 when the kind is not written."""
    kind = doc_key(number)[2].split("-")[0]
    return next((r for k, r in _RANKS.items() if kind.startswith(k)), 2)


def parse_date(value: str) -> str | None:
    """An ISO date (with or without a time) or the first date a text states, as ISO text; None when none."""
    m = _ISO.match(value)
    if m:
        year, month, day = m.groups()
        return _iso(int(year), int(month) if month else None, int(day) if day else None)
    for detail in extract(value, ("date",)):
        y, mo, d = _ymd(detail)
        if y:
            return _iso(y, mo, d)
    return None


def _ymd(detail: Detail) -> DateValue:
    return cast(DateValue, detail.value)


def _iso(year: int | None, month: int | None, day: int | None) -> str | None:
    if not year or not 1800 <= year <= 2100:
        return None
    if not month:
        return f"{year:04d}"
    return f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day else "")


def _first_text(metadata: dict[str, object], keys: Iterable[str]) -> str:
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _metadata_date(doc: Document) -> str | None:
    for key in DATE_KEYS:
        value = doc.metadata.get(key)
        if isinstance(value, str) and value.strip():
            parsed = parse_date(value)
            if parsed:
                return parsed
        if isinstance(value, int) and 1800 <= value <= 2100:
            return f"{value:04d}"
    return None


def _citation_dates(citation: str) -> tuple[str | None, str | None]:
    """(issued, effective) of a legal citation line: the date after "có hiệu lực … từ ngày" is the entry into
    force, a date after "ngày" / "ban hành ngày" elsewhere is the issue date."""
    issued = effective = None
    for detail in extract(citation, ("date",)):
        y, mo, d = _ymd(detail)
        value = _iso(y, mo, d)
        if _EFFECTIVE.search(citation[: detail.start]):
            effective = effective or value
        elif _ISSUED_CUE.search(citation[: detail.start]) or detail.text.lower().startswith("ngày"):
            issued = issued or value
    return issued, effective


def stated_issue_dates(text: str) -> dict[DocKey, str]:
    """Issue dates a text states right after a legal text's number ("… Thông tư 68/2013/TT-BCA Hướng dẫn … ban hành
    ngày 26/12/2013)", as pháp điển's cross-references do), by the text's key; the year must agree."""
    found: dict[DocKey, str] = {}
    numbers = full_numbers(text)
    for i, number in enumerate(numbers):
        stop = numbers[i + 1].start if i + 1 < len(numbers) else len(text)
        window = text[number.end : min(stop, number.end + 250)]
        cue = _ISSUED_AFTER.search(window)
        if not cue:
            continue
        dates = extract(window[cue.end() : cue.end() + 24], ("date",))
        key = doc_key(number.text)
        if dates and dates[0].start == 0 and _ymd(dates[0])[0] == key[1]:
            y, mo, d = _ymd(dates[0])
            found.setdefault(key, _iso(y, mo, d) or "")
    return {k: v for k, v in found.items() if v}


def _header_dates(text: str) -> tuple[str | None, str | None]:
    """(issued, effective) from a legal page's header table ("Ngày ban hành: | 23/04/2018 | Ngày hiệu lực: |
    21/06/2018 |", as vbpl.vn and law portals print it)."""
    head = text[:HEADER_CHARS]
    found: dict[str, str | None] = {}
    for key, label in (("issued", _ISSUED_LABEL), ("effective", _EFFECTIVE_LABEL)):
        m = label.search(head)
        dates = extract(head[m.end() : m.end() + 24], ("date",)) if m else []
        found[key] = _iso(*_ymd(dates[0])) if dates and dates[0].start <= 2 else None
    return found["issued"], found["effective"]


def _opening_date(text: str) -> str | None:
    """A full date the text opens with: a lead ("Ngày 9/6/2025, …", "(Chinhphu.vn) - Ngày …", "On June 9, 2025,")
    or a dateline ("Hà Nội, ngày 10 tháng 6 năm 2025")."""
    head = text[:OPENING_CHARS]
    for detail in extract(head, ("date",)):
        y, mo, d = _ymd(detail)
        if not (y and mo and d):
            continue
        own_cue = fold(detail.text).startswith("ngay ")
        before = head[: detail.start] + ("ngày " if own_cue else "")
        cue = _OPENING.search(before) or _dateline(head, detail)
        if cue and head[detail.end : detail.end + 2].strip(" ")[:1] in (",", "", "\n", "("):
            if fold(cue.group(0)).strip().endswith("hom qua"):  # "Hôm qua 19/4/2023, …" was written the next day
                day = datetime.date(y, mo, d) + datetime.timedelta(days=1)
                return day.isoformat()
            return _iso(y, mo, d)
    return None


def _dateline(head: str, detail: Detail) -> re.Match[str] | None:
    """An English dateline: a place, a comma and the date alone on its line ("Hanoi, April 23, 2018")."""
    ends_line = head[detail.end : detail.end + 1] in ("", "\n")
    return _DATELINE.search(head[: detail.start]) if ends_line else None


def _url_date(*names: str) -> str | None:
    for name in names:
        for pattern in _URL_DATE:
            m = pattern.search(name or "")
            if m:
                return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return None


def _number(doc: Document, citation: str) -> str | None:
    """The number of the legal text ``doc`` is (or is an article of, or is a news article about): a metadata field,
    the citation line, a title that opens with the text's kind ("Nghị định 118/2025/NĐ-CP: …"), or the one legal
    text a title and lead paragraph name."""
    given = _first_text(doc.metadata, NUMBER_KEYS)
    if given:
        return given.strip()
    for text in (citation, doc.title if _LEGAL_TITLE.match(doc.title) or doc.kind == "law" else ""):
        found = _numbers(full_numbers(text))
        if found:
            return found[0]
    if doc.kind != "comment":  # an article whose title and lead name one legal text only is about that text
        lead = doc.text.split("\n\n", 1)[0][:LEAD_CHARS]
        named = {doc_key(n): n for n in _numbers(full_numbers(doc.title + "\n" + lead))}
        if len(named) == 1:
            return next(iter(named.values()))
    return None


def full_numbers(text: str) -> list[Detail]:
    """The document numbers ``text`` writes in full ("118/2025/NĐ-CP"): a text named by its number alone ("Nghị
    định 118") has no year to key or date it by."""
    return [d for d in extract(text, ("doc_number",)) if "/" in d.text]


def _numbers(details: list[Detail]) -> list[str]:
    """Each document number's text, written canonically ("118/2025/NĐ-CP"), in order, once."""
    out: list[str] = []
    for d in details:
        value = cast(DocValue, d.value)
        text = d.text if "/" in d.text else f"{value[0]}/{value[1]}" + (f"/{value[2].upper()}" if value[2] else "")
        text = re.sub(r"^(?:số|so|No\.?)\s*", "", text, flags=re.IGNORECASE)
        if text not in out:
            out.append(text)
    return out


__all__ = [
    "DocKey",
    "date_document",
    "date_documents",
    "doc_key",
    "full_numbers",
    "parse_date",
    "replacements",
    "same_text",
    "stated_issue_dates",
]
