"""HTML for the web app. Every piece of document, comment, question or answer text goes through :func:`esc`
before it is wrapped in our own markup, so a document holding ``<script>`` or ``<img onerror=…>`` is shown as
text and runs nothing. Pure functions (strings in, strings out), tested without the UI.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.answer.timeline import dates_label
from bot.wording import DiffOp, WordingMatch, paragraph_around
from settings import PROJECT_DIR
from vectorstore.records import date_key

KIND_WORDS = {"speech": "bài phát biểu", "article": "bài viết", "comment": "bình luận", "law": "văn bản pháp luật"}
MATCH_WORDS = {
    "exact": "Trùng nguyên văn",
    "folded": "Trùng khi bỏ qua dấu và chữ hoa",
    "near": "Cách diễn đạt gần nhất",
}
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# HTML specials, plus characters that Markdown, KaTeX or the HTML component's template engine could interpret.
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&#39;",
        "$": "&#36;",
        "{": "&#123;",
        "}": "&#125;",
        "`": "&#96;",
        "*": "&#42;",
        "_": "&#95;",
        "[": "&#91;",
        "]": "&#93;",
        "\\": "&#92;",
        "~": "&#126;",
        "|": "&#124;",
        "#": "&#35;",
    }
)


def esc(text: Any) -> str:
    """HTML-escape ``text`` and neutralise Markdown/template syntax (entities render as the same characters)."""
    return str(text if text is not None else "").translate(_ESCAPES)


def esc_lines(text: str) -> str:
    """:func:`esc`, with line breaks as ``<br>`` (our HTML fragments never contain a blank line)."""
    return "<br>".join(esc(line) for line in str(text).split("\n"))


def kind_words(kind: str, comment_no: int | None = None) -> str:
    """'comment', 3 -> 'bình luận số 3'."""
    words = KIND_WORDS.get(kind, kind)
    if kind == "comment" and comment_no is not None:
        return f"{words} số {comment_no}"
    return words


def source_html(source: str) -> str:
    """A source: an http(s) link (opened in a new tab), else the path (relative to the project when inside it)."""
    source = source or ""
    if re.match(r"https?://", source, re.IGNORECASE):
        return f'<a href="{esc(source)}" target="_blank" rel="noopener noreferrer nofollow">{esc(source)}</a>'
    try:
        shown = str(Path(source).resolve().relative_to(PROJECT_DIR))
    except (ValueError, OSError):
        shown = source
    return f"<code>{esc(shown)}</code>"


# --- the chat ---------------------------------------------------------------------------------------


def _linked(text: str, turn: int) -> str:
    """Escape an answer and turn each [n] (or [n, m]) into links to the sources panel."""
    out = []
    position = 0
    for m in _MARKER.finditer(text):
        out.append(esc_lines(text[position : m.start()]))
        numbers = [int(x) for x in m.group(1).split(",")]
        out.append(
            "".join(
                f'<a class="cite" href="#cite-{turn}-{n}" data-turn="{turn}" data-n="{n}" '
                f'title="Xem nguồn {n}">&#91;{n}&#93;</a>'
                for n in numbers
            )
        )
        position = m.end()
    out.append(esc_lines(text[position:]))
    return "".join(out)


def answer_html(answer: str, *, turn: int, refused: bool, notices: Sequence[str] = ()) -> str:
    """The final (verified) answer for the chat: one HTML block, no blank lines."""
    note = "".join(f'<div class="notice">{esc(n)}</div>' for n in notices)
    if refused:
        return (
            f'<div class="answer refusal" data-turn="{turn}"><div class="refusal-head">Không tìm thấy câu trả lời '
            f"trong tài liệu</div>{note}<div>{esc_lines(answer)}</div></div>"
        )
    return f'<div class="answer" data-turn="{turn}">{note}<div>{_linked(answer, turn)}</div></div>'


VERIFYING = "Bản nháp — đang kiểm chứng với tài liệu…"


def streaming_html(partial: str) -> str:
    """An answer while it is being written: visibly a draft (muted, labelled, no citation links), since the
    verifier may still drop or repair what it says; the verified answer replaces it."""
    if not partial:
        return waiting_html("Đang tìm trong tài liệu…")
    return (
        f'<div class="answer streaming" aria-busy="true"><div class="verifying">{VERIFYING}</div>'
        f'<div class="draft">{esc_lines(partial)}<span class="caret">▌</span></div></div>'
    )


def waiting_html(message: str) -> str:
    """A placeholder while nothing is written yet (searching, the store loading)."""
    return f'<div class="answer streaming" aria-busy="true">{esc(message)}<span class="caret">▌</span></div>'


def error_html(message: str) -> str:
    return f'<div class="answer error">{esc(message)}</div>'


def question_html(question: str) -> str:
    return f'<div class="question">{esc_lines(question)}</div>'


def highlighted_paragraph(text: str, start: int, end: int) -> tuple[str, int]:
    """The paragraph of ``text`` holding ``[start, end)``, escaped, with that span in ``<mark>``; and its number."""
    p_start, p_end, number = paragraph_around(text, start, end)
    body = (
        esc_lines(text[p_start:start]) + "<mark>" + esc_lines(text[start:end]) + "</mark>" + esc_lines(text[end:p_end])
    )
    return body, number


def citation_html(c: Mapping[str, Any], turn: int, document_text: str | None) -> str:
    n = c["n"]
    if document_text is not None and document_text[c["char_start"] : c["char_end"]] == c["quote"]:
        body, number = highlighted_paragraph(document_text, c["char_start"], c["char_end"])
        where = f"đoạn {number}, ký tự {c['char_start']}–{c['char_end']}"
    else:  # the document changed or was removed since the answer: show the quote alone
        body, where = "<mark>" + esc_lines(c["quote"]) + "</mark>", "tài liệu đã thay đổi"
    return (
        f'<li class="source" id="cite-{turn}-{n}" data-n="{n}">'
        f'<div class="src-head"><span class="src-n">&#91;{n}&#93;</span> '
        f'<span class="src-title">{esc(c["title"])}</span></div>'
        f'<div class="src-meta"><span class="src-kind">{esc(kind_words(c["kind"], c.get("comment_no")))}</span> · '
        f'<span class="src-date">{esc(dates_label(c.get("date"), c.get("effective"), c.get("number"), c["kind"]))}'
        "</span> · "
        f"{esc(where)} · Nguồn: {source_html(c.get('source', ''))}</div>"
        f"{superseded_html(c.get('superseded_by', ''))}"
        f'<blockquote class="src-para">{body}</blockquote></li>'
    )


def superseded_html(note: str) -> str:
    """The flag on a source that another held text replaces ("" when it is in force or not a legal text)."""
    return f'<div class="src-superseded" role="note">⚠ {esc(note)}</div>' if note else ""


def turn_sources_html(turn: int, citations: Sequence[Mapping[str, Any]], documents: Mapping[str, str | None]) -> str:
    """The cited passages of one answer (rendered once, when the answer arrives)."""
    if not citations:
        return '<p class="muted">Câu trả lời này không trích dẫn nguồn nào.</p>'
    items = "".join(citation_html(c, turn, documents.get(c["doc_id"])) for c in citations)
    return f'<ol class="source-list">{items}</ol>'


def sources_panel_html(turns: Sequence[tuple[int, str, str]]) -> str:
    """The sources panel from ``(turn, question, turn_sources_html)``: the newest turn first and open,
    older turns folded (a click on an older [n] opens its block)."""
    if not turns:
        return (
            '<div class="sources-panel"><h3>Nguồn trích dẫn</h3><p class="muted">Các đoạn văn bản được trích dẫn '
            "sẽ hiện ở đây. Bấm vào số [n] trong câu trả lời để xem nguồn tương ứng.</p></div>"
        )
    blocks = []
    for position, (turn, question, inner) in enumerate(reversed(turns)):
        blocks.append(
            f'<details class="turn-sources" data-turn="{turn}"{" open" if position == 0 else ""}>'
            f"<summary>Câu hỏi {turn + 1}: {esc(question)}</summary>{inner}</details>"
        )
    return '<div class="sources-panel"><h3>Nguồn trích dẫn</h3>' + "".join(blocks) + "</div>"


# --- wording lookup ---------------------------------------------------------------------------------


def diff_html(ops: Sequence[DiffOp]) -> str:
    parts = []
    for op in ops:
        if op.op == "equal":
            parts.append(esc(op.document))
        elif op.op == "delete":
            parts.append(f'<del title="Bạn gõ, tài liệu không có">{esc(op.typed)}</del>')
        elif op.op == "insert":
            parts.append(f'<ins title="Tài liệu có, bạn không gõ">{esc(op.document)}</ins>')
        else:
            parts.append(
                f'<del title="Bạn gõ">{esc(op.typed)}</del> <ins title="Tài liệu viết">{esc(op.document)}</ins>'
            )
    return " ".join(parts)


def wording_results_html(
    phrase: str, matches: Sequence[WordingMatch], dates: Mapping[str, tuple[str, str]] | None = None
) -> str:
    """``dates``: each document's dates label and, for a replaced text, its replacement note."""
    if not phrase.strip():
        return '<p class="muted">Nhập hoặc dán một cụm từ, câu văn (có hoặc không dấu) để tra nguyên văn.</p>'
    if not matches:
        return f'<p class="muted">Không tìm thấy nguyên văn hay cách diễn đạt gần giống cho: <q>{esc(phrase)}</q>.</p>'
    exact = sum(1 for m in matches if m.kind != "near")
    head = (
        f'<p class="wording-summary">{exact} kết quả trùng khớp, {len(matches) - exact} cách diễn đạt gần nhất '
        f"cho <q>{esc(phrase)}</q>.</p>"
    )
    items = []
    for m in matches:
        start, end = m.char_start - m.paragraph_start, m.char_end - m.paragraph_start
        para = m.paragraph
        body = esc_lines(para[:start]) + "<mark>" + esc_lines(para[start:end]) + "</mark>" + esc_lines(para[end:])
        score = "" if m.kind != "near" else f" · độ giống {m.score:.0%}"
        changed = any(o.op != "equal" for o in m.diff)
        diff = (
            f'<div class="diff"><span class="label">So với bạn gõ:</span> {diff_html(m.diff)}</div>'
            if changed
            else '<div class="diff same">Giống hệt từng chữ với cụm bạn gõ.</div>'
        )
        when, replaced = (dates or {}).get(m.doc_id, ("", ""))
        status = superseded_html(replaced) or ('<div class="src-in-force">Đang có hiệu lực</div>' if when and
                                               m.doc_kind == "law" else "")  # fmt: skip
        items.append(
            f'<li class="wording-match {m.kind}" data-kind="{m.kind}">'
            f'<div class="wm-head"><span class="badge {m.kind}">{esc(MATCH_WORDS[m.kind])}</span>{score}</div>'
            f'<div class="src-title">{esc(m.title)}</div>'
            f'<div class="src-meta">{esc(kind_words(m.doc_kind, m.comment_no))} · mã <code>{esc(m.doc_id)}</code> · '
            f'<span class="src-date">{esc(when)}</span> · '
            f"đoạn {m.paragraph_no}, ký tự {m.char_start}–{m.char_end} · Nguồn: {source_html(m.source)}</div>"
            f'{status}{diff}<blockquote class="src-para">{body}</blockquote></li>'
        )
    return head + '<ol class="wording-list">' + "".join(items) + "</ol>"


# --- prompt lab ---------------------------------------------------------------------------------------


def table_html(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    """A table; every cell is escaped unless it is a :class:`Raw` value."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if isinstance(c, Raw) else esc(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    table = f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    return f'<div class="table-wrap">{table}</div>'


class Raw(str):
    """A cell already rendered as safe HTML."""


def plain_answer_html(answer: str) -> str:
    """An answer in the prompt lab: escaped, markers kept as highlighted text."""
    out, position = [], 0
    for m in _MARKER.finditer(answer):
        out.append(esc_lines(answer[position : m.start()]))
        out.append(f'<span class="marker">&#91;{esc(m.group(1))}&#93;</span>')
        position = m.end()
    out.append(esc_lines(answer[position:]))
    return "".join(out)


def stats_html(stats: Mapping[str, Any], documents: Sequence[Mapping[str, Any]]) -> str:
    kinds = ", ".join(f"{kind_words(k)}: {v}" for k, v in sorted((stats.get("kinds") or {}).items())) or "–"
    head = table_html(
        ["Tài liệu", "Đoạn (chunk)", "Vectơ", "Theo loại", "Mô hình nhúng"],
        [
            [
                stats.get("documents", 0),
                stats.get("chunks", 0),
                stats.get("vectors", 0),
                kinds,
                stats.get("embedding_model", ""),
            ]
        ],
        "stats",
    )
    newest_first = sorted(documents, key=lambda d: date_key(d.get("date") or d.get("effective")), reverse=True)
    rows = [
        [d["doc_id"], d["title"], kind_words(d["kind"], d.get("comment_no")),
         dates_label(d.get("date"), d.get("effective"), d.get("number"), d["kind"]), d["chunks"], d["chars"]]
        for d in newest_first
    ]  # fmt: skip
    listing = table_html(["Mã", "Tiêu đề", "Loại", "Ngày", "Đoạn", "Ký tự"], rows, "documents")
    undated = [d for d in newest_first if not (d.get("date") or d.get("effective"))]
    missing = table_html(
        ["Mã", "Tiêu đề", "Loại"], [[d["doc_id"], d["title"], kind_words(d["kind"], d.get("comment_no"))]
                                    for d in undated], "undated"
    )  # fmt: skip
    return (
        head
        + f'<details class="doc-list"><summary>Danh sách {len(documents)} tài liệu, mới nhất trước</summary>'
        + f"{listing}</details>"
        + f'<details class="doc-undated"><summary>{len(undated)} tài liệu chưa có ngày (đặt ngày ở mục dưới)'
        + f"</summary>{missing}</details>"
    )


__all__ = [
    "Raw",
    "answer_html",
    "citation_html",
    "diff_html",
    "error_html",
    "esc",
    "esc_lines",
    "highlighted_paragraph",
    "kind_words",
    "plain_answer_html",
    "question_html",
    "source_html",
    "sources_panel_html",
    "stats_html",
    "streaming_html",
    "superseded_html",
    "table_html",
    "turn_sources_html",
    "waiting_html",
    "wording_results_html",
]
