"""A Vietnamese question whose answer only an English article states: retrieved (the word lanes do not outvote
it), read (the semantic signal from the stored sentence vectors), and quoted verbatim; real EmbeddingGemma (the
users' model, on which the reader was fitted), Chroma, SQLite."""

from __future__ import annotations

import json

import pytest

from bot.answer.grounding import worded
from bot.answer.query import load_glossary
from bot.answer.reader import Reader
from bot.answer.retriever import _fuse
from bot.answer.types import Passage
from bot.engine import Engine
from ingest.pipeline import Ingestor
from settings import Settings
from vectorstore.text import is_english

ENGLISH = (
    "The e-Cabinet system of the Government was launched in June 2019. Particularly, the e-Cabinet system has "
    "served 27 Government meetings and handled 674 e-papers collecting cabinet members' opinions, instead of "
    "issuing over 240,000 documents in paper. The Government Office said the savings reach more than VND 169 "
    "billion a year."
)
VIETNAMESE = [
    "Hệ thống e-Cabinet giúp các thành viên Chính phủ xử lý công việc trên môi trường điện tử. Văn phòng Chính phủ "
    "cho biết hệ thống e-Cabinet được nâng cấp để phục vụ các phiên họp Chính phủ thường kỳ thuận tiện hơn.",
    "Phiên họp Chính phủ thường kỳ tháng 5 bàn về tình hình kinh tế - xã hội. Các thành viên Chính phủ thảo luận "
    "về giải ngân vốn đầu tư công và cải cách thủ tục hành chính.",
    "Chính phủ yêu cầu các bộ, ngành đẩy mạnh cải cách thủ tục hành chính, cắt giảm giấy tờ và số hóa hồ sơ, "
    "kết quả giải quyết thủ tục hành chính.",
]
QUESTION = "Hệ thống e-Cabinet đã phục vụ bao nhiêu phiên họp Chính phủ?"


@pytest.fixture(scope="module")
def engine(tmp_path_factory, cache_dir, gemma):
    folder = tmp_path_factory.mktemp("crosslingual")
    rows = [{"id": "en-1", "title": "e-Cabinet saves time and money", "text": ENGLISH}]
    rows += [{"id": f"vi-{i}", "title": "Chính phủ điện tử", "text": t} for i, t in enumerate(VIETNAMESE)]
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    settings = Settings(data_dir=folder / "data", cache_dir=cache_dir, k=2, embedding_model="embeddinggemma")
    eng = Engine(settings, embedder=gemma)
    Ingestor(settings, embedder=gemma, store=eng.store).run([corpus])
    yield eng
    eng.close()


def test_english_is_told_from_vietnamese_typed_without_marks():
    assert is_english(ENGLISH)
    assert not is_english(VIETNAMESE[0])
    assert not is_english("thu tuc cap lai cccd mat bao nhieu tien")


def test_the_word_lanes_do_not_outvote_a_chunk_in_another_language(engine):
    snapshot = engine.snapshot()
    en = next(i for i, c in enumerate(snapshot.chunks) if c.doc_id == "en-1")
    vi = next(i for i, c in enumerate(snapshot.chunks) if c.doc_id == "vi-0")
    rankings = {"dense": [(en, 0.62), (vi, 0.60)], "folded": [(vi, 9.0)]}
    weights = {"dense": 2.0, "folded": 0.5}
    plain = _fuse(snapshot, rankings, weights, 60, 2, False)
    assert [h.chunk.doc_id for h in plain] == ["vi-0", "en-1"]  # RRF: a lane that cannot see it votes against it
    fair = _fuse(snapshot, rankings, weights, 60, 2, False, snapshot.english != is_english(QUESTION))
    assert [h.chunk.doc_id for h in fair] == ["en-1", "vi-0"]


def test_a_vietnamese_question_is_answered_from_the_english_article_verbatim(engine):
    answer = engine.ask(QUESTION)
    assert not answer.refused, answer.answer
    assert "27 Government meetings" in answer.answer
    assert {c.doc_id for c in answer.citations} == {"en-1"}
    assert all(c.quote in ENGLISH for c in answer.citations)


def test_the_semantic_signal_ranks_the_closest_sentence_first_within_its_language():
    reader = Reader()
    passages = [
        Passage(1, "en", "en#0", "News", "article", ENGLISH, 1.0),
        Passage(2, "vi", "vi#0", "Tin", "article", VIETNAMESE[1], 0.9),
    ]
    candidates = reader.candidates(passages)
    closest = "Particularly, the e-Cabinet system has served"

    def similarity(texts):
        return [0.9 if t.startswith(closest) else 0.3 for t in texts]

    reading = reader.read(QUESTION, passages, {}, similarity)
    by_text = {c.text: c.features for c in reading.candidates}
    best_english = next(f for t, f in by_text.items() if t.startswith(closest))
    assert best_english["foreign"] == 1.0 and best_english["semantic"] > 1.0
    assert all(f["foreign"] == 0.0 for t, f in by_text.items() if t in VIETNAMESE[1])
    without = reader.read(QUESTION, passages, {})
    assert all(c.features["semantic"] == 0.0 for c in without.candidates)
    assert len(candidates) == len(reading.candidates)


def test_words_only_vietnamese_states_are_not_required_of_an_english_source():
    glossary = load_glossary()
    question = "Năm 2023 Quảng Ninh đứng thứ mấy về chỉ số CCHC cấp tỉnh do Bộ Nội vụ công bố?"
    needed = worded(question, glossary)
    assert "cấp tỉnh" in needed and "CCHC" in needed  # said in Vietnamese words only
    assert "Quảng Ninh" not in needed and "2023" not in needed  # read the same in an English text


def test_a_body_the_question_names_is_not_required_of_an_english_sentence():
    """ "Bộ Công an" (a known name since it is read whole) is "the Ministry of Public Security" in English: an
    English sentence with the asked figure does not conflict for lacking the Vietnamese words; a Vietnamese one
    without the body does (ci207)."""
    question = "Bộ Công an đặt mục tiêu cấp bao nhiêu thẻ căn cước gắn chip trước ngày 1/7/2021?"
    english = "The Ministry of Public Security aims to issue 50 million chip-based ID cards before July 1, 2021."
    article = f"{english} The departments of public security in all of the provinces had collected the dossiers."
    vietnamese = "Tỉnh Bắc Ninh đặt mục tiêu cấp 1 triệu thẻ căn cước gắn chip trước ngày 1/7/2021."
    passages = [
        Passage(1, "en", "en#0", "Chip-based ID cards", "article", article, 1.0),
        Passage(2, "vi", "vi#0", "Thẻ căn cước gắn chip", "article", vietnamese, 0.9),
    ]
    features = {c.text: c.features for c in Reader().read(question, passages, {}).candidates}
    assert features[english]["conflict"] == 0.0
    assert features[vietnamese]["conflict"] == 1.0
