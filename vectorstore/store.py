"""The store: Chroma (dense vectors) + SQLite (full document texts, chunk spans, sparse-index text).

SQLite is the source of truth; Chroma holds one vector per chunk id. Each thread reads through its own SQLite
connection (WAL: a reader never sees rows another thread has not committed); every write goes through one
re-entrant lock per store (``Store.writing()``), which an ingest holds from its first read to its last write.
Chunk ids contain a hash of
their text, so the two can always be reconciled: a write upserts vectors first, commits SQLite in
one transaction, then deletes superseded vectors. After a crash, :meth:`Store.reconcile` removes
vectors SQLite never committed and re-embeds committed chunks whose vectors are missing.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from settings import Settings
from vectorstore.records import Chunk, Document

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL,
    origin TEXT NOT NULL, comment_no INTEGER, parent_id TEXT, metadata TEXT NOT NULL,
    text TEXT NOT NULL, content_hash TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS documents_origin ON documents(origin);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    position INTEGER NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL,
    paragraph INTEGER NOT NULL, text TEXT NOT NULL, embed_text TEXT NOT NULL,
    segmented TEXT NOT NULL, folded TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
"""


class StoreError(RuntimeError):
    """A problem users must fix; ``str()`` is Vietnamese, ``detail`` is for logs."""

    def __init__(self, message_vi: str, detail: str = "") -> None:
        super().__init__(message_vi)
        self.detail = detail


@dataclass(frozen=True)
class IndexedChunk:
    """A chunk ready to store: the record, the text embedded for it, and its sparse forms."""

    chunk: Chunk
    kind: str
    embed_text: str
    segmented: str
    folded: str


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back for retrieval, with its document's display fields."""

    chunk_id: str
    doc_id: str
    text: str
    char_start: int
    char_end: int
    paragraph: int
    position: int
    title: str
    kind: str
    source: str
    comment_no: int | None
    segmented: str
    folded: str


Embed = Callable[[Sequence[str]], np.ndarray]


class Store:
    """Owns the Chroma collection and the SQLite document store of one store directory."""

    def __init__(self, settings: Settings, embedding_model: str) -> None:
        self.settings = settings
        self.path = settings.store_path
        self.embedding_model = embedding_model
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.RLock()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            with self.writing():
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.executescript(SCHEMA)
                self._check_model()
            self.client = _chroma_client(settings)
            self.collection = self._open_collection()
        except StoreError:
            raise
        except (sqlite3.Error, OSError, ValueError) as exc:
            self.close()
            raise _unusable(self.path, exc) from exc
        except Exception as exc:  # chromadb raises its own types for a damaged folder
            if settings.server_mode:
                raise
            self.close()
            raise _unusable(self.path, exc) from exc
        stored = (self.collection.metadata or {}).get("embedding_model")
        if stored and stored != embedding_model:
            raise _model_mismatch(stored, embedding_model)

    # --- connections and the write lock ---------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection (created on first use)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self.path / "documents.sqlite3", isolation_level=None, check_same_thread=False, timeout=30.0
            )
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store's write lock (re-entrant): ingests, deletes and resets never interleave."""
        with self._write_lock:
            yield

    def _open_collection(self) -> Any:
        return self.client.get_or_create_collection(
            self.settings.collection,
            embedding_function=None,  # we always pass embeddings; Chroma's default would download
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedding_model": self.embedding_model},
        )

    # --- model guard ---------------------------------------------------------------
    def _check_model(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key='embedding_model'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('embedding_model', ?)", (self.embedding_model,))
        elif row[0] != self.embedding_model:
            raise _model_mismatch(row[0], self.embedding_model)

    # --- reads -----------------------------------------------------------------------
    def document_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT doc_id, content_hash FROM documents"))

    def documents_by_origin(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for doc_id, origin in self.db.execute("SELECT doc_id, origin FROM documents"):
            out.setdefault(origin, []).append(doc_id)
        return out

    def chunk_ids(self, doc_ids: Iterable[str] | None = None) -> set[str]:
        if doc_ids is None:
            return {r[0] for r in self.db.execute("SELECT chunk_id FROM chunks")}
        ids: set[str] = set()
        for batch in _batched(list(doc_ids), 500):
            marks = ",".join("?" * len(batch))
            ids.update(r[0] for r in self.db.execute(f"SELECT chunk_id FROM chunks WHERE doc_id IN ({marks})", batch))
        return ids

    def get_document(self, doc_id: str) -> Document | None:
        row = self.db.execute(
            "SELECT doc_id, title, text, kind, source, origin, comment_no, parent_id, metadata "
            "FROM documents WHERE doc_id=?",
            (doc_id,),
        ).fetchone()
        if row is None:
            return None
        return _document(row)

    def all_documents(self) -> Iterator[Document]:
        """Every document, in id order (one query)."""
        rows = self.db.execute(
            "SELECT doc_id, title, text, kind, source, origin, comment_no, parent_id, metadata FROM documents "
            "ORDER BY doc_id"
        )
        for row in rows:
            yield _document(row)

    def list_documents(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT d.doc_id, d.title, d.kind, d.source, d.comment_no, d.parent_id, length(d.text), "
            "count(c.chunk_id) FROM documents d LEFT JOIN chunks c ON c.doc_id=d.doc_id "
            "GROUP BY d.doc_id ORDER BY d.doc_id"
        )
        keys = ("doc_id", "title", "kind", "source", "comment_no", "parent_id", "chars", "chunks")
        return [dict(zip(keys, r)) for r in rows]

    def all_chunks(self) -> list[StoredChunk]:
        """Every chunk with its document fields, in a stable order (doc, position)."""
        rows = self.db.execute(
            "SELECT c.chunk_id, c.doc_id, c.text, c.char_start, c.char_end, c.paragraph, c.position, "
            "d.title, d.kind, d.source, d.comment_no, c.segmented, c.folded "
            "FROM chunks c JOIN documents d ON d.doc_id=c.doc_id ORDER BY c.doc_id, c.position"
        )
        return [StoredChunk(*r) for r in rows]

    def stats(self) -> dict[str, Any]:
        docs, chunks = self.db.execute(
            "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks)"
        ).fetchone()
        kinds = dict(self.db.execute("SELECT kind, count(*) FROM documents GROUP BY kind"))
        try:
            with self._vector_calls():
                vectors: int | None = self.collection.count()
        except StoreError:
            vectors = None  # the Chroma server is not answering; SQLite still knows the rest
        return {
            "documents": docs,
            "chunks": chunks,
            "vectors": vectors,
            "kinds": kinds,
            "embedding_model": self.embedding_model,
            "generation": self.generation(),
        }

    def generation(self) -> int:
        """A counter bumped by every committed change (sparse indexes cache by it)."""
        row = self.db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def query_dense(
        self, embedding: np.ndarray, n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) of the ``n`` nearest vectors (``n`` at most the number stored)."""
        if n <= 0:
            return []
        with self._vector_calls():
            result = self.collection.query(
                query_embeddings=[embedding.tolist()], n_results=n, where=where or None, include=["distances"]
            )
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(result["ids"][0], result["distances"][0])]

    def vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of ``chunk_ids``, in that order (float32, one row each)."""
        found: dict[str, Any] = {}
        for batch in _batched(list(chunk_ids), 5000):
            with self._vector_calls():
                result = self.collection.get(ids=batch, include=["embeddings"])
            found.update(zip(result["ids"], result["embeddings"]))
        missing = [cid for cid in chunk_ids if cid not in found]
        if missing:
            raise StoreError(
                "Kho vector thiếu dữ liệu của một số đoạn; hãy chạy lại lệnh nạp dữ liệu.",
                detail=f"{len(missing)} chunk ids without vectors, e.g. {missing[:3]}",
            )
        return np.asarray([found[cid] for cid in chunk_ids], dtype=np.float32).reshape(len(chunk_ids), -1)

    # --- writes --------------------------------------------------------------------------
    def write(self, batch: Sequence[tuple[Document, str, list[IndexedChunk]]], embed: Embed) -> tuple[int, int]:
        """Replace each document (with its hash and chunks) atomically; return (added, deleted) chunks.

        Vectors are computed only for chunk ids not already stored (unchanged chunks are reused).
        """
        with self.writing():
            return self._write(batch, embed)

    def _write(self, batch: Sequence[tuple[Document, str, list[IndexedChunk]]], embed: Embed) -> tuple[int, int]:
        doc_ids = [doc.doc_id for doc, _, _ in batch]
        old_ids = self.chunk_ids(doc_ids)
        new_chunks = [ic for _, _, chunks in batch for ic in chunks]
        new_ids = {ic.chunk.chunk_id for ic in new_chunks}
        to_embed = [ic for ic in new_chunks if ic.chunk.chunk_id not in old_ids]
        if to_embed:
            vectors = embed([ic.embed_text for ic in to_embed])
            self._upsert_vectors(to_embed, vectors)
        try:
            with self._transaction():
                for doc, content_hash, chunks in batch:
                    self._replace_document(doc, content_hash, chunks)
                self._bump_generation()
        except BaseException:
            self._delete_vectors([ic.chunk.chunk_id for ic in to_embed])
            raise
        stale = sorted(old_ids - new_ids)
        self._delete_vectors(stale)
        return len(to_embed), len(stale)

    def delete_documents(self, doc_ids: Sequence[str]) -> int:
        """Remove documents and their chunks; return the number of chunks deleted."""
        with self.writing():
            ids = sorted(self.chunk_ids(doc_ids))
            with self._transaction() as db:
                for batch in _batched(list(doc_ids), 500):
                    db.execute(f"DELETE FROM documents WHERE doc_id IN ({','.join('?' * len(batch))})", batch)
                self._bump_generation()
            self._delete_vectors(ids)
            return len(ids)

    def reset(self) -> None:
        """Drop everything in this store (collection and documents); the generation counter moves on."""
        with self.writing():
            try:
                self.client.delete_collection(self.settings.collection)
            except Exception:
                log.debug("collection %s did not exist", self.settings.collection)
            with self._transaction() as db:
                db.execute("DELETE FROM chunks")
                db.execute("DELETE FROM documents")
                db.execute("DELETE FROM meta WHERE key != 'generation'")
                db.execute("INSERT INTO meta VALUES ('embedding_model', ?)", (self.embedding_model,))
                self._bump_generation()
            self.collection = self._open_collection()

    def reconcile(self, embed: Embed) -> tuple[int, int]:
        """Make Chroma match SQLite after an interrupted write: (orphans deleted, vectors restored)."""
        with self.writing():
            return self._reconcile(embed)

    def _reconcile(self, embed: Embed) -> tuple[int, int]:
        committed = self.chunk_ids()
        with self._vector_calls():
            in_chroma = set(self.collection.get(include=[])["ids"])
        orphans = sorted(in_chroma - committed)
        self._delete_vectors(orphans)
        missing = sorted(committed - in_chroma)
        if missing:
            rows = []
            for batch in _batched(missing, 500):
                marks = ",".join("?" * len(batch))
                rows += self.db.execute(
                    "SELECT c.chunk_id, c.doc_id, c.text, c.char_start, c.char_end, c.paragraph, c.position, "
                    f"d.kind, c.embed_text FROM chunks c JOIN documents d ON d.doc_id=c.doc_id "
                    f"WHERE c.chunk_id IN ({marks})",
                    batch,
                ).fetchall()
            restored = [IndexedChunk(Chunk(*r[:7]), r[7], r[8], "", "") for r in rows]
            self._upsert_vectors(restored, embed([ic.embed_text for ic in restored]))
        if orphans or missing:
            log.warning("reconciled store: %d orphan vectors deleted, %d restored", len(orphans), len(missing))
        return len(orphans), len(missing)

    def close(self) -> None:
        with self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    # --- internals ---------------------------------------------------------------------
    def _replace_document(self, doc: Document, content_hash: str, chunks: list[IndexedChunk]) -> None:
        self.db.execute("DELETE FROM documents WHERE doc_id=?", (doc.doc_id,))
        self.db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc.doc_id,
                doc.title,
                doc.kind,
                doc.source,
                doc.origin,
                doc.comment_no,
                doc.parent_id,
                json.dumps(doc.metadata, ensure_ascii=False),
                doc.text,
                content_hash,
                time.time(),
            ),
        )
        self.db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    ic.chunk.chunk_id,
                    ic.chunk.doc_id,
                    ic.chunk.position,
                    ic.chunk.char_start,
                    ic.chunk.char_end,
                    ic.chunk.paragraph,
                    ic.chunk.text,
                    ic.embed_text,
                    ic.segmented,
                    ic.folded,
                )
                for ic in chunks
            ],
        )

    def _bump_generation(self) -> None:
        self.db.execute(
            "INSERT INTO meta VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def _upsert_vectors(self, chunks: Sequence[IndexedChunk], vectors: np.ndarray) -> None:
        with self._vector_calls():
            max_batch = self.client.get_max_batch_size()
            for start in range(0, len(chunks), max_batch):
                part = chunks[start : start + max_batch]
                self.collection.upsert(
                    ids=[ic.chunk.chunk_id for ic in part],
                    embeddings=vectors[start : start + max_batch],
                    metadatas=[
                        {"doc_id": ic.chunk.doc_id, "kind": ic.kind, "position": ic.chunk.position} for ic in part
                    ],
                )

    def _delete_vectors(self, ids: Sequence[str]) -> None:
        with self._vector_calls():
            for batch in _batched(list(ids), 1000):
                self.collection.delete(ids=batch)

    @contextmanager
    def _vector_calls(self) -> Iterator[None]:
        """Chroma server calls: a server that does not answer becomes a ``StoreError`` that says so."""
        if not self.settings.server_mode:
            yield
            return
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:  # httpx / chromadb errors: the server is down or unreachable
            s = self.settings
            raise StoreError(
                f"Máy chủ Chroma tại {s.chroma_host}:{s.chroma_port} không phản hồi; chưa ghi gì thêm vào kho. "
                "Hãy thử lại khi máy chủ hoạt động trở lại.",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One SQLite write transaction on this thread's connection, under the write lock."""
        with self.writing():
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


def _chroma_client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.server_mode:
        try:
            return chromadb.HttpClient(
                host=str(settings.chroma_host), port=settings.chroma_port, settings=chroma_settings
            )
        except Exception as exc:
            raise StoreError(
                f"Không kết nối được máy chủ Chroma tại {settings.chroma_host}:{settings.chroma_port}. "
                "Hãy kiểm tra máy chủ đã chạy chưa.",
                detail=repr(exc),
            ) from exc
    return chromadb.PersistentClient(path=str(settings.store_path / "chroma"), settings=chroma_settings)


def _document(row: Sequence[Any]) -> Document:
    """A documents row (doc_id, title, text, kind, source, origin, comment_no, parent_id, metadata)."""
    doc_id, title, text, kind, source, origin, comment_no, parent_id, metadata = row
    return Document(doc_id, title, text, kind, source, origin, comment_no, parent_id, json.loads(metadata))


def _unusable(path: Path, exc: BaseException) -> StoreError:
    """Why a store folder cannot be opened, and what to do about it."""
    text = str(exc).lower()
    if isinstance(exc, PermissionError) or "readonly" in text or "read-only" in text or not os.access(path, os.W_OK):
        why = f"Không ghi được vào thư mục kho dữ liệu {path} (chỉ đọc hoặc thiếu quyền). Cách sửa: cấp quyền ghi "
        why += "cho thư mục này, hoặc đặt CCHC_STORE_DIR tới một thư mục ghi được."
    else:
        why = f"Kho dữ liệu tại {path} bị hỏng hoặc không đọc được. Cách sửa: khôi phục bản sao lưu, hoặc nạp lại "
        why += "tài liệu vào kho mới (python -m ingest ... --store THƯ_MỤC_MỚI, hoặc --reset)."
    return StoreError(why, detail=f"{type(exc).__name__}: {exc}")


def _model_mismatch(stored: str, wanted: str) -> StoreError:
    return StoreError(
        f"Kho dữ liệu này được tạo bằng mô hình nhúng '{stored}', nhưng cấu hình hiện tại là '{wanted}'. "
        "Không thể trộn hai mô hình trong một kho. Cách sửa: đặt lại CCHC_EMBEDDING_MODEL về mô hình cũ, "
        "hoặc chạy lại nạp dữ liệu với --reset (hoặc dùng --store trỏ tới thư mục khác).",
        detail=f"store built with {stored!r}, settings ask for {wanted!r}",
    )


def _batched(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = ["IndexedChunk", "Store", "StoreError", "StoredChunk"]
