"""The reader's signals and the extractive answer's shape, on passages made here (no store, no model)."""

from dataclasses import replace

from bot.answer.citations import COMMENT_LABEL, verify
from bot.answer.generators.base import Draft, collect
from bot.answer.generators.extractive import ExtractiveGenerator, choose, same_content
from bot.answer.reader import (
    Reader,
    ReaderModel,
    asked_term,
    asks_procedure,
    days_of,
    defines,
    holds_type,
    out_of_time,
    question_type,
    said_years,
)
from bot.answer.relations import asked_role
from bot.answer.types import Candidate, Passage
from bot.snapshot import idf_table
from vectorstore.records import Document
from vectorstore.text import reading_units

SPEECH = Passage(
    1,
    "speech",
    "speech#0",
    "Kết luận của Thủ tướng",
    "speech",
    "Thủ tướng yêu cầu hoàn thành kết nối dữ liệu giải quyết TTHC trên cổng dịch vụ công quốc gia trong "
    "tháng 5-2023. TTHC trên một số lĩnh vực còn chồng chéo, gây phiền hà cho người dân.",
    1.0,
)
COMMENT = Passage(
    2,
    "speech#c6",
    "speech#c6#0",
    "Bình luận 6",
    "comment",
    "Tôi thấy TTHC trên một số lĩnh vực còn chồng chéo, gây phiền hà cho người dân như đất đai.",
    0.9,
)
INDEX = Passage(3, "par2022", "par2022#0", "Công bố Chỉ số CCHC năm 2022", "article",
                "Năm 2022, Ngân hàng Nhà nước dẫn đầu khối bộ, xếp thứ hai là Bộ Tư pháp, thứ ba là Bộ Tài chính. "
                "Quảng Ninh dẫn đầu khối tỉnh với 90,10%.", 0.8)  # fmt: skip
MODEL = ReaderModel(  # hand-set, so these tests do not depend on the trained file
    {"lexical": 6.0, "type_expected": -2.0, "type_found": 3.0, "conflict": -3.0, "rank": 1.0}, -3.0,
    {"best": 6.0, "conflict": -4.0}, -3.0, 0.5,
)  # fmt: skip


def reader() -> Reader:
    return Reader(aliases={"tthc": "thu tuc hanh chinh"}, model=MODEL)


def idf() -> dict[str, float]:
    return idf_table([p.text.lower().split() for p in (SPEECH, COMMENT, INDEX)])


def test_question_types_and_whether_a_sentence_holds_one():
    assert question_type("Bộ nào dẫn đầu chỉ số CCHC năm 2022?") == "org"
    assert question_type("tinh nao dan dau") == "place"
    assert question_type("Vùng kinh tế nào tăng trưởng cao nhất?") == "place"
    assert question_type("Ở đâu có thể khóa căn cước điện tử?") == "where"  # a kind of place may answer it
    # "Phó Thủ tướng nào …": a holder of that title, named — the Prime Minister does not answer it
    deputy = "pho thu tuong nao du phien hop thu tu cua ban chi dao cchc"
    assert question_type(deputy) == "titled"
    assert holds_type("titled", "Phó Thủ tướng Trần Lưu Quang dự phiên họp.", deputy)
    assert not holds_type("titled", "Thủ tướng Phạm Minh Chính chủ trì phiên họp thứ tư.", deputy)
    assert not holds_type("titled", "Các Phó Thủ tướng dự phiên họp.", deputy)  # the title, but no name
    assert not holds_type("titled", "Phó Thủ tướng Trần Lưu Quang dự họp.", "Thủ tướng nào chủ trì?")
    assert not holds_type("place", "đây cũng là vùng kinh tế tăng trưởng cao nhất", "Vùng kinh tế nào cao nhất?")
    fell = "Tỉnh nào có Chỉ số cải cách hành chính giảm nhiều nhất năm 2024?"  # a place: not a body, not a person
    assert not holds_type("place", "Năm 2024, Bộ Nội vụ đánh giá Chỉ số cải cách hành chính của các tỉnh.", fell)
    assert not holds_type("place", "Theo Bộ trưởng Phạm Thị Thanh Trà, chỉ số của các địa phương tăng.", fell)
    assert holds_type("place", "Theo Bộ Nội vụ, Quảng Ninh giảm 2,94%.", fell)
    assert question_type("Lệ phí là bao nhiêu?") == "money"
    assert question_type("Khi nào phải hoàn thành?") == "date"
    assert question_type("Thủ tướng yêu cầu gì?") is None
    q = "Bộ nào dẫn đầu chỉ số CCHC năm 2022?"
    assert holds_type("org", "xếp thứ hai là Bộ Tư pháp", q) and not holds_type("org", "Quảng Ninh dẫn đầu", q)
    fee = "Lệ phí cấp đổi là bao nhiêu?"
    assert holds_type("number", "Lệ phí là 50.000 đồng", fee) and not holds_type("number", "Lệ phí do Bộ quy định", fee)


def test_a_percentage_asked_is_a_value_not_a_bound_unless_the_question_asks_a_bound():
    average = "Giá trị trung bình Chỉ số cải cách hành chính năm 2024 là bao nhiêu?"
    classes = "Năm 2024, 6/6 vùng đều có giá trị trung bình Chỉ số cải cách hành chính đạt trên 80%."
    assert not holds_type("number", classes, average)  # "trên 80%" is a class, not the average
    assert not holds_type("percent", "a PAR Index of over 90 percent", "Bộ Tư pháp đạt bao nhiêu phần trăm?")
    assert holds_type("number", "Giá trị trung bình toàn quốc đạt 88,37%, tăng 1,39%.", average)
    assert holds_type("number", "Hiện có trên 65 triệu tài khoản được kích hoạt.", "Có bao nhiêu tài khoản?")  # a count
    # the question asks a bound: a bound answers
    assert holds_type("percent", "Hơn 70% hồ sơ được nộp qua VNeID.", "Hơn bao nhiêu phần trăm hồ sơ nộp qua VNeID?")


def test_a_place_in_a_ranking_is_not_an_ordinal_counting_years_or_meetings():
    counted = "Theo đó, đối với Chỉ số SIPAS, năm 2023 là năm thứ 2 triển khai đo lường sự hài lòng."
    assert not holds_type("number", counted, "gia lai xep thu may ve chi so sipas nam 2023")
    assert holds_type("number", "Gia Lai đứng thứ 19, đạt 83,84%.", "Gia Lai xếp thứ mấy về SIPAS năm 2023?")
    # asked for the counted ordinal itself, it answers
    assert holds_type("number", counted, "Năm 2023 là năm thứ mấy triển khai đo lường SIPAS?")
    assert holds_type("number", "Tại kỳ họp thứ 18, HĐND quyết nghị thí điểm.", "HĐND quyết nghị tại kỳ họp thứ mấy?")


def test_a_count_is_not_the_digits_of_a_date_a_year_a_text_number_or_an_ordinal():
    q = "Phiên họp thứ 4 của Ban Chỉ đạo đã thông qua bao nhiêu nghị quyết?"
    assert not holds_type("number", "Sáng ngày 19/4/2023, Thủ tướng chủ trì Phiên họp thứ 4 của Ban Chỉ đạo.", q)
    assert not holds_type("number", "Quyết định số 93/2007/QĐ-TTg ngày 22/6/2007 ban hành Quy chế.", q)
    assert not holds_type("number", "Đây là phiên họp thứ năm trong năm 2023.", q)  # an ordinal does not count
    assert holds_type("number", "Phiên họp đã thông qua 3 nghị quyết.", q)
    assert holds_type("number", "TPHCM đã cấp 1.497.360 tài khoản định danh điện tử.", "Đã cấp bao nhiêu tài khoản?")
    rank = "Gia Lai xếp thứ mấy về chỉ số SIPAS năm 2023?"  # a rank: an ordinal or a share answers it
    assert holds_type("number", "Gia Lai xếp thứ 19 cả nước.", rank)
    assert holds_type("number", "Gia Lai xếp 19/63 tỉnh, thành phố.", rank)
    assert not holds_type("number", "Kết quả công bố ngày 6/4/2024.", rank)
    assert holds_type("number", "Luật được Quốc hội thông qua năm 2023.", "Luật được thông qua năm bao nhiêu?")
    deadline = "Thủ tướng yêu cầu Bộ Nội vụ hoàn thành nhiệm vụ trước ngày nào?"  # a day: not a year, not a period
    assert not holds_type("date", "Thực hiện Chương trình CCHC giai đoạn 2021-2030 một cách toàn diện.", deadline)
    assert not holds_type("date", "Hoàn thành kết nối dữ liệu trong tháng 5-2023.", deadline)
    assert holds_type("date", "Hoàn thành trước ngày 30/6/2023.", deadline)
    assert holds_type("date", "Thực hiện giai đoạn 2021-2030.", "Chương trình được thực hiện khi nào?")
    asked_number = "Quyết định tổ chức lại Trung tâm là quyết định số bao nhiêu?"
    assert holds_type("number", "Căn cứ Quyết định số 58/2025/QĐ-UBND của Ủy ban nhân dân tỉnh", asked_number)


def test_a_count_is_of_the_thing_asked():
    staff = "TPHCM có bao nhiêu cán bộ, công chức phải làm tài khoản định danh điện tử?"
    assert not holds_type("number", "Tính đến ngày 1-3, TPHCM đã cấp 1.497.360 tài khoản định danh điện tử.", staff)
    assert holds_type("number", "TPHCM có 120.000 cán bộ, công chức phải làm tài khoản.", staff)
    assert holds_type("number", "Có 1,2 triệu cán bộ được cấp tài khoản.", staff)  # a scale word in between
    places = "Năm 2024 có bao nhiêu địa phương thuộc nhóm A?"
    assert holds_type("number", "Nhóm A gồm 13 tỉnh, thành phố.", places)  # a province is a locality
    english = "The e-Cabinet system has served 27 Government meetings."  # counted in its own words
    assert holds_type("number", english, "Đã phục vụ bao nhiêu phiên họp?")
    assert holds_type("number", "Lai Châu tăng 0,19 điểm.", "Lai Châu tăng bao nhiêu Chỉ số CCHC?")  # not a count
    # years as a span ("bao nhiêu năm thì phải đổi"), not an age; a point in a legal text is not a count
    span = "chung minh nhan dan xai duoc bao nhieu nam thi phai doi"
    assert not holds_type("number", "Công dân Việt Nam từ đủ 14 tuổi trở lên phải làm Chứng minh nhân dân.", span)
    assert holds_type("number", "Chứng minh nhân dân có giá trị sử dụng 15 năm.", span)
    assert holds_type("number", "Có 5 tỉnh đạt trên 90%.", "Có bao nhiêu tỉnh năm 2023 đạt trên 90%?")
    days = "Bố tôi vừa mất, phải đi báo tử trong mấy ngày?"  # no counted noun read: any count, but not a reference
    assert not holds_type("number", "Khi nhận đủ giấy tờ theo quy định tại khoản 1 Điều này, công chức ghi sổ.", days)
    assert holds_type("number", "Trong thời hạn 15 ngày kể từ ngày có người chết, người thân đăng ký khai tử.", days)


def test_long_sentences_also_yield_their_clauses():
    text = "; ".join(f"vế thứ {i} nói về một việc khác hẳn nhau" for i in range(5))
    long = Passage(1, "d", "d#0", "T", "article", text, 1.0)
    texts = [c.text for c in Reader.candidates([long])]
    assert texts[0] == long.text and len(texts) == 6 and texts[1].startswith("vế thứ 0")


def test_a_sentence_naming_another_year_conflicts():
    reading = reader().read("Năm 2023 bộ nào dẫn đầu chỉ số CCHC?", [INDEX], idf())
    assert all(c.features["conflict"] == 1.0 for c in reading.candidates if "2022" in c.text)


MEETING = Passage(4, "m2023", "m2023#0", "Phiên họp của Ban Chỉ đạo", "article",
                  "Sáng ngày 19/4, Thủ tướng chủ trì Phiên họp thứ 4 của Ban Chỉ đạo. "
                  "Các địa phương được chia thành hai nhóm: Nhóm A gồm 13 tỉnh.", 0.8)  # fmt: skip


def test_a_comparisons_baseline_year_is_not_the_year_a_sentence_reports_on():
    regions = Passage(16, "v2024", "v2024#0", "Giá trị trung bình Chỉ số của 6 vùng", "article",
                      "Năm 2024, 6/6 vùng đều đạt trên 80%. "
                      "Giá trị trung bình cao nhất là vùng Đông Nam Bộ với 90.17%, cao hơn 1.85% so với năm "
                      "2023 (88.32%). Năm 2022 khoảng cách này là 11,83%, giảm 5,96% so với năm 2020 (17,79%).",
                      1.0)  # fmt: skip
    highest, gap = reading_units(regions.text)[1:3]
    assert conflicts("Năm 2024, vùng nào có giá trị trung bình cao nhất?", regions)[highest] == 0.0
    assert conflicts("Năm 2021, vùng nào có giá trị trung bình cao nhất?", regions)[highest] == 1.0
    assert conflicts("Năm 2020, khoảng cách này là bao nhiêu?", regions)[gap] == 0.0  # the baseline's figure


def test_a_day_without_its_year_is_of_its_documents_year():
    assert days_of("Sáng ngày 19/4, Thủ tướng chủ trì", range(2023, 2024)) == {(2023, 4, 19)}
    assert said_years("Sáng ngày 19/4, Thủ tướng chủ trì", range(2023, 2024)) == {"2023"}
    # a legal text speaks for years on end, and an undated document for none: the day keeps no year
    assert said_years("từ ngày 1/7", range(2018, 2026)) == set() == said_years("từ ngày 1/7", range(0))
    assert days_of("Cần làm xong trước ngày 1/7/2021 và ngày 5/7/2021", bounds=False) == {(2021, 7, 5)}


def test_a_sentence_of_a_document_from_another_time_conflicts():
    spoken = {"m2023": range(2023, 2024)}
    on_a_day = reader().read("Ngày 19/4/2022, Thủ tướng chủ trì phiên họp nào?", [MEETING], idf(), spoken=spoken)
    day = [c for c in on_a_day.candidates if "19/4" in c.text]
    assert day and day[0].features["conflict"] == 1.0
    same_day = reader().read("Ngày 19/4/2023, Thủ tướng chủ trì phiên họp nào?", [MEETING], idf(), spoken=spoken)
    assert [c.features["conflict"] for c in same_day.candidates if "19/4" in c.text] == [0.0]
    other_day = reader().read("Ngày 19/10/2023, Thủ tướng chủ trì phiên họp nào?", [MEETING], idf(), spoken=spoken)
    assert [c.features["conflict"] for c in other_day.candidates if "19/4" in c.text] == [1.0]  # same year, not day
    undated = reader().read("Ngày 19/4/2022, Thủ tướng chủ trì phiên họp nào?", [MEETING], idf())
    assert [c.features["conflict"] for c in undated.candidates if "19/4" in c.text] == [0.0]
    # no year in the sentence or its passage, and the document is of 2023: not "năm 2021" (nor 2025), but 2022's
    # report may well be written in 2023
    assert out_of_time({"2021"}, set(), MEETING.text, range(2023, 2024))
    assert out_of_time({"2025"}, set(), MEETING.text, range(2023, 2024))
    assert not out_of_time({"2022"}, set(), MEETING.text, range(2023, 2024))
    # undated, and no year in the passage: it speaks of no known time, so it does not answer for 2021 — unless the
    # sentence names a day, which may be the asked one
    assert out_of_time({"2021"}, set(), "Các địa phương được chia thành hai nhóm.", range(0))
    assert not out_of_time({"2022"}, set(), MEETING.text, range(0), day_named=True)
    undated_group = reader().read("Năm 2021 nhóm A gồm bao nhiêu tỉnh?", [MEETING], idf())
    assert [c.features["conflict"] for c in undated_group.candidates if "Nhóm A" in c.text] == [1.0]
    assert not out_of_time({"2021"}, set(), MEETING.text + " Năm 2021 …", range(2023, 2024))  # the passage says it
    # a year named only as a comparison's baseline is not a year the passage reports on
    baseline = "Gia Lai đứng thứ 19, đạt 83,84% (giảm 3 bậc so với năm 2021). Thái Nguyên đạt 90,29%."
    assert out_of_time({"2021"}, set(), baseline, range(2023, 2024))
    assert out_of_time({"2021"}, set(), "The index rose 1.28 percent compared to 2021.", range(2023, 2024))
    group = reader().read("Năm 2021 nhóm A gồm bao nhiêu tỉnh?", [MEETING], idf(), spoken=spoken)
    assert all(c.features["conflict"] == 1.0 for c in group.candidates)


def test_the_year_in_a_texts_number_is_its_name_not_a_time_the_sentence_speaks_of():
    decree = Passage(8, "nd61", "nd61#0", "Nghị định 61/2018/NĐ-CP về cơ chế một cửa", "legal",
                     "Chính phủ ban hành Nghị định 61/2018/NĐ-CP về thực hiện cơ chế một cửa. "
                     "Nghị định có hiệu lực từ ngày 21/6/2018.", 1.0)  # fmt: skip
    assert said_years("Nghị định 61/2018/NĐ-CP về thực hiện cơ chế một cửa", range(0)) == set()
    assert said_years("Nghị định có hiệu lực từ ngày 21/6/2018.", range(0)) == {"2018"}  # a date is a time
    # in force from 2018 until replaced: "năm 2019" is its time, though every sentence writes "61/2018"
    in_2019 = reader().read("Năm 2019, cơ chế một cửa được quy định tại nghị định nào?", [decree], idf(),
                            spoken={"nd61": range(2018, 2026)})  # fmt: skip
    named = [c for c in in_2019.candidates if "ban hành" in c.text]
    assert named and named[0].features["conflict"] == 0.0
    # "which decision implemented Nghị định 61/2018": a sentence naming only that decree (written "61/2018/NĐ-CP")
    # names no other text, so it does not answer
    which = reader().read("Năm 2018, Thủ tướng ban hành quyết định nào triển khai Nghị định 61/2018?", [decree],
                          idf(), spoken={"nd61": range(2018, 2026)})  # fmt: skip
    assert all(c.features["conflict"] == 1.0 for c in which.candidates)


def test_the_details_a_sentence_states_are_compared_by_meaning_and_across_languages_by_what_both_write():
    english = Passage(9, "cccd-en", "cccd-en#0", "Nearly 34 million citizens make chip-based ID cards", "article",
                      "The police had collected dossiers of 33.9 million citizens as of April 27. "
                      "The meeting was held on May 4.", 1.0)  # fmt: skip
    glossary = {"cccd": ("CCCD", "căn cước công dân")}
    question = "Tính đến ngày 27/4/2021 đã thu nhận hồ sơ cấp CCCD của bao nhiêu công dân?"
    reading = Reader(model=MODEL, glossary=glossary).read(question, [english], idf())
    signals = {c.text[:10]: c.features for c in reading.candidates}
    # "27/4/2021" is "April 27"; "CCCD" is written otherwise in English, so only the date is asked of it
    assert signals["The police"]["in_sentence"] == 1.0 == signals["The police"]["constraints"]
    assert signals["The meetin"]["in_sentence"] == 0.0
    # in the question's own language every detail counts, compared by meaning ("1/7" with its year is "1/7/2025")
    local = Passage(10, "vi", "vi#0", "Luật mới", "article", "Luật có hiệu lực từ ngày 1/7 năm nay.", 1.0)
    own = Reader(model=MODEL, glossary=glossary).read("CCCD mới có hiệu lực từ 1/7/2025?", [local], idf())
    assert [c.features["in_sentence"] for c in own.candidates] == [0.5]
    # a question naming only details written in words: judged on those, not waved through
    words_only = Reader(model=MODEL, glossary=glossary).read("CCCD cấp cho bao nhiêu công dân?", [english], idf())
    assert {c.features["in_sentence"] for c in words_only.candidates} == {0.0}


def test_a_figure_asked_of_a_body_is_not_answered_by_anothers():
    ministries = Passage(6, "par", "par#0", "Chỉ số CCHC 2023", "article",
                         "Bộ Tư pháp dẫn đầu, đạt 89,95%. Bộ Xây dựng đạt 85,1%.", 1.0)  # fmt: skip
    reading = reader().read("Bộ Xây dựng đạt bao nhiêu phần trăm Chỉ số CCHC?", [ministries], idf())
    by_text = {c.text: c.features["conflict"] for c in reading.candidates}
    assert by_text == {"Bộ Tư pháp dẫn đầu, đạt 89,95%.": 1.0, "Bộ Xây dựng đạt 85,1%.": 0.0}
    english = Passage(7, "en", "en#0", "PAR Index", "article", "The Ministry of Construction scored 85.1 percent.", 1.0)
    across = reader().read("Bộ Xây dựng đạt bao nhiêu phần trăm Chỉ số CCHC?", [english], idf())
    assert across.candidates[0].features["conflict"] == 0.0  # an English source cannot write "Bộ Xây dựng"


def conflicts(question: str, passage: Passage) -> dict[str, float]:
    """Each candidate sentence of ``passage`` and whether it conflicts with ``question``."""
    return {c.text: c.features["conflict"] for c in reader().read(question, [passage], idf()).candidates}


def test_a_figure_of_another_index_does_not_answer():
    indexes = Passage(8, "idx", "idx#0", "Công bố các chỉ số 2023", "article",
                      "Bộ Tư pháp dẫn đầu Chỉ số cải cách hành chính năm 2023, đạt 89,95%. "
                      "Chỉ số SIPAS 2023 của cả nước đạt 82,66%.", 1.0)  # fmt: skip
    par_figure = "Bộ Tư pháp dẫn đầu Chỉ số cải cách hành chính năm 2023, đạt 89,95%."
    assert conflicts("Bộ Tư pháp đạt bao nhiêu phần trăm SIPAS năm 2023?", indexes)[par_figure] == 1.0
    assert conflicts("Bộ Tư pháp đạt bao nhiêu phần trăm Chỉ số CCHC năm 2023?", indexes)[par_figure] == 0.0
    sipas = Passage(9, "gl", "gl#0", "Gia Lai đứng đầu khu vực Tây Nguyên về chỉ số SIPAS", "article",
                    "Năm 2023, Gia Lai đứng thứ 19, đạt 83,84%.", 1.0)  # fmt: skip
    assert conflicts("Gia Lai xếp thứ mấy về Chỉ số PAR INDEX năm 2023?", sipas) == {sipas.text: 1.0}  # by its title
    assert conflicts("Gia Lai xếp thứ mấy về chỉ số SIPAS năm 2023?", sipas) == {sipas.text: 0.0}


def test_a_figure_of_another_group_does_not_answer():
    averages = Passage(18, "avg", "avg#0", "PAR INDEX 2024", "article",
                       "Giá trị trung bình cao nhất là vùng Đồng bằng sông Hồng, đạt 90,17%. "
                       "Giá trị trung bình toàn quốc đạt mức cao kỷ lục 88,37%. "
                       "Giá trị trung bình của 17 bộ, cơ quan ngang bộ đạt 87,2%.", 1.0)  # fmt: skip
    region, national, ministries = reading_units(averages.text)
    of_provinces = conflicts("Giá trị trung bình Chỉ số năm 2024 của các địa phương là bao nhiêu?", averages)
    assert of_provinces == {region: 1.0, national: 0.0, ministries: 1.0}
    of_ministries = conflicts("Giá trị trung bình Chỉ số năm 2024 của các bộ là bao nhiêu?", averages)
    assert of_ministries == {region: 1.0, national: 0.0, ministries: 0.0}


def test_a_sentence_on_another_text_of_the_asked_kind_does_not_answer():
    signed = Passage(10, "ct", "ct#0", "Chỉ thị về CCHC", "article",
                     "Phó Thủ tướng Phạm Bình Minh ký ban hành Chỉ thị số 23 về CCHC. "
                     "Thủ tướng ký Chỉ thị 32/CT-TTg về CCHC.", 1.0)  # fmt: skip
    by_text = conflicts("Chỉ thị số 32 về CCHC do ai ký?", signed)
    assert by_text == {"Phó Thủ tướng Phạm Bình Minh ký ban hành Chỉ thị số 23 về CCHC.": 1.0,
                       "Thủ tướng ký Chỉ thị 32/CT-TTg về CCHC.": 0.0}  # fmt: skip


def test_who_had_the_asked_role_is_answered_only_by_a_sentence_stating_that_role():
    meeting = Passage(11, "ph", "ph#0", "Phiên họp thứ tư", "article",
                      "Cũng tại phiên họp này, Thủ tướng yêu cầu Bộ Nội vụ tiếp tục nghiên cứu giải pháp mới. "
                      "Thủ tướng Phạm Minh Chính chủ trì phiên họp thứ tư của ban chỉ đạo. "
                      "Thư ký Tổ công tác đăng ký phát biểu tại phiên họp.", 1.0)  # fmt: skip
    chaired = conflicts("Ai chủ trì phiên họp thứ tư?", meeting)
    assert chaired["Cũng tại phiên họp này, Thủ tướng yêu cầu Bộ Nội vụ tiếp tục nghiên cứu giải pháp mới."] == 1.0
    assert chaired["Thủ tướng Phạm Minh Chính chủ trì phiên họp thứ tư của ban chỉ đạo."] == 0.0
    assert chaired["Thư ký Tổ công tác đăng ký phát biểu tại phiên họp."] == 1.0
    # "thư ký", "đăng ký" are not signing; a question asking no role keeps any person
    assert conflicts("Ai ký?", meeting)["Thư ký Tổ công tác đăng ký phát biểu tại phiên họp."] == 1.0
    # nor is "nhiệm kỳ" (folded, "kỳ" is "ký"): read with the sentence's marks
    law = Passage(12, "luat", "luat#0", "Luật Cán bộ, công chức 2025", "legal",
                  "Luật Cán bộ, công chức 2025: cán bộ giữ chức vụ theo nhiệm kỳ. Chủ tịch Quốc hội Trần Thanh Mẫn "
                  "đã ký chứng thực Luật Cán bộ, công chức 2025.", 1.0)  # fmt: skip
    signed = conflicts("Ai là người ký Luật Cán bộ, công chức 2025?", law)
    assert signed["Luật Cán bộ, công chức 2025: cán bộ giữ chức vụ theo nhiệm kỳ."] == 1.0
    assert signed["Chủ tịch Quốc hội Trần Thanh Mẫn đã ký chứng thực Luật Cán bộ, công chức 2025."] == 0.0
    assert asked_role("Tại phiên họp thường kỳ tháng 3/2025, ai là người công bố kết quả?") is None  # not "ký"
    assert asked_role("ai ky quyet dinh nay") == "sign"  # without marks, read folded
    assert (
        conflicts("Ai phát biểu tại phiên họp?", meeting)[
            "Thủ tướng Phạm Minh Chính chủ trì phiên họp thứ tư của ban chỉ đạo."
        ]
        == 1.0
    )  # who chaired is not who spoke
    asks_no_role = conflicts("Thư ký Tổ công tác là ai?", meeting)
    assert asks_no_role["Cũng tại phiên họp này, Thủ tướng yêu cầu Bộ Nội vụ tiếp tục nghiên cứu giải pháp mới."] == 0.0


def test_who_bears_responsibility_is_answered_only_by_a_sentence_saying_who_does():
    delay = Passage(13, "xl", "xl#0", "Phải xin lỗi khi chậm giải quyết thủ tục hành chính", "article",
                    "Đó là vấn đề được Phó Thủ tướng Trương Hòa Bình nhấn mạnh tại hội nghị sáng 11/9. "
                    "Người đứng đầu cơ quan chịu trách nhiệm khi để chậm giải quyết thủ tục.", 1.0)  # fmt: skip
    who = conflicts("Ai phải chịu trách nhiệm khi chậm giải quyết thủ tục hành chính?", delay)
    assert who["Đó là vấn đề được Phó Thủ tướng Trương Hòa Bình nhấn mạnh tại hội nghị sáng 11/9."] == 1.0
    assert who["Người đứng đầu cơ quan chịu trách nhiệm khi để chậm giải quyết thủ tục."] == 0.0
    which_body = conflicts("Cơ quan nào chịu trách nhiệm khi chậm giải quyết thủ tục hành chính?", delay)
    assert which_body["Đó là vấn đề được Phó Thủ tướng Trương Hòa Bình nhấn mạnh tại hội nghị sáng 11/9."] == 1.0


def test_who_ranked_first_or_last_is_answered_only_by_a_sentence_saying_so():
    ranking = Passage(15, "par", "par#0", "PAR INDEX 2012", "article",
                      "Bộ Nội vụ công bố Chỉ số cải cách hành chính năm 2012 của các bộ, ngành. "
                      "Bộ Tư pháp đứng đầu với 90,1%, Bộ Xây dựng xếp cuối bảng. "
                      "The Ministry of Justice topped the 2012 index.", 1.0)  # fmt: skip
    announced, ranked, english = reading_units(ranking.text)
    first = conflicts("Bộ nào dẫn đầu Chỉ số cải cách hành chính năm 2012?", ranking)
    assert (first[announced], first[ranked], first[english]) == (1.0, 0.0, 0.0)  # who announced is not who led
    last = conflicts("Bộ nào đứng cuối Chỉ số cải cách hành chính năm 2012?", ranking)
    assert (last[announced], last[ranked], last[english]) == (1.0, 0.0, 1.0)
    assert asked_role("tinh nao dung dau chi so papi") == "first" and asked_role("Tỉnh nào xếp sau Quảng Ninh?") is None
    moved = Passage(17, "par24", "par24#0", "PAR INDEX 2024", "article",
                    "Năm 2024, tỉnh Bình Thuận tăng mạnh nhất. Năm 2024, Hà Giang giảm 2,94%.", 1.0)  # fmt: skip
    rose, fell = reading_units(moved.text)
    assert conflicts("Tỉnh nào có chỉ số giảm nhiều nhất năm 2024?", moved) == {rose: 1.0, fell: 0.0}
    assert conflicts("Tỉnh nào tăng mạnh nhất năm 2024?", moved) == {rose: 0.0, fell: 1.0}
    assert asked_role("Ai ký ban hành Thông tư về giảm 50% lệ phí?") == "sign"  # a "giảm" that is not asked


def test_what_a_body_reports_to_is_answered_only_by_a_sentence_saying_so():
    centre = Passage(19, "hcm", "hcm#0", "Trung tâm phục vụ hành chính công TP.HCM", "article",
                     "Trung tâm phục vụ hành chính công TP.HCM chuyên nghiệp hóa bộ phận tiếp nhận hồ sơ. "
                     "HĐND TP.HCM quyết nghị thành lập Trung tâm trực thuộc UBND TP.HCM.", 1.0)  # fmt: skip
    units, under = reading_units(centre.text), "trung tam phuc vu hanh chinh cong tp.hcm truc thuoc co quan nao"
    assert asked_role(under) == "under"
    assert conflicts(under, centre) == {units[0]: 1.0, units[1]: 0.0}  # "bộ phận" is a unit, not a body


def test_how_to_do_something_is_not_answered_by_its_fee():
    card = Passage(14, "cccd", "cccd#0", "Mức thu lệ phí căn cước công dân", "article",
                   "Cấp lại thẻ CCCD khi bị mất thẻ là 70.000 đồng/thẻ. "
                   "Kể từ ngày 1/1/2022, mức thu lệ phí CCCD thực hiện theo Thông tư 59/2019/TT-BTC. "
                   "Khi cấp lại thẻ, công dân mang theo sổ hộ khẩu và nộp tờ khai tại công an.", 1.0)  # fmt: skip
    fee, regime, steps = (
        "Cấp lại thẻ CCCD khi bị mất thẻ là 70.000 đồng/thẻ.",
        "Kể từ ngày 1/1/2022, mức thu lệ phí CCCD thực hiện theo Thông tư 59/2019/TT-BTC.",
        "Khi cấp lại thẻ, công dân mang theo sổ hộ khẩu và nộp tờ khai tại công an.",
    )
    for question in ("thu tuc cap lai cccd", "Cấp lại CCCD cần giấy tờ gì?", "Làm lại thẻ CCCD như thế nào?"):
        how = conflicts(question, card)
        assert (how[fee], how[regime], how[steps]) == (1.0, 1.0, 0.0), question
    # the fee asked, the fee answers; "thủ tục hành chính" names the field, not a procedure
    assert conflicts("Lệ phí thủ tục cấp lại CCCD là bao nhiêu?", card)[fee] == 0.0
    assert not asks_procedure("Thủ tục hành chính là gì?") and not asks_procedure("Cách tính chỉ số PAR Index?")


def test_what_a_term_is_is_answered_only_by_a_sentence_defining_it():
    assert asked_term("TTHC là gì?") == "tthc" and asked_term("What is PAPI?") == "papi"
    assert asked_term("cho minh hoi can cuoc dien tu la gi") == "can cuoc dien tu"
    assert asked_term("Điều kiện dự tuyển công chức là gì?") is None  # the value of an attribute, not a meaning
    assert asked_term("Thủ tướng ví thể chế là gì trong 3 đột phá chiến lược?") is None
    assert asked_term("Tại đó Thủ tướng gọi thể chế là gì?") is None  # what someone called it
    assert asked_term("Vậy căn cước điện tử là gì?") == "can cuoc dien tu"  # a pointing word is not part of it
    assert defines(["co che mot cua"], "1. Cơ chế một cửa trong giải quyết thủ tục hành chính là phương thức …")
    assert defines(["du lieu mo"], "Trong Nghị định này, dữ liệu mở được hiểu là dữ liệu của cơ quan nhà nước.")
    assert defines(["bieu mau dien tu tuong tac"], "Biểu mẫu điện tử tương tác (e-Form) là biểu mẫu hồ sơ …")
    assert not defines(["thu tuc hanh chinh"], "Kiểm soát thủ tục hành chính là việc xem xét, đánh giá.")
    assert not defines(["tthc"], "TTHC trên một số lĩnh vực còn chồng chéo, gây phiền hà cho người dân.")
    by_text = conflicts("TTHC là gì?", SPEECH)  # the speech uses the term, it never says what it is
    assert set(by_text.values()) == {1.0}
    glossary = Passage(12, "gt", "gt#0", "Giải thích từ ngữ", "law",
                       "Thủ tục hành chính là trình tự, cách thức thực hiện, hồ sơ và yêu cầu, điều kiện. "
                       "Kiểm soát thủ tục hành chính là việc xem xét, đánh giá, theo dõi.", 1.0)  # fmt: skip
    defined = conflicts("TTHC là gì?", glossary)  # the acronym asked, the term written out
    assert defined == {"Thủ tục hành chính là trình tự, cách thức thực hiện, hồ sơ và yêu cầu, điều kiện.": 0.0,
                       "Kiểm soát thủ tục hành chính là việc xem xét, đánh giá, theo dõi.": 1.0}  # fmt: skip


def test_which_place_or_body_is_answered_only_by_a_name():
    groups = Passage(9, "g", "g#0", "Chỉ số CCHC 2022", "article",
                     "Kết quả Chỉ số CCHC 2022 của các tỉnh được phân theo ba nhóm. "
                     "Nhóm A gồm Quảng Ninh và Hải Phòng. TP.HCM có nhiều đơn vị cấp xã nhất.", 1.0)  # fmt: skip
    by_text = conflicts("Những địa phương nào thuộc nhóm A?", groups)
    assert by_text["Kết quả Chỉ số CCHC 2022 của các tỉnh được phân theo ba nhóm."] == 1.0
    assert by_text["Nhóm A gồm Quảng Ninh và Hải Phòng."] == 0.0
    assert holds_type("place", "TP.HCM có nhiều đơn vị cấp xã nhất.", "Địa phương nào có nhiều xã nhất?")
    assert conflicts("Bộ nào dẫn đầu?", INDEX)["Quảng Ninh dẫn đầu khối tỉnh với 90,10%."] == 1.0
    where = Passage(11, "w", "w#0", "Khóa căn cước", "article", "Người dân yêu cầu khóa tại công an cấp xã.", 1.0)
    assert conflicts("Ở đâu người dân yêu cầu khóa căn cước?", where) == {where.text: 0.0}
    named = "Bộ nào bị nêu tên vì cắt giảm thủ tục còn hình thức?"  # a ministry by name, not "nhiều Bộ"
    assert holds_type("org", "Bộ Công Thương bị nêu tên.", named)
    assert not holds_type("org", "nhiều Bộ đã cắt giảm", named)
    assert not holds_type("org", "Quy chế áp dụng tại ủy ban nhân dân cấp tỉnh.", named)
    kind = "Quy chế một cửa áp dụng tại cơ quan nào?"  # may be answered by a kind of body
    assert holds_type("org", "Quy chế áp dụng tại ủy ban nhân dân cấp tỉnh.", kind)


def test_which_legal_text_is_answered_only_by_a_number_the_question_does_not_name():
    law = Passage(5, "nd", "nd#0", "Nghị định", "law", "Nghị định nhằm hoàn thiện cơ chế một cửa. Nghị định "
                  "367/2025/NĐ-CP sửa đổi Nghị định 118/2025/NĐ-CP.", 1.0)  # fmt: skip
    reading = reader().read("Nghị định 118/2025/NĐ-CP đã được sửa đổi bởi văn bản nào?", [law], idf())
    by_text = {c.text: c.features["conflict"] for c in reading.candidates}
    assert by_text["Nghị định nhằm hoàn thiện cơ chế một cửa."] == 1.0
    no_relation = reader().read("Nghị định nào quy định về cơ chế một cửa?", [law], idf())
    assert {c.text: c.features["conflict"] for c in no_relation.candidates} == {
        "Nghị định nhằm hoàn thiện cơ chế một cửa.": 1.0,
        "Nghị định 367/2025/NĐ-CP sửa đổi Nghị định 118/2025/NĐ-CP.": 0.0,
    }
    assert by_text["Nghị định 367/2025/NĐ-CP sửa đổi Nghị định 118/2025/NĐ-CP."] == 0.0
    only_asked = reader().read("Nghị định 367/2025/NĐ-CP sửa đổi văn bản nào?", [law], idf())
    assert all(c.features["conflict"] for c in only_asked.candidates if "367" not in c.text)
    # asked what replaced it, a sentence naming a text that amends it does not answer
    replaced = reader().read("Nghị định 118/2025/NĐ-CP bị thay thế bởi văn bản nào?", [law], idf())
    assert all(c.features["conflict"] == 1.0 for c in replaced.candidates)


def test_the_official_text_is_quoted_not_the_comment_that_repeats_it_and_never_twice():
    reading = reader().read("thu tuc hanh chinh nao con chong cheo?", [COMMENT, SPEECH], idf())
    chosen = choose(reading.candidates)
    assert [c.passage.doc_id for c in chosen] == ["speech"]
    draft = collect(ExtractiveGenerator(0.5).stream("q", [COMMENT, SPEECH], reading.candidates))
    assert isinstance(draft, Draft) and draft.text.count("chồng chéo") == 1 and "[1]" in draft.text


def test_a_quoted_comment_is_labelled_as_a_readers_and_still_verifies():
    only_comment = [Candidate(COMMENT, COMMENT.text, 0, {}, 0.9)]
    draft = collect(ExtractiveGenerator(0.5).stream("q", [COMMENT], only_comment))
    assert draft.text.startswith(f"{COMMENT_LABEL}: Tôi thấy")
    doc = Document("speech#c6", "Bình luận 6", COMMENT.text, "comment", "", comment_no=6)
    checked = verify(draft.text, [COMMENT], lambda _: doc)
    assert checked.citations and checked.citations[0].quote == COMMENT.text.rstrip(".")
    assert checked.text.startswith(COMMENT_LABEL)


def test_same_content_sees_repeats_not_different_sentences():
    assert same_content(SPEECH.text.split(". ")[1], COMMENT.text)
    assert not same_content(SPEECH.text.split(". ")[0], COMMENT.text)


def test_a_bare_name_must_come_from_the_answering_sentence():
    doc = Document("par2022", INDEX.title, INDEX.text, "article", "")
    answering = ["Năm 2022, Ngân hàng Nhà nước dẫn đầu khối bộ, xếp thứ hai là Bộ Tư pháp, thứ ba là Bộ Tài chính."]
    question = "Bộ nào dẫn đầu chỉ số CCHC năm 2022?"
    right = verify("Ngân hàng Nhà nước [3].", [INDEX], lambda _: doc, answering, question)
    assert right.citations
    # the answering sentence names Bộ Tư pháp too, as second: the words of the question are not in that part
    wrong = verify("Bộ Tư pháp [3].", [INDEX], lambda _: doc, answering, question)
    assert wrong.citations == [] and wrong.dropped == ["Bộ Tư pháp"]
    elsewhere = verify("Bộ Tài chính [3].", [INDEX], lambda _: doc, ["Quảng Ninh dẫn đầu khối tỉnh."], question)
    assert elsewhere.citations == []


def test_a_repaired_claim_keeps_its_numbers():
    doc = Document("par2022", INDEX.title, INDEX.text, "article", "")
    checked = verify("Quảng Ninh dẫn đầu khối tỉnh với 95,5% [3].", [INDEX], lambda _: doc)
    assert checked.citations == []  # 95,5 is in no sentence: no repair to the 90,10% one


FEES = Passage(4, "fees", "fees#0", "Lệ phí làm hộ chiếu", "article",
               "Từ ngày 01/01/2026, áp dụng mức thu theo quy định tại Thông tư 25/2021/TT-BTC.\n\n"
               "Mức phí làm hộ chiếu online theo quy định tại Thông tư 25/2021/TT-BTC:\n\n"
               "Cấp mới: 200.000 VND/lần.\n\nCấp lại do hỏng hoặc mất: 400.000 VND/lần.", 0.8)  # fmt: skip


def test_a_list_item_is_read_with_its_lead_line_and_quoted_after_it():
    fees_idf = idf_table([FEES.text.lower().split(), SPEECH.text.lower().split()])
    reading = reader().read("Lệ phí cấp lại hộ chiếu online là bao nhiêu?", [FEES], fees_idf)
    item = next(c for c in reading.candidates if c.text.startswith("Cấp lại"))
    assert item.lead.startswith("Mức phí làm hộ chiếu online")
    alone = reader().read("Lệ phí cấp lại hộ chiếu online là bao nhiêu?", [replace(FEES, text=item.text)], fees_idf)
    assert item.features["lexical"] > alone.candidates[0].features["lexical"]  # "hộ chiếu online" is the lead's
    draft = collect(ExtractiveGenerator(0.1).stream("q", [FEES], [item]))
    assert isinstance(draft, Draft)
    assert draft.text == (
        "Mức phí làm hộ chiếu online theo quy định tại Thông tư 25/2021/TT-BTC [4]. "
        "Cấp lại do hỏng hoặc mất: 400.000 VND/lần [4]."
    )
    doc = Document("fees", FEES.title, FEES.text, "article", "")
    checked = verify(draft.text, [FEES], lambda _: doc)
    assert [c.quote for c in checked.citations] == [
        "Mức phí làm hộ chiếu online theo quy định tại Thông tư 25/2021/TT-BTC",
        "Cấp lại do hỏng hoặc mất: 400.000 VND/lần",
    ]


def test_a_lead_line_is_quoted_once_and_a_clause_inside_a_sentence_after_an_ellipsis():
    lead = "Mức phí làm hộ chiếu online theo quy định tại Thông tư 25/2021/TT-BTC:"
    item = Candidate(FEES, "Cấp mới: 200.000 VND/lần.", 0, {}, 0.9, lead=lead)
    chosen_lead = Candidate(FEES, lead, 0, {}, 0.8)
    draft = collect(ExtractiveGenerator(0.1).stream("q", [FEES], [item, chosen_lead]))
    assert isinstance(draft, Draft) and draft.text.count("Mức phí làm hộ chiếu online") == 1
    clause = Candidate(INDEX, "xếp thứ hai là Bộ Tư pháp, thứ ba là Bộ Tài chính.", 0, {}, 0.9)
    text = collect(ExtractiveGenerator(0.1).stream("q", [INDEX], [clause])).text
    assert text == "…xếp thứ hai là Bộ Tư pháp, thứ ba là Bộ Tài chính [3]."
    doc = Document("par2022", INDEX.title, INDEX.text, "article", "")
    checked = verify(text, [INDEX], lambda _: doc)
    assert checked.citations and checked.citations[0].quote == "xếp thứ hai là Bộ Tư pháp, thứ ba là Bộ Tài chính"
    assert checked.text == "…xếp thứ hai là Bộ Tư pháp, thứ ba là Bộ Tài chính [1]."  # the ellipsis is kept
    item = Candidate(FEES, "đ) Thay đổi đặc điểm nhận dạng", 0, {}, 0.9)  # a list item starts as it should
    assert collect(ExtractiveGenerator(0.1).stream("q", [FEES], [item])).text.startswith("đ) Thay")


def test_a_sentence_in_the_laws_wording_holds_the_citizens_everyday_words():
    """ "có mất tiền không" is answered by "miễn lệ phí": the reader credits the question's everyday words to a
    sentence that says them as the law does (bot/data/everyday_terms.tsv), and only to such a sentence."""
    text = "Miễn lệ phí đăng ký khai sinh đúng hạn. Người đăng ký khai sinh đúng hạn nộp tờ khai."
    fee = Passage(1, "hotich", "hotich#0", "Luật Hộ tịch", "article", text, 1.0)
    table = idf_table([fee.text.lower().split()])

    def lexical(question: str) -> tuple[float, float]:
        by_text = {c.text: c.features["lexical"] for c in reader().read(question, [fee], table).candidates}
        return by_text["Miễn lệ phí đăng ký khai sinh đúng hạn."], by_text[
            "Người đăng ký khai sinh đúng hạn nộp tờ khai."
        ]

    free, form = lexical("khai sinh đúng hạn có mất tiền không")
    assert free > form
    free, form = lexical("khai sinh đúng hạn có mặt tiền không")  # a shop front: not a fee
    assert free == form
