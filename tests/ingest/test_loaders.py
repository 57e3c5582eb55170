"""ingest.loaders: real files written into tmp_path, no mocks."""

from __future__ import annotations

import json
import shutil
import unicodedata
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader

from ingest.loaders import SUPPORTED_EXTENSIONS, Failure, LoadResult, discover, load_file

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "000_28f78fd29aa67d47.txt"
VI = (
    "Quyết định về cải cách thủ tục hành chính\n\n"
    "Điều 1. Người dân được hỗ trợ khi nộp hồ sơ trực tuyến; thuỷ lợi, hoà giải, quý khách.\n\n"
    "Ủy ban nhân dân tỉnh chịu trách nhiệm thi hành Quyết định này."
)
VI_NFC = unicodedata.normalize("NFC", VI).replace("thuỷ", "thủy").replace("hoà", "hòa")


def _nfc(text: str) -> bool:
    return unicodedata.normalize("NFC", text) == text


def _only_failure(result: LoadResult) -> Failure:
    assert result.documents == []
    assert len(result.failures) == 1, result.failures
    return result.failures[0]


def _pdf(pages: list[str | None]) -> bytes:
    """A minimal valid PDF, one page per entry (None = a page without any text), Helvetica, ASCII text."""
    objects: list[bytes] = []
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    font = 3 + 2 * n
    for i, page in enumerate(pages):
        content = 4 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        if page is None:
            stream = b"0 0 m 100 100 l S"
        else:
            lines = []
            for j, line in enumerate(page.split("\n")):
                escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                lines.append(f"BT /F1 12 Tf 72 {720 - 16 * j} Td ({escaped}) Tj ET")
            stream = "\n".join(lines).encode("ascii")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _docx(path: Path) -> None:
    d = docx.Document()
    d.add_heading("Hướng dẫn nộp hồ sơ trực tuyến", level=1)
    d.add_paragraph("Bước 1: Đăng nhập Cổng Dịch vụ công quốc gia.")
    d.add_paragraph("")
    d.add_paragraph("Bước 2: Chọn thủ tục cần thực hiện.")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Thủ tục"
    table.cell(0, 1).text = "Thời hạn"
    table.cell(1, 0).text = "Cấp lại CCCD"
    table.cell(1, 1).text = "7 ngày"
    d.add_paragraph("Ghi chú: hồ sơ được xử lý theo thứ tự.")
    d.save(path)


# --- the sample -----------------------------------------------------------------------------------------


def test_sample_file(tmp_path):
    path = tmp_path / SAMPLE.name
    shutil.copy(SAMPLE, path)
    result = load_file(path)
    assert result.failures == []
    main = [d for d in result.documents if d.kind != "comment"]
    comments = [d for d in result.documents if d.kind == "comment"]
    assert len(main) == 1 and len(comments) == 7
    assert [c.comment_no for c in comments] == list(range(1, 8))
    (main,) = main
    assert main.doc_id == "000_28f78fd29aa67d47"
    assert main.title == "Kết luận của Thủ tướng: Phải chấm dứt tình trạng cán bộ không dám làm"
    assert main.source == str(path) and main.origin == str(path.resolve())
    assert "Chấm dứt tình trạng sợ trách nhiệm" in main.text
    assert "co cụm dữ liệu" in comments[6].text
    for doc in result.documents:
        for chrome in (
            "Trả lờiXóa",
            "Chia sẻ",
            "Tìm kiếm mở rộng",
            "Thông kê truy cập",
            "Lưu trữ Blog",
            "Tre Làng",
            "Khoai@",
        ):
            assert chrome not in doc.text
        assert _nfc(doc.text) and _nfc(doc.title)
    for c in comments:
        assert c.text not in main.text
        assert c.parent_id == main.doc_id and c.doc_id == f"{main.doc_id}#c{c.comment_no}"


# --- encodings ------------------------------------------------------------------------------------------


_TONES = "\u0300\u0301\u0303\u0309\u0323"


def _cp1258(text: str) -> bytes:
    """Windows-1258 has precomposed base vowels (â ê ô ơ ư ă đ) but stores the five tones as combining marks."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
            out += (base + "".join(c for c in decomposed if c in _TONES)).encode("cp1258")
    return bytes(out)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1258", "nfd-utf-8", "crlf"])
def test_encodings_give_identical_nfc_text(tmp_path, encoding):
    if encoding == "cp1258":
        data = _cp1258(VI)
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    elif encoding == "nfd-utf-8":
        data = unicodedata.normalize("NFD", VI).encode("utf-8")
    elif encoding == "crlf":
        data = VI.replace("\n", "\r\n").encode("utf-8")
    else:
        data = VI.encode(encoding)
    path = tmp_path / "vanban.txt"
    path.write_bytes(data)
    result = load_file(path)
    assert result.failures == []
    (doc,) = result.documents
    assert doc.text == VI_NFC
    assert doc.title == "Quyết định về cải cách thủ tục hành chính"
    assert doc.doc_id == "vanban" and doc.kind == "article"


def test_markdown_title_without_hashes(tmp_path):
    path = tmp_path / "ghi-chu.md"
    path.write_text("# Một cửa liên thông\n\nNội dung hướng dẫn.\n", encoding="utf-8")
    (doc,) = load_file(path).documents
    assert doc.title == "Một cửa liên thông"
    assert doc.text.endswith("Nội dung hướng dẫn.")


# --- HTML -----------------------------------------------------------------------------------------------


def test_html_drops_scripts_and_chrome(tmp_path):
    html = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Cổng thông tin CCHC</title>
    <style>p { color: red }</style><script>var tracking = "secret";</script></head>
    <body><header><a href="/">Menu chính</a></header><nav><ul><li>Liên hệ</li></ul></nav>
    <article><h1>Đẩy mạnh chuyển đổi số</h1>
    <p>Đoạn   một
       có xuống dòng.</p><div>Đoạn hai<br>dòng hai.</div>
    <ul><li>Mục A</li><li>Mục B</li></ul>
    <table><tr><td>Ô 1</td><td>Ô 2</td></tr></table>
    <script>alert("x")</script><!-- ghi chú ẩn --></article>
    <footer>Bản quyền 2023</footer></body></html>"""
    path = tmp_path / "trang.html"
    path.write_text(html, encoding="utf-8")
    result = load_file(path)
    assert result.failures == []
    (doc,) = result.documents
    assert doc.title == "Cổng thông tin CCHC"
    assert doc.text == (
        "Đẩy mạnh chuyển đổi số\n\nĐoạn một có xuống dòng.\n\nĐoạn hai\ndòng hai.\n\nMục A\n\nMục B\n\nÔ 1 | Ô 2"
    )
    for gone in ("tracking", "alert", "color", "Menu chính", "Liên hệ", "Bản quyền", "ghi chú ẩn"):
        assert gone not in doc.text


def test_html_title_from_h1_and_windows_1258(tmp_path):
    body = "<html><body><h1>Tiêu đề từ thẻ H1</h1><p>Nội dung tiếng Việt có dấu.</p></body></html>"
    path = tmp_path / "cu.htm"
    path.write_bytes(_cp1258(body))
    (doc,) = load_file(path).documents
    assert doc.title == "Tiêu đề từ thẻ H1"
    assert doc.text == "Tiêu đề từ thẻ H1\n\nNội dung tiếng Việt có dấu."


def test_html_blog_page_is_split(tmp_path):
    paragraphs = SAMPLE.read_text(encoding="utf-8").split("\n\n")
    html = (
        "<html><head><title>Tre Làng: bài viết</title></head><body>"
        + "".join(f"<p>{p}</p>" for p in paragraphs)
        + "</body></html>"
    )
    path = tmp_path / "blog.html"
    path.write_text(html, encoding="utf-8")
    docs = load_file(path).documents
    assert [d.kind for d in docs].count("comment") == 7
    assert docs[0].title == "Kết luận của Thủ tướng: Phải chấm dứt tình trạng cán bộ không dám làm"


# --- PDF ------------------------------------------------------------------------------------------------


def test_pdf_text(tmp_path):
    path = tmp_path / "bao-cao.pdf"
    path.write_bytes(_pdf(["Bao cao cai cach hanh chinh\nNguoi dan nop ho so truc tuyen", "Trang hai ket thuc."]))
    assert "Bao cao cai cach" in PdfReader(path).pages[0].extract_text()
    result = load_file(path)
    assert result.failures == []
    (doc,) = result.documents
    assert doc.doc_id == "bao-cao" and doc.source == str(path) and doc.origin == str(path.resolve())
    assert "Bao cao cai cach hanh chinh" in doc.text and "Trang hai ket thuc." in doc.text
    assert "\n\n" in doc.text  # pages are separate paragraphs
    assert doc.title == "Bao cao cai cach hanh chinh Nguoi dan nop ho so truc tuyen"  # wrapped lines reflowed
    assert doc.metadata == {"pages": 2}


def test_truncated_pdf(tmp_path):
    data = _pdf(["Noi dung bi cat mat mot nua cua tep PDF nay."])
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 2])
    failure = _only_failure(load_file(path))
    assert failure.reason == "Tệp PDF bị hỏng hoặc không đầy đủ"
    assert failure.path == str(path) and failure.detail


def test_garbage_pdf(tmp_path):
    path = tmp_path / "rac.pdf"
    path.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4 + b"\n%%EOF\n")
    assert _only_failure(load_file(path)).reason == "Tệp PDF bị hỏng hoặc không đầy đủ"


def test_pdf_without_text_layer(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(_pdf([None, None]))
    assert _only_failure(load_file(path)).reason == "PDF không có lớp chữ (cần OCR)"


# --- DOCX -----------------------------------------------------------------------------------------------


def test_docx(tmp_path):
    path = tmp_path / "huong-dan.docx"
    _docx(path)
    result = load_file(path)
    assert result.failures == []
    (doc,) = result.documents
    assert doc.title == "Hướng dẫn nộp hồ sơ trực tuyến"
    assert doc.text == (
        "Hướng dẫn nộp hồ sơ trực tuyến\n\nBước 1: Đăng nhập Cổng Dịch vụ công quốc gia.\n\n"
        "Bước 2: Chọn thủ tục cần thực hiện.\n\nThủ tục | Thời hạn\n\nCấp lại CCCD | 7 ngày\n\n"
        "Ghi chú: hồ sơ được xử lý theo thứ tự."
    )
    assert _nfc(doc.text)


def test_truncated_docx(tmp_path):
    good = tmp_path / "good.docx"
    _docx(good)
    data = good.read_bytes()
    path = tmp_path / "cut.docx"
    path.write_bytes(data[: len(data) // 2])
    failure = _only_failure(load_file(path))
    assert failure.reason == "Tệp DOCX bị hỏng hoặc không đầy đủ"
    assert failure.detail


# --- bad files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"   \n\t\r\n  ", "\ufeff  \n".encode("utf-8"), " \n".encode("utf-16")])
@pytest.mark.parametrize("name", ["rong.txt", "rong.md", "rong.pdf", "rong.docx", "rong.html", "rong.jsonl"])
def test_empty_files(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    failure = _only_failure(load_file(path))
    assert failure.reason == "Tệp rỗng"
    assert failure.path == str(path)


def test_binary_file_with_txt_name(tmp_path):
    path = tmp_path / "anh.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    assert _only_failure(load_file(path)).reason == "Tệp nhị phân, không phải văn bản"
    ctrl = tmp_path / "ctrl.md"
    ctrl.write_bytes(bytes(range(1, 32)) * 20 + "chữ".encode())
    assert _only_failure(load_file(ctrl)).reason == "Tệp nhị phân, không phải văn bản"


def test_unknown_extension_and_missing_path(tmp_path):
    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ\x90\x00")
    assert _only_failure(load_file(exe)).reason == "Định dạng không hỗ trợ (.exe)"
    files, failures = discover([exe, tmp_path / "khong-co.txt"])
    assert files == []
    assert [(f.path, f.reason) for f in failures] == [
        (str(exe), "Định dạng không hỗ trợ (.exe)"),
        (str(tmp_path / "khong-co.txt"), "Không tìm thấy đường dẫn"),
    ]
    assert _only_failure(load_file(tmp_path / "khong-co.txt")).reason == "Không tìm thấy đường dẫn"


def test_discover_folders(tmp_path):
    root = tmp_path / "kho"
    (root / "b" / "c").mkdir(parents=True)
    (root / ".git").mkdir()
    for rel in ("b/c/z.pdf", "a.TXT", "b/m.md", "b/x.exe", ".an.txt", ".git/conf.txt", "b/~$tam.docx", "b/y.jsonl"):
        (root / rel).write_bytes(b"x")
    extra = tmp_path / "rieng.html"
    extra.write_text("<p>x</p>", encoding="utf-8")
    files, failures = discover([root, extra, root / "a.TXT"])
    assert failures == []
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "kho/a.TXT",
        "kho/b/c/z.pdf",
        "kho/b/m.md",
        "kho/b/y.jsonl",
        "rieng.html",
    ]
    assert set(SUPPORTED_EXTENSIONS) == {".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".jsonl"}


def test_load_file_never_raises_on_directories(tmp_path):
    assert _only_failure(load_file(tmp_path)).reason


# --- JSONL ----------------------------------------------------------------------------------------------


def test_jsonl_rows(tmp_path):
    rows = [
        json.dumps(
            {
                "id": "QD-01/2023 ",
                "title": "Điều 5. Thời hạn giải quyết",
                "text": "Nội dung  điều 5.\n\n\n\nKhoản 2.",
                "source": {"vbpl_url": "https://vbpl.vn/x", "citation": "QĐ 01"},
                "meta": {"year": 2023, "tags": ["a", "b"], "inner": {"ok": True, "none": None}},
            },
            ensure_ascii=False,
        ),
        '{"id": "bad json", "title": ',
        json.dumps({"id": "b2", "title": "Bài viết", "text": "   "}, ensure_ascii=False),
        json.dumps({"id": "b3", "title": "Không có nội dung"}, ensure_ascii=False),
        "",
        json.dumps({"id": "QD-01/2023 ", "title": "Trùng", "text": "Trùng id."}, ensure_ascii=False),
        json.dumps(
            {
                "id": "ý-kiến-1",
                "title": unicodedata.normalize("NFD", "Ý kiến người dân"),
                "text": "Thủ tục quá rườm rà.",
                "kind": "comment",
                "source": "https://example.vn/y",
            },
            ensure_ascii=False,
        ),
        json.dumps(
            {"id": "bai-2", "title": "Tin tức", "text": "Một bài báo.", "kind": "bogus", "source": {"name": "Báo"}},
            ensure_ascii=False,
        ),
        json.dumps({"id": 7, "title": "x", "text": "y"}),
        "[1, 2]",
    ]
    path = tmp_path / "du-lieu.jsonl"
    path.write_text("\ufeff" + "\n".join(rows) + "\n", encoding="utf-8")
    result = load_file(path)
    docs = {d.doc_id: d for d in result.documents}
    assert list(docs) == ["QD-01/2023 ", "ý-kiến-1", "bai-2"]  # ids unchanged, in file order
    law = docs["QD-01/2023 "]
    assert law.kind == "law" and law.source == "https://vbpl.vn/x"
    assert law.text == "Nội dung điều 5.\n\nKhoản 2."
    assert law.origin == str(path.resolve())
    assert law.metadata == {
        "source.vbpl_url": "https://vbpl.vn/x",
        "source.citation": "QĐ 01",
        "meta.year": 2023,
        "meta.tags": '["a", "b"]',
        "meta.inner.ok": True,
    }
    comment = docs["ý-kiến-1"]
    assert comment.kind == "comment" and comment.title == "Ý kiến người dân" and _nfc(comment.title)
    assert comment.source == "https://example.vn/y"
    assert docs["bai-2"].kind == "article" and docs["bai-2"].source == str(path)
    bad = {f.path: f.reason for f in result.failures}
    assert bad == {
        f"{path}:2": "Dòng JSONL không hợp lệ: lỗi cú pháp JSON",
        f"{path}:3": "Dòng JSONL không hợp lệ: trường 'text' rỗng",
        f"{path}:4": "Dòng JSONL không hợp lệ: thiếu trường 'text'",
        f"{path}:6": "Dòng JSONL không hợp lệ: trùng 'id' với dòng 1",
        f"{path}:9": "Dòng JSONL không hợp lệ: trường 'id' phải là chuỗi",
        f"{path}:10": "Dòng JSONL không hợp lệ: không phải đối tượng JSON",
    }
    assert all(f.detail for f in result.failures)


def test_jsonl_without_valid_rows(tmp_path):
    path = tmp_path / "hong.jsonl"
    path.write_text('{"id": "a"}\nnot json\n', encoding="utf-8")
    result = load_file(path)
    assert result.documents == []
    assert [f.path for f in result.failures] == [f"{path}:1", f"{path}:2"]


# --- hostile files ------------------------------------------------------------------------------------------


def test_docx_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    good = tmp_path / "good.docx"
    _docx(good)
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        with out.open("word/media/padding.bin", "w") as pad:  # ~250 MB of zeros, a few hundred KB packed
            block = bytes(1024 * 1024)
            for _ in range(250):
                pad.write(block)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    failure = _only_failure(load_file(bomb))
    assert failure.reason == "Tệp DOCX giải nén quá lớn (nghi là tệp nén độc hại)"
    assert "bytes once unpacked" in failure.detail


def test_jsonl_hostile_rows_are_refused_one_by_one_and_the_rest_loaded(tmp_path):
    deep = {"id": "deep", "title": "T", "text": "Văn bản."}
    nested: dict = {"leaf": "giá trị"}
    for i in range(60):
        nested = {f"k{i}": nested}
    rows = [
        json.dumps({"id": "ok1", "title": "Điều 1", "text": "Thủ tục hành chính được công khai."}, ensure_ascii=False),
        '{"id": "bomb", "title": "T", "text": "x", "meta": ' + "[" * 200_000 + "]" * 200_000 + "}",
        json.dumps({**deep, "meta": nested}, ensure_ascii=False),
        json.dumps({"id": "huge", "title": "Dòng rất dài", "text": "thủ tục hành chính " * 200_000}),
        '{"id": "cut", "title": "T", "text": "câu bị cắt',
        json.dumps({"id": "ok2", "title": "Điều 2", "text": "Hồ sơ nộp trực tuyến."}, ensure_ascii=False),
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(rows), encoding="utf-8")
    result = load_file(path)
    assert [d.doc_id for d in result.documents] == ["ok1", "deep", "huge", "ok2"]
    assert sorted(f.path.rsplit(":", 1)[1] for f in result.failures) == ["2", "5"]
    assert all(f.reason.startswith("Dòng JSONL không hợp lệ") for f in result.failures)
    meta = result.documents[1].metadata
    assert len(meta) == 1 and all(k.count(".") < 10 for k in meta)  # flattened to a bounded depth
    assert len(result.documents[2].text) > 3_000_000
