from bot.answer.citations import Citation, is_valid, split_claims, verify
from bot.answer.types import Passage
from vectorstore.records import Document

TEXT = (
    "Thủ tướng yêu cầu hoàn thành kết nối, tích hợp, chia sẻ dữ liệu về kết quả giải quyết TTHC trên cổng "
    "dịch vụ công quốc gia trong tháng 5-2023. Bộ Nội vụ tiếp tục nghiên cứu, đề xuất những giải pháp mới.\n\n"
    "Chấm dứt tình trạng sợ trách nhiệm, không dám làm của một bộ phận cán bộ, công chức."
)
DOC = Document(doc_id="d1", title="Kết luận", text=TEXT, kind="speech", source="sample.txt")
PASSAGES = [
    Passage(n=1, doc_id="d1", chunk_id="d1::0", title="Kết luận", kind="speech", text=TEXT.split("\n\n")[0], score=1.0),
    Passage(n=2, doc_id="d1", chunk_id="d1::1", title="Kết luận", kind="speech", text=TEXT.split("\n\n")[1], score=0.5),
]


def get(doc_id):
    return DOC if doc_id == "d1" else None


def test_verbatim_claim_gets_exact_quote_and_offsets():
    answer = "Bộ Nội vụ tiếp tục nghiên cứu, đề xuất những giải pháp mới [1]."
    result = verify(answer, PASSAGES, get)
    assert len(result.citations) == 1
    c = result.citations[0]
    assert c.quote == "Bộ Nội vụ tiếp tục nghiên cứu, đề xuất những giải pháp mới"
    assert TEXT[c.char_start : c.char_end] == c.quote
    assert is_valid(c, TEXT)
    assert result.text.endswith("[1].")


def test_paraphrase_is_repaired_to_the_supporting_sentence():
    answer = (
        "Thủ tướng yêu cầu hoàn thành kết nối dữ liệu giải quyết TTHC trên cổng dịch vụ công quốc gia "
        "trong tháng 5-2023 [1]."
    )
    result = verify(answer, PASSAGES, get)
    assert len(result.citations) == 1
    assert result.citations[0].quote.startswith("Thủ tướng yêu cầu hoàn thành kết nối, tích hợp")
    assert is_valid(result.citations[0], TEXT)


def test_claim_citing_the_wrong_passage_is_re_cited_when_verbatim_elsewhere_else_dropped():
    answer = (
        "Thủ tướng yêu cầu tăng lệ phí cấp căn cước lên gấp đôi từ năm sau [1]. "
        "Bộ Nội vụ tiếp tục nghiên cứu, đề xuất những giải pháp mới [2]. "
        "Chấm dứt tình trạng sợ trách nhiệm, không dám làm [2]. Câu không có trích dẫn nói về chuyện khác hẳn."
    )
    result = verify(answer, PASSAGES, get)
    assert [c.quote for c in result.citations] == [
        "Bộ Nội vụ tiếp tục nghiên cứu, đề xuất những giải pháp mới",
        "Chấm dứt tình trạng sợ trách nhiệm, không dám làm",
    ]
    assert result.text == (
        "Bộ Nội vụ tiếp tục nghiên cứu, đề xuất những giải pháp mới [1]. "
        "Chấm dứt tình trạng sợ trách nhiệm, không dám làm [2]."
    )
    assert len(result.dropped) == 2
    wrong = verify("Tăng lệ phí cấp căn cước lên gấp đôi [2].", PASSAGES, get)  # verbatim nowhere: dropped
    assert wrong.citations == [] and wrong.dropped


def test_unknown_marker_and_no_valid_citation_leaves_nothing():
    result = verify("Điều này không có trong tài liệu nào cả [7].", PASSAGES, get)
    assert result.citations == [] and result.text == ""


def test_is_valid_rejects_tampered_offsets():
    good = Citation(1, "d1", "Kết luận", "speech", None, "s", TEXT[0:9], 0, 9)
    assert is_valid(good, TEXT)
    assert not is_valid(Citation(**{**good.to_dict(), "char_end": 10}), TEXT)
    assert not is_valid(Citation(**{**good.to_dict(), "quote": ""}), TEXT)


def test_split_claims_reads_grouped_markers():
    assert split_claims("Câu một [1, 2]. Câu hai [3].") == [("Câu một.", [1, 2]), ("Câu hai.", [3])]


def test_markers_after_the_full_stop_cite_the_sentence_before():
    assert split_claims("Câu một. [1] Câu hai. [2][3]") == [("Câu một.", [1]), ("Câu hai.", [2, 3])]
    result = verify("Bộ Nội vụ tiếp tục nghiên cứu, đề xuất những giải pháp mới. [1]", PASSAGES, get)
    assert len(result.citations) == 1 and is_valid(result.citations[0], TEXT)


def test_an_abbreviation_or_initial_does_not_cut_a_quoted_sentence():
    text = "Năm 2023, UBND TP. Hải Phòng do ông Nguyễn V. Tùng đứng đầu xếp thứ hai với 92,1%. Câu khác."
    doc = Document(doc_id="hp", title="Chỉ số", text=text, kind="article", source="x")
    passage = Passage(n=1, doc_id="hp", chunk_id="hp::0", title="Chỉ số", kind="article", text=text, score=1.0)
    answer = "Năm 2023, UBND TP. Hải Phòng do ông Nguyễn V. Tùng đứng đầu xếp thứ hai với 92,1% [1]."
    assert split_claims(answer) == [(answer.replace(" [1]", ""), [1])]
    result = verify(answer, [passage], lambda doc_id: doc)
    assert not result.dropped
    assert [c.quote for c in result.citations] == [text.split(". Câu")[0].rstrip(".")]
