"""ingest.structure: blog page splitting, boilerplate removal, titles and kinds."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from ingest.structure import BOILERPLATE, clean_line, guess_kind, split_page

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "000_28f78fd29aa67d47.txt"
TITLE = "Kết luận của Thủ tướng: Phải chấm dứt tình trạng cán bộ không dám làm"
CHROME = (
    "Trả lờiXóa",
    "Chia sẻ",
    "Tìm kiếm mở rộng",
    "Thông kê truy cập",
    "Lưu trữ Blog",
    "Tre Làng",
    "Khoai@",
    "Google TreLang",
    "nhận xét:",
)


def _sample_parts():
    text = SAMPLE.read_text(encoding="utf-8")
    return split_page(text, "000_28f78fd29aa67d47", str(SAMPLE), str(SAMPLE.resolve()), "000_28f78fd29aa67d47")


def test_sample_splits_into_main_and_seven_comments():
    parts = _sample_parts()
    main, comments = parts[0], parts[1:]
    assert [p.kind for p in parts].count("comment") == 7 and len(parts) == 8
    assert main.doc_id == "000_28f78fd29aa67d47" and main.comment_no is None and main.parent_id is None
    assert main.title == TITLE
    assert main.kind == "speech"
    assert [c.comment_no for c in comments] == [1, 2, 3, 4, 5, 6, 7]
    assert [c.doc_id for c in comments] == [f"000_28f78fd29aa67d47#c{n}" for n in range(1, 8)]
    for c in comments:
        assert c.parent_id == main.doc_id
        assert c.title == f"Bình luận {c.comment_no} — {TITLE}"
        assert c.source == main.source and c.origin == main.origin


def test_sample_parts_are_clean():
    parts = _sample_parts()
    for part in parts:
        for chrome in CHROME:
            assert chrome not in part.text, (part.doc_id, chrome)
        assert part.text == unicodedata.normalize("NFC", part.text)
        assert part.title == unicodedata.normalize("NFC", part.title)
        assert "\n\n\n" not in part.text and part.text == part.text.strip()
        assert "\xa0" not in part.text
    main, comments = parts[0], parts[1:]
    assert "Chấm dứt tình trạng sợ trách nhiệm" in main.text
    assert main.text.startswith(TITLE + "\n\nHôm qua 19/4/2023")
    assert main.text.endswith("Thủ tướng lưu ý.")
    assert "co cụm dữ liệu" in comments[6].text
    for c in comments:
        assert c.text not in main.text
        assert not c.text[:3].strip().rstrip(".").isdigit()  # no leading "N."
        assert not c.text.startswith(" ")
        assert "Trả lời" not in c.text and "Xóa" not in c.text
    assert comments[0].text.startswith("Chú trọng công tác tuyên truyền")
    assert comments[1].text.startswith("trong thời gian gần đây")
    assert comments[6].text.endswith('"cát cứ thông tin", "co cụm dữ liệu".')


def test_page_without_comments_is_one_document():
    text = "Chia sẻ\n\nThông báo về cải cách thủ tục hành chính\n\nNội dung thứ nhất.\n\n\n\nNội dung thứ hai.\n"
    parts = split_page(text, "a", "a.txt", "/x/a.txt", "a")
    assert len(parts) == 1
    doc = parts[0]
    assert doc.title == "Thông báo về cải cách thủ tục hành chính"
    assert doc.text == "Thông báo về cải cách thủ tục hành chính\n\nNội dung thứ nhất.\n\nNội dung thứ hai."
    assert doc.kind == "article" and doc.comment_no is None


def test_plain_document_keeps_short_header_lines():
    # not a blog page: short lines before the title are real content (issuer, number) and stay
    text = (
        "BỘ NỘI VỤ\nSố: 12/2023/TT-BNV\n\nTHÔNG TƯ\nHướng dẫn về cải cách hành chính\n\n"
        "Điều 1. Phạm vi.\n\nĐiều 2. Đối tượng."
    )
    (doc,) = split_page(text, "tt", "tt.txt", "/tt.txt", "tt")
    assert doc.text.startswith("BỘ NỘI VỤ\nSố: 12/2023/TT-BNV")
    assert doc.title == "BỘ NỘI VỤ"
    assert doc.kind == "law"


def test_generic_blog_page_with_glued_widgets_and_count_mismatch(caplog):
    text = "\n".join(
        [
            "Blog Cải Cách",
            "",
            "Người dân được lợi gì từ dịch vụ công trực tuyến",
            "",
            "Đăng bởi Nguyễn Văn A",
            "",
            "Bài viết phân tích lợi ích của dịch vụ công trực tuyến đối với người dân và doanh nghiệp trong cả nước.",
            "",
            "Đoạn thứ hai của bài viết, không có gì đặc biệt nhưng đủ dài để là một câu văn.",
            "",
            "3 nhận xét:",
            "",
            "  1. Bình luận đầu tiên rất hay.",
            "",
            "    Trả lờiXóa",
            "  2. Bình luận thứ hai,",
            "nhiều dòng.Trả lờiXóa",
            "",
            "Đăng nhận xét",
            "",
            "Bài đăng Mới hơn",
            "Bài đăng Cũ hơn",
            "Trang chủ",
            "Đăng ký: Đăng Nhận xét (Atom)",
            "Blog Cải Cách",
            "Lưu trữ Blog► 2023 (12)",
        ]
    )
    with caplog.at_level("WARNING"):
        parts = split_page(text, "p", "p.txt", "/p.txt", "p")
    assert "announces 3 comments, found 2" in caplog.text
    main, c1, c2 = parts
    assert main.title == "Người dân được lợi gì từ dịch vụ công trực tuyến"
    assert "Đăng bởi" not in main.text and "Blog Cải Cách" not in main.text
    assert main.kind == "article"
    assert c1.text == "Bình luận đầu tiên rất hay."
    assert c2.text == "Bình luận thứ hai,\nnhiều dòng."
    for part in parts:
        for chrome in ("Đăng nhận xét", "Bài đăng", "Trang chủ", "Atom", "Lưu trữ", "nhận xét:", "Blog Cải Cách"):
            assert chrome not in part.text


def test_boilerplate_is_line_level_only():
    assert clean_line("Chia sẻ") is None
    assert clean_line("Trả lờiXóa") is None
    assert clean_line("   Trả lời") is None
    assert clean_line("Thống kê truy cập") is None
    assert clean_line("Lưu trữ Blog") is None
    assert clean_line("Lưu trữ Blog▼ 2023 (5)") is None
    assert clean_line("7 nhận xét:") is None
    sentence = "Chia sẻ dữ liệu giữa các bộ, ngành là yêu cầu bắt buộc."
    assert clean_line(sentence) == sentence
    assert clean_line("Trang chủ của Cổng dịch vụ công quốc gia đã được nâng cấp.") is not None
    assert all(isinstance(p, str) for p in BOILERPLATE)
    # ordinary words are widget text only on blog pages
    assert clean_line("Trả lời", blog=False) == "Trả lời"
    assert clean_line("Trang chủ", blog=False) == "Trang chủ"
    assert clean_line("Trả lờiXóa", blog=False) is None


def test_faq_document_keeps_answer_headings():
    text = "Hỏi đáp về CCCD\n\nCâu hỏi\n\nLàm sao cấp lại?\n\nTrả lời\n\nNộp hồ sơ trực tuyến.\n\nTrang chủ"
    (doc,) = split_page(text, "faq", "faq.txt", "/faq.txt", "faq")
    assert "\n\nTrả lời\n\n" in doc.text and doc.text.endswith("Trang chủ")


def test_guess_kind():
    assert guess_kind("Thủ tướng phát biểu tại hội nghị", "Nội dung.") == "speech"
    assert guess_kind("Tin tức", "Hôm nay, Bộ trưởng Bộ Nội vụ phát biểu khai mạc hội nghị.") == "speech"
    assert guess_kind("Hướng dẫn nộp hồ sơ", "Người dân nộp hồ sơ trực tuyến.") == "article"


def test_only_boilerplate_gives_nothing():
    assert split_page("Chia sẻ\n\nTrả lờiXóa\n\nTrang chủ\n", "x", "x", "x", "x") == []
