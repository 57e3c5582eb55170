"""The policy timeline in answers, on a real store and the real model: the newest evidence wins for the present, a
past time gets its own evidence, as_of keeps only what was written by then, every answer says its date, a replaced
text is flagged, and a refusal names the newest document on the topic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.answer.options import AskOptions, InputError
from bot.answer.timeline import Chronology, QuestionTime, covered_years, in_time, time_of
from bot.answer.types import Candidate, Passage
from bot.engine import Engine
from ingest.pipeline import Ingestor
from vectorstore.records import Timeline

ROWS = [
    {"id": "tinh-2024", "title": "Cả nước có 63 tỉnh, thành phố", "date": "2024-03-02",
     "text": "Theo số liệu thống kê, cả nước có 63 tỉnh, thành phố trực thuộc Trung ương và 10.035 đơn vị hành chính "
             "cấp xã. Việc sắp xếp đơn vị hành chính cấp huyện, cấp xã giai đoạn 2023 - 2025 đang được triển khai."},
    {"id": "tinh-2025", "title": "Từ 1/7/2025, cả nước có 34 tỉnh, thành phố", "date": "2025-07-01",
     "text": "Theo Nghị quyết của Quốc hội, cả nước có 34 tỉnh, thành phố trực thuộc Trung ương và 3.321 đơn vị "
             "hành chính cấp xã. Mô hình chính quyền địa phương hai cấp vận hành từ ngày 1/7/2025."},
    {"id": "nd-138", "title": "Nghị định 138/2020/NĐ-CP về tuyển dụng công chức", "kind": "law",
     "date": "2020-11-27",
     "text": "Nghị định này quy định về tuyển dụng, sử dụng và quản lý công chức. Việc tuyển dụng công chức được thực "
             "hiện thông qua thi tuyển hoặc xét tuyển theo vị trí việc làm."},
    {"id": "nd-170", "title": "Nghị định 170/2025/NĐ-CP về tuyển dụng công chức", "kind": "law",
     "date": "2025-06-30",
     "text": "Nghị định này thay thế Nghị định số 138/2020/NĐ-CP quy định về tuyển dụng, sử dụng và quản lý công "
             "chức. Tiếp nhận vào làm công chức được áp dụng với người có kinh nghiệm công tác."},
]  # fmt: skip


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, embedder) -> Engine:
    from settings import Settings

    folder = tmp_path_factory.mktemp("timeline")
    corpus = folder / "tin.jsonl"
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS), encoding="utf-8")
    settings = Settings(data_dir=folder, cache_dir=cache_dir)
    engine = Engine(settings, embedder=embedder)
    Ingestor(settings, embedder=embedder, store=engine.store).run([corpus])
    yield engine
    engine.close()


def test_the_present_gets_the_newest_evidence_and_says_its_date(engine: Engine) -> None:
    answer = engine.ask("Hiện nay cả nước có bao nhiêu tỉnh, thành phố trực thuộc Trung ương?")
    assert not answer.refused
    assert answer.citations[0].doc_id == "tinh-2025" and "34 tỉnh" in answer.answer
    assert answer.answer.startswith("Theo tài liệu ngày 1/7/2025: ")
    assert answer.citations[0].date == "2025-07-01"
    older = [c for c in answer.citations if c.doc_id == "tinh-2024"]
    if older:  # the older count, when quoted beside, is labelled with its own date
        assert "Trước đó, theo tài liệu ngày 2/3/2024:" in answer.answer


def test_a_past_time_gets_that_times_evidence(engine: Engine) -> None:
    answer = engine.ask("Trước khi sáp nhập, cả nước có bao nhiêu tỉnh, thành phố trực thuộc Trung ương?")
    assert not answer.refused and answer.citations[0].doc_id == "tinh-2024" and "63 tỉnh" in answer.answer
    assert answer.answer.startswith(
        "Tính đến ngày 30/6/2025 (chỉ dùng tài liệu đến ngày đó). Theo tài liệu ngày 2/3/2024"
    )


def test_as_of_keeps_only_what_was_written_by_then(engine: Engine) -> None:
    asked = engine.ask("Cả nước có bao nhiêu tỉnh, thành phố trực thuộc Trung ương?", AskOptions(as_of="31/12/2024"))
    assert not asked.refused and {c.doc_id for c in asked.citations} == {"tinh-2024"}
    assert all(h.chunk.doc_id in {"tinh-2024", "nd-138"} for h in asked.hits)  # nothing dated later is retrieved
    said = engine.ask("Theo quy định năm 2020, việc tuyển dụng công chức được thực hiện thế nào?")
    assert said.citations and all(c.doc_id == "nd-138" for c in said.citations)
    assert said.answer.startswith("Tính đến ngày 31/12/2020")
    with pytest.raises(InputError, match="không hợp lệ"):
        engine.ask("Cả nước có bao nhiêu tỉnh?", AskOptions(as_of="năm ngoái"))


def test_a_replaced_text_is_flagged_and_the_text_in_force_preferred(engine: Engine) -> None:
    chronology = engine.snapshot().chronology
    replaced = chronology.replaced_by("nd-138")
    assert replaced is not None and replaced.by == "170/2025/NĐ-CP" and replaced.since == "2025-06-30"
    assert chronology.replaced_by("nd-170") is None
    old = engine.ask(
        "Nghị định 138/2020/NĐ-CP quy định việc tuyển dụng công chức được thực hiện thông qua hình thức nào?"
    )
    assert old.citations and old.citations[0].doc_id == "nd-138"
    assert old.citations[0].superseded_by == "Đã được thay thế bởi 170/2025/NĐ-CP (từ 30/6/2025)"
    assert any("đã được thay thế bởi 170/2025/NĐ-CP" in n for n in old.notices)
    assert old.answer.startswith("Theo văn bản số 138/2020/NĐ-CP") or old.answer.startswith("Theo tài liệu")


def test_a_refusal_names_the_newest_document_on_the_topic(engine: Engine) -> None:
    answer = engine.ask("Lệ phí tuyển dụng công chức là bao nhiêu tiền?")
    assert answer.refused
    chronology = engine.snapshot().chronology
    nearest = list(dict.fromkeys(h.chunk.doc_id for h in answer.hits[:3]))
    newest = max(nearest, key=lambda d: chronology.when(d) or "")
    title = next(h.chunk.title for h in answer.hits if h.chunk.doc_id == newest)
    assert f"Tài liệu mới nhất về chủ đề này: «{title}» (ngày " in answer.answer


def test_what_time_a_question_asks_about() -> None:
    assert time_of("Hiện nay có bao nhiêu tỉnh?").present
    assert time_of("Có bao nhiêu tỉnh?").present  # no time at all: today's rule
    assert time_of("Năm 2022 tỉnh nào dẫn đầu PAPI?").past and time_of("Năm 2022 tỉnh nào dẫn đầu PAPI?").as_of is None
    assert time_of("tinh den nam 2023 co bao nhieu tai khoan VNeID").as_of == "2023-12-31"
    # a figure counted up to a day is reported after it: that day's, not only older documents'
    counted = time_of("Tính đến ngày 27/4/2021 đã thu nhận hồ sơ của bao nhiêu công dân?")
    assert counted.past and counted.as_of is None
    assert time_of("Theo quy định ngày 1/7/2025, có bao nhiêu tỉnh?").as_of == "2025-07-01"
    assert time_of("Theo quy định tháng 2/2024 thì sao?").as_of == "2024-02-29"
    assert not time_of("Nghị định 61/2018/NĐ-CP quy định gì?").present  # one named text: what it says
    # "hiện" before a verb says "now" in words (the newer text leads more readily); "thực hiện" does not
    assert time_of("NĐ nào hiện quy định về cơ chế một cửa?").said
    assert time_of("ca nuoc hien co bao nhieu tinh").said
    assert not time_of("Việc thực hiện có hiệu quả không?").said
    assert not time_of("Khi nào xuất hiện là gì?").said


def test_staff_set_a_date_that_reingest_keeps(engine: Engine, tmp_path: Path) -> None:
    from webui.render import stats_html

    listing = engine.store.list_documents()
    assert [d["doc_id"] for d in listing if not d["date"]] == []  # every document of this corpus is dated
    with pytest.raises(InputError, match="không hợp lệ"):
        engine.set_document_date("tinh-2024", "tuần trước")
    with pytest.raises(InputError, match="không còn trong kho"):
        engine.set_document_date("khong-co", "2024")
    assert engine.set_document_date("tinh-2024", "5/3/2024") == "2024-03-05"
    corpus = tmp_path / "tin.jsonl"
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS), encoding="utf-8")
    Ingestor(engine.settings, embedder=engine.embedder, store=engine.store).run([corpus])  # reads "2024-03-02"
    kept = engine.store.timelines(["tinh-2024"])["tinh-2024"]
    assert (kept.date, kept.date_from) == ("2024-03-05", "staff")
    assert engine.snapshot().chronology.when("tinh-2024") == "2024-03-05"
    html = stats_html(engine.store.stats(), engine.store.list_documents())
    assert html.index("tinh-2025") < html.index("tinh-2024") < html.index("nd-138")  # newest first
    assert "0 tài liệu chưa có ngày" in html


def test_an_answers_date_is_not_taken_for_the_fact_it_quotes() -> None:
    from bot.eval import holds_answer

    assert not holds_answer("Theo tài liệu ngày 9/6/2025: Chính phủ ban hành nghị định mới [1].", ["9/6/2025"])
    assert holds_answer("Theo tài liệu ngày 9/6/2025: Ngày 9/6/2025, Chính phủ ban hành [1].", ["9/6/2025"])
    labelled = "Theo tài liệu năm 2025: Có 34 tỉnh [1]. Trước đó, theo tài liệu năm 2024: Có 63 tỉnh [2]."
    assert holds_answer(labelled, ["63 tỉnh"]) and not holds_answer(labelled, ["năm 2024"])


def test_an_expected_figure_is_met_in_another_notation_but_not_by_fewer_digits() -> None:
    from bot.eval import holds_answer

    assert holds_answer("the average SIPAS Index results in 2024 are 83.94% [1].", ["83,94%"])
    assert holds_answer("The fee is 200,000 VND [1].", ["200.000"])
    assert holds_answer("This Decree shall take effect from July 1, 2025 [1].", ["1/7/2025"])
    assert not holds_answer("Lệ phí là 200 nghìn đồng [1].", ["200.000"])
    assert not holds_answer("Hà Nội tăng 10 bậc [1].", ["10%"]) and holds_answer("It is 10 percent [1].", ["10%"])
    assert not holds_answer("Có hiệu lực từ ngày 1/7 [1].", ["1/7/2025"])
    assert not holds_answer("Có hiệu lực từ ngày 2/7/2025 [1].", ["1/7/2025"])
    assert not holds_answer("Mức thu 50.000 đồng [1].", ["50.000 đồng/thẻ"])


def test_newest_first_never_promotes_a_sentence_in_conflict_with_the_question() -> None:
    def candidate(doc_id: str, probability: float, conflict: float) -> Candidate:
        passage = Passage(1, doc_id, f"{doc_id}#0", doc_id, "article", "…", 1.0)
        return Candidate(passage, doc_id, 0, {"conflict": conflict}, probability)

    chronology = Chronology({"old": Timeline(date="2022-10-19"), "new": Timeline(date="2024-02-02")})
    right, newer_but_wrong = candidate("old", 0.9, 0.0), candidate("new", 0.85, 1.0)
    present = QuestionTime(present=True, said=True)
    assert in_time([right, newer_but_wrong], chronology, present, 0.3)[0] is right
    newer_and_fine = candidate("new", 0.85, 0.0)
    assert in_time([right, newer_and_fine], chronology, present, 0.3)[0] is newer_and_fine


def test_asked_for_the_newest_an_undated_report_ranks_by_the_latest_year_it_reports_on() -> None:
    from bot.answer.timeline import reported_year

    report = "Năm 2024, Chỉ số SIPAS 2024 trong cả nước là 83,94%, tăng 1,28% so với năm 2023. Phấn đấu đến năm 2030 …"
    assert reported_year(report, 2026) == 2024  # a target ("đến năm 2030") is not a time reported on
    assert reported_year("Kế hoạch giai đoạn 2021-2025 được ban hành.", 2026) is None
    assert reported_year("Kết quả khảo sát năm 2027.", 2026) is None  # not yet: a plan, not a report

    def candidate(doc_id: str, probability: float) -> Candidate:
        passage = Passage(1, doc_id, f"{doc_id}#0", doc_id, "article", "…", 1.0)
        return Candidate(passage, doc_id, 0, {"conflict": 0.0}, probability)

    chronology = Chronology({"sipas2023": Timeline(date="2024-04-17"), "sipas2024": Timeline()}, {"sipas2024": 2025})
    older, undated = candidate("sipas2023", 0.95), candidate("sipas2024", 0.9)
    said_now = QuestionTime(present=True, said=True)  # "… mới nhất là bao nhiêu?"
    assert in_time([older, undated], chronology, said_now, 0.3)[0] is undated
    assert in_time([older, undated], chronology, QuestionTime(present=True), 0.3)[0] is older  # no time in words
    assert chronology.when("sipas2024") is None  # still undated: no answer says a date it does not have


def test_a_documents_year_covers_a_year_the_question_names_but_not_a_day() -> None:

    chronology = Chronology({"meeting": Timeline(date="2022-10-19")})
    assert covered_years(["2022"], ["meeting"], chronology) == []
    assert covered_years(["19/4/2022"], ["meeting"], chronology) == ["19/4/2022"]  # the article's year is not the day
    assert covered_years(["2021"], ["meeting"], chronology) == ["2021"]


def test_an_undated_legal_text_speaks_from_the_year_its_number_names_until_replaced() -> None:
    chronology = Chronology({
        "nd138": Timeline(number="138/2020/NĐ-CP"),  # a page on the decree that states no date
        "nd170": Timeline(date="2025-06-30", effective="2025-07-01", number="170/2025/NĐ-CP",
                          replaces=(("170/2025/NĐ-CP", "138/2020/NĐ-CP"),)),
        "news": Timeline(),
        "ct24": Timeline(number="24/CT-TTg"),  # a number without a year tells nothing
    })  # fmt: skip
    assert chronology.years("nd138") == range(2020, 2026)  # issued 2020, replaced from 1/7/2025
    assert covered_years(["2021"], ["nd138"], chronology) == []  # "Năm 2021, … nghị định nào?"
    assert chronology.when("nd138") is None  # still undated: its answers say no date, as-of filters keep it out
    assert chronology.years("news") == range(0) == chronology.years("ct24")
