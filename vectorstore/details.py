"""Details a text names, normalised to meanings: dates, years, numbers, document numbers and ordinals.

``extract`` finds them in Vietnamese or English text ("ngày 1 tháng 7 năm 2025", "1/7/2025", "July 1, 2025";
"thứ chín", "thứ IX", "9th"; "1.000" and "1,000"; "118/2025/NĐ-CP", "Nghị định 118/2025") and ``matches`` tells
whether a source states what a question names, however each writes it.
Not dateparser: it is not a dependency here, and its ``search_dates`` costs milliseconds a passage and reads
ordinary words ("thứ năm", "May", "now") as dates, whereas the forms that matter here are few and regular.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Literal, cast

from vectorstore.text import fold, has_diacritics

Kind = Literal["date", "year", "number", "doc_number", "ordinal"]
DateValue = tuple[int | None, int | None, int | None]  # (year, month, day), a field the text leaves out is None
DocValue = tuple[str, int | None, str | None]  # ("66.7", 2025, "nq-cp"): number, year, folded type
Value = DateValue | DocValue | tuple[Decimal, ...] | int  # a number keeps every reading its separators allow


@dataclass(frozen=True)
class Detail:
    """One detail: its kind, its meaning (``value``) and the span of the text that states it."""

    kind: Kind
    value: Value
    text: str
    start: int
    end: int


def _vi(*phrases: str) -> str:
    """An alternation of Vietnamese phrases, each with and without its diacritics."""
    forms = sorted({f for p in phrases for f in (p, fold(p))}, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(f).replace(r"\ ", r"\s+") for f in forms) + ")"


_MONTH_NAMES = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_MONTH_WORDS = (
    "Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?"
    "|Nov(?:ember)?|Dec(?:ember)?"
)
_DOC_KINDS = {
    "nghị định": "nd", "nghị quyết": "nq", "quyết định": "qd", "thông tư": "tt", "chỉ thị": "ct", "kế hoạch": "kh",
    "thông báo": "tb", "công điện": "cd", "luật": None, "pháp lệnh": None, "công văn": None, "decree": "nd",
    "resolution": "nq", "decision": "qd", "circular": "tt", "directive": "ct", "law": None,
}  # fmt: skip
_DOC_KIND_OF = {fold(k): v for k, v in _DOC_KINDS.items()}
_DOC_KEYWORD = re.compile(rf"\b(?P<kw>{_vi(*_DOC_KINDS)})\s+(?:{_vi('số')}\s*|No\.?\s*)?$", re.IGNORECASE)
_TYPE = r"[^\W\d_][^\W_]*(?:-[^\W_]+)*"
_VI_UNITS = {"hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5, "sáu": 6, "bảy": 7, "bẩy": 7, "tám": 8, "chín": 9}
_VI_TAILS = {**_VI_UNITS, "một": 1, "mốt": 1, "lăm": 5, "nhăm": 5}
_VI_VALUES = {fold(w): v for w, v in _VI_TAILS.items()} | _VI_TAILS | {"nhất": 1, "nhat": 1, "nhì": 2, "nhi": 2}
_TENS = _vi("mười", "mươi")
_TAIL = rf"(?:\s+{_vi(*_VI_TAILS)}(?!\s+\d))"
_VI_ORDINAL = rf"(?:{_vi(*_VI_UNITS)}\s+{_TENS}{_TAIL}?|{_TENS}{_TAIL}?|{_vi(*_VI_UNITS, 'nhất', 'nhì')})"
_EN_ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
_ROMAN_STEPS = ((100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
_CUES = ("ngày", "hôm", "sáng", "trưa", "chiều", "tối", "đêm", "từ", "đến", "tới", "trước", "sau", "lễ", "dịp")
_COUNTED = _vi("ngày", "tuần", "tháng", "năm", "giờ", "lần", "người", "tuổi")  # "2-3 ngày" is a count, not 2 March
_VI_LETTER = re.compile("[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]", re.IGNORECASE)


def _day(p: str) -> str:
    return rf"(?P<{p}_d>0?[1-9]|[12]\d|3[01])"


def _month(p: str) -> str:
    return rf"(?P<{p}_m>0?[1-9]|1[0-2])"


def _year(p: str) -> str:
    return rf"(?P<{p}_y>(?:19|20)\d\d)"


def _after(*words: str) -> str:
    """Lookbehinds: right after one of ``words`` (either case, with or without diacritics) and one blank."""
    forms = {f for w in words for f in (w, fold(w))}
    return "(?:" + "|".join(rf"(?<={re.escape(f)}\s)" for w in forms for f in (w, w.capitalize())) + ")"


# Read on the lower-cased text: they start with a keyword ("ngày", "tháng", "thứ", "first"), so that the regex
# engine skips straight to it. Each is one named group, whose name says which reader takes the match.
_WORD_LED = [
    re.compile(
        rf"(?P<vdmy>{_vi('ngày')}\s+{_day('vdmy')}\s+{_vi('tháng')}\s+{_month('vdmy')}"
        rf"(?:(?:\s*,?\s*{_vi('năm')}\s+|\s*[/-]\s*){_year('vdmy')})?(?!\d))"
    ),
    re.compile(rf"(?P<vmy>{_vi('tháng')}\s+{_month('vmy')}(?:\s*[/-]\s*|\s*,?\s*{_vi('năm')}\s+){_year('vmy')}(?!\d))"),
    re.compile(rf"(?P<vo>{_vi('thứ')}\s+(?P<vo_v>\d{{1,3}}(?![\d/]|[.,]\d)|[ivxlc]+\b|{_VI_ORDINAL}\b))"),
    re.compile(rf"(?P<eo>(?P<eo_v>{'|'.join(_EN_ORDINALS)})\b)"),
]
_WORD_LED_ANY_CASE = [re.compile(p.pattern, re.IGNORECASE) for p in _WORD_LED]
# Read on the text as written: English month names are capitalised ("May 4", not "may").
_MONTH_LED = re.compile(
    rf"(?P<em>(?P<em_mon>{_MONTH_WORDS})\.?(?:\s+{_day('em')}(?:st|nd|rd|th)?(?!\d)\b)?(?:,?\s+{_year('em')}(?!\d))?)"
)
# Tried at the start of each run of digits, the alternatives in order of priority ("dm": a stray slash after a day
# and month, "Ngày 4/6/ UBND …", is a typo, not a third part).
_NUMBER_LED = re.compile(
    rf"(?P<doc>(?P<doc_n>\d+(?:\.\d+)*)/(?:{_year('doc')}(?:/(?P<doc_t>{_TYPE}))?|(?P<doc_t2>{_TYPE}))(?![\w/]))"
    rf"|(?P<iso>{_year('iso')}-(?P<iso_m>0[1-9]|1[0-2])-(?P<iso_d>0[1-9]|[12]\d|3[01])(?![\d-]))"
    rf"|(?P<dmy>{_day('dmy')}(?P<dmy_s>[/.-]){_month('dmy')}(?P=dmy_s){_year('dmy')}(?![\d/]|[.,-]\d))"
    rf"|(?P<dm>(?P<dm_v>{_day('dm')}/{_month('dm')})(?!\d|/\d|[.,]\d)(?!\s+(?i:{_vi('tổng số', 'số')})\b))"
    rf"|(?P<cue>(?=\d\d?-\d){_after(*_CUES)}(?P<cue_v>{_day('cue')}-{_month('cue')})(?![\d/-]|[.,]\d)"
    rf"(?!\s+(?i:{_COUNTED})\b))"
    rf"|(?P<dot>(?=\d\d?\.\d){_after('ngày')}(?P<dot_v>{_day('dot')}\.{_month('dot')})(?![\d/]|[.,]\d))"
    rf"|(?P<edm>{_day('edm')}(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<edm_mon>{_MONTH_WORDS})\.?(?![^\W\d_])"
    rf"(?:,?\s+{_year('edm')}(?!\d))?)"
    rf"|(?P<eno>(?P<eno_v>\d{{1,3}})(?:st|nd|rd|th)\b)"
    rf"|(?P<year>(?:19|20)\d\d(?![\d/]|[.,]\d))"
    rf"|(?P<number>\d+(?:[.,]\d+)*(?![\d/]|[.,]\d))"
)
_DIGITS = re.compile(r"\d+")
_DAY_BEFORE = re.compile(r"\d(?:st|nd|rd|th)?\s+(?:of\s+)?$")
_VI_NUMBER = re.compile(r"(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")  # 1.000,5
_EN_NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")  # 1,000.5
KINDS: frozenset[Kind] = frozenset({"date", "year", "number", "doc_number", "ordinal"})


def extract(text: str, kinds: Iterable[Kind] = KINDS) -> list[Detail]:
    """Every date, year, number, document number and ordinal ``text`` states (those of ``kinds``), in order."""
    return list(_extract(text, frozenset(kinds)))


@lru_cache(maxsize=4096)  # retrieved passages recur from one question to the next
def _extract(text: str, kinds: frozenset[Kind]) -> tuple[Detail, ...]:
    found: list[Detail] = []
    taken = bytearray(len(text))

    def take(m: re.Match[str]) -> None:
        if m.lastgroup is None or taken.find(1, m.start(), m.end()) != -1:
            return
        wanted = m.lastgroup != "number" or bool(kinds & {"number", "doc_number"})  # "Chỉ thị số 23": a text
        detail = _READERS[m.lastgroup](text, m, m.lastgroup) if wanted else None
        if detail is not None:
            found.append(detail)
            taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())

    lowered = text.lower()
    patterns = _WORD_LED if len(lowered) == len(text) else _WORD_LED_ANY_CASE
    for pattern in patterns:
        for m in pattern.finditer(lowered if patterns is _WORD_LED else text):
            if m.start() == 0 or not text[m.start() - 1].isalnum():
                take(m)
    for m in _MONTH_LED.finditer(text):  # "July 1", "July 2025"; not "May" alone, nor "1 July 2025" from its month
        if (m["em_d"] or m["em_y"]) and (m.start() == 0 or not text[m.start() - 1].isalnum()):
            if m["em_d"] or not _DAY_BEFORE.search(text, max(0, m.start() - 8), m.start()):
                take(m)
    end = 0
    for run in _DIGITS.finditer(text):
        start = run.start()
        after_no = text[max(0, start - 3) : start].lower() == "no."  # "Resolution No.202/2025/QH15"
        if start >= end and not taken[start] and (start == 0 or text[start - 1] not in ".,/" or after_no):
            led = _NUMBER_LED.match(text, start)
            if led is not None:
                take(led)
                end = led.end()
    return tuple(sorted((d for d in found if d.kind in kinds), key=lambda d: d.start))


def _date(text: str, m: re.Match[str], p: str) -> Detail | None:
    g = m.groupdict()
    year, day = g.get(f"{p}_y"), g.get(f"{p}_d")
    month = int(g[f"{p}_m"]) if g.get(f"{p}_m") else _MONTH_NAMES.index(g[f"{p}_mon"][:3].lower()) + 1
    d = int(day) if day else None
    if d is not None and d > (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31):
        return None
    start, end = m.span(f"{p}_v") if g.get(f"{p}_v") else m.span(p)
    return Detail("date", (int(year) if year else None, month, d), text[start:end], start, end)


def _kind_before(text: str, start: int) -> tuple[re.Match[str] | None, str | None]:
    """The legal text's keyword ending right before ``start`` ("Nghị định số "), and the kind it names."""
    keyword = _DOC_KEYWORD.search(text, max(0, start - 30), start)
    return keyword, _DOC_KIND_OF[fold(re.sub(r"\s+", " ", keyword["kw"]))] if keyword else None


def _doc_number(text: str, m: re.Match[str], p: str) -> Detail | None:
    number, year, kind = m["doc_n"], m["doc_y"], m["doc_t"] or m["doc_t2"]
    if m["doc_t2"] and "-" not in kind and kind.islower():  # "60/h" is a speed, "1085/QĐ-TTg" a decision
        return None
    keyword, kind_before = _kind_before(text, m.start())
    if not kind and not keyword and "." not in number and int(number) <= 12:  # "4/2023" is April 2023
        return Detail("date", (int(year), int(number), None), m.group(), m.start(), m.end())
    kind = kind or kind_before
    value = (
        ".".join(str(int(n)) for n in number.split(".")),
        int(year) if year else None,
        fold(kind) if kind else None,
    )
    return Detail("doc_number", value, m.group(), m.start(), m.end())


def _ordinal(text: str, m: re.Match[str], p: str) -> Detail | None:
    start, end = m.span(f"{p}_v")
    word = text[start:end]
    if p == "vo" and text[m.start() : m.start() + 3].lower() != "thứ" and has_diacritics(text):
        return None  # "thu" (to collect) in a text written with diacritics
    if word.isdigit():
        value = int(word)
    elif word.lower() in _EN_ORDINALS:
        value = _EN_ORDINALS.index(word.lower()) + 1
    elif word.isupper() and all(c in _ROMAN for c in word):
        value = _roman(word)
    elif word.lower().strip("ivxlc"):
        value = _vietnamese_number(word.split())
    else:
        return None  # "thứ ix": Roman numerals are capitals
    return Detail("ordinal", value, text[m.start() : m.end()], m.start(), m.end()) if value else None


def _roman(numeral: str) -> int:
    """The value of a Roman numeral, 0 when it is not one ("IIX")."""
    values = [_ROMAN[c] for c in numeral]
    total = sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))
    return total if _to_roman(total) == numeral else 0


def _to_roman(n: int) -> str:
    out = ""
    for value, symbol in _ROMAN_STEPS:
        count, n = divmod(n, value)
        out += symbol * count
    return out


def _vietnamese_number(words: list[str]) -> int:
    """'chín' -> 9, 'mười lăm' -> 15, 'hai mươi mốt' -> 21 (diacritics optional)."""
    words = [w.lower() for w in words]
    if fold(words[0]) == "muoi":
        return 10 + (_VI_VALUES.get(words[1], 0) if len(words) > 1 else 0)
    if len(words) > 1 and fold(words[1]) == "muoi":
        return 10 * _VI_VALUES[words[0]] + (_VI_VALUES.get(words[2], 0) if len(words) > 2 else 0)
    return _VI_VALUES[words[0]]


def _year_of(text: str, m: re.Match[str], p: str) -> Detail | None:
    return Detail("year", int(m.group()), m.group(), m.start(), m.end())


def _number(text: str, m: re.Match[str], p: str) -> Detail | None:
    token = m.group()
    keyword, kind = _kind_before(text, m.start()) if token.isdigit() else (None, None)
    if keyword and kind:  # "Chỉ thị số 23", "Nghị định 118": a text by its number alone, named with its kind
        start = keyword.start("kw")
        return Detail("doc_number", (str(int(token)), None, kind), text[start : m.end()], start, m.end())
    vi = Decimal(token.replace(".", "").replace(",", ".")) if _VI_NUMBER.fullmatch(token) else None
    en = Decimal(token.replace(",", "")) if _EN_NUMBER.fullmatch(token) else None
    readings = {r for r in (vi, en) if r is not None}
    if len(readings) == 2:  # "1.000" or "1,000": the text's language says which separator groups thousands
        vietnamese = _vietnamese_near(text, m.start(), m.end())
        if vietnamese == ("." in token):
            readings = {cast(Decimal, vi if vietnamese else en)}
    return Detail("number", tuple(sorted(readings)), token, m.start(), m.end()) if readings else None


def _vietnamese_near(text: str, start: int, end: int) -> bool:
    """True when at least one letter in twenty around the span carries a Vietnamese diacritic."""
    window = text[max(0, start - 60) : end + 60]
    letters = sum(c.isalpha() for c in window)
    return letters > 0 and len(_VI_LETTER.findall(window)) * 20 >= letters


_Reader = Callable[[str, re.Match[str], str], "Detail | None"]
_READERS: dict[str, _Reader] = {
    "vdmy": _date, "vmy": _date, "em": _date, "iso": _date, "dmy": _date, "dm": _date, "cue": _date,
    "dot": _date, "edm": _date, "doc": _doc_number, "vo": _ordinal, "eo": _ordinal, "eno": _ordinal,
    "year": _year_of, "number": _number,
}  # fmt: skip


def matches(wanted: Detail, available: Iterable[Detail]) -> bool:
    """True when one of ``available`` states what ``wanted`` means.

    Dates agree on every field both state, the day and month ``wanted`` names being stated ("2/9/2025" is met by
    "2/9", "July 1" by "1/7/2025"); a year is met by the year, a date or a document number of that year; a number
    by any reading of its separators; a document number by its number, and its year and type where both name one
    ("Nghị định 118" is met by "118/2025/NĐ-CP")."""
    return any(_same(wanted, a) for a in available)


def _same(wanted: Detail, a: Detail) -> bool:
    if wanted.kind == "year" and a.kind in ("date", "doc_number"):
        return cast(tuple[int | None, ...], a.value)[0 if a.kind == "date" else 1] == wanted.value
    if wanted.kind != a.kind:
        return False
    if wanted.kind == "date":
        (wy, wm, wd), (ay, am, ad) = cast(DateValue, wanted.value), cast(DateValue, a.value)
        return (wm is None or wm == am) and (wd is None or wd == ad) and (wy is None or ay is None or wy == ay)
    if wanted.kind == "number":
        return bool(set(cast(tuple[Decimal, ...], wanted.value)) & set(cast(tuple[Decimal, ...], a.value)))
    if wanted.kind == "doc_number":
        (wn, wy_, wt), (an, ay_, at) = cast(DocValue, wanted.value), cast(DocValue, a.value)
        return (
            wn == an
            and (wy_ is None or ay_ is None or wy_ == ay_)
            and (not wt or not at or all(x == y for x, y in zip(wt.split("-"), at.split("-"))))
        )  # "Nghị định 118" is "118/2025/NĐ-CP"
    return wanted.value == a.value
