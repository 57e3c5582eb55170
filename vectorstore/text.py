"""Vietnamese text normalisation: decoding, NFC, tone placement, invisible characters, diacritic folding.

Pure functions; every module that stores or compares Vietnamese text goes through here.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\x00\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)  # NUL: no database stores it
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u3000"), " ")

# Old ("hoà", "thuý") -> traditional/dominant ("hòa", "thúy") tone placement for open oa/oe/uy syllables.
_TONES = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook, dot below
_OLD_TONE = re.compile(r"(?<![qQ])(?:([oO])([aAeE])|([uU])([yY]))([" + _TONES + r"])(?![^\W\d_]|[\u0300-\u036f])")


def decode_bytes(data: bytes) -> str:
    """Decode file bytes: UTF-8 (with/without BOM), UTF-16 (BOM), else Windows-1258. Raises ValueError."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _looks_utf16_without_bom(data):
        return data.decode("utf-16-le")
    try:
        return data.decode("cp1258")
    except UnicodeDecodeError as exc:  # pragma: no cover - cp1258 maps almost every byte
        raise ValueError(f"undecodable text: {exc}") from exc


def _looks_utf16_without_bom(data: bytes) -> bool:
    sample = data[:2000]
    return len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4


_SURROGATE = re.compile("[\ud800-\udfff]")


def normalize(text: str) -> str:
    """NFC with traditional tone placement, no invisible characters, unified spaces and line ends; a lone
    surrogate (possible in JSON input, never encodable) becomes U+FFFD."""
    text = _SURROGATE.sub("\ufffd", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.translate(_INVISIBLE).translate(_SPACES)
    decomposed = unicodedata.normalize("NFD", text)
    decomposed = _OLD_TONE.sub(_move_tone, decomposed)
    return unicodedata.normalize("NFC", decomposed)


def _move_tone(match: re.Match[str]) -> str:
    first, second = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    return first + match.group(5) + second


def fold(text: str) -> str:
    """Lower-case, strip every diacritic, map đ->d: 'Thủ tục cấp lại CCCD' -> 'thu tuc cap lai cccd'."""
    text = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


_WORD = re.compile(r"[^\W_]+(?:[-.][^\W_]+)*", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-case word tokens (syllables; keeps 'nđ-cp', '23/2015' parts as tokens)."""
    return _WORD.findall(text.lower())


def has_diacritics(text: str) -> bool:
    """True when any letter carries a Vietnamese diacritic (or is đ)."""
    return fold(text) != text.lower()


_ENGLISH_WORDS = frozenset(
    "the of and to in is are was were for on with by from that this as at be has have it its an or which will "
    "not their from been also more than who what when how".split()
)


def is_english(text: str) -> bool:
    """Whether ``text`` reads as English: no Vietnamese diacritics, and a fifth of its words English function
    words ("thu tuc cap lai cccd" is Vietnamese typed without marks, not English)."""
    tokens = words(text)
    english = sum(t in _ENGLISH_WORDS for t in tokens) >= max(1, 0.2 * len(tokens))
    return english and not has_diacritics(text)  # the cheap count first: most texts here are Vietnamese


def clean_whitespace(text: str) -> str:
    """Collapse runs of spaces/tabs, trim lines, keep at most one blank line between paragraphs."""
    lines = [re.sub(r"[ \t\f\v]+", " ", line).strip() for line in text.split("\n")]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return out.strip()


# --- sentences and content words: the one splitter and the one stop-word list of the project ----------------

SENTENCE_ENDS = ".!?…"
# "TP. Hải Phòng", "PGS. TS. Nguyễn…": a full stop after these does not end a sentence
_ABBREVIATIONS = frozenset("tp tx tt ts ths pgs gs ks bs ls nxb st mr mrs ms dr no vs etc".split())
_END_PATTERNS: dict[str, re.Pattern[str]] = {}
_LETTERS_BEFORE = re.compile(r"([^\W\d_]+)$")

STOP_WORDS = frozenset(
    fold(
        "và của là các có được cho trong theo với những này đó một không thì để từ về tại đã sẽ nào gì ai "
        "bao nhiêu sao thế như hay hoặc nêu nói tôi muốn hỏi cần làm ở đâu khi bị nhé ạ vậy"
    ).split()
)


def _end_pattern(ends: str) -> re.Pattern[str]:
    if ends not in _END_PATTERNS:
        _END_PATTERNS[ends] = re.compile("[" + re.escape(ends) + r"]+[\"”’)\]]*(?=\s|$|[^\W\d_])|\n")
    return _END_PATTERNS[ends]


def sentence_spans(
    text: str, start: int = 0, end: int | None = None, ends: str = SENTENCE_ENDS, lines: bool = False
) -> list[tuple[int, int]]:
    """Sentences of ``text[start:end]`` as trimmed ``(start, end)`` offsets into ``text``.

    A sentence ends at one of ``ends`` followed by a blank (closing quotes and brackets stay with it), or at a
    blank line or a line break before a capital; "19.4.2023", "1.000", "TP. Hải Phòng" and initials ("M. Chính")
    do not end one. With ``lines``, every line break ends one except inside a wrapped sentence (a line that ends in
    a word or comma, the next opening in lower case): a table row, a list item, a header line is a sentence of its
    own. Chunking keeps the default (changing it would move chunk boundaries, and re-embed every store).
    """
    end = len(text) if end is None else end
    out: list[tuple[int, int]] = []
    position = start
    for m in _end_pattern(ends).finditer(text, start, end):
        if m.group() == "\n" and lines:
            if _wrapped(text, m.start()):
                continue
        elif not _followed_by_blank(text, m.end()) and not _run_together(text, m.start(), m.end()):
            continue  # "v.v", "TP.HCM"
        if m.group() == "." and _is_abbreviation(text, position, m.start()):
            continue
        _append_trimmed(out, text, position, m.end())
        position = m.end()
    _append_trimmed(out, text, position, end)
    return out


def sentences(text: str, ends: str = SENTENCE_ENDS) -> list[str]:
    """The sentences of ``text`` (see :func:`sentence_spans`)."""
    return [text[s:e] for s, e in sentence_spans(text, ends=ends)]


READING_MIN_WORDS = 4  # a shorter sentence or clause is never a reading unit
CLAUSE_MIN_WORDS = 30  # sentences longer than this also yield their ";"-separated clauses


def reading_units(text: str) -> list[str]:
    """The sentences of ``text`` (line by line, see :func:`sentence_spans`) and, for long ones, their
    ";"-separated clauses, each of at least :data:`READING_MIN_WORDS` words, without repeats, outside the notes
    that list related articles (:func:`related_notes`): what the reader weighs as possible answers, and what ingest
    embeds one by one for it."""
    out: dict[str, None] = {}
    notes = related_notes(text)
    for start, end in sentence_spans(text, lines=True):
        if any(s <= start < e for s, e in notes):
            continue
        sentence = text[start:end]
        pieces = [sentence]
        if len(words(sentence)) > CLAUSE_MIN_WORDS and ";" in sentence:
            pieces += [text[s:e] for s, e in sentence_spans(text, start, end, ends=";")]
        out.update((p, None) for p in pieces if len(words(p)) >= READING_MIN_WORDS)
    return list(out)


_RELATED_NOTE = re.compile(r"\((?:Điều|Mục|Chương) này có nội dung liên quan đến")
# an entry of such a note: "Điều 33.3.TT.73.5." (the Bộ Pháp điển's numbering) or "; Điều 2."
_NOTE_ENTRY = re.compile(r"Điều \d+(?:\.\d+)+\.[A-ZĐ]{2,}\.\d|; Điều \d+\. ")


def related_notes(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` spans of the Bộ Pháp điển's notes in ``text``: "(Điều này có nội dung liên quan đến
    Điều 15.4.TL.1.20. Tra cứu, …; Điều 33.3.TT.73.5. Trường hợp miễn phí; …)" (or "Mục này", "Chương này") lists
    other articles' codes and titles under an article, section or chapter, and states nothing. A chunk may open
    inside one: a first stretch that closes a bracket it never opened and holds an entry of one ("; Điều 2. ",
    "Điều 33.3.TT.73.5.") is one too, and so is a chunk wholly inside one (a single line of entries, no bracket)."""
    out: list[tuple[int, int]] = []
    opened = _close(text, 0)
    if opened is not None and _NOTE_ENTRY.search(text, 0, opened):
        out.append((0, opened))
    elif opened is None and "\n" not in text and "(" not in text and len(_NOTE_ENTRY.findall(text)) > 1:
        out.append((0, len(text)))  # a chunk wholly inside a long note
    at = 0
    while (m := _RELATED_NOTE.search(text, at)) is not None:
        end = _close(text, m.start() + 1)
        out.append((m.start(), len(text) if end is None else end))
        at = out[-1][1]
    return out


def _close(text: str, start: int) -> int | None:
    """Where the bracket open before ``start`` closes (the offset after its ")"), or None."""
    depth = 1
    for at in range(start, len(text)):
        if text[at] == "(":
            depth += 1
        elif text[at] == ")":
            depth -= 1
            if depth == 0:
                return at + 1
    return None


# a list item or table row: "a) …", "1. …", "- …", "+ …", "Cấp mới: 200.000 VND/lần.", "a | Cấp mới | 180.000 |"
_ITEM = re.compile(r"^(?:\||[-+•*–]\s|\(?[a-zđ]\)\s|\(?\d{1,2}[.)]\s|[^\n:|]{1,60}(?<!\d)[:|](?!\d))", re.IGNORECASE)


def led_items(text: str) -> dict[str, str]:
    """Each list item or table row (a line) of ``text`` that follows a lead line (one ending in ":", with only
    other items or blank lines between), mapped to that lead: "Cấp mới: 200.000 VND/lần." is read as a fee of what
    "Mức phí làm hộ chiếu online …:" names. A line that is neither ends the list."""
    out: dict[str, str] = {}
    lead = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.endswith(":"):
            lead = stripped
        elif lead and _ITEM.match(stripped):
            out[stripped] = lead
        else:
            lead = ""
    return out


def _wrapped(text: str, newline: int) -> bool:
    """A line broken inside a sentence: it ends in a letter, digit or comma and the next opens in lower case."""
    before, after = text[newline - 1 : newline], text[newline + 1 : newline + 2]
    return (before.isalnum() or before == ",") and after.isalpha() and after.islower()


def _followed_by_blank(text: str, at: int) -> bool:
    return at >= len(text) or text[at].isspace()


def _run_together(text: str, stop: int, at: int) -> bool:
    """ "…tháng 5/2023.Rà soát": a capital right after a stop that ends a lower-case word or a number."""
    before = text[stop - 1 : stop]
    return text[at].isupper() and before.isalnum() and not before.isupper()


def _is_abbreviation(text: str, start: int, dot: int) -> bool:
    m = _LETTERS_BEFORE.search(text, start, dot)
    if m is None:
        return False
    word = m.group(1)
    return _is_initial(word) or fold(word) in _ABBREVIATIONS


def _is_initial(word: str) -> bool:
    """A name's initial ("M. Chính", "Đ."): one plain capital. One with a tone mark is a word ("Đông Nam Á.",
    "nước Ý.") that may end its sentence."""
    return len(word) == 1 and word.isupper() and (word.isascii() or word == "Đ")


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` moved inwards past blanks."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _append_trimmed(out: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    start, end = trim_span(text, start, end)
    if end > start and _WORD.search(text, start, end):
        out.append((start, end))


def content_words(text: str) -> list[str]:
    """Folded syllables of ``text`` without stop words (what lexical overlap compares)."""
    return [w for w in words(fold(text)) if w not in STOP_WORDS]
