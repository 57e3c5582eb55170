import unicodedata

import pytest

from vectorstore.text import (
    clean_whitespace,
    decode_bytes,
    fold,
    has_diacritics,
    led_items,
    normalize,
    reading_units,
    sentences,
    words,
)

VI = "Thủ tướng yêu cầu hoàn thành kết nối dữ liệu TTHC, chấm dứt tình trạng đùn đẩy trách nhiệm."


def test_normalize_makes_nfd_input_nfc():
    nfd = unicodedata.normalize("NFD", VI)
    assert nfd != VI
    assert normalize(nfd) == VI
    assert unicodedata.is_normalized("NFC", normalize(nfd))


@pytest.mark.parametrize(
    ("old", "new"),
    [("hoà", "hòa"), ("Hoá đơn", "Hóa đơn"), ("thuỷ lợi", "thủy lợi"), ("khoẻ", "khỏe"), ("quý", "quý")],
)
def test_normalize_moves_old_tone_placement(old, new):
    assert normalize(old) == new


def test_normalize_keeps_tone_on_closed_syllables():
    assert normalize("hoàn thành, toán, khuyến khích") == "hoàn thành, toán, khuyến khích"


def test_normalize_removes_invisible_and_unifies_spaces():
    assert normalize("cán\u200b bộ\u00a0công\ufeff chức\r\nmới") == "cán bộ công chức\nmới"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_decode_bytes_unicode_encodings(encoding):
    assert normalize(decode_bytes(VI.encode(encoding))) == VI


TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"


def to_cp1258(text: str) -> bytes:
    """Windows-1258 keeps base letters precomposed (ư, ơ, â) and tone marks combining."""
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in parts if c in TONE_MARKS)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONE_MARKS))
        out.append(base + tones)
    return "".join(out).encode("cp1258")


def test_decode_bytes_windows_1258():
    data = to_cp1258(VI)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert normalize(decode_bytes(data)) == VI


def test_fold_strips_diacritics_and_maps_d():
    assert fold("Thủ tục cấp lại Căn cước, ĐỊA CHỈ") == "thu tuc cap lai can cuoc, dia chi"
    assert fold(unicodedata.normalize("NFD", "đường")) == "duong"


def test_has_diacritics():
    assert has_diacritics("thủ tục")
    assert has_diacritics("dang ky tam tru đi")
    assert not has_diacritics("thu tuc cap lai cccd")


def test_words_keeps_codes():
    assert words("Nghị định 23/2015/NĐ-CP, khoản 2.") == ["nghị", "định", "23", "2015", "nđ-cp", "khoản", "2"]


def test_clean_whitespace():
    assert clean_whitespace("  a \t b \n\n\n\n c  ") == "a b\n\nc"


def test_reading_units_skip_the_notes_that_list_related_articles():
    """pd104: "Lệ phí cấp phiếu lý lịch tư pháp là bao nhiêu đồng?" was answered with a fragment of such a note,
    "Lệ phí và miễn lệ phí cấp Phiếu lý lịch tư pháp; Điều 15.4." (a title under another article)."""
    article = (
        "2. Những trường hợp sau đây được miễn lệ phí cấp Phiếu lý lịch tư pháp:\n"
        "a) Người thuộc hộ nghèo theo quy định của pháp luật (hộ nghèo);\n"
        "(Điều này có nội dung liên quan đến Điều 15.4.TL.1.20. Tra cứu, xác minh thông tin (trước năm 2010) tại "
        "cơ quan Công an; Điều 33.3.TT.73.5. Trường hợp miễn phí; Điều 33.3.TT.73.6. Kê khai, nộp phí)\n"
        "Chương II\nTỔ CHỨC, QUẢN LÝ CƠ SỞ DỮ LIỆU LÝ LỊCH TƯ PHÁP"
    )
    assert reading_units(article) == [
        "Những trường hợp sau đây được miễn lệ phí cấp Phiếu lý lịch tư pháp:",  # "2." is split off
        "a) Người thuộc hộ nghèo theo quy định của pháp luật (hộ nghèo);",
        "TỔ CHỨC, QUẢN LÝ CƠ SỞ DỮ LIỆU LÝ LỊCH TƯ PHÁP",
    ]
    # a chunk that opens inside a note; a list item's bracket without an article code is text
    tail = "Điều 33.3.TT.73.5. Trường hợp miễn phí; Điều 33.3.TT.73.6. Kê khai)\nb) Người cư trú tại xã khó khăn."
    assert reading_units(tail) == ["b) Người cư trú tại xã khó khăn."]
    inside = "Điều 27.6.NĐ.22. Khai thác dữ liệu ảnh viễn thám; Điều 27.6.NĐ.23. Phiếu yêu cầu cung cấp thông tin;"
    assert reading_units(inside) == []
    assert reading_units("a) Người thuộc hộ nghèo theo quy định.") == ["a) Người thuộc hộ nghèo theo quy định."]
    one = "Thời hạn giải quyết là 15 ngày; Điều 5. Thủ tục được rút gọn khi hồ sơ đủ."  # one entry-like phrase: text
    assert reading_units(one) == ["Thời hạn giải quyết là 15 ngày; Điều 5.", "Thủ tục được rút gọn khi hồ sơ đủ."]
    section = "MỤC 6\n(Mục này có nội dung liên quan đến Điều 15.6.NĐ.1.24. Ghi quốc tịch trong các giấy tờ về hộ tịch)"
    assert reading_units(section) == []


def test_reading_units_end_at_line_breaks_except_inside_a_wrapped_sentence():
    header = (
        "Nghị định 367/2025/NĐ-CP sửa đổi Nghị định 118/2025 về một cửa"
        "\n| Số hiệu: | 367/2025/NĐ-CP | Loại: | Nghị định |\nNgày ban hành là ngày văn bản được ký ban hành."
    )
    assert reading_units(header) == [
        "Nghị định 367/2025/NĐ-CP sửa đổi Nghị định 118/2025 về một cửa",
        "| Số hiệu: | 367/2025/NĐ-CP | Loại: | Nghị định |",
        "Ngày ban hành là ngày văn bản được ký ban hành.",
    ]
    steps = "Hồ sơ gồm các giấy tờ sau:\n1. Tờ khai theo mẫu quy định;\nb) bản sao giấy khai sinh của người con"
    assert reading_units(steps) == ["Hồ sơ gồm các giấy tờ sau:", "Tờ khai theo mẫu quy định;",
                                    "b) bản sao giấy khai sinh của người con"]  # fmt: skip
    # a hard-wrapped line (PDF text) goes on in lower case after a word: one sentence
    assert reading_units("Thủ tướng yêu cầu các bộ, ngành\nkhẩn trương hoàn thành kết nối dữ liệu.") == [
        "Thủ tướng yêu cầu các bộ, ngành\nkhẩn trương hoàn thành kết nối dữ liệu."
    ]
    # chunking's sentences keep their own rule (a change there would re-embed every store)
    assert sentences(header)[0].count("\n") == 2


def test_list_items_and_table_rows_are_mapped_to_their_lead_line():
    text = (
        "Từ ngày 01/01/2026, áp dụng mức thu theo quy định tại Thông tư 25/2021/TT-BTC.\n\n"
        "Mức phí làm hộ chiếu online theo quy định tại Thông tư 25/2021/TT-BTC:\n\n"
        "Cấp mới: 200.000 VND/lần.\n\nCấp lại do hỏng hoặc mất: 400.000 VND/lần.\n\n"
        "Từ ngày 1/1/2025 đến ngày 31/12/2025, người dân làm hộ chiếu online sẽ được giảm 10%.\n"
        "Cấp giấy xác nhận: 100.000 VND/lần.\n"
        "Mức thu như sau:\nSố TT | Nội dung | Mức thu |\n|\na | Cấp mới | 180.000 |\n"
        "Hồ sơ gồm:\n1. Tờ khai;\nb) bản sao giấy khai sinh"
    )
    lead = "Mức phí làm hộ chiếu online theo quy định tại Thông tư 25/2021/TT-BTC:"
    assert led_items(text) == {
        "Cấp mới: 200.000 VND/lần.": lead,
        "Cấp lại do hỏng hoặc mất: 400.000 VND/lần.": lead,
        # a sentence that is not an item ends the list: the next "label: value" line follows no lead
        "Số TT | Nội dung | Mức thu |": "Mức thu như sau:",
        "|": "Mức thu như sau:",
        "a | Cấp mới | 180.000 |": "Mức thu như sau:",
        "1. Tờ khai;": "Hồ sơ gồm:",
        "b) bản sao giấy khai sinh": "Hồ sơ gồm:",
    }
    assert led_items("Thủ tướng yêu cầu: các bộ khẩn trương hoàn thành.\nNgày 2/9/2025: khai trương.") == {}
