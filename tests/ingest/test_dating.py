"""Dates at ingest: each source of a document's date in its order of trust, unknown kept unknown, legal texts'
numbers, entry into force and replacements; and a store re-dated without re-embedding anything."""

from __future__ import annotations

import json
from pathlib import Path

import chromadb
from sqlalchemy import create_engine, text

from ingest.dating import date_document, date_documents
from ingest.loaders import load_file
from ingest.pipeline import Ingestor
from vectorstore.records import Document, Timeline
from vectorstore.store import Store


def doc(text: str, title: str = "Tin cải cách hành chính", kind: str = "article", **metadata: object) -> Document:
    return Document("d1", title, text, kind, source="https://example.vn/tin", metadata=dict(metadata))


def test_pháp_điển_citation_line_gives_number_issue_and_entry_into_force() -> None:
    citation = ("(Điều 1 Nghị định số 23/2015/NĐ-CP Về cấp bản sao từ sổ gốc ngày 16/02/2015 của Chính phủ, "
                "có hiệu lực thi hành kể từ ngày 10/04/2015 )")  # fmt: skip
    t = date_document(
        doc("Nghị định này quy định về thẩm quyền cấp bản sao.", kind="law", **{"source.citation": citation})
    )
    assert t == Timeline("2015-02-16", "citation", "2015-04-10", "23/2015/NĐ-CP")


def test_an_explicit_field_beats_the_text() -> None:
    t = date_document(doc("Ngày 9/6/2025, Chính phủ ban hành Nghị định số 118/2025/NĐ-CP.", date="2025-06-10"))
    assert (t.date, t.date_from) == ("2025-06-10", "metadata")
    assert date_document(doc("Không có ngày.", date="2024")).date == "2024"  # a year stays a year: never refined


def test_the_texts_own_opening_lead_or_dateline() -> None:
    assert date_document(doc("Ngày 9/6/2025, Chính phủ ban hành Nghị định mới.")).date == "2025-06-09"
    assert date_document(doc("Sáng 27/11/2023, Quốc hội đã chính thức thông qua Luật Căn cước.")).date == "2023-11-27"
    assert date_document(doc("UBND TỈNH X\n\nHà Nội, ngày 10 tháng 6 năm 2025\n\nQUYẾT ĐỊNH")).date == "2025-06-10"
    assert date_document(doc("GOVERNMENT\n\nHanoi, April 23, 2018\n\nDECREE")).date == "2018-04-23"
    # "yesterday, 19/4/2023": the article was written the day after
    assert date_document(doc("Hôm qua 19/4/2023, Thủ tướng chủ trì phiên họp.")).date == "2023-04-20"


def test_a_legal_pages_header_table() -> None:
    header = (
        "Số hiệu: | 61/2018/NĐ-CP | Loại văn bản: | Nghị định |\n"
        "Ngày ban hành: | 23/04/2018 | Ngày hiệu lực: | 21/06/2018 |"
    )
    t = date_document(
        doc(header + "\nChính phủ vừa ban hành Nghị định 61/2018/NĐ-CP.", title="Nghị định 61/2018/NĐ-CP")
    )
    assert (t.date, t.effective, t.number) == ("2018-04-23", "2018-06-21", "61/2018/NĐ-CP")


def test_unknown_stays_unknown() -> None:
    body = ("Việc sắp xếp không chỉ là điều chỉnh địa giới hành chính mà còn là điều chỉnh không gian kinh tế. " * 12
            + "\n\nTheo kế hoạch, đến ngày 15/8/2025 các địa phương hoàn thành việc bàn giao.")  # fmt: skip
    assert date_document(doc(body)) == Timeline()  # a date deep in the text is an event, not the document's date
    assert date_document(doc("Đến ngày 1/7/2025, bộ máy mới vận hành.")).date is None  # not a lead: "Đến ngày"


def test_a_dated_url_is_the_last_resort() -> None:
    dated = Document("d", "Tin", "Không có ngày trong bài.", "article", source="https://bao.vn/2024/04/17/tin.html")
    assert (date_document(dated).date, date_document(dated).date_from) == ("2024-04-17", "url")


def test_what_a_text_replaces() -> None:
    law = doc("Nghị định này thay thế Nghị định số 61/2018/NĐ-CP và Nghị định số 107/2021/NĐ-CP.",
              title="Nghị định 118/2025/NĐ-CP về một cửa", kind="law")  # fmt: skip
    assert date_document(law).replaces == (("118/2025/NĐ-CP", "61/2018/NĐ-CP"), ("118/2025/NĐ-CP", "107/2021/NĐ-CP"))
    news = doc(
        "Ngày 30/6/2025, Chính phủ ban hành Nghị định số 170/2025/NĐ-CP, thay thế cho Nghị định số 138/2020/NĐ-CP."
    )
    assert date_document(news).replaces == (("170/2025/NĐ-CP", "138/2020/NĐ-CP"),)


def test_an_issue_date_stated_by_another_article_of_the_same_text() -> None:
    a = Document("a", "Điều 1", "Phạm vi điều chỉnh.", "law", "x",
                 metadata={"source.citation": "(Điều 1 Nghị định số 13/2018/NĐ-CP ngày 23/01/2018 của Chính phủ, "
                                              "có hiệu lực thi hành kể từ ngày 01/07/2018)"})  # fmt: skip
    b = Document("b", "Điều 5", "Đối tượng áp dụng.", "law", "x",
                 metadata={"source.citation": "(Điều 5 Nghị định số 13/2018/NĐ-CP, có hiệu lực thi hành kể từ "
                                              "ngày 01/07/2018)"})  # fmt: skip
    dated = date_documents([a, b])
    assert (dated["a"].date, dated["a"].date_from) == ("2018-01-23", "citation")
    assert (dated["b"].date, dated["b"].date_from) == ("2018-01-23", "corpus")  # where it came from, said
    assert date_document(b).date is None  # alone, b does not say


def test_a_date_that_cannot_be_the_texts_own_issue_date_is_not_taken_for_it() -> None:
    """Pháp điển: a citation line naming the text it guides ("… hướng dẫn Nghị định số 23/2015/NĐ-CP ngày
    16/02/2015 …" in Thông tư 01/2020/TT-BTP), or an issue date after the entry into force, is not the text's own
    issue date (127 of the 2,774 articles were shown such a date)."""
    guided = Document("g", "Điều 1", "Phạm vi điều chỉnh.", "law", "x",
                      metadata={"source.citation": "(Điều 1 Thông tư số 01/2020/TT-BTP Hướng dẫn Nghị định số "
                                                   "23/2015/NĐ-CP ngày 16/02/2015 của Chính phủ, có hiệu lực thi hành "
                                                   "kể từ ngày 20/04/2020)"})  # fmt: skip
    t = date_document(guided)
    assert (t.date, t.effective, t.number) == (None, "2020-04-20", "01/2020/TT-BTP")
    later = Document("l", "Điều 2", "Giải thích từ ngữ.", "law", "x",
                     metadata={"source.citation": "(Điều 2 Nghị định số 23/2015/NĐ-CP ngày 29/12/2015 của Chính phủ, "
                                                  "có hiệu lực thi hành kể từ ngày 10/04/2015)"})  # fmt: skip
    assert date_document(later).date is None
    other = Document("o", "Điều 3", "Áp dụng.", "law", "x",
                     metadata={"source.citation": "(Điều 3 Thông tư số 01/2020/TT-BTP, có hiệu lực thi hành kể từ "
                                                  "ngày 20/04/2020)"})  # fmt: skip
    assert date_documents([guided, other])["o"].date is None  # nor is it passed on to another article


def test_html_published_time_is_read(tmp_path: Path) -> None:
    page = tmp_path / "tin.html"
    page.write_text(
        "<html><head><title>Tin CCHC</title>"
        '<meta property="article:published_time" content="2025-06-10T08:00:00+07:00">'
        "</head><body><article><h1>Tin CCHC</h1><p>Chính phủ ban hành nghị định mới về một cửa, với nhiều điểm mới "
        "quan trọng cho người dân và doanh nghiệp.</p></article></body></html>",
        encoding="utf-8",
    )
    (document,) = load_file(page).documents
    assert (date_document(document).date, date_document(document).date_from) == ("2025-06-10", "metadata")


def test_reingest_of_an_undated_store_adds_dates_without_reembedding(settings, embedder, tmp_path: Path) -> None:
    corpus = tmp_path / "tin.jsonl"
    rows = [
        {"id": "a", "title": "Nghị định 118/2025/NĐ-CP", "kind": "law", "date": "2025-06-09",
         "text": "Nghị định này thay thế Nghị định số 61/2018/NĐ-CP về cơ chế một cửa."},
        {"id": "b", "title": "Tin một cửa",
         "text": "Ngày 10/6/2025, các bộ triển khai Bộ phận Một cửa theo quy định mới."},
    ]  # fmt: skip
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    Ingestor(settings, embedder=embedder).run([corpus])
    store = Store(settings, embedder.name)
    assert store.timelines()["b"].date == "2025-06-10"
    # make it a store of before this round: no dates table rows, vectors described by schema 2, no dates on them
    db = create_engine(settings.documents_url)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM timelines"))
        conn.execute(text("UPDATE meta SET value = '2' WHERE key = 'vector_schema'"))
    collection = chromadb.PersistentClient(str(settings.store_path / "chroma")).get_collection(settings.collection)
    ids = collection.get(include=[])["ids"]
    collection.update(ids=ids, metadatas=[{"date": "", "date_key": 0} for _ in ids])
    store.close()

    class Counting:  # the real model, with its calls counted
        name, dim, max_tokens = embedder.name, embedder.dim, embedder.max_tokens
        passages = 0

        def embed_passages(self, texts: list[str], batch_size: int = 16):
            Counting.passages += len(texts)
            return embedder.embed_passages(texts, batch_size)

        def __getattr__(self, name: str):
            return getattr(embedder, name)

    summary = Ingestor(settings, embedder=Counting()).run([corpus])  # type: ignore[arg-type]
    assert Counting.passages == 0 and summary.chunks_added == 0
    assert summary.documents_dated == 2
    store = Store(settings, embedder.name)
    assert store.timelines()["a"] == Timeline("2025-06-09", "metadata", None, "118/2025/NĐ-CP",
                                              (("118/2025/NĐ-CP", "61/2018/NĐ-CP"),))  # fmt: skip
    metadata = collection.get(where={"doc_id": "b"}, include=["metadatas"])["metadatas"]
    assert metadata and all(m["date"] == "2025-06-10" and m["date_key"] == 20250610 for m in metadata)
    again = Ingestor(settings, embedder=embedder).run([corpus])
    assert again.documents_dated == 0 and not again.changed
