"""Upload safety (file names, size, type), admin credentials, and escaping of everything rendered."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.wording import DiffOp, WordingMatch
from settings import Settings
from tests.app.fixtures import XSS_PAYLOAD
from webui import render
from webui.admin import UploadError, admin_enabled, check_credentials, sanitize_filename, save_upload
from webui.context import Readiness

# --- file names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("bao-cao.pdf", "bao-cao.pdf"),
        ("Nghị định 01 về CCHC.DOCX", "Nghi_dinh_01_ve_CCHC.docx"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\system32\\x.md", "x.md"),
        ("/abs/path/van_ban.html", "van_ban.html"),
        ("..txt.txt", "txt.txt"),
        (".hidden.jsonl", "hidden.jsonl"),
        ("a<b>c|d?e*.txt", "a_b_c_d_e.txt"),
        ("Đề án 06.HTM", "De_an_06.htm"),
        ("ten\x00file.txt", "tenfile.txt"),
        ("x" * 300 + ".txt", "x" * 96 + ".txt"),
    ],
)
def test_sanitize_filename(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


@pytest.mark.parametrize(
    "name", ["", "..", ".", "/", "script.exe", "noext", "a.txt.exe", "....txt", "../.txt", "ảnh.png"]
)
def test_sanitize_filename_refuses(name: str) -> None:
    with pytest.raises(UploadError):
        sanitize_filename(name)


def test_save_upload_stays_in_the_upload_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", upload_max_mb=1)
    src = tmp_path / "incoming" / "..%2f..%2fevil.txt"
    src.parent.mkdir()
    src.write_text("Nội dung", encoding="utf-8")
    saved = save_upload(settings, src, original_name="../../evil.txt")
    assert saved == (tmp_path / "data" / "uploads" / "evil.txt").resolve()
    assert saved.read_text(encoding="utf-8") == "Nội dung"
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (1024 * 1024 + 1))
    with pytest.raises(UploadError, match="quá lớn"):
        save_upload(settings, big)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(UploadError, match="rỗng"):
        save_upload(settings, empty)
    with pytest.raises(UploadError, match="Định dạng"):
        save_upload(settings, src, original_name="virus.exe")


# --- credentials -----------------------------------------------------------------------------------------------


def test_admin_only_when_both_credentials_are_set() -> None:
    assert not admin_enabled(Settings())
    assert not admin_enabled(Settings(admin_user="a"))
    assert not admin_enabled(Settings(admin_user="a", admin_password=""))
    assert admin_enabled(Settings(admin_user="a", admin_password="b"))


def test_check_credentials() -> None:
    s = Settings(admin_user="quản trị", admin_password="mật khẩu")
    assert check_credentials(s, "quản trị", "mật khẩu")
    assert not check_credentials(s, "quản trị", "sai")
    assert not check_credentials(s, "khác", "mật khẩu")
    assert not check_credentials(s, None, None)
    assert not check_credentials(Settings(), "", "")


# --- escaping ------------------------------------------------------------------------------------------------


def test_esc_neutralises_html_markdown_and_templates() -> None:
    out = render.esc(XSS_PAYLOAD + " ${alert(1)} {{x}} *b* [l](javascript:x) $$x$$ `c` &amp;")
    for bad in ("<", ">", "${", "{{", "*b*", "[l]", "$$", "`", '"'):
        assert bad not in out
    assert "&amp;amp;" in out


def test_answer_html_links_markers_and_escapes() -> None:
    html = render.answer_html(f"Câu {XSS_PAYLOAD} [1]. Câu hai [1, 2].", turn=3, refused=False)
    assert "<script" not in html and "<img" not in html
    assert html.count('class="cite"') == 3
    assert 'href="#cite-3-1"' in html and 'href="#cite-3-2"' in html
    assert "\n\n" not in html
    refusal = render.answer_html("Tài liệu không đề cập.", turn=0, refused=True)
    assert "refusal" in refusal and "cite" not in refusal


def test_sources_highlight_quote_in_its_paragraph() -> None:
    text = "Đoạn một.\n\nĐoạn hai có " + XSS_PAYLOAD + " và câu trích dẫn ở đây.\n\nĐoạn ba."
    quote = "câu trích dẫn ở đây"
    start = text.index(quote)
    citation = {
        "n": 1,
        "doc_id": "d",
        "title": "<b>Tiêu đề</b>",
        "kind": "comment",
        "comment_no": 2,
        "source": "https://example.org/a?b=<x>",
        "quote": quote,
        "char_start": start,
        "char_end": start + len(quote),
    }
    html = render.citation_html(citation, 0, text)
    assert f"<mark>{quote}</mark>" in html
    assert "Đoạn hai có" in html and "Đoạn một" not in html and "Đoạn ba" not in html
    assert "bình luận số 2" in html and "đoạn 2" in html
    assert "<script" not in html and "<img" not in html and "<b>Tiêu" not in html
    assert 'href="https://example.org/a?b=&lt;x&gt;"' in html
    changed = render.citation_html({**citation, "quote": "khác"}, 0, text)
    assert "tài liệu đã thay đổi" in changed


def test_kind_words() -> None:
    assert render.kind_words("speech") == "bài phát biểu"
    assert render.kind_words("article") == "bài viết"
    assert render.kind_words("comment", 7) == "bình luận số 7"
    assert render.kind_words("law") == "văn bản pháp luật"


def test_wording_results_escape_and_diff() -> None:
    match = WordingMatch(
        "near",
        0.8,
        "d",
        XSS_PAYLOAD,
        "law",
        None,
        "a.txt",
        4,
        12,
        "Tài liệu",
        1,
        0,
        20,
        "abc Tài liệu <script>x</script>",
        [DiffOp("replace", "<i>gõ</i>", "Tài"), DiffOp("equal", "lieu", "liệu")],
    )
    html = render.wording_results_html("<i>gõ</i> lieu", [match])
    assert "<script" not in html and "<img" not in html and "<i>" not in html
    assert "<del" in html and "<ins" in html and "<mark>Tài liệu</mark>" in html
    assert "văn bản pháp luật" in html and "đoạn 1, ký tự 4–12" in html


def test_readiness() -> None:
    r = Readiness()
    assert not r.ready and not r.wait(0)
    r.done("ok")
    assert r.ready and r.message == "ok" and not r.failed
