"""Page structure: strip blog widgets, find the title, split a blog post from its reader comments.

Scraped blog pages (Blogger and the like) arrive as plain text that looks like::

    Chia sẻ                      <- share widget
    Tre Làng                     <- blog name
    Kết luận của Thủ tướng: ...  <- title
    Khoai@                       <- author byline
    <body paragraphs>
    7 nhận xét:                  <- comment block header
      1. <comment body>
        Trả lờiXóa               <- reply/delete widget closing every comment
      2. ...
    Tìm kiếm mở rộng             <- sidebar widgets
    ...

:func:`split_page` turns such a page into the main text plus one :class:`Document` per comment; any other
text becomes a single cleaned document.  Everything here is pure and conservative: only whole lines that
are recognisably widget text are dropped, never sentences.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from vectorstore.records import Document
from vectorstore.text import clean_whitespace, fold, normalize

log = logging.getLogger(__name__)

# Whole lines (after trimming, case-insensitive) that are blog / widget chrome, never content.
BOILERPLATE: tuple[str, ...] = (
    r"Chia sẻ",
    r"Chia sẻ (?:lên|qua) \w+",  # Chia sẻ lên Facebook / Twitter / Pinterest
    r"Trả lời\s*Xóa",  # reply/delete links of a comment, glued together
    r"Các câu trả lời",
    r"Tìm kiếm mở rộng",
    r"Th[ôố]ng kê truy cập",
    r"Lưu trữ Blog",
    r"Đăng nhận xét",
    r"Bài đăng (?:Mới|Cũ) hơn",
    r"Đăng ký:\s*Đăng (?:Nhận xét|Bình luận) \(Atom\)",
    r"Đăng ký:\s*Bài đăng \(Atom\)",
    r"Đăng ký:\s*Nhận xét về bài đăng \(Atom\)",
    r"(?:\d+|Không có)\s+(?:nhận xét|bình luận|comments?)(?:\s+nào)?\s*:",  # comment block header
    r"Gửi email bài đăng này",
    r"BlogThis!",
    r"Bài đăng phổ biến",
    r"Xem hồ sơ hoàn chỉnh của tôi",
    r"Được tạo bởi Blogger\.?",
    r"Xem phiên bản (?:web|dành cho thiết bị di động)",
    # ordinary words as well: removed on blog pages only, kept in other documents
    r"(?:Trả lời\s*|Xóa\s*)+",
    r"Trang chủ",
    r"Google \S+",  # custom-search widget ("Google TreLang")
    r"Nhãn\s*:\s*[^.!?]{0,150}",  # post labels
    r"Giới thiệu về tôi",
    r"Báo cáo vi phạm",
    r"Tải thêm\.{0,3}…?",
)
_N_STRICT = BOILERPLATE.index(r"(?:Trả lời\s*|Xóa\s*)+")  # patterns before this one are unambiguous anywhere
_STRICT_RE = re.compile(r"(?:" + "|".join(BOILERPLATE[:_N_STRICT]) + r")", re.IGNORECASE)
_BOILERPLATE_RE = re.compile(r"(?:" + "|".join(BOILERPLATE) + r")", re.IGNORECASE)

# "Lưu trữ Blog" glued to the archive list that follows it: "Lưu trữ Blog► 2023 (12)".
_ARCHIVE_GLUED = re.compile(r"Lưu trữ Blog(?P<rest>.*)", re.IGNORECASE)
_ARCHIVE_REST = re.compile(r"^[\s►▼▶◄»›·\-–—]*(?:\d|tháng\b|năm\b|thg\b)|^[\s►▼▶◄»›·\-–—]*$", re.IGNORECASE)

_COMMENT_HEADER = re.compile(r"(?P<n>\d+|Không có)\s+(?:nhận xét|bình luận|comments?)(?:\s+nào)?\s*:", re.I)
_WIDGET_LINE = re.compile(r"(?:Trả lời\s*|Xóa\s*)+", re.IGNORECASE)
_WIDGET_SUFFIX = re.compile(r"\s*Trả lời\s?Xóa\s*$")  # widget glued to the comment's last line
_WIDGET_GLUED = re.compile(r"\s*Trả lời\s?Xóa\s*")
_NUMBERED = re.compile(r"^\s*(?P<n>\d{1,3})[.)]\s+(?P<rest>\S.*)$")
# A comment's "author + timestamp" line: "Nặc danh 20 tháng 4, 2023 lúc 10:15".
_STAMP = re.compile(r"^.{0,80}\d{1,2} tháng \d{1,2},? \d{4}(?: lúc \d{1,2}:\d{2}(?:\s*(?:AM|PM|SA|CH))?)?$", re.I)
_BYLINE = re.compile(r"^(?:Đăng bởi|Người đăng|Tác giả|Posted by|Bởi)\b.{0,80}$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?…;]\s*[\"”’)]?$")
_MD_HEADING = re.compile(r"^#{1,6}\s+")

# Speech / conclusion of a leader.
_LEADER = re.compile(
    r"\b(?:Phó Thủ tướng|Thủ tướng|Chủ tịch nước|Chủ tịch Quốc hội|Tổng Bí thư|Phó Chủ tịch|Chủ tịch|"
    r"Bộ trưởng|Thứ trưởng|Bí thư|Trưởng ban|Giám đốc|người đứng đầu)\b",
    re.IGNORECASE,
)
_SPEECH = re.compile(r"\b(?:phát biểu|kết luận|nhấn mạnh|diễn văn|bài nói chuyện|lưu ý)\b", re.IGNORECASE)
_SPEECH_TITLE = re.compile(r"^\s*(?:Bài phát biểu|Phát biểu|Kết luận|Diễn văn|Thông báo kết luận)\b", re.I)
_LAW_ARTICLE = re.compile(r"^\s*Điều\s+\d+[a-zđ]?\s*[.:]", re.MULTILINE)
_LAW_TYPE = re.compile(
    r"^\s*(?:LUẬT|BỘ LUẬT|HIẾN PHÁP|NGHỊ ĐỊNH|THÔNG TƯ|THÔNG TƯ LIÊN TỊCH|QUYẾT ĐỊNH|NGHỊ QUYẾT|PHÁP LỆNH|CHỈ THỊ)\b",
    re.MULTILINE,
)

_MAX_HEADER_LINES = 4  # blog name / date / byline lines tolerated around the title


@dataclass
class _Page:
    main: list[str]
    comments: list[str]
    declared: int | None  # N from the "N nhận xét:" header


def clean_line(line: str, blog: bool = True) -> str | None:
    """The line without widget chrome, or None when the whole line is boilerplate.

    ``blog=False`` (a page without blog chrome) drops only the unambiguous widget lines.
    """
    stripped = line.strip()
    if not stripped:
        return ""
    if (_BOILERPLATE_RE if blog else _STRICT_RE).fullmatch(stripped):
        return None
    glued = _ARCHIVE_GLUED.fullmatch(stripped)
    if glued:
        rest = glued.group("rest")
        if _ARCHIVE_REST.match(rest) or (len(rest) <= 80 and not _SENTENCE_END.search(rest)):
            return None
        return rest.strip()  # real text that happened to follow the widget
    return line


def is_blog_page(text: str) -> bool:
    """True when the text carries blog chrome: a comment block, reply widgets or two unambiguous widget lines."""
    hits = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if _COMMENT_HEADER.fullmatch(stripped) or _WIDGET_GLUED.search(stripped):
            return True
        if clean_line(stripped, blog=False) is None:
            hits += 1
            if hits >= 2:
                return True
    return False


def guess_kind(title: str, text: str) -> str:
    """'law' for legal texts (several "Điều N." articles), 'speech' for a leader's speech/conclusion, else 'article'."""
    head = text[:3000]
    if len(_LAW_ARTICLE.findall(text)) >= 2 and (_LAW_TYPE.search(head) or _LAW_TYPE.search(title)):
        return "law"
    if _SPEECH_TITLE.search(title) or (_SPEECH.search(title) and _LEADER.search(title)):
        return "speech"
    paragraphs = [p for p in text.split("\n\n") if p.strip()][:4]
    for paragraph in paragraphs:
        for sentence in re.split(r"(?<=[.!?…])\s+", paragraph):
            if _LEADER.search(sentence) and _SPEECH.search(sentence):
                return "speech"
    return "article"


def first_line_title(text: str, limit: int = 200) -> str:
    """The first non-empty line (markdown '#' removed) when it is at most ``limit`` characters, else ''."""
    for line in text.split("\n"):
        line = _MD_HEADING.sub("", line.strip()).strip()
        if line:
            return line if len(line) <= limit else ""
    return ""


def split_page(text: str, doc_id: str, source: str, origin: str, fallback_title: str) -> list[Document]:
    """Split a (blog) page into its main text and reader comments; other pages give one cleaned Document.

    ``fallback_title`` is used when the page itself yields no title (no blog title line and no first line of
    at most 200 characters).  Returns [] when nothing but boilerplate is left.
    """
    text = normalize(text)
    lines = text.split("\n")
    if not is_blog_page(text):
        body = _join(clean_line(line, blog=False) for line in lines)
        if not body:
            return []
        title = _one_line(first_line_title(body) or fallback_title or doc_id)
        return [
            Document(doc_id=doc_id, title=title, text=body, kind=guess_kind(title, body), source=source, origin=origin)
        ]

    page = _split_comments(lines)
    main_lines, title, dropped = _strip_header(page.main)
    names = {fold(name) for name in dropped}

    def keep(line: str) -> str | None:
        cleaned = clean_line(line)
        if cleaned and fold(cleaned.strip()) in names:
            return None  # blog name repeated in the sidebar ("Tre Làng")
        return cleaned

    main_text = _join(keep(line) for line in main_lines)
    if not title:
        title = first_line_title(main_text) or fallback_title or doc_id
    title = _one_line(title)
    documents: list[Document] = []
    if main_text:
        documents.append(
            Document(
                doc_id=doc_id,
                title=title,
                text=main_text,
                kind=guess_kind(title, main_text),
                source=source,
                origin=origin,
            )
        )
    number = 0
    for raw in page.comments:
        body = _join(keep(line) for line in _comment_lines(raw, number + 1))
        if not body:
            continue
        number += 1
        documents.append(
            Document(
                doc_id=f"{doc_id}#c{number}",
                title=f"Bình luận {number} — {title}",
                text=body,
                kind="comment",
                source=source,
                origin=origin,
                comment_no=number,
                parent_id=doc_id,
            )
        )
    if page.declared is not None and page.declared != number:
        log.warning("%s: header announces %d comments, found %d", source or doc_id, page.declared, number)
    return documents


# --- internals -------------------------------------------------------------------------------------------


def _one_line(title: str) -> str:
    return clean_whitespace(title).replace("\n", " ")


def _join(lines) -> str:
    """Join kept lines (None = dropped) into text with single blank lines between paragraphs."""
    return clean_whitespace("\n".join(line for line in lines if line is not None))


def _split_comments(lines: list[str]) -> _Page:
    """Separate the main text from the comment block; the sidebar after the last comment is dropped."""
    header_at = next((i for i, line in enumerate(lines) if _COMMENT_HEADER.fullmatch(line.strip())), None)
    declared: int | None = None
    if header_at is not None:
        header = _COMMENT_HEADER.fullmatch(lines[header_at].strip())
        assert header is not None  # found by the line above
        token = header.group("n")
        declared = int(token) if token.isdigit() else 0
        main, region = lines[:header_at], lines[header_at + 1 :]
    else:
        first_widget = next((i for i, line in enumerate(lines) if _is_widget(line)), None)
        if first_widget is None:
            return _Page(lines, [], None)
        start = next((i for i in range(first_widget, -1, -1) if _numbered(lines[i]) == 1), None)
        if start is None:  # widgets but no recognisable comment start: keep everything as main text
            return _Page(lines, [], None)
        main, region = lines[:start], lines[start:]

    comments: list[str] = []
    current: list[str] = []

    def close() -> None:
        if any(part.strip() for part in current):
            comments.append("\n".join(current))
        current.clear()

    for line in region:
        if _is_widget(line):
            close()
            continue
        # the widget glued to a comment's last line or to the next comment ("…chính sách.Trả lờiXóa")
        pieces = _WIDGET_GLUED.split(line)
        for n, piece in enumerate(pieces):
            if n:
                close()
            if piece.strip() or len(pieces) == 1:
                current.append(piece)
    comments.extend(_tail_comments(current, len(comments) + 1))
    return _Page(main, comments, declared)


def _tail_comments(lines: list[str], expected: int) -> list[str]:
    """Comments after the last reply widget (or in a block without widgets): numbered items up to the sidebar."""
    found: list[str] = []
    current: list[str] | None = None
    for line in lines:
        if _numbered(line) == expected:
            if current is not None:
                found.append("\n".join(current))
            current, expected = [line], expected + 1
        elif current is not None:
            if line.strip() and clean_line(line) is None:  # sidebar starts: the comment is over
                found.append("\n".join(current))
                current = None
            else:
                current.append(line)
    if current is not None:
        found.append("\n".join(current))
    if not found and any(line.strip() and clean_line(line) is not None for line in lines):
        log.debug("dropped non-comment text after the comment block: %r", [ln for ln in lines if ln.strip()][:3])
    return found


def _is_widget(line: str) -> bool:
    return bool(_WIDGET_LINE.fullmatch(line.strip()))


def _numbered(line: str) -> int | None:
    match = _NUMBERED.match(line)
    return int(match.group("n")) if match else None


def _comment_lines(raw: str, ordinal: int) -> list[str]:
    """Comment lines without indentation, the leading "N." and an author/timestamp line."""
    lines = [line.strip() for line in raw.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    if lines:
        match = _NUMBERED.match(lines[0])
        if match and int(match.group("n")) == ordinal:
            lines[0] = match.group("rest")
        if _STAMP.match(lines[0]) and len(lines) > 1:
            lines.pop(0)
    return lines


def _is_short(line: str) -> bool:
    """Blog name, author byline or date: a few words, no sentence punctuation."""
    stripped = line.strip()
    if _BYLINE.match(stripped):
        return True
    return len(stripped) <= 60 and len(stripped.split()) <= 6 and not _SENTENCE_END.search(stripped)


def _is_title(line: str) -> bool:
    stripped = line.strip()
    words = stripped.split()
    if _BYLINE.match(stripped) or "@" in stripped:
        return False
    return 4 <= len(words) <= 40 and 15 <= len(stripped) <= 300 and not re.search(r"(?<!\.\.)[.:;,]$", stripped)


def _strip_header(lines: list[str]) -> tuple[list[str], str, list[str]]:
    """Find the title among the first lines; drop blog-name/byline lines around it.

    Returns (remaining lines, title or '', dropped name lines).  When no title line sits before the body the
    lines are returned unchanged.
    """
    content = [(i, line.strip()) for i, line in enumerate(lines) if line.strip() and clean_line(line) is not None]
    pos = 0
    before: list[int] = []
    while (
        pos < len(content)
        and len(before) < _MAX_HEADER_LINES
        and _is_short(content[pos][1])
        and not _is_title(content[pos][1])
    ):
        before.append(pos)
        pos += 1
    if pos >= len(content) or not _is_title(content[pos][1]):
        return lines, "", []
    title_pos = pos
    pos += 1
    after: list[int] = []
    while (
        pos < len(content)
        and len(after) < _MAX_HEADER_LINES
        and _is_short(content[pos][1])
        and not _is_title(content[pos][1])
    ):
        after.append(pos)
        pos += 1
    if pos >= len(content):  # nothing but header lines: too little evidence, keep them
        after = []
    drop = {content[p][0] for p in before + after}
    dropped = [content[p][1] for p in before + after]
    kept = [line for i, line in enumerate(lines) if i not in drop]
    return kept, content[title_pos][1], dropped
