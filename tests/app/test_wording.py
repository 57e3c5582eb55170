"""bot.wording: folding with offsets, paragraphs, exact/folded/near matches and the word diff."""

from __future__ import annotations

import pytest

from bot.wording import (
    FoldedText,
    best_wording,
    find_exact,
    find_folded,
    fold_with_offsets,
    paragraph_around,
    paragraph_spans,
    word_diff,
)
from tests.app.fixtures import cache_dir, sample_text
from vectorstore.text import fold, normalize, sentence_spans

TEXT = normalize(
    "Thủ tướng nhấn mạnh phải chấm dứt tình trạng không dám làm.\n\n"
    "Cải cách thủ tục hành chính (TTHC) là ưu tiên. Đẩy mạnh   chuyển đổi số!\n\n"
    "  Đoạn cuối.  "
)


# --- folding --------------------------------------------------------------------------------------------


def test_fold_of_nfc_vietnamese_keeps_length_and_uses_identity_map() -> None:
    folded = fold_with_offsets(TEXT)
    assert folded.starts is None
    assert folded.folded == fold(TEXT)
    assert len(folded.folded) == len(TEXT)


@pytest.mark.parametrize(
    "text",
    [
        "Hàn Quốc 한국 thủ tục",  # Hangul syllables decompose into several jamo
        "e\u0301\u0302 thủ tục",  # a stray combining mark folds to nothing
        "ﬁle İstanbul thủ tục",  # a ligature (NFD keeps it) and a capital with a dot whose lower() has 2 chars
        "Ǆ\u0323 thủ tục",
    ],
)
def test_folded_offsets_map_back_to_the_original_in_rare_cases(text: str) -> None:
    folded = fold_with_offsets(text)
    spans = find_folded(folded, "thu tuc")
    assert spans, folded
    start, end = spans[-1]
    assert text[start:end] == "thủ tục"


def test_folded_text_maps_every_span_back() -> None:
    text = "한 Quyết định Đề án 06"
    folded = fold_with_offsets(text)
    assert isinstance(folded, FoldedText) and folded.starts is not None
    ((start, end),) = find_folded(folded, "de an 06")
    assert text[start:end] == "Đề án 06"


# --- paragraphs and sentences ----------------------------------------------------------------------------


def test_paragraph_spans_and_numbers() -> None:
    spans = paragraph_spans(TEXT)
    assert [TEXT[s:e] for s, e in spans] == [
        "Thủ tướng nhấn mạnh phải chấm dứt tình trạng không dám làm.",
        "Cải cách thủ tục hành chính (TTHC) là ưu tiên. Đẩy mạnh   chuyển đổi số!",
        "Đoạn cuối.",
    ]
    at = TEXT.index("thủ tục")
    start, end, number = paragraph_around(TEXT, at, at + 7)
    assert number == 2 and TEXT[start:end].startswith("Cải cách")


def test_paragraph_around_a_span_crossing_a_break_takes_both() -> None:
    at = TEXT.index("làm.")
    start, end, number = paragraph_around(TEXT, at, TEXT.index("Cải cách") + 3)
    assert number == 1
    assert TEXT[start:end].startswith("Thủ tướng") and TEXT[start:end].endswith("chuyển đổi số!")


def test_sentence_spans() -> None:
    start, end = paragraph_spans(TEXT)[1]
    assert [TEXT[s:e] for s, e in sentence_spans(TEXT, start, end)] == [
        "Cải cách thủ tục hành chính (TTHC) là ưu tiên.",
        "Đẩy mạnh   chuyển đổi số!",
    ]


# --- exact and near ------------------------------------------------------------------------------------


def test_exact_match_is_whitespace_flexible_and_whole_word() -> None:
    spans = find_exact(TEXT, "Đẩy mạnh chuyển\nđổi số")
    assert [TEXT[s:e] for s, e in spans] == ["Đẩy mạnh   chuyển đổi số"]
    assert find_exact(TEXT, "ủ tướng") == []  # inside a word
    assert find_exact(TEXT, "thủ tục hành chính") and not find_exact(TEXT, "Thủ Tục Hành Chính")


def test_folded_match_ignores_case_and_diacritics() -> None:
    folded = fold_with_offsets(TEXT)
    spans = find_folded(folded, "THU TUC HANH CHINH")
    assert [TEXT[s:e] for s, e in spans] == ["thủ tục hành chính"]


def test_best_wording_finds_the_nearest_sentence_window() -> None:
    start, end = paragraph_spans(TEXT)[1]
    near = best_wording("cai cach thu tuc hanh chinh la uu tien hang dau", TEXT, start, end)
    assert near is not None and near.score > 0.7
    assert TEXT[near.start : near.end].startswith("Cải cách thủ tục hành chính")


def test_word_diff_without_diacritics_shows_only_real_differences() -> None:
    ops = word_diff("cham dut tinh trang so trach nhiem", "chấm dứt tình trạng sợ trách nhiệm, không dám làm")
    assert [(o.op, o.typed, o.document) for o in ops] == [
        ("equal", "cham dut tinh trang so trach nhiem", "chấm dứt tình trạng sợ trách nhiệm,"),
        ("insert", "", "không dám làm"),
    ]


def test_word_diff_with_diacritics_counts_a_wrong_diacritic() -> None:
    ops = word_diff("Cải cách thủ tuc hành chính", "Cải cách thủ tục hành chính")
    assert ("replace", "tuc", "tục") in [(o.op, o.typed, o.document) for o in ops]
    ops = word_diff("đẩy mạnh số hóa", "Đẩy mạnh chuyển đổi số")
    assert [o.op for o in ops] == ["equal", "insert", "equal", "delete"]


# --- lookup over the sample ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, embedder):
    from bot.engine import Engine
    from ingest.pipeline import Ingestor
    from settings import SAMPLE_DIR, Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("wording"), cache_dir=cache_dir())
    eng = Engine(settings, embedder=embedder)
    Ingestor(settings, embedder=embedder, store=eng.store).run([SAMPLE_DIR])
    yield eng
    eng.close()


def test_lookup_without_diacritics_finds_the_verbatim_wording(engine) -> None:
    matches = engine.lookup_wording("cham dut tinh trang khong dam lam", limit=5)
    assert matches
    first = matches[0]
    assert first.kind == "folded"
    assert first.text == "chấm dứt tình trạng không dám làm"
    doc = engine.store.get_document(first.doc_id)
    assert doc.text[first.char_start : first.char_end] == first.text
    assert doc.text[first.paragraph_start : first.paragraph_end] == first.paragraph
    assert first.text in first.paragraph and first.paragraph_no >= 1
    assert all(o.op == "equal" for o in first.diff)  # typed without diacritics: no difference to show
    assert first.text in normalize(sample_text())


def test_lookup_exact_first_then_near(engine) -> None:
    matches = engine.lookup_wording("chấm dứt tình trạng không dám làm", limit=6)
    kinds = [m.kind for m in matches]
    assert kinds[0] == "exact"
    assert kinds == sorted(kinds, key=["exact", "folded", "near"].index)
    near = [m for m in matches if m.kind == "near"]
    assert near and all(0.4 <= m.score < 1.0 + 1e-9 for m in near)
    for m in matches:  # every span really is the document text at those offsets
        assert engine.store.get_document(m.doc_id).text[m.char_start : m.char_end] == m.text


def test_lookup_near_wording_shows_the_difference(engine) -> None:
    matches = engine.lookup_wording("Thủ tướng đòi hỏi chấm dứt tình trạng sợ trách nhiệm và không dám làm", limit=3)
    assert matches and matches[0].kind == "near"
    ops = {o.op for o in matches[0].diff}
    assert ops & {"delete", "replace", "insert"}
    assert matches[0].to_dict()["diff"][0]["op"] in {"equal", "delete", "insert", "replace"}


def test_lookup_edge_cases(engine) -> None:
    assert engine.lookup_wording("", limit=5) == []
    assert engine.lookup_wording("  ...  ", limit=5) == []
    assert engine.lookup_wording("thủ tục", limit=0) == []
    assert len(engine.lookup_wording("thủ tướng", limit=2)) == 2


def test_wording_documents_come_from_the_shared_snapshot_and_reload_after_a_change(engine, tmp_path) -> None:
    from ingest.pipeline import Ingestor

    snapshot = engine.snapshot()
    assert snapshot.documents is engine.snapshot().documents  # one copy, shared, while the store does not change
    assert set(snapshot.documents) == {d["doc_id"] for d in engine.store.list_documents()}
    assert [d.doc_id for d in snapshot.documents_with("khong dam lam")] == [
        d.doc_id for d in snapshot.documents.values() if "khong dam lam" in d.folded.folded
    ]
    extra = tmp_path / "tu_ngu_moi.txt"
    extra.write_text("Tiêu đề\n\nMột cụm từ hiếm gặp: xe điện bay lượn.", encoding="utf-8")
    Ingestor(engine.settings, embedder=engine.embedder, store=engine.store).run([extra])
    assert [m.doc_id for m in engine.lookup_wording("xe dien bay luon", limit=3)][:1] == ["tu_ngu_moi"]
    engine.store.delete_documents(["tu_ngu_moi"])
    assert all(m.doc_id != "tu_ngu_moi" for m in engine.lookup_wording("xe dien bay luon", limit=3))
