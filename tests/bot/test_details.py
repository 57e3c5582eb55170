"""Details (dates, years, numbers, document numbers, ordinals) compare by meaning, however each text writes them."""

from __future__ import annotations

from datetime import date as Date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.answer.grounding import missing_specifics, specifics
from vectorstore.details import Detail, extract, matches

MONTHS = "January February March April May June July August September October November December".split()


def one(text: str, kind: str) -> Detail:
    found = [d for d in extract(text) if d.kind == kind]
    assert len(found) == 1, (text, extract(text))
    return found[0]


def test_a_dotted_document_number_is_read_whole():
    assert one("Nghị quyết 66.7/2025/NQ-CP về cắt giảm thủ tục", "doc_number").value == ("66.7", 2025, "nq-cp")
    question = "Nghị quyết 66.7/2025/NQ-CP quy định gì?"
    assert specifics(question) == ["66.7/2025/NQ-CP"]
    assert missing_specifics(question, ["Chính phủ ban hành Nghị quyết số 66.7/2025/NQ-CP ngày 15/11/2025."]) == []
    assert missing_specifics(question, ["Nghị quyết số 7/2025/NQ-CP"]) == ["66.7/2025/NQ-CP"]


def test_a_glossary_terms_expansion_is_met_with_or_without_blanks_around_its_hyphen():
    glossary = {"kt-xh": ("KT-XH", "kinh tế - xã hội")}
    question = "Năm 2024, vùng KT-XH nào có giá trị trung bình cao nhất?"
    assert missing_specifics(question, ["6/6 vùng kinh tế-xã hội năm 2024 đều đạt trên 80%."], glossary) == []
    assert missing_specifics(question, ["6/6 vùng kinh tế năm 2024 đều đạt trên 80%."], glossary) == ["KT-XH"]


def test_an_english_document_number_after_no_is_read():
    stated = "On June 12, NA Chairman Tran Thanh Man signed Resolution No.202/2025/QH15 on the restructuring."
    assert one(stated, "doc_number").value == ("202", 2025, "qh15")
    assert missing_specifics("Ai ký Nghị quyết số 202/2025/QH15?", [stated]) == []
    assert one("Có 1.000 người", "number").value == (Decimal("1000"),)  # a dot inside a number still joins it


def test_a_date_without_a_year_meets_the_same_day_and_month():
    assert one("Ngày 4/6/ UBND tỉnh tổ chức hội nghị", "date").value == (None, 6, 4)  # a stray slash, not a part
    assert missing_specifics("Ngày 2/9/2025 có được nghỉ không?", ["Người lao động được nghỉ dịp 2/9."]) == []
    assert missing_specifics("Lễ 2/9 năm nay", ["Kỷ niệm 80 năm Quốc khánh 2/9/2025"]) == []


def test_a_date_meets_the_same_date_written_another_way():
    source = "Luật có hiệu lực từ ngày 1/7/2025."
    for question in (
        "Luật có hiệu lực từ July 1?",
        "Is it in force from 1 July 2025?",
        "Quy định áp dụng từ ngày 1 tháng 7 năm 2025 phải không?",
        "Từ 01-07-2025 thì sao?",
        "Từ 1.7.2025 thì sao?",
    ):
        assert specifics(question) and missing_specifics(question, [source]) == [], question
    english = "The new Law on Cadres and Civil Servants takes effect on July 1, 2025."
    assert missing_specifics("Luật mới có hiệu lực ngày 1/7/2025?", [english]) == []


def test_an_ordinal_meets_the_same_rank_in_any_form():
    for written in ("thứ 9", "thứ chín", "lần thứ IX", "9th", "ninth"):
        assert one(written, "ordinal").value == 9, written
    for written in ("thứ năm", "thứ 5", "5th", "fifth", "thu nam"):
        assert one(written, "ordinal").value == 5, written
    assert missing_specifics("Kỳ họp thứ 9 thông qua luật nào?", ["The 9th session passed eight laws."]) == []
    assert missing_specifics("Hội nghị lần thứ chín bàn gì?", ["Hội nghị Trung ương lần thứ IX"]) == []
    assert missing_specifics("Phiên họp thứ năm diễn ra khi nào?", ["the fifth meeting of the committee"]) == []


def test_numbers_and_document_numbers_compare_by_value():
    vietnamese, english = one("Cấp 1.000 thẻ căn cước", "number"), one("issued 1,000 ID cards", "number")
    assert matches(vietnamese, [english]) and matches(english, [vietnamese])
    assert matches(vietnamese, [one("1000 thẻ", "number")])
    assert matches(one("Tỷ lệ đạt 84,38%", "number"), [one("the rate was 84.38%", "number")])
    assert not matches(one("Tỷ lệ đạt 84,38%", "number"), [one("Tỷ lệ đạt 8.438 hồ sơ", "number")])
    assert one("Tỷ lệ đạt 84,38% hồ sơ", "number").value == (Decimal("84.38"),)
    decree = one("Nghị định 118/2025/NĐ-CP", "doc_number")
    for written in ("Decree 118/2025/ND-CP", "Nghị định 118/2025", "theo Nghị định số 118/2025/NĐ-CP"):
        assert matches(decree, [one(written, "doc_number")]), written
    assert missing_specifics("Nghị định 118/2025 quy định gì?", ["Nghị định số 118/2025/NĐ-CP"]) == []


def test_a_text_named_by_its_number_alone_is_that_text():
    assert one("Chỉ thị số 23 về đẩy mạnh", "doc_number").value == ("23", None, "ct")
    assert one("theo Nghị định 118 của Chính phủ", "doc_number").value == ("118", None, "nd")
    assert matches(one("Nghị định 118", "doc_number"), [one("Nghị định số 118/2025/NĐ-CP", "doc_number")])
    assert not matches(one("Nghị định 118", "doc_number"), [one("Nghị định số 61/2018/NĐ-CP", "doc_number")])
    assert not matches(one("Chỉ thị số 32", "doc_number"), [one("Chỉ thị số 23", "doc_number")])
    assert missing_specifics("Chỉ thị số 32 do ai ký?", ["Phó Thủ tướng ký ban hành Chỉ thị số 23."]) == [
        "Chỉ thị số 32"
    ]  # named with its kind in the refusal
    assert missing_specifics("Nghị định 118 quy định gì?", ["Nghị định số 118/2025/NĐ-CP quy định …"]) == []
    assert one("Luật số 22 năm 2008", "number").value == (Decimal("22"),)  # "luật" names no kind of its own


def test_an_ambiguous_separator_keeps_both_readings():
    assert set(one("Bộ cấp 1,000 thẻ cho người dân", "number").value) == {Decimal("1"), Decimal("1000")}
    assert one("1,000 cards", "number").value == (Decimal("1000"),)
    assert one("Bộ cấp 1.000 thẻ cho người dân", "number").value == (Decimal("1000"),)


def test_text_whose_lower_case_is_longer_is_still_read():
    assert [d.value for d in extract("İzmir, ngày 2 tháng 9 năm 2025, phiên họp thứ IX")] == [(2025, 9, 2), 9]


def test_different_details_do_not_match():
    assert not matches(one("2/9/2025", "date"), [one("2/9/2024", "date")])
    assert missing_specifics("Ngày 2/9/2025 nghỉ mấy ngày?", ["Dịp 2/9/2024 nghỉ 2 ngày."]) == ["2/9/2025"]
    assert not matches(one("thứ tư", "ordinal"), [one("thứ năm", "ordinal")])
    assert not matches(one("118/2025/NĐ-CP", "doc_number"), [one("118/2024/NĐ-CP", "doc_number")])
    assert not matches(one("Nghị định 118/2025", "doc_number"), [one("Quyết định 118/2025/QĐ-TTg", "doc_number")])
    assert not matches(one("ngày 1/7/2025", "date"), [one("tháng 7/2025", "date")])  # the day must be stated
    assert missing_specifics("Phiên họp thứ tư bàn gì?", ["Xếp theo thứ tự ưu tiên."]) == ["thứ tư"]


def test_a_year_is_met_by_a_date_or_a_document_of_that_year():
    year = one("Chỉ số năm 2025", "year")
    assert matches(year, [one("ngày 1/7/2025", "date")]) and matches(year, [one("118/2025/NĐ-CP", "doc_number")])
    assert not matches(year, [one("ngày 1/7/2024", "date")])


def test_counts_and_fractions_are_not_dates_nor_required():
    assert specifics("Hồ sơ giải quyết từ 2-3 ngày phải không?") == []
    assert [d.kind for d in extract("cần 2/3 tổng số đại biểu tán thành")] == []
    assert [d.kind for d in extract("thu phí 5 triệu đồng")] == ["number"]  # "thu" (collect) is no "thứ"
    assert specifics("What did the 9th session decide?") == ["9th"]
    assert specifics("Thứ 3 tuần này có làm việc không?") == []  # a weekday, not a session's rank


FORMS = [
    ("{d}/{m}/{y}", True),
    ("{d:02d}-{m:02d}-{y}", True),
    ("{d}.{m}.{y}", True),
    ("ngày {d} tháng {m} năm {y}", True),
    ("{month} {d}, {y}", True),
    ("{d} {month} {y}", True),
    ("{y}-{m:02d}-{d:02d}", True),
    ("ngày {d}/{m}", False),
    ("ngày {d}-{m}", False),
    ("{month} {d}", False),
]


@given(
    date=st.dates(min_value=Date(1990, 1, 1), max_value=Date(2099, 12, 31)),
    form=st.sampled_from(FORMS),
    other=st.sampled_from(FORMS),
)
def test_any_supported_form_reads_back_the_same_date(date: Date, form: tuple[str, bool], other: tuple[str, bool]):
    def written(pattern: str) -> str:
        text = pattern.format(d=date.day, m=date.month, y=date.year, month=MONTHS[date.month - 1])
        return f"Hội nghị diễn ra vào {text} tại Hà Nội."

    detail = one(written(form[0]), "date")
    assert detail.value == (date.year if form[1] else None, date.month, date.day)
    assert matches(detail, [one(written(other[0]), "date")])
