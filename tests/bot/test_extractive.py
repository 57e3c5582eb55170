from bot.generators.base import Passage
from bot.generators.extractive import REFUSAL, ExtractiveGenerator, answer_type_check, idf_table, terms

TEXT = ("Thủ tướng yêu cầu hoàn thành kết nối dữ liệu về kết quả giải quyết TTHC trên cổng dịch vụ công quốc gia "
        "trong tháng 5-2023. Chỉ số hài lòng về sự phục vụ hành chính năm 2022 được dùng để đánh giá.")
PASSAGES = [Passage(n=1, doc_id="d", chunk_id="d::0", title="T", kind="speech", text=TEXT, score=1.0)]


def make(min_coverage=0.35):
    idf = idf_table([terms(TEXT), terms("văn bản khác về đất đai"), terms("hộ tịch và cư trú")])
    return ExtractiveGenerator(idf, min_coverage=min_coverage,
                               aliases={"tthc": "thu tuc hanh chinh"})


def test_answers_with_the_covering_sentence_and_marker():
    draft = make().generate("Khi nào phải hoàn thành kết nối dữ liệu thủ tục hành chính lên cổng dịch vụ công?", PASSAGES)
    assert draft.text.startswith("Thủ tướng yêu cầu hoàn thành kết nối")
    assert draft.text.endswith("[1].")


def test_refuses_when_coverage_is_low():
    assert make().generate("Lệ phí cấp lại hộ chiếu là bao nhiêu?", PASSAGES).text == REFUSAL


def test_number_questions_need_a_new_number_in_the_sentence():
    check = answer_type_check("Chỉ số hài lòng năm 2022 đạt bao nhiêu phần trăm?")
    assert check is not None and not check(TEXT.split(". ")[1]) and check("đạt 85,2%")
    asks_date = answer_type_check("Đề án 06 gồm bao nhiêu dịch vụ?")
    assert not asks_date("Triển khai Đề án 06 trên cả nước") and asks_date("Đề án 06 gồm 25 dịch vụ")
    assert answer_type_check("Thủ tướng yêu cầu gì?") is None
    assert make(0.2).generate("Chỉ số hài lòng năm 2022 đạt bao nhiêu phần trăm?", PASSAGES).text == REFUSAL


def test_acronym_and_expansion_cover_each_other():
    gen = make()
    assert {"thu", "tuc", "hanh", "chinh"} <= gen.sentence_terms("Giải quyết TTHC nhanh")
    assert "tthc" in gen.sentence_terms("giải quyết thủ tục hành chính")


def test_streaming_pieces_join_to_the_text():
    pieces = []
    draft = make().generate("hoàn thành kết nối dữ liệu trên cổng dịch vụ công quốc gia khi nào", PASSAGES, pieces.append)
    assert "".join(pieces) == draft.text
