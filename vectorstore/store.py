"""The store: Chroma (dense vectors) + a relational database (full document texts, chunk spans, sparse-index text).

The database (SQLite in the store folder by default; PostgreSQL shared by every replica when
``CCHC_DATABASE_URL`` is set) is the source of truth; Chroma holds one vector per chunk id, with the chunk's text
as its Chroma document and its display fields as metadata, so Chroma's own client and LangChain's Chroma
integration can read the collection. Every write goes through :meth:`Store.writing`: a re-entrant lock in this
process plus a database-wide writer lock (:func:`vectorstore.database.exclusive`), which an ingest holds from its
first read to its last write, so two replicas' ingests are serialised, never interleaved. Chunk ids contain a
hash of their text, so the two sides can always be reconciled: a write upserts vectors first, commits the
database in one transaction, then deletes superseded vectors. After a crash, :meth:`Store.reconcile` removes
vectors the database never committed and re-embeds committed chunks whose vectors are missing. Every commit bumps
the store's revision (:meth:`Store.generation`), which each replica checks to rebuild its in-memory snapshot.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from settings import PRECISION_BACKEND, Settings
from vectorstore import database as tables
from vectorstore.database import exclusive, make_engine
from vectorstore.records import Chunk, Document, Timeline, date_key

log = logging.getLogger(__name__)

VECTOR_SCHEMA = "3"  # 2: Chroma documents hold the chunk text and display metadata; 3: and their document's dates


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


@dataclass(frozen=True)
class DisplayFields:
    """What a vector's metadata shows of its document."""

    title: str
    source: str
    comment_no: int | None
    timeline: Timeline | None = None


Embed = Callable[[Sequence[str]], np.ndarray]

D, C, M, T, S = tables.documents, tables.chunks, tables.meta, tables.timelines, tables.sentence_vectors
_DOCUMENT_COLUMNS = (
    D.c.doc_id,
    D.c.title,
    D.c.text,
    D.c.kind,
    D.c.source,
    D.c.origin,
    D.c.comment_no,
    D.c.parent_id,
    D.c.metadata,
)
_STORED_COLUMNS = (
    C.c.chunk_id,
    C.c.doc_id,
    C.c.text,
    C.c.char_start,
    C.c.char_end,
    C.c.paragraph,
    C.c.position,
    D.c.title,
    D.c.kind,
    D.c.source,
    D.c.comment_no,
    C.c.segmented,
    C.c.folded,
)


class Store:
    """Owns the Chroma collection and the document database of one store."""

    def __init__(self, settings: Settings, embedding_model: str) -> None:
        self.settings = settings
        self.path = settings.store_path
        self.embedding_model = embedding_model
        self._write_lock = threading.RLock()
        self._write_depth = 0
        self._lock_name = f"store:{settings.collection}"
        try:
            if settings.database_url is None:
                self.path.mkdir(parents=True, exist_ok=True)
            self.engine = make_engine(settings.documents_url)
            with self.writing():
                tables.STORE.create_all(self.engine)
                self._check_model()
            self.client = _chroma_client(settings)
            self.collection = self._open_collection()
        except StoreError as exc:
            if isinstance(exc.__cause__, SQLAlchemyError):  # the shared database, unreachable from the start
                self.close()
                raise self._unusable(exc.__cause__) from exc.__cause__
            raise
        except (SQLAlchemyError, OSError, ValueError) as exc:
            self.close()
            raise self._unusable(exc) from exc
        except Exception as exc:  # chromadb raises its own types for a damaged folder
            if settings.server_mode:
                raise
            self.close()
            raise self._unusable(exc) from exc
        stored = (self.collection.metadata or {}).get("embedding_model")
        if stored and stored != embedding_model:
            raise _model_mismatch(stored, embedding_model)

    # --- the writer lock -------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store's writer lock (re-entrant): ingests, deletes and resets of every thread, process and
        replica sharing this database run one at a time."""
        with self._write_lock:
            if self._write_depth:
                self._write_depth += 1
                try:
                    yield
                finally:
                    self._write_depth -= 1
                return
            with ExitStack() as held:
                with self._db_calls():
                    held.enter_context(exclusive(self.engine, self._lock_name))
                self._write_depth = 1
                try:
                    yield
                finally:
                    self._write_depth = 0

    def _open_collection(self) -> Any:
        return self.client.get_or_create_collection(
            self.settings.collection,
            embedding_function=None,  # we always pass embeddings; Chroma's default would download
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedding_model": self.embedding_model},
        )

    # --- model guard ---------------------------------------------------------------
    def _check_model(self) -> None:
        with self.engine.begin() as db:
            stored = db.scalar(select(M.c.value).where(M.c.key == "embedding_model"))
            if stored is None:  # a new store: its vectors are described from the start
                db.execute(insert(M).values(key="embedding_model", value=self.embedding_model))
                db.execute(insert(M).values(key="vector_schema", value=VECTOR_SCHEMA))
            elif stored != self.embedding_model:
                raise _model_mismatch(stored, self.embedding_model)

    # --- reads -----------------------------------------------------------------------
    def _read(self, query: Any) -> list[Any]:
        with self._db_calls(), self.engine.connect() as db:
            return list(db.execute(query))

    def document_hashes(self) -> dict[str, str]:
        return dict(self._read(select(D.c.doc_id, D.c.content_hash)))

    def documents_by_origin(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for doc_id, origin in self._read(select(D.c.doc_id, D.c.origin)):
            out.setdefault(origin, []).append(doc_id)
        return out

    def chunk_ids(self, doc_ids: Iterable[str] | None = None) -> set[str]:
        if doc_ids is None:
            return {r[0] for r in self._read(select(C.c.chunk_id))}
        ids: set[str] = set()
        for batch in _batched(list(doc_ids), 500):
            ids.update(r[0] for r in self._read(select(C.c.chunk_id).where(C.c.doc_id.in_(batch))))
        return ids

    def get_document(self, doc_id: str) -> Document | None:
        rows = self._read(select(*_DOCUMENT_COLUMNS).where(D.c.doc_id == doc_id))
        return _document(rows[0]) if rows else None

    def all_documents(self) -> Iterator[Document]:
        """Every document, in id order (one query)."""
        for row in self._read(select(*_DOCUMENT_COLUMNS).order_by(D.c.doc_id)):
            yield _document(row)

    def list_documents(self) -> list[dict[str, Any]]:
        n_chunks = select(func.count(C.c.chunk_id)).where(C.c.doc_id == D.c.doc_id).scalar_subquery()
        rows = self._read(
            select(
                D.c.doc_id, D.c.title, D.c.kind, D.c.source, D.c.comment_no, D.c.parent_id,
                func.length(D.c.text), n_chunks, T.c.date, T.c.date_from, T.c.effective, T.c.number,
            ).outerjoin(T, T.c.doc_id == D.c.doc_id).order_by(D.c.doc_id)
        )  # fmt: skip
        keys = ("doc_id", "title", "kind", "source", "comment_no", "parent_id", "chars", "chunks", "date",
                "date_from", "effective", "number")  # fmt: skip
        return [dict(zip(keys, r)) for r in rows]

    def timelines(self, doc_ids: Iterable[str] | None = None) -> dict[str, Timeline]:
        """The stored dates of every document (or of ``doc_ids``); a document never dated has no entry."""
        if doc_ids is None:
            return {r[0]: _timeline(r[1:]) for r in self._read(select(*_TIMELINE_COLUMNS))}
        out: dict[str, Timeline] = {}
        for batch in _batched(sorted(set(doc_ids)), 500):
            rows = self._read(select(*_TIMELINE_COLUMNS).where(T.c.doc_id.in_(batch)))
            out.update((r[0], _timeline(r[1:])) for r in rows)
        return out

    def set_timelines(self, dated: Mapping[str, Timeline]) -> int:
        """Store these documents' dates and put them on their vectors' metadata, without re-embedding anything;
        returns how many changed. Dates may be stored before their document is (ingest dates a batch, then
        writes it)."""
        with self.writing():
            stored = self.timelines(dated)
            changed = {doc_id: t for doc_id, t in dated.items() if stored.get(doc_id) != t}
            if not changed:
                return 0
            with self._transaction() as db:
                for batch in _batched(sorted(changed), 500):
                    db.execute(delete(T).where(T.c.doc_id.in_(batch)))
                    db.execute(insert(T), [_timeline_row(doc_id, changed[doc_id]) for doc_id in batch])
                _bump_generation(db)
            chunks, shown = self._indexed(sorted(self.chunk_ids(changed)))
            with self._vector_calls():
                for part in _batched(chunks, 1000):
                    self.collection.update(
                        ids=[ic.chunk.chunk_id for ic in part],
                        metadatas=[_vector_metadata(ic, shown[ic.chunk.doc_id]) for ic in part],
                    )
            return len(changed)

    def all_chunks(self) -> list[StoredChunk]:
        """Every chunk with its document fields, in a stable order (doc, position)."""
        query = select(*_STORED_COLUMNS).join(D, D.c.doc_id == C.c.doc_id).order_by(C.c.doc_id, C.c.position)
        return [StoredChunk(*r) for r in self._read(query)]

    def embed_texts(self) -> list[tuple[str, str]]:
        """(chunk_id, the text embedded for it) of every chunk, in id order."""
        return [(r[0], r[1]) for r in self._read(select(C.c.chunk_id, C.c.embed_text).order_by(C.c.chunk_id))]

    def stats(self) -> dict[str, Any]:
        docs, chunks = self._read(select(select(func.count()).select_from(D).scalar_subquery(),
                                         select(func.count()).select_from(C).scalar_subquery()))[0]  # fmt: skip
        kinds = dict(self._read(select(D.c.kind, func.count()).group_by(D.c.kind)))
        try:
            with self._vector_calls():
                vectors: int | None = self.collection.count()
        except StoreError:
            vectors = None  # the Chroma server is not answering; the database still knows the rest
        return {
            "documents": docs,
            "chunks": chunks,
            "vectors": vectors,
            "kinds": kinds,
            "embedding_model": self.embedding_model,
            "generation": self.generation(),
        }

    def generation(self) -> int:
        """The store's revision: a counter bumped by every committed change (one indexed read; every replica's
        snapshot is rebuilt when it moves)."""
        rows = self._read(select(M.c.value).where(M.c.key == "generation"))
        return int(rows[0][0]) if rows else 0

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
        """The stored vectors of ``chunk_ids``, in that order (float32, one row each; none: an empty array)."""
        if not chunk_ids:
            return np.zeros((0, 0), dtype=np.float32)
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

    def chunk_texts(self, doc_ids: Iterable[str] | None = None) -> list[str]:
        """The text of every chunk (of ``doc_ids`` only, when given): what the reader reads, in a stable order."""
        query = select(C.c.text).order_by(C.c.doc_id, C.c.position)
        if doc_ids is None:
            return [r[0] for r in self._read(query)]
        return [
            r[0]
            for batch in _batched(sorted(set(doc_ids)), 500)
            for r in self._read(query.where(C.c.doc_id.in_(batch)))
        ]

    def sentence_keys(self) -> set[str]:
        """The keys of every stored sentence vector."""
        return {r[0] for r in self._read(select(S.c.key))}

    def sentence_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored sentence vectors of ``keys`` (float32); a key without one is left out."""
        found: dict[str, np.ndarray] = {}
        for batch in _batched(list(dict.fromkeys(keys)), 500):
            for key, blob in self._read(select(S.c.key, S.c.vector).where(S.c.key.in_(batch))):
                found[key] = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
        return found

    def put_sentence_vectors(self, vectors: Mapping[str, np.ndarray], drop: Iterable[str] = ()) -> None:
        """Store ``vectors`` (key -> vector, kept as float16) and delete the keys in ``drop``, in one transaction.
        Sentence vectors are derived data: nothing else changes, so the store's revision does not move."""
        rows = [{"key": k, "vector": np.asarray(v, dtype=np.float16).tobytes()} for k, v in vectors.items()]
        stale = list(drop)
        with self.writing(), self._transaction() as db:
            for batch in _batched(stale, 500):
                db.execute(delete(S).where(S.c.key.in_(batch)))
            for part in _batched(rows, 500):
                db.execute(delete(S).where(S.c.key.in_([r["key"] for r in part])))
                db.execute(insert(S), part)

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
            dated = self.timelines(doc_ids)
            shown = {
                doc.doc_id: DisplayFields(doc.title, doc.source, doc.comment_no, dated.get(doc.doc_id))
                for doc, _, _ in batch
            }
            self._upsert_vectors(to_embed, vectors, shown)
        try:
            with self._transaction() as db:
                for doc, content_hash, chunks in batch:
                    _replace_document(db, doc, content_hash, chunks)
                _bump_generation(db)
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
                    db.execute(delete(C).where(C.c.doc_id.in_(batch)))
                    db.execute(delete(D).where(D.c.doc_id.in_(batch)))
                    db.execute(delete(T).where(T.c.doc_id.in_(batch)))
                _bump_generation(db)
            self._delete_vectors(ids)
            return len(ids)

    def reset(self) -> None:
        """Drop everything in this store (collection and documents); the generation counter moves on."""
        with self.writing():
            try:
                with self._vector_calls():
                    self.client.delete_collection(self.settings.collection)
            except StoreError:
                raise
            except Exception:
                log.debug("collection %s did not exist", self.settings.collection)
            with self._transaction() as db:
                db.execute(delete(C))
                db.execute(delete(D))
                db.execute(delete(T))
                db.execute(delete(S))
                db.execute(delete(M).where(M.c.key != "generation"))
                db.execute(insert(M).values(key="embedding_model", value=self.embedding_model))
                db.execute(insert(M).values(key="vector_schema", value=VECTOR_SCHEMA))
                _bump_generation(db)
            with self._vector_calls():
                self.collection = self._open_collection()

    def reconcile(self, embed: Embed) -> tuple[int, int]:
        """Make Chroma match the database after an interrupted write: (orphans deleted, vectors restored).
        Vectors written before Chroma documents carried text and metadata are described on the way."""
        with self.writing():
            orphans, restored = self._reconcile(embed)
            self._describe_vectors()
            return orphans, restored

    def _reconcile(self, embed: Embed) -> tuple[int, int]:
        committed = self.chunk_ids()
        with self._vector_calls():
            in_chroma = set(self.collection.get(include=[])["ids"])
        orphans = sorted(in_chroma - committed)
        self._delete_vectors(orphans)
        missing = sorted(committed - in_chroma)
        if missing:
            restored, shown = self._indexed(missing)
            self._upsert_vectors(restored, embed([ic.embed_text for ic in restored]), shown)
        if orphans or missing:
            log.warning("reconciled store: %d orphan vectors deleted, %d restored", len(orphans), len(missing))
        return len(orphans), len(missing)

    def _describe_vectors(self) -> None:
        """Give vectors stored before schema 2 their chunk text and display metadata (no re-embedding)."""
        if self._read(select(M.c.value).where(M.c.key == "vector_schema")) == [(VECTOR_SCHEMA,)]:
            return
        ids = sorted(self.chunk_ids())
        for batch in _batched(ids, 1000):
            chunks, shown = self._indexed(batch)
            self._upsert_vectors(chunks, self.vectors([ic.chunk.chunk_id for ic in chunks]), shown)
        with self._transaction() as db:
            db.execute(delete(M).where(M.c.key == "vector_schema"))
            db.execute(insert(M).values(key="vector_schema", value=VECTOR_SCHEMA))
        if ids:
            log.info("described %d stored vectors with their text and metadata", len(ids))

    def _indexed(self, chunk_ids: Sequence[str]) -> tuple[list[IndexedChunk], dict[str, DisplayFields]]:
        """The stored chunks ``chunk_ids`` as IndexedChunks, and their documents' display fields."""
        out: list[IndexedChunk] = []
        shown: dict[str, DisplayFields] = {}
        for batch in _batched(list(chunk_ids), 500):
            query = (
                select(C.c.chunk_id, C.c.doc_id, C.c.text, C.c.char_start, C.c.char_end, C.c.paragraph,
                       C.c.position, D.c.kind, C.c.embed_text, C.c.segmented, C.c.folded, D.c.title, D.c.source,
                       D.c.comment_no, *_TIMELINE_COLUMNS)
                .join(D, D.c.doc_id == C.c.doc_id)
                .outerjoin(T, T.c.doc_id == C.c.doc_id)
                .where(C.c.chunk_id.in_(batch))
            )  # fmt: skip
            for r in self._read(query):
                out.append(IndexedChunk(Chunk(*r[:7]), *r[7:11]))
                shown[r[1]] = DisplayFields(r[11], r[12], r[13], _timeline(r[15:]) if r[14] is not None else None)
        return out, shown

    def copy_to(self, target: Store, batch_docs: int = 200) -> int:
        """Copy every document, chunk, vector and sentence vector of this store into ``target`` (e.g. an embedded
        store into the shared servers), without re-embedding; documents already there are replaced. Returns the
        chunks copied."""
        if target.embedding_model != self.embedding_model:
            raise _model_mismatch(self.embedding_model, target.embedding_model)
        copied = 0
        hashes = self.document_hashes()
        with target.writing():
            for ids in _batched(sorted(hashes), batch_docs):
                docs = [_document(r) for r in self._read(select(*_DOCUMENT_COLUMNS).where(D.c.doc_id.in_(ids)))]
                chunks, shown = self._indexed(sorted(self.chunk_ids(ids)))
                target._upsert_vectors(chunks, self.vectors([ic.chunk.chunk_id for ic in chunks]), shown)
                by_doc: dict[str, list[IndexedChunk]] = {}
                for ic in chunks:
                    by_doc.setdefault(ic.chunk.doc_id, []).append(ic)
                target.set_timelines(self.timelines(ids))
                with target._transaction() as db:
                    for doc in docs:
                        _replace_document(db, doc, hashes[doc.doc_id], by_doc.get(doc.doc_id, []))
                    _bump_generation(db)
                copied += len(chunks)
            target._describe_vectors()
            keys = sorted(self.sentence_keys())
            for batch in _batched(keys, 2000):  # the reader's sentence vectors: copied too, never re-embedded
                target.put_sentence_vectors(self.sentence_vectors(batch))
        return copied

    def close(self) -> None:
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.dispose()

    # --- internals ---------------------------------------------------------------------
    def _upsert_vectors(
        self, chunks: Sequence[IndexedChunk], vectors: np.ndarray, shown: Mapping[str, DisplayFields]
    ) -> None:
        with self._vector_calls():
            max_batch = self.client.get_max_batch_size()
            for start in range(0, len(chunks), max_batch):
                part = chunks[start : start + max_batch]
                self.collection.upsert(
                    ids=[ic.chunk.chunk_id for ic in part],
                    embeddings=vectors[start : start + max_batch],
                    documents=[ic.chunk.text for ic in part],
                    metadatas=[_vector_metadata(ic, shown[ic.chunk.doc_id]) for ic in part],
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
    def _db_calls(self) -> Iterator[None]:
        """Database calls: a shared database that does not answer becomes a ``StoreError`` that says so (other
        database errors stay what they are)."""
        if self.settings.database_url is None:
            yield
            return
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            raise StoreError(
                "Cơ sở dữ liệu dùng chung không phản hồi; chưa ghi gì thêm vào kho. "
                "Hãy thử lại khi máy chủ cơ sở dữ liệu hoạt động trở lại.",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One database write transaction, under the writer lock (committed on success, else rolled back)."""
        with self.writing(), self._db_calls(), self.engine.begin() as db:
            yield db

    def _unusable(self, exc: BaseException) -> StoreError:
        """Why a store cannot be opened, and what to do about it."""
        if self.settings.database_url is not None and isinstance(exc, SQLAlchemyError):
            return StoreError(
                "Không kết nối được cơ sở dữ liệu dùng chung (CCHC_DATABASE_URL). Cách sửa: kiểm tra máy chủ "
                "PostgreSQL đã chạy, địa chỉ, tên đăng nhập và mật khẩu trong CCHC_DATABASE_URL.",
                detail=f"{type(exc).__name__}: {exc}",
            )
        return _unusable(self.path, exc)


def _replace_document(db: Connection, doc: Document, content_hash: str, chunks: list[IndexedChunk]) -> None:
    db.execute(delete(C).where(C.c.doc_id == doc.doc_id))
    db.execute(delete(D).where(D.c.doc_id == doc.doc_id))
    db.execute(
        insert(D).values(
            doc_id=doc.doc_id,
            title=doc.title,
            kind=doc.kind,
            source=doc.source,
            origin=doc.origin,
            comment_no=doc.comment_no,
            parent_id=doc.parent_id,
            metadata=json.dumps(doc.metadata, ensure_ascii=False),
            text=doc.text,
            content_hash=content_hash,
            updated_at=time.time(),
        )
    )
    if chunks:
        db.execute(
            insert(C),
            [
                {
                    "chunk_id": ic.chunk.chunk_id,
                    "doc_id": ic.chunk.doc_id,
                    "position": ic.chunk.position,
                    "char_start": ic.chunk.char_start,
                    "char_end": ic.chunk.char_end,
                    "paragraph": ic.chunk.paragraph,
                    "text": ic.chunk.text,
                    "embed_text": ic.embed_text,
                    "segmented": ic.segmented,
                    "folded": ic.folded,
                }
                for ic in chunks
            ],
        )


def _bump_generation(db: Connection) -> None:
    """Move the store's revision on (inside the writer's transaction; writers are serialised)."""
    current = db.scalar(select(M.c.value).where(M.c.key == "generation"))
    if current is None:
        db.execute(insert(M).values(key="generation", value="1"))
    else:
        db.execute(update(M).where(M.c.key == "generation").values(value=str(int(current) + 1)))


def _vector_metadata(ic: IndexedChunk, shown: DisplayFields) -> dict[str, str | int]:
    """A vector's Chroma metadata: where its chunk is and what to show of its document."""
    out: dict[str, str | int] = {
        "doc_id": ic.chunk.doc_id,
        "title": shown.title,
        "kind": ic.kind,
        "source": shown.source,
        "paragraph": ic.chunk.paragraph,
        "position": ic.chunk.position,
        "char_start": ic.chunk.char_start,
        "char_end": ic.chunk.char_end,
    }
    if shown.comment_no is not None:
        out["comment_no"] = shown.comment_no
    timeline = shown.timeline or Timeline()
    out["date"] = timeline.date or ""  # every key always present: an update replaces the old dates whole
    out["date_key"] = date_key(timeline.date or timeline.effective)  # YYYYMMDD, 0 when unknown: as-of filters
    out["effective"] = timeline.effective or ""
    out["number"] = timeline.number or ""
    return out


_TIMELINE_COLUMNS = (T.c.doc_id, T.c.date, T.c.date_from, T.c.effective, T.c.number, T.c.replaces)


def _timeline(row: Sequence[Any]) -> Timeline:
    """A timelines row without its doc_id (date, date_from, effective, number, replaces)."""
    date, date_from, effective, number, replaces = row
    return Timeline(date, date_from or "", effective, number, tuple(tuple(p) for p in json.loads(replaces or "[]")))


def _timeline_row(doc_id: str, timeline: Timeline) -> dict[str, Any]:
    return {"doc_id": doc_id, **timeline.to_dict(), "replaces": json.dumps(timeline.to_dict()["replaces"],
                                                                             ensure_ascii=False)}  # fmt: skip


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
    same_model = stored.split("+")[0] == wanted.split("+")[0]  # "embeddinggemma" vs "embeddinggemma+bf16"
    if same_model:
        precision = stored.split("+")[1] if "+" in stored else "fp32"
        backend = PRECISION_BACKEND.get(precision, "onnx")
        fix = f"đặt CCHC_EMBEDDING_PRECISION={precision} (và CCHC_EMBEDDING_BACKEND={backend}) như khi tạo kho"
    else:
        fix = "đặt lại CCHC_EMBEDDING_MODEL về mô hình cũ"
    return StoreError(
        f"Kho dữ liệu này được tạo bằng mô hình nhúng '{stored}', nhưng cấu hình hiện tại là '{wanted}'. "
        f"Không thể trộn hai mô hình trong một kho. Cách sửa: {fix}, "
        "hoặc chạy lại nạp dữ liệu với --reset (hoặc dùng --store trỏ tới thư mục khác).",
        detail=f"store built with {stored!r}, settings ask for {wanted!r}",
    )


def _batched(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = ["IndexedChunk", "Store", "StoreError", "StoredChunk"]
