"""The reader's sentence vectors: embedded once at ingest beside the chunks, kept in step with them, read at
question time (real e5 model, real Chroma and SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ingest.pipeline import Ingestor
from settings import Settings
from tests.conftest import SAMPLE_FILE
from vectorstore.sentences import SentenceVectors, fill, sentence_key
from vectorstore.store import Store
from vectorstore.text import reading_units


def units_of(store: Store) -> set[str]:
    return {sentence_key(u) for text in store.chunk_texts() for u in reading_units(text)}


def write_article(folder: Path, text: str) -> Path:
    path = folder / "article.jsonl"
    path.write_text(json.dumps({"id": "a1", "title": "Thủ tục", "text": text}, ensure_ascii=False) + "\n")
    return path


def test_ingest_embeds_every_sentence_once_and_a_second_run_embeds_none(settings: Settings, embedder) -> None:
    ingestor = Ingestor(settings, embedder=embedder)
    first = ingestor.run([SAMPLE_FILE])
    store = ingestor.store
    assert first.sentences_embedded > 20
    assert store.sentence_keys() == units_of(store)  # one vector per reading unit, none missing, none extra
    again = Ingestor(settings, embedder=embedder, store=store).run([SAMPLE_FILE])
    assert again.sentences_embedded == 0
    assert "Không có thay đổi" in again.render()


def test_stored_vectors_are_the_models_passage_vectors(settings: Settings, embedder) -> None:
    ingestor = Ingestor(settings, embedder=embedder)
    ingestor.run([SAMPLE_FILE])
    unit = reading_units(ingestor.store.chunk_texts()[0])[0]
    stored = ingestor.store.sentence_vectors([sentence_key(unit)])[sentence_key(unit)]
    assert np.allclose(stored, embedder.embed_passages([unit])[0], atol=2e-3)  # kept as float16


def test_a_changed_document_drops_the_vectors_of_sentences_it_no_longer_holds(
    settings: Settings, embedder, tmp_path: Path
) -> None:
    source = write_article(tmp_path, "Thủ tục cấp lại thẻ căn cước mất bảy ngày làm việc. Lệ phí là 70.000 đồng.")
    ingestor = Ingestor(settings, embedder=embedder)
    ingestor.run([source])
    store = ingestor.store
    old = sentence_key("Lệ phí là 70.000 đồng.")
    assert old in store.sentence_keys()
    write_article(tmp_path, "Thủ tục cấp lại thẻ căn cước mất bảy ngày làm việc. Người dân không phải nộp lệ phí.")
    summary = Ingestor(settings, embedder=embedder, store=store).run([source])
    assert summary.sentences_embedded == 1  # only the new sentence: the unchanged one keeps its vector
    assert old not in store.sentence_keys()
    assert store.sentence_keys() == units_of(store)


def test_a_store_built_before_sentence_vectors_is_filled_and_reads_meanwhile(settings: Settings, embedder) -> None:
    ingestor = Ingestor(settings, embedder=embedder)
    ingestor.run([SAMPLE_FILE])
    store = ingestor.store
    store.put_sentence_vectors({}, store.sentence_keys())  # as an older version left it
    texts = reading_units(store.chunk_texts()[0])[:3]
    query = embedder.embed_query("ý kiến của người dân về cải cách hành chính")
    on_the_fly = SentenceVectors(store, embedder).similarities(query, texts)  # embedded now, not stored
    assert store.sentence_keys() == set()
    added, dropped = fill(store, lambda t: embedder.embed_passages(list(t)))
    assert added == len(units_of(store)) and dropped == 0
    stored = SentenceVectors(store, embedder).similarities(query, texts)
    assert np.allclose(on_the_fly, stored, atol=5e-3)


def test_an_ingest_embeds_the_sentences_of_what_it_read_not_the_whole_store(
    settings: Settings, embedder, tmp_path: Path
) -> None:
    ingestor = Ingestor(settings, embedder=embedder)
    ingestor.run([SAMPLE_FILE])
    store = ingestor.store
    store.put_sentence_vectors({}, store.sentence_keys())  # a store built before sentence vectors
    upload = Ingestor(settings, embedder=embedder, store=store).run([write_article(tmp_path, "Một câu có năm từ.")])
    assert upload.sentences_embedded == 1  # one upload never embeds the rest of the store
    again = Ingestor(settings, embedder=embedder, store=store).run([SAMPLE_FILE])  # re-ingesting the corpus fills it
    assert again.documents_unchanged > 0 and again.sentences_embedded > 20
    assert store.sentence_keys() == units_of(store)


def test_reset_drops_the_sentence_vectors(settings: Settings, embedder) -> None:
    ingestor = Ingestor(settings, embedder=embedder)
    ingestor.run([SAMPLE_FILE])
    assert ingestor.store.sentence_keys()
    ingestor.store.reset()
    assert ingestor.store.sentence_keys() == set()


def test_the_fill_command_fills_a_store_folder(settings: Settings, embedder, capsys, monkeypatch) -> None:
    from vectorstore.__main__ import main

    ingestor = Ingestor(settings, embedder=embedder)
    ingestor.run([SAMPLE_FILE])
    expected = len(units_of(ingestor.store))
    ingestor.store.put_sentence_vectors({}, ingestor.store.sentence_keys())
    ingestor.store.close()
    monkeypatch.setenv("CCHC_CACHE_DIR", str(settings.cache_dir))
    assert main(["fill-sentences", "--store", str(settings.store_path)]) == 0
    assert f"nhúng thêm {expected}" in capsys.readouterr().out
