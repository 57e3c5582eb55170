"""Specific details a question names must be found in the sources before anything is answered."""

from __future__ import annotations

from bot.answer.grounding import missing_specifics, proper_names, specifics, states_its_specifics, worded
from bot.answer.query import load_glossary
from bot.answer.reader import holds_type, question_type

SOURCE = (
    "Hôm qua 19/4/2023, Thủ tướng Phạm Minh Chính, Trưởng Ban chỉ đạo CCHC của Chính phủ, chủ trì phiên họp "
    "thứ tư của ban chỉ đạo. Thủ tướng yêu cầu Bộ Nội vụ tiếp tục nghiên cứu."
)


def test_ordinal_level_year_official_and_names_are_specifics():
    assert specifics("Phiên họp thứ năm của Ban chỉ đạo diễn ra khi nào?") == ["thứ năm"]
    assert specifics("Ai làm Trưởng ban chỉ đạo cải cách hành chính cấp tỉnh?") == ["cấp tỉnh"]
    assert specifics("Chỉ số CCHC năm 2022 thế nào?") == ["2022"]
    assert "Bộ trưởng Bộ Nội" in specifics("Bộ trưởng Bộ Nội vụ phát biểu những gì?")
    assert specifics("Thủ tướng Phạm Minh Chính nói gì về Nghị định 61/2018/NĐ-CP?") == [
        "61/2018/NĐ-CP",
        "Phạm Minh Chính",
    ]


def test_questions_typed_without_diacritics_are_covered():
    assert specifics("uy ban cap xa co tham quyen gi") == ["cap xa"]
    assert specifics("phien hop thu nam dien ra khi nao") == ["thu nam"]


def test_situational_numbers_and_sentence_case_are_not_specifics():
    assert specifics("Con tôi 16 tuổi có tự đi xin cung cấp thông tin được không?") == []
    assert specifics("Thủ tướng yêu cầu gì?") == []
    assert proper_names("Làm thẻ ở đâu? Hà Nội thì sao") == ["Hà Nội"]


def test_an_age_with_a_bound_is_a_category_the_source_must_state():
    asked = "Lệ phí cấp thẻ căn cước cho trẻ em dưới 6 tuổi là bao nhiêu?"
    assert specifics(asked) == ["6 tuổi"]
    assert specifics("le phi cap cccd cho cong dan tu du 14 tuoi") == ["14 tuổi"]
    fee = "Mức thu lệ phí cấp thẻ căn cước là 50.000 đồng/thẻ."
    assert missing_specifics(asked, [fee]) == ["6 tuổi"]
    for stated in ("Thẻ cấp cho đối tượng từ 0 - 6 tuổi.", "Trẻ em dưới 06 tuổi được miễn.", "Free for a 6-year-old."):
        assert missing_specifics(asked, [stated]) == []
    assert missing_specifics(asked, ["Công dân từ 16 tuổi trở lên."]) == ["6 tuổi"]
    assert "6 tuổi" not in worded(asked)  # an English source writes the age in digits too


def test_missing_specifics_compares_without_diacritics_or_case():
    assert missing_specifics("Phiên họp thứ năm diễn ra khi nào?", [SOURCE]) == ["thứ năm"]
    assert missing_specifics("Phiên họp thứ tư diễn ra khi nào?", [SOURCE]) == []
    assert missing_specifics("thu tuong pham minh chinh noi gi", [SOURCE]) == []
    assert missing_specifics("Bộ trưởng Bộ Nội vụ phát biểu gì?", [SOURCE]) == ["Bộ trưởng Bộ Nội"]


def test_glossary_terms_are_satisfied_by_acronym_or_expansion():
    glossary = load_glossary()
    assert specifics("thu tuc cap lai cccd", glossary) == ["CCCD"]
    assert specifics("Lệ phí cấp lại thẻ căn cước công dân?", glossary) == ["CCCD"]
    assert missing_specifics("Mất CMND thì làm lại thế nào?", ["Thủ tục cấp Chứng minh nhân dân"], glossary) == []
    assert missing_specifics("thu tuc cap lai cccd", ["Thủ tục cấp Chứng minh nhân dân"], glossary) == ["CCCD"]
    assert missing_specifics("Chỉ đạo về CCHC?", [SOURCE], glossary) == []


def test_place_questions_need_a_named_place():
    question = "Tỉnh nào đứng đầu bảng xếp hạng chỉ số cải cách hành chính năm 2022?"
    assert question_type(question) == "place"
    assert not holds_type(
        "place", "Thủ tướng yêu cầu các bộ, ngành, địa phương căn cứ vào chỉ số CCHC năm 2022.", question
    )
    assert holds_type("place", "Năm 2022, tỉnh Quảng Ninh tiếp tục đứng đầu bảng xếp hạng.", question)


def test_a_year_before_a_name_a_sentence_opener_or_a_lone_letter_is_not_part_of_a_name():
    assert proper_names("Năm 2022 Quảng Ninh đạt bao nhiêu điểm?") == ["Quảng Ninh"]
    assert proper_names("Trong Ban chỉ đạo, Thủ tướng Phạm Minh Chính giữ cương vị gì?") == ["Phạm Minh Chính"]
    assert proper_names("Những địa phương nào thuộc nhóm A Chỉ số CCHC năm 2022?") == []


def test_known_names_with_lower_case_syllables_are_whole_names():
    """ "Bộ Tài" named both "Bộ Tài chính" and "Bộ Tài nguyên và Môi trường"; "Đồng bằng sông Hồng" was no name."""
    sentence = "Bộ trưởng Bộ Nội vụ Phạm Thị Thanh Trà: vùng Đồng bằng sông Hồng đạt 88,33%, hơn Bộ Tài chính."
    assert proper_names(sentence) == ["Bộ Nội vụ", "Phạm Thị Thanh Trà", "Đồng bằng sông Hồng", "Bộ Tài chính"]
    assert missing_specifics("Bộ Tài chính đạt bao nhiêu điểm?", ["Bộ Tài nguyên và Môi trường đạt 90 điểm."])
    assert not missing_specifics("Bộ Tài chính đạt bao nhiêu điểm?", ["BỘ TÀI CHÍNH đạt 90 điểm."])
    region = "Đồng bằng sông Hồng"
    assert missing_specifics(f"{region} đạt bao nhiêu?", ["Đông Nam Bộ đạt 87,79%."]) == [region]
    assert proper_names("bộ nội vụ") == []  # written in lower case: not a name as written
    north = "Năm 2023 vùng Trung du và miền núi phía Bắc đạt bao nhiêu?"  # written without "và" in the source
    assert not missing_specifics(north, ["Năm 2023, Trung du miền núi phía Bắc đạt 87,72%."])
    assert "Đồng bằng sông Hồng" in worded("Vùng Đồng bằng sông Hồng đạt bao nhiêu?")  # English says "Red River Delta"


def test_a_glossary_topic_may_be_stated_anywhere_in_the_passages_document_a_detail_may_not() -> None:
    question = "Nguyên nhân chính của những tồn tại trong cải cách hành chính năm 2023 là gì?"
    passage = ["Nguyên nhân của tồn tại, hạn chế có cả chủ quan và khách quan."]
    article = "Thủ tướng, Trưởng Ban chỉ đạo CCHC, chủ trì phiên họp. " + passage[0]
    assert missing_specifics(question, passage, load_glossary()) == ["2023", "CCHC"]
    assert missing_specifics(question, passage, load_glossary(), [article]) == ["2023"]  # the year stays a detail


def test_a_sentence_stating_the_questions_own_specifics_is_about_it():
    meeting = "Hôm qua 19/4/2023, Thủ tướng Phạm Minh Chính chủ trì phiên họp thứ tư của ban chỉ đạo."
    glossary = load_glossary()
    assert states_its_specifics("Phiên họp thứ tư diễn ra ngày nào?", meeting, glossary)
    assert states_its_specifics("phiên họp thứ 4 do ai chủ trì", meeting, glossary)  # "thứ 4" means "thứ tư"
    assert not states_its_specifics("Phiên họp thứ năm diễn ra ngày nào?", meeting, glossary)
    assert not states_its_specifics("hop dong dat coc mua nha co can cong chung khong", meeting, glossary)  # none
    assert not states_its_specifics("Năm 2023 giá vàng thế nào?", meeting, glossary)  # a year alone is no sign
