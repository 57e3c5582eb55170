"""Read user files (.txt .md .html .pdf .docx .jsonl) into normalised :class:`Document` records.

Bad input never raises: every file or JSONL row that cannot be ingested becomes a :class:`Failure` with a
short Vietnamese reason for users and an English detail for logs.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ingest import structure
from vectorstore.records import KINDS, Document
from vectorstore.text import clean_whitespace, decode_bytes, fold, normalize

log = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".jsonl")

# User-facing reasons (Vietnamese).
MAX_DOCX_UNPACKED_BYTES = 200 * 1024 * 1024  # a real DOCX of text is far smaller; a zip bomb is far larger
MAX_METADATA_DEPTH = 8
MAX_METADATA_VALUE_CHARS = 10_000

R_MISSING = "Không tìm thấy đường dẫn"
R_UNSUPPORTED = "Định dạng không hỗ trợ ({ext})"
R_EMPTY = "Tệp rỗng"
R_BINARY = "Tệp nhị phân, không phải văn bản"
R_UNREADABLE = "Không đọc được tệp"
R_NO_TEXT = "Tệp không có nội dung văn bản"
R_PDF_BROKEN = "Tệp PDF bị hỏng hoặc không đầy đủ"
R_PDF_ENCRYPTED = "Tệp PDF được bảo vệ bằng mật khẩu"
R_PDF_NO_TEXT = "PDF không có lớp chữ (cần OCR)"
R_DOCX_BROKEN = "Tệp DOCX bị hỏng hoặc không đầy đủ"
R_DOCX_BOMB = "Tệp DOCX giải nén quá lớn (nghi là tệp nén độc hại)"
R_HTML_BROKEN = "Không phân tích được tệp HTML"
R_UNEXPECTED = "Lỗi không xác định khi đọc tệp"
R_JSONL = "Dòng JSONL không hợp lệ: {what}"


@dataclass(frozen=True)
class Failure:
    """A file or row that could not be ingested."""

    path: str  # file path (with ":LINE" for a JSONL row)
    reason: str  # short reason in Vietnamese for users
    detail: str = ""  # English technical detail for logs


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


# --- discovery -------------------------------------------------------------------------------------------


def _is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_EXTENSIONS


def _ext_label(path: Path) -> str:
    return path.suffix.lower() or "không có phần mở rộng"


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Failure]]:
    """Files to load from files and folders (recursive, sorted; hidden files/folders and lock files skipped).

    A missing path, or a file of unknown type given explicitly, is a failure; inside folders files of unknown
    type are skipped silently (supported files with bad content are reported later by :func:`load_file`).
    """
    found: list[Path] = []
    failures: list[Failure] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(path)

    for raw in paths:
        path = Path(raw)
        if not path.exists():
            failures.append(Failure(str(path), R_MISSING, "path does not exist"))
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path).parts
                if any(part.startswith(".") for part in rel) or child.name.startswith("~$"):
                    continue
                if child.is_file() and _is_supported(child):
                    add(child)
        elif path.is_file():
            if _is_supported(path):
                add(path)
            else:
                failures.append(
                    Failure(
                        str(path), R_UNSUPPORTED.format(ext=_ext_label(path)), f"unsupported extension {path.suffix!r}"
                    )
                )
        else:
            failures.append(Failure(str(path), R_UNREADABLE, "not a regular file or directory"))
    return found, failures


# --- loading ---------------------------------------------------------------------------------------------


def load_file(path: Path) -> LoadResult:
    """Load one file; never raises for bad input (reports a Failure instead)."""
    path = Path(path)
    name = str(path)
    ext = path.suffix.lower()
    if not path.exists():
        return _fail(name, R_MISSING, "path does not exist")
    if not path.is_file():
        return _fail(name, R_UNREADABLE, "not a regular file")
    if ext not in SUPPORTED_EXTENSIONS:
        return _fail(name, R_UNSUPPORTED.format(ext=_ext_label(path)), f"unsupported extension {path.suffix!r}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _fail(name, R_UNREADABLE, f"{type(exc).__name__}: {exc}")
    if _is_blank(data):
        return _fail(name, R_EMPTY, "file is empty or whitespace only")
    loader = {
        ".txt": _load_text,
        ".md": _load_text,
        ".html": _load_html,
        ".htm": _load_html,
        ".pdf": _load_pdf,
        ".docx": _load_docx,
        ".jsonl": _load_jsonl,
    }[ext]
    try:
        result = loader(path, data)
    except Exception as exc:  # last guard: a parser bug must not stop a whole ingest run
        log.exception("unexpected error loading %s", name)
        return _fail(name, R_UNEXPECTED, f"{type(exc).__name__}: {exc}")
    for failure in result.failures:
        log.info("not ingested: %s: %s (%s)", failure.path, failure.reason, failure.detail)
    return result


def _is_blank(data: bytes) -> bool:
    """Empty or whitespace only, a byte-order mark included."""
    if not data.strip():
        return True
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom) and len(data) <= 4096:
            try:
                return not data.decode(codec).strip()
            except UnicodeDecodeError:
                return False
    return False


def _fail(path: str, reason: str, detail: str = "") -> LoadResult:
    return LoadResult([], [Failure(path, reason, detail)])


def _origin(path: Path) -> str:
    return str(path.resolve())


def _title(text: str) -> str:
    return clean_whitespace(normalize(text)).replace("\n", " ")


def _paragraphs(blocks: Iterable[str]) -> str:
    """Normalised text with one blank line between the non-empty blocks."""
    parts = [clean_whitespace(normalize(block)) for block in blocks]
    return "\n\n".join(part for part in parts if part)


def _single(path: Path, text: str, title: str, metadata: dict[str, Any] | None = None) -> LoadResult:
    title = _title(title) or structure.first_line_title(text) or path.stem
    return LoadResult(
        [
            Document(
                doc_id=path.stem,
                title=title,
                text=text,
                kind=structure.guess_kind(title, text),
                source=str(path),
                origin=_origin(path),
                metadata=metadata or {},
            )
        ],
        [],
    )


# .txt / .md ------------------------------------------------------------------------------------------------

_CONTROL_OK = set("\n\r\t\f\v")


def _decode_text(data: bytes) -> tuple[str | None, str]:
    """Decoded text, or (None, detail) when the bytes are binary rather than text."""
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not utf16 and b"\x00" in data[:8192]:
        sample = data[:4000]
        if len(sample) >= 4 and sample[1::2].count(0) > 0.4 * len(sample[1::2]) and sample[0::2].count(0) == 0:
            try:  # UTF-16-LE without BOM
                return data.decode("utf-16-le"), ""
            except UnicodeDecodeError:
                pass
        return None, "NUL bytes in a text file"
    try:
        text = decode_bytes(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"undecodable: {exc}"
    head = text[:20000]
    controls = sum(1 for ch in head if unicodedata.category(ch) == "Cc" and ch not in _CONTROL_OK)
    if "\x00" in head or (head and controls / len(head) > 0.05):
        return None, f"{controls} control characters in the first {len(head)}"
    return text, ""


def _load_text(path: Path, data: bytes) -> LoadResult:
    text, detail = _decode_text(data)
    if text is None:
        return _fail(str(path), R_BINARY, detail)
    text = normalize(text)
    if not text.strip():
        return _fail(str(path), R_EMPTY, "only whitespace after decoding")
    documents = structure.split_page(
        text, doc_id=path.stem, source=str(path), origin=_origin(path), fallback_title=path.stem
    )
    if not documents:
        return _fail(str(path), R_NO_TEXT, "nothing left after removing boilerplate")
    return LoadResult(documents, [])


# .html / .htm ------------------------------------------------------------------------------------------------

_DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "object",
    "embed",
    "nav",
    "header",
    "footer",
    "head",
)
_BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption dd details dialog div dl dt fieldset figcaption figure form "
    "h1 h2 h3 h4 h5 h6 hr html li main ol p pre section summary table tbody thead tfoot tr ul".split()
)
_CELL_TAGS = frozenset(("td", "th"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)


def _decode_html(data: bytes) -> str | None:
    if not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        declared = _META_CHARSET.search(data[:4096])
        if declared:
            charset = declared.group(1).decode("ascii", "replace").lower()
            if charset not in ("utf-8", "utf8"):
                try:
                    return data.decode(charset)
                except (LookupError, UnicodeDecodeError):
                    pass
    text, _ = _decode_text(data)
    return text


def _html_blocks(soup) -> list[str]:
    """Text of the page as blocks: block elements and <br> break, inline text is joined, cells get ' | '."""
    from bs4 import NavigableString, Tag
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        line = "".join(current)
        current.clear()
        if line.strip():
            blocks.append(line)

    def walk(node, pre: bool) -> None:
        for child in node.children:
            if isinstance(child, (Comment, Declaration, Doctype, ProcessingInstruction)):
                continue
            if isinstance(child, NavigableString):
                current.append(str(child) if pre else re.sub(r"\s+", " ", str(child)))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name.lower()
            if name == "br":
                current.append("\n")
            elif name in _CELL_TAGS:
                if current and "".join(current).strip():
                    current.append(" | ")
                walk(child, pre)
            elif name in _BLOCK_TAGS:
                flush()
                walk(child, pre or name == "pre")
                flush()
            else:
                walk(child, pre)

    walk(soup, False)
    flush()
    return blocks


_HTML_DATE_META = ("article:published_time", "og:published_time", "datepublished", "date", "pubdate",
                   "publishdate", "dc.date", "dcterms.date")  # fmt: skip


def _html_date(soup) -> str:
    """The page's declared publication date: a ``<meta>`` (``article:published_time``, ``date``, …), else the
    first ``<time datetime>``; "" when it declares none."""
    for tag in soup.find_all("meta"):
        key = (tag.get("property") or tag.get("name") or tag.get("itemprop") or "").strip().lower()
        if key in _HTML_DATE_META and (tag.get("content") or "").strip():
            return normalize(tag["content"].strip())
    time_tag = soup.find("time", attrs={"datetime": True})
    return normalize(time_tag["datetime"].strip()) if time_tag is not None else ""


def _load_html(path: Path, data: bytes) -> LoadResult:
    from bs4 import BeautifulSoup

    html = _decode_html(data)
    if html is None:
        return _fail(str(path), R_BINARY, "HTML bytes are not text")
    try:
        soup = BeautifulSoup(html, "html.parser")
    except Exception as exc:  # html.parser is lenient; this is for pathological input
        return _fail(str(path), R_HTML_BROKEN, f"{type(exc).__name__}: {exc}")
    title = ""
    if soup.title and soup.title.get_text(strip=True):
        title = soup.title.get_text(" ", strip=True)
    else:
        h1 = soup.find("h1")
        if h1 and h1.get_text(strip=True):
            title = h1.get_text(" ", strip=True)
    published = _html_date(soup)
    for tag in soup.find_all(_DROP_TAGS):
        if tag.decomposed:
            continue
        if tag.name in ("header", "footer") and tag.find_parent("article") is not None:
            continue  # an article's own header (its <h1>) is content
        tag.decompose()
    text = _paragraphs(_html_blocks(soup))
    if not text:
        return _fail(str(path), R_NO_TEXT, "no text in the HTML body")
    title = _title(title)
    blog = structure.is_blog_page(text)
    documents = structure.split_page(
        text, doc_id=path.stem, source=str(path), origin=_origin(path), fallback_title=title or path.stem
    )
    if title and not blog:  # the page's declared title beats a first-line guess; a blog post keeps its own
        documents = [replace(doc, title=title) for doc in documents]
    if published:  # the page's own date; a reader's comment below it is not dated by it
        documents = [replace(doc, metadata={**doc.metadata, "published_time": published}) if doc.kind != "comment"
                     else doc for doc in documents]  # fmt: skip
    if not documents:
        return _fail(str(path), R_NO_TEXT, "nothing left after removing boilerplate")
    return LoadResult(documents, [])


# .pdf ----------------------------------------------------------------------------------------------------

_LIST_START = re.compile(
    r"^(?:[-–•●▪*+]|\d{1,3}[.)]|[a-zđ][.)]|[IVXLC]+\.|Điều\s+\d|Chương\s+[IVXLC\d]|Mục\s+\d|"
    r"Phần\s+[IVXLC\d])",
    re.IGNORECASE,
)
_LINE_END = re.compile(r"[.:;!?…\"”)]$")


def _reflow(page_text: str) -> list[str]:
    """PDF lines joined into paragraphs: a line ending a sentence, a list item or a heading starts a new one."""
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in page_text.split("\n"):
        line = raw.strip()
        if not line:
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        if current and (_LIST_START.match(line) or (current[-1].isupper() and len(current[-1]) < 120)):
            paragraphs.append(" ".join(current))
            current = []
        current.append(line)
        if _LINE_END.search(line):
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def _load_pdf(path: Path, data: bytes) -> LoadResult:
    from pypdf import PdfReader

    name = str(path)
    if b"%PDF-" not in data[:1024]:
        return _fail(name, R_PDF_BROKEN, "no %PDF- header")
    if b"%%EOF" not in data[-2048:]:
        return _fail(name, R_PDF_BROKEN, "no %%EOF marker at the end: truncated file")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    return _fail(name, R_PDF_ENCRYPTED, "encrypted, empty user password rejected")
            except Exception as exc:
                return _fail(name, R_PDF_ENCRYPTED, f"encrypted: {type(exc).__name__}: {exc}")
        pages = list(reader.pages)
    except Exception as exc:
        return _fail(name, R_PDF_BROKEN, f"{type(exc).__name__}: {exc}")
    if not pages:
        return _fail(name, R_PDF_BROKEN, "no pages")
    blocks: list[str] = []
    errors = 0
    for number, page in enumerate(pages, 1):
        try:
            page_text = page.extract_text() or ""
        except Exception as exc:
            errors += 1
            log.warning("%s: page %d: text extraction failed: %s", name, number, exc)
            continue
        blocks.extend(_reflow(normalize(page_text)))
    if errors == len(pages):
        return _fail(name, R_PDF_BROKEN, "text extraction failed on every page")
    text = _paragraphs(blocks)
    if not text:
        return _fail(name, R_PDF_NO_TEXT, f"{len(pages)} page(s), no extractable text")
    title, metadata = "", dict[str, Any](pages=len(pages))
    try:
        meta = reader.metadata
        title = (meta.title or "") if meta else ""
        created = meta.creation_date if meta else None
        if created is not None:
            metadata["created"] = created.date().isoformat()  # the document's own date (ingest/dating.py)
    except Exception:
        title = title or ""
    if title and (title.lower().endswith((".doc", ".docx", ".pdf")) or fold(title).startswith("microsoft")):
        title = ""  # authoring-tool noise ("Microsoft Word - x.docx")
    return _single(path, text, title, metadata)


# .docx ---------------------------------------------------------------------------------------------------


def _load_docx(path: Path, data: bytes) -> LoadResult:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    name = str(path)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return _fail(name, R_DOCX_BROKEN, f"{type(exc).__name__}: {exc}")
    if unpacked > MAX_DOCX_UNPACKED_BYTES:  # python-docx would inflate it all in memory
        return _fail(name, R_DOCX_BOMB, f"{unpacked} bytes once unpacked (limit {MAX_DOCX_UNPACKED_BYTES})")
    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        heading = ""
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                text = item.text
                if text.strip():
                    blocks.append(text)
                    style = (item.style.name if item.style is not None else "") or ""
                    if not heading and (style == "Title" or style.startswith("Heading")):
                        heading = text
            elif isinstance(item, Table):
                blocks.extend(_docx_table_rows(item))
        core_title = document.core_properties.title or ""
        created = document.core_properties.created
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        return _fail(name, R_DOCX_BROKEN, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # lxml XMLSyntaxError, python-docx PackageNotFoundError, ...
        return _fail(name, R_DOCX_BROKEN, f"{type(exc).__name__}: {exc}")
    text = _paragraphs(blocks)
    if not text:
        return _fail(name, R_NO_TEXT, "DOCX without text")
    return _single(path, text, core_title or heading, {"created": created.date().isoformat()} if created else None)


def _docx_table_rows(table) -> list[str]:
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is repeated once per grid column
                continue
            seen.add(id(cell._tc))
            value = " ".join(cell.text.split("\n")).strip()
            if value:
                cells.append(value)
        if cells:
            rows.append(" | ".join(cells))
    return rows


# .jsonl --------------------------------------------------------------------------------------------------

_LAW_SOURCE = re.compile(
    r"vbpl|thuvienphapluat|luatvietnam|congbao|\blaws?\b|/van-ban/|"
    r"^\s*(?:luat|bo luat|hien phap|nghi dinh|thong tu|quyet dinh|nghi quyet|phap lenh)\b|"
    r"\d+/\d{4}/(?:nd|qh\d*|tt|qd|nq|ttg)",
)


def _flatten(value: Any, prefix: str, out: dict[str, Any], depth: int = 0) -> None:
    """Nested metadata as dotted keys; below ``MAX_METADATA_DEPTH`` levels a value is kept as its JSON text."""
    if isinstance(value, dict) and depth < MAX_METADATA_DEPTH:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out, depth + 1)
    elif value is None:
        return
    elif isinstance(value, str):
        out[prefix] = normalize(value)
    elif isinstance(value, bool | int):
        out[prefix] = value
    elif isinstance(value, float):
        if math.isfinite(value):
            out[prefix] = value
    else:  # lists, deep objects (and anything else JSON can hold), bounded
        out[prefix] = normalize(json.dumps(value, ensure_ascii=False)[:MAX_METADATA_VALUE_CHARS])


def _row_source(raw: Any, fallback: str) -> str:
    if isinstance(raw, dict):
        for key in ("vbpl_url", "citation"):
            value = raw.get(key)
            if isinstance(value, str) and value.strip():
                return normalize(value.strip())
        return fallback
    if isinstance(raw, str) and raw.strip():
        return normalize(raw.strip())
    return fallback


def _row_kind(row: dict[str, Any], title: str) -> str:
    kind = row.get("kind")
    if isinstance(kind, str) and kind.strip().lower() in KINDS:
        return kind.strip().lower()
    if title.startswith("Điều"):
        return "law"
    source = row.get("source")
    if isinstance(source, dict):
        if source.get("vbpl_url"):
            return "law"
        source = " ".join(str(v) for v in source.values() if isinstance(v, str | int))
    if isinstance(source, str) and _LAW_SOURCE.search(fold(source)):
        return "law"
    return "article"


def _load_jsonl(path: Path, data: bytes) -> LoadResult:
    name = str(path)
    text, detail = _decode_text(data)
    if text is None:
        return _fail(name, R_BINARY, detail)
    origin = _origin(path)
    result = LoadResult()
    first_line: dict[str, int] = {}

    def bad(line_no: int, what: str, why: str) -> None:
        result.failures.append(Failure(f"{name}:{line_no}", R_JSONL.format(what=what), why))

    for line_no, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nesting deeper than Python's stack
            bad(line_no, "lỗi cú pháp JSON", f"{type(exc).__name__}: {exc}")
            continue
        if not isinstance(row, dict):
            bad(line_no, "không phải đối tượng JSON", f"row is a {type(row).__name__}")
            continue
        doc_id = row.get("id")
        if "id" not in row or doc_id is None:
            bad(line_no, "thiếu trường 'id'", "missing 'id'")
            continue
        if not isinstance(doc_id, str):
            bad(line_no, "trường 'id' phải là chuỗi", f"'id' is a {type(doc_id).__name__}")
            continue
        if not doc_id.strip():
            bad(line_no, "trường 'id' rỗng", "empty 'id'")
            continue
        fields: dict[str, str] = {}
        problem = None
        for key in ("title", "text"):
            value = row.get(key)
            if value is None:
                problem = (f"thiếu trường '{key}'", f"missing {key!r}")
            elif not isinstance(value, str):
                problem = (f"trường '{key}' phải là chuỗi", f"{key!r} is a {type(value).__name__}")
            else:
                cleaned = _title(value) if key == "title" else clean_whitespace(normalize(value))
                if not cleaned:
                    problem = (f"trường '{key}' rỗng", f"empty {key!r} after normalisation")
                fields[key] = cleaned
            if problem:
                break
        if problem:
            bad(line_no, *problem)
            continue
        if doc_id in first_line:
            bad(line_no, f"trùng 'id' với dòng {first_line[doc_id]}", f"duplicate id {doc_id!r}")
            continue
        first_line[doc_id] = line_no
        metadata: dict[str, Any] = {}
        for key, value in row.items():
            if key not in ("id", "title", "text"):
                _flatten(value, str(key), metadata)
        result.documents.append(
            Document(
                doc_id=doc_id,
                title=fields["title"],
                text=fields["text"],
                kind=_row_kind(row, fields["title"]),
                source=_row_source(row.get("source"), name),
                origin=origin,
                metadata=metadata,
            )
        )
    if not result.documents and not result.failures:
        return _fail(name, R_EMPTY, "no JSONL rows")
    return result
