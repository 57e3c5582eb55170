"""One store shared by replicas: PostgreSQL for documents, chunks and feedback, the Chroma server for vectors
(real servers on loopback). The same code as the embedded store, the same content; writers serialised by the
database's lock; every replica's snapshot follows the shared revision; the collection readable by Chroma's own
client and by LangChain's Chroma integration; a database outage survived like a Chroma outage."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import chromadb
import numpy as np
import pytest

from bot.engine import Engine
from bot.feedback import FeedbackStore
from ingest.pipeline import Ingestor
from settings import SAMPLE_DIR, Settings
from tests.conftest import SAMPLE_ID
from tests.ingest.test_pipeline import store_snapshot
from tests.scale.conftest import replica
from tests.servers import ChromaServer, PostgresServer
from vectorstore.store import Store, StoreError

NEW_DOC = "Thông báo mới\n\nCổng dịch vụ công quốc gia tiếp nhận hồ sơ cấp đổi giấy phép lái xe trực tuyến."


def jsonl(path: Path, rows: int) -> Path:
    lines = [
        {"id": f"d-{i:02d}", "title": f"Điều {i}. Thủ tục số {i}", "text": f"Hồ sơ thủ tục số {i} gồm tờ khai."}
        for i in range(rows)
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines), encoding="utf-8")
    return path


def test_a_shared_store_holds_what_an_embedded_one_holds(shared: Settings, tmp_path: Path, embedder) -> None:
    corpus = jsonl(tmp_path / "van_ban.jsonl", 12)
    first = Ingestor(shared, embedder=embedder).run([SAMPLE_DIR, corpus])
    assert first.failures == [] and first.chunks_added > 0
    again = Ingestor(shared, embedder=embedder).run([SAMPLE_DIR, corpus])  # idempotent: nothing rewritten
    assert again.chunks_added == again.chunks_deleted == again.documents_updated == 0
    embedded = Settings(data_dir=tmp_path / "embedded", cache_dir=shared.cache_dir)
    Ingestor(embedded, embedder=embedder).run([SAMPLE_DIR, corpus])
    a = store_snapshot(Store(shared, embedder.name))
    b = store_snapshot(Store(embedded, embedder.name))
    assert a == b
    assert a["vectors"] == sorted(c[0] for c in a["chunks"])


def test_writers_of_two_replicas_never_interleave(shared: Settings, embedder) -> None:
    a, b = Store(shared, embedder.name), Store(shared, embedder.name)
    b_writing = threading.Event()

    def write_through_b() -> None:
        with b.writing():
            b_writing.set()

    with a.writing():
        other = threading.Thread(target=write_through_b)
        other.start()
        assert not b_writing.wait(1.0), "replica B took the writer lock while replica A held it"
    assert b_writing.wait(10), "replica B never got the lock after A released it"
    other.join()


def test_every_replica_follows_the_shared_revision(shared: Settings, tmp_path: Path, cache_dir, embedder) -> None:
    Ingestor(shared, embedder=embedder).run([SAMPLE_DIR])
    b = Engine(replica(tmp_path / "replica-b", cache_dir, shared.database_url.get_secret_value(), _chroma(shared)),
               embedder=embedder)  # fmt: skip
    question = "Cổng dịch vụ công tiếp nhận hồ sơ cấp đổi giấy phép lái xe không?"
    assert not any(h.chunk.doc_id == "thong_bao" for h in b.retrieve(question))
    new = tmp_path / "thong_bao.txt"
    new.write_text(NEW_DOC, encoding="utf-8")
    Ingestor(shared, embedder=embedder).run([new])  # through replica A
    hits = b.retrieve(question)
    assert hits and hits[0].chunk.doc_id == "thong_bao"
    answer = b.ask(question)
    assert any(c.doc_id == "thong_bao" for c in answer.citations)
    Store(shared, embedder.name).delete_documents(["thong_bao"])  # through replica A again
    assert all(h.chunk.doc_id != "thong_bao" for h in b.retrieve(question))
    assert all(c.doc_id != "thong_bao" for c in b.ask(question).citations)


def test_the_collection_describes_itself(shared: Settings, embedder) -> None:
    from langchain_chroma import Chroma

    Ingestor(shared, embedder=embedder).run([SAMPLE_DIR])
    client = chromadb.HttpClient(host=shared.chroma_host or "", port=shared.chroma_port)
    stored = Store(shared, embedder.name)
    by_id = {c.chunk_id: c for c in stored.all_chunks()}
    raw = client.get_collection(shared.collection).get(include=["documents", "metadatas"])
    assert sorted(raw["ids"]) == sorted(by_id)
    for cid, text, meta in zip(raw["ids"], raw["documents"] or [], raw["metadatas"] or []):
        chunk = by_id[cid]
        assert text == chunk.text
        assert (meta["doc_id"], meta["title"], meta["kind"], meta["source"]) == (
            chunk.doc_id, chunk.title, chunk.kind, chunk.source)  # fmt: skip
        assert (meta["char_start"], meta["char_end"], meta["paragraph"]) == (
            chunk.char_start, chunk.char_end, chunk.paragraph)  # fmt: skip
        assert meta.get("comment_no") == chunk.comment_no
    vectorstore = Chroma(client=client, collection_name=shared.collection, embedding_function=embedder.as_langchain())
    found = vectorstore.similarity_search("Thủ tướng yêu cầu chấm dứt tình trạng gì?", k=3, filter={"kind": "speech"})
    assert len(found) == 3
    for doc in found:
        assert doc.metadata["doc_id"] == SAMPLE_ID
        source = stored.get_document(SAMPLE_ID)
        assert source is not None
        assert source.text[doc.metadata["char_start"] : doc.metadata["char_end"]] == doc.page_content


def test_vectors_written_before_they_carried_text_are_described(shared: Settings, embedder) -> None:
    Ingestor(shared, embedder=embedder).run([SAMPLE_DIR])
    store = Store(shared, embedder.name)
    ids = sorted(store.chunk_ids())
    vectors = store.vectors(ids)  # as schema 1 stored them: no text, no display metadata
    store.collection.upsert(
        ids=ids, embeddings=vectors, documents=[""] * len(ids), metadatas=[{"doc_id": "?"}] * len(ids)
    )
    with store.engine.begin() as db:
        db.exec_driver_sql("DELETE FROM meta WHERE key = 'vector_schema'")
    Ingestor(shared, embedder=embedder, store=store).run([])  # every ingest reconciles first
    got = store.collection.get(ids=ids[:1], include=["documents", "metadatas"])
    assert got["documents"] == [next(c.text for c in store.all_chunks() if c.chunk_id == ids[0])]
    assert got["metadatas"][0]["doc_id"] != "?"
    assert np.allclose(store.vectors(ids), vectors)  # not re-embedded, not changed


def test_feedback_is_shared_by_the_replicas(shared: Settings, tmp_path: Path) -> None:
    on_a = FeedbackStore.from_settings(shared)
    on_b = FeedbackStore.from_settings(
        replica(tmp_path / "b", shared.cache_path, shared.documents_url, _chroma(shared))
    )
    fid = on_a.add(question="Hỏi", answer="Đáp", useful=False, reason="Thiếu nguồn")
    assert on_b.update(fid, reason="Sai trích dẫn")
    assert on_a.get(fid) is not None and on_a.get(fid).reason == "Sai trích dẫn"  # type: ignore[union-attr]
    assert on_b.counts() == {"total": 1, "useful": 0, "not_useful": 1}
    assert not (tmp_path / "replica-a" / "feedback").exists()  # nothing written beside the replica


def test_a_database_outage_is_survived(tmp_path: Path, cache_dir: Path, chroma: ChromaServer, embedder) -> None:
    own = PostgresServer()  # this test stops its server: not the session's
    own.start()
    try:
        settings = replica(tmp_path / "a", cache_dir, own.url, chroma)
        engine = Engine(settings, embedder=embedder)
        ingest = Ingestor(settings, embedder=embedder, store=engine.store)
        ingest.run([SAMPLE_DIR])
        question = "Thủ tướng yêu cầu chấm dứt tình trạng gì?"
        before = engine.ask(question)
        own.stop()
        assert engine.ask(question).answer == before.answer  # answered from the snapshot
        new = tmp_path / "moi.txt"
        new.write_text(NEW_DOC, encoding="utf-8")
        summary = ingest.run([new])
        assert summary.failures and "Cơ sở dữ liệu dùng chung không phản hồi" in summary.failures[0].reason
        with pytest.raises(StoreError, match="không phản hồi"):
            engine.store.stats()
        own.start()
        deadline = time.time() + 30
        while True:  # the pool reconnects by itself
            try:
                assert ingest.run([new]).failures == []
                break
            except AssertionError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        assert engine.retrieve("cấp đổi giấy phép lái xe trực tuyến")[0].chunk.doc_id == "moi"
    finally:
        own.remove()


def _chroma(settings: Settings) -> ChromaServer:
    """A handle on the session's Chroma server, rebuilt from settings (for ``replica``)."""
    handle = ChromaServer.__new__(ChromaServer)
    handle.port = settings.chroma_port
    return handle


def test_an_embedded_store_is_copied_into_the_shared_one_without_re_embedding(
    shared: Settings, tmp_path: Path, embedder
) -> None:
    import os
    import subprocess
    import sys

    from settings import PROJECT_DIR

    embedded = Settings(data_dir=tmp_path / "embedded", cache_dir=shared.cache_dir)
    Ingestor(embedded, embedder=embedder).run([SAMPLE_DIR, jsonl(tmp_path / "van_ban.jsonl", 5)])
    env = {
        **os.environ,
        "CCHC_DATABASE_URL": shared.documents_url,
        "CCHC_CHROMA_HOST": "127.0.0.1",
        "CCHC_CHROMA_PORT": str(shared.chroma_port),
        "CCHC_COLLECTION": shared.collection,
        "CCHC_CACHE_DIR": str(shared.cache_path),
        "CCHC_DATA_DIR": str(tmp_path / "replica"),
    }
    command = [sys.executable, "-m", "vectorstore", "copy-from", str(embedded.store_path)]
    done = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Đã chép" in done.stdout
    source, copy = Store(embedded, embedder.name), Store(shared, embedder.name)
    assert store_snapshot(copy) == store_snapshot(source)
    ids = sorted(copy.chunk_ids())
    assert np.allclose(copy.vectors(ids), source.vectors(ids), atol=1e-6)  # copied, not re-embedded
    keys = sorted(source.sentence_keys())
    assert keys and sorted(copy.sentence_keys()) == keys  # the reader's sentence vectors too
    first = keys[0]
    assert np.array_equal(copy.sentence_vectors([first])[first], source.sentence_vectors([first])[first])
    assert copy.generation() > 0
    got = copy.collection.get(ids=ids[:1], include=["documents"])
    assert got["documents"] == [next(c.text for c in copy.all_chunks() if c.chunk_id == ids[0])]
