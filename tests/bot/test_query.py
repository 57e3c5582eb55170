from bot.answer.diacritics import DiacriticRestorer
from bot.answer.query import QueryAnalyzer, clean, common_phrases, everyday_wordings, load_glossary
from vectorstore.sparse import folded_tokens

CORPUS = [
    "Thủ tục cấp lại căn cước công dân được thực hiện tại cơ quan công an.",
    "Hoàn thành kết nối, chia sẻ dữ liệu trên cổng dịch vụ công quốc gia.",
    "Ủy ban nhân dân cấp xã giải quyết thủ tục hành chính về hộ tịch.",
    "Người dân có thể cần nộp lệ phí khi cấp lại.",
]


def test_restorer_puts_marks_back_from_corpus_statistics():
    restorer = DiacriticRestorer.from_texts(CORPUS)
    assert restorer.restore("thu tuc cap lai can cuoc cong dan") == "thủ tục cấp lại căn cước công dân"
    assert restorer.restore("Cong dich vu cong quoc gia") == "Cổng dịch vụ công quốc gia"


def test_restorer_keeps_what_the_user_typed_with_marks_and_unknown_words():
    restorer = DiacriticRestorer.from_texts(CORPUS)
    assert restorer.restore("thủ tuc xyz") == "thủ tục xyz"


def test_everyday_phrases_teach_the_restorer_what_a_legal_corpus_never_writes():
    # the legal corpus alone cannot restore an off-topic message, so the dialogue step sees gibberish
    corpus = [*CORPUS, "Quyết định này có hiệu lực. Hà Nội ban hành nghị định này."]
    assert DiacriticRestorer.from_texts(corpus).restore("thoi tiet ha noi hom nay") != "thời tiết hà nội hôm nay"
    taught = DiacriticRestorer.from_texts([*corpus, *common_phrases() * 20])
    assert taught.restore("thoi tiet ha noi hom nay") == "thời tiết hà nội hôm nay"
    assert taught.restore("gia vang hom nay") == "giá vàng hôm nay"
    # and does not take a policy word's place
    assert taught.restore("quyet dinh nay co hieu luc") == "quyết định này có hiệu lực"
    # a penalty is "phạt", an issue still "phát hành"
    assert taught.restore("muc phat bao nhieu") == "mức phạt bao nhiêu"
    assert taught.restore("phat hanh van ban").startswith("phát hành")


def test_a_count_asked_without_marks_gets_the_question_word_not_the_machine():
    corpus = [*CORPUS, "Đầu tư máy tính, máy móc, máy chủ cho bộ phận một cửa; máy lấy số thứ tự. Ngày 9/6, hộ tịch."]
    assert "máy" in DiacriticRestorer.from_texts(corpus).restore("lam cccd mat may ngay")  # documents never ask
    taught = DiacriticRestorer.from_texts([*corpus, *common_phrases() * 20])
    assert taught.restore("lam cccd mat may ngay") == "làm cccd mất mấy ngày"
    assert taught.restore("quang ninh xep thu may") == "quang ninh xếp thứ mấy"
    assert taught.restore("chi ra may ton tai").startswith("chỉ ra mấy")
    assert taught.restore("may tinh").startswith("máy tính")  # the machine is still one
    assert taught.restore("lam ho chieu") == "làm hộ chiếu"


def test_glossary_is_data_and_expands_acronyms_typed_any_case():
    glossary = load_glossary()
    for acronym in ("CCHC", "TTHC", "UBND", "HĐND", "PCCC", "CCCD", "CMND", "VNeID", "DVC", "NĐ-CP", "QĐ-TTg"):
        assert any(a == acronym for a, _ in glossary.values()), acronym
    analyzer = QueryAnalyzer(DiacriticRestorer.from_texts(CORPUS))
    query = analyzer.parse("thu tuc cap lai cccd o ubnd")
    assert query.acronyms == ("CCCD", "UBND")
    assert "căn cước công dân" in query.dense_text and "Ủy ban nhân dân" in query.dense_text
    assert query.without_diacritics
    assert {"can_cuoc", "cuoc_cong"} <= set(query.folded_tokens)
    assert "hđnd" not in query.folded_tokens


def test_diacritic_free_query_matches_folded_document_tokens():
    analyzer = QueryAnalyzer(DiacriticRestorer.from_texts(CORPUS))
    query = analyzer.parse("thu tuc cap lai can cuoc")
    doc_tokens = set(folded_tokens(CORPUS[0]))
    assert set(query.folded_tokens) <= doc_tokens
    assert query.dense_text.startswith("thủ tục cấp lại căn cước")
    assert "thủ_tục" in query.word_tokens


def test_clean_normalises_nfd_and_noise():
    import unicodedata

    assert clean(unicodedata.normalize("NFD", "  Thủ tục   ★★ hành chính?? ")) == "Thủ tục hành chính??"


def test_everyday_words_bring_the_laws_wording_to_retrieval():
    analyzer = QueryAnalyzer(DiacriticRestorer.from_texts(CORPUS))
    # "có mất tiền không" is how a citizen asks for a fee; the law writes "lệ phí"
    query = analyzer.parse("lam giay khai sinh co mat tien khong")
    assert "lệ phí" in query.dense_text and "đăng ký khai sinh" in query.dense_text
    assert "le_phi" in query.folded_tokens
    assert not query.acronyms  # an everyday word is not a specific the sources must then state
    assert everyday_wordings("Cán bộ đến tận nhà được không?") == ["ngoài trụ sở"]
    # typed with marks, the marks decide: a shop front ("mặt tiền") costs nothing
    assert everyday_wordings("Nhà mặt tiền đường lớn") == []
    assert everyday_wordings("Làm lại CMND mất tiền không, mất tiền nhiều không?") == ["cấp lại", "lệ phí"]
