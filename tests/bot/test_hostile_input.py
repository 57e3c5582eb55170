"""Property-based: every public entry point (ask, retrieve, wording lookup, feedback) takes any text -- empty,
blank, huge, control characters, emoji, mixed scripts, HTML/JS, SQL-looking -- without crashing: an answer whose
citations verify, or a clear Vietnamese ``InputError``; lengths are bounded and stored text is kept (as NFC)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answer.citations import is_valid
from bot.answer.options import MAX_QUESTION_CHARS, AskOptions, InputError
from bot.engine import Engine
from bot.feedback import MAX_REASON_CHARS, MAX_TEXT_CHARS, FeedbackStore
from ingest.pipeline import Ingestor
from settings import SAMPLE_DIR, Settings
from vectorstore.text import normalize

NASTY = [
    "",
    "   \n\t  ",
    "<script>alert('x')</script> thủ tục hành chính",
    "'; DROP TABLE chunks; -- cải cách",
    '" OR 1=1 -- ") UNION SELECT * FROM meta',
    "\x00\x01\x02\x1b[31m thủ tục \x7f",
    "🙂🔥" * 200,
    "Thủ tướng 总理 ﺭﺋﻴﺲ ﺍﻟﻮﺯﺭﺍﺀ премьер cải cách",
    unicodedata.normalize("NFD", "Thủ tướng yêu cầu chấm dứt tình trạng gì?"),
    "thủ tục " * 20_000,  # ~160k characters
    "\u202eRTL override\u200b\u200d zero width",
    "{{7*7}} ${jndi:ldap://x} %s%n",
    "[1] [2] [99] Ý kiến bạn đọc:",
]
TEXT = st.one_of(st.sampled_from(NASTY), st.text(max_size=400), st.text(alphabet=st.characters(), min_size=1000))
QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VIETNAMESE = set("ăâđêôơưáàảãạéèẻẽẹíìỉĩịóòỏõọúùủũụýỳỷỹỵ")


@pytest.fixture(scope="module")
def engine(tmp_path_factory, cache_dir, embedder):
    settings_ = Settings(data_dir=tmp_path_factory.mktemp("hostile"), cache_dir=cache_dir)
    eng = Engine(settings_, embedder=embedder)
    Ingestor(settings_, embedder=embedder, store=eng.store).run([SAMPLE_DIR])
    yield eng
    eng.close()


def told_in_vietnamese(exc: InputError) -> bool:
    return bool(set(str(exc).lower()) & VIETNAMESE)


@QUICK
@given(question=TEXT)
def test_ask_answers_or_says_why(engine: Engine, question: str) -> None:
    try:
        answer = engine.ask(question)
    except InputError as exc:
        assert told_in_vietnamese(exc), str(exc)
        return
    assert answer.answer.strip()
    assert len(answer.question) <= MAX_QUESTION_CHARS
    for c in answer.citations:
        assert is_valid(c, engine.store.get_document(c.doc_id).text)


@QUICK
@given(question=TEXT, k=st.integers(min_value=-5, max_value=10_000))
def test_retrieve_bounds_k_and_never_crashes(engine: Engine, question: str, k: int) -> None:
    try:
        hits = engine.retrieve(question, AskOptions(k=k))
    except InputError as exc:
        assert told_in_vietnamese(exc), str(exc)
        return
    assert len(hits) <= 50


@QUICK
@given(phrase=TEXT, limit=st.integers(min_value=1, max_value=50))
def test_wording_lookup_never_crashes(engine: Engine, phrase: str, limit: int) -> None:
    matches = engine.lookup_wording(phrase, limit=limit)
    assert len(matches) <= limit
    for m in matches:
        doc = engine.store.get_document(m.doc_id)
        assert doc is not None and doc.text[m.char_start : m.char_end] == m.text


@QUICK
@given(question=TEXT, answer=TEXT, reason=TEXT)
def test_feedback_keeps_what_it_is_given_within_its_limits(tmp_path, question: str, answer: str, reason: str) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    fid = store.add(question=question, answer=answer, useful=False, reason=reason)
    record = store.get(fid)
    assert record is not None
    assert record.question == normalize(question).strip()[:MAX_TEXT_CHARS]  # kept, as NFC, within its limit
    record.question.encode("utf-8")  # storable and readable back, whatever came in (no lone surrogates)
    assert len(record.reason) <= MAX_REASON_CHARS and len(record.question) <= MAX_TEXT_CHARS
