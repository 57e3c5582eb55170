import itertools

from ingest.chunking import chunk_document, paragraphs, sentences
from vectorstore.records import Document


def count_words(texts):
    return [len(t.split()) for t in texts]


def make_doc(text: str) -> Document:
    return Document(doc_id="d1", title="Tiêu đề", text=text, kind="article", source="x")


def test_sentences_split_vietnamese_punctuation():
    text = "Câu một. Câu hai? Câu ba… Câu bốn; câu năm\nDòng mới"
    spans = sentences(text, paragraphs(text)[0])
    assert [text[s.start : s.end] for s in spans] == [
        "Câu một.",
        "Câu hai?",
        "Câu ba…",
        "Câu bốn;",
        "câu năm",
        "Dòng mới",
    ]


def test_a_word_of_one_marked_capital_ends_its_sentence_an_initial_does_not():
    text = "Tăng trưởng nhanh nhất Đông Nam Á. Đặc biệt, ông Phạm M. Chính chủ trì. Ông Nguyễn Văn Đ. Hùng dự."
    spans = sentences(text, paragraphs(text)[0])
    assert [text[s.start : s.end] for s in spans] == [
        "Tăng trưởng nhanh nhất Đông Nam Á.",
        "Đặc biệt, ông Phạm M. Chính chủ trì.",
        "Ông Nguyễn Văn Đ. Hùng dự.",
    ]


def test_chunks_are_exact_slices_within_budget_with_overlap():
    paras = [" ".join(f"Câu số {p}-{i} nói về thủ tục hành chính." for i in range(6)) for p in range(5)]
    text = "\n\n".join(paras)
    chunks = chunk_document(make_doc(text), count_words, max_tokens=40, overlap_tokens=10, overhead_tokens=5)
    assert len(chunks) > 3
    for c in chunks:
        assert text[c.char_start : c.char_end] == c.text
        assert len(c.text.split()) <= 35
    # overlap: consecutive chunks share text when in the same paragraph
    shared = [a for a, b in itertools.pairwise(chunks) if b.char_start < a.char_end]
    assert shared
    # coverage: every sentence appears in some chunk
    for p in paras:
        for sentence in p.split(". "):
            assert any(sentence.strip(".") in c.text for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_long_sentence_is_split_under_budget():
    text = ", ".join(f"mục {i} về đất đai" for i in range(200)) + "."
    chunks = chunk_document(make_doc(text), count_words, max_tokens=50, overlap_tokens=0)
    assert len(chunks) > 5
    assert all(len(c.text.split()) <= 50 for c in chunks)
    assert all(text[c.char_start : c.char_end] == c.text for c in chunks)


def test_chunk_ids_change_with_text_and_stay_stable_otherwise():
    a = chunk_document(make_doc("Một câu. Hai câu."), count_words, 100, 0)
    b = chunk_document(make_doc("Một câu. Hai câu."), count_words, 100, 0)
    c = chunk_document(make_doc("Một câu. Ba câu."), count_words, 100, 0)
    assert [x.chunk_id for x in a] == [x.chunk_id for x in b]
    assert a[0].chunk_id != c[0].chunk_id


def test_empty_document_has_no_chunks():
    assert chunk_document(make_doc("   \n\n "), count_words, 100, 10) == []
