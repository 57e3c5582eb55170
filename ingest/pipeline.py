"""Ingest files into the store: load -> normalise -> split -> chunk -> embed -> write, idempotently.

Unchanged documents (same content hash) are skipped without loading the model; a changed document
has its chunks replaced; parts that vanished from a re-read file are removed; ``prune`` removes
documents whose files are gone. Each batch is committed atomically (see ``vectorstore.store``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.chunking import chunk_document
from ingest.dating import date_documents
from ingest.loaders import Failure, discover, load_file
from settings import Settings
from vectorstore.embeddings import Embedder
from vectorstore.records import Document
from vectorstore.sentences import fill as fill_sentence_vectors
from vectorstore.sparse import segment
from vectorstore.store import IndexedChunk, Store, StoreError
from vectorstore.text import fold

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    """What an ingest did; ``to_dict()`` is the ``--json`` output."""

    files: int = 0
    documents: int = 0
    documents_added: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_deleted: int = 0
    chunks_added: int = 0
    chunks_unchanged: int = 0
    chunks_deleted: int = 0
    documents_dated: int = 0  # documents whose dates were stored or changed (no re-embedding)
    sentences_embedded: int = 0  # the reader's sentence vectors computed (vectorstore.sentences)
    sentences_seconds: float = 0.0  # of ``seconds``, the time spent on them
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    store: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.documents_added or self.documents_updated or self.documents_deleted)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["failures"] = [{"path": f.path, "reason": f.reason, "detail": f.detail} for f in self.failures]
        data["changed"] = self.changed
        return data

    def render(self) -> str:
        """A short Vietnamese report for the terminal."""
        lines = [
            f"Tệp đã đọc: {self.files}; tài liệu: {self.documents} "
            f"(mới {self.documents_added}, cập nhật {self.documents_updated}, không đổi {self.documents_unchanged}, "
            f"đã xóa {self.documents_deleted})",
            f"Đoạn (chunk): thêm {self.chunks_added}, giữ nguyên {self.chunks_unchanged}, xóa {self.chunks_deleted}",
        ]
        if self.documents_dated:
            lines.append(f"Ngày tháng của tài liệu: cập nhật {self.documents_dated}")
        if self.sentences_embedded:
            lines.append(f"Véc-tơ câu cho bộ đọc: nhúng thêm {self.sentences_embedded} câu")
        if not self.changed and not self.documents_dated and not self.sentences_embedded:
            lines.append("Không có thay đổi: kho dữ liệu giữ nguyên, không ghi gì.")
        elif not self.changed:
            lines.append("Nội dung không đổi: chỉ cập nhật ngày tháng, không nhúng lại đoạn nào.")
        if self.failures:
            lines.append(f"Lỗi ({len(self.failures)} tệp/dòng bị bỏ qua):")
            lines += [f"  - {f.path}: {f.reason}" for f in self.failures]
        lines.append(f"Thời gian: {self.seconds:.1f} giây — kho: {self.store}")
        return "\n".join(lines)


class Ingestor:
    """Ingests into one store; loads the embedding model only when something must be embedded."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, store: Store | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self.store = store or Store(settings, embedder.name if embedder else settings.embedding_key)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder.from_settings(self.settings)
        return self._embedder

    def embed(self, texts: Sequence[str]) -> Any:
        return self.embedder.embed_passages(list(texts), batch_size=self.settings.embedding_batch_size)

    def run(
        self, paths: Iterable[Path], *, reset: bool = False, prune: bool = False, progress: bool = False
    ) -> IngestSummary:
        """Ingest ``paths`` holding the store's write lock throughout (uploads and start-up ingests queue)."""
        paths = list(paths)
        try:
            with self.store.writing():
                return self._run(paths, reset=reset, prune=prune, progress=progress)
        except StoreError as exc:  # the shared database or the Chroma server stopped answering
            log.error("store unavailable: %s", exc.detail)
            summary = IngestSummary(store=str(self.settings.chroma_host or self.settings.store_path))
            files, summary.failures = discover(paths)
            summary.files = len(files)
            summary.failures += [Failure(str(path), str(exc), exc.detail) for path in files]
            return summary

    def _run(self, paths: Iterable[Path], *, reset: bool, prune: bool, progress: bool) -> IngestSummary:
        started = time.perf_counter()
        summary = IngestSummary(store=str(self.settings.chroma_host or self.settings.store_path))
        files, summary.failures = discover(paths)
        summary.files = len(files)
        try:
            if reset:
                self.store.reset()
            self.store.reconcile(self.embed)
        except StoreError as exc:  # e.g. the Chroma server is down: nothing can be ingested now
            log.error("store unavailable: %s", exc.detail)
            summary.failures += [Failure(str(path), str(exc), exc.detail) for path in files]
            summary.seconds = round(time.perf_counter() - started, 3)
            return summary
        hashes = self.store.document_hashes()
        by_origin = self.store.documents_by_origin()
        seen: dict[str, str] = {}  # doc_id -> origin, for duplicate detection across files
        pending: list[tuple[Document, str, list[IndexedChunk]]] = []
        pending_chunks = 0
        loaded: list[Document] = []  # every document read, changed or not: all are (re)dated at the end

        bar = _progress(len(files), progress)
        for path in files:
            result = load_file(path)
            summary.failures += result.failures
            file_docs = []
            for doc in result.documents:
                if doc.doc_id in seen and seen[doc.doc_id] != doc.origin:
                    summary.failures.append(
                        Failure(
                            str(path),
                            f"Trùng mã tài liệu '{doc.doc_id}' với tệp {seen[doc.doc_id]}",
                            "duplicate doc_id",
                        )
                    )
                    continue
                seen[doc.doc_id] = doc.origin
                file_docs.append(doc)
            summary.documents += len(file_docs)
            loaded += file_docs
            for doc in file_docs:
                content_hash = self._content_hash(doc)
                if hashes.get(doc.doc_id) == content_hash:
                    summary.documents_unchanged += 1
                    continue
                chunks = self._index(doc)
                pending.append((doc, content_hash, chunks))
                pending_chunks += len(chunks)
                if doc.doc_id in hashes:
                    summary.documents_updated += 1
                else:
                    summary.documents_added += 1
                if pending_chunks >= self.settings.ingest_batch_chunks:
                    self._flush(pending, summary)
                    pending, pending_chunks = [], 0
                bar.set_postfix_str(f"{summary.chunks_added} đoạn mới", refresh=False)
            bar.update(1)
            # Parts that a re-read file no longer contains (a removed JSONL row or comment).
            if result.documents or not result.failures:
                current = {d.doc_id for d in file_docs}
                gone = [d for d in by_origin.get(str(path.resolve()), []) if d not in current]
                if gone:
                    summary.chunks_deleted += self.store.delete_documents(gone)
                    summary.documents_deleted += len(gone)
        self._flush(pending, summary)
        bar.close()
        summary.documents_dated = self._date(loaded)

        if prune:
            gone = [
                d
                for origin, ids in self.store.documents_by_origin().items()
                if origin and not Path(origin).exists()
                for d in ids
            ]
            if gone:
                summary.chunks_deleted += self.store.delete_documents(gone)
                summary.documents_deleted += len(gone)
        filling = time.perf_counter()
        summary.sentences_embedded = self._fill_sentences([d.doc_id for d in loaded])
        summary.sentences_seconds = round(time.perf_counter() - filling, 3)
        summary.chunks_unchanged = self.store.stats()["chunks"] - summary.chunks_added
        summary.seconds = round(time.perf_counter() - started, 3)
        return summary

    def _flush(self, pending: list[tuple[Document, str, list[IndexedChunk]]], summary: IngestSummary) -> None:
        if not pending:
            return
        try:
            added, deleted = self.store.write(pending, self.embed)
        except Exception as exc:
            log.exception("write failed for %d documents", len(pending))
            reason = str(exc) if isinstance(exc, StoreError) else "Lỗi khi ghi vào kho dữ liệu"
            for doc, _, _ in pending:
                summary.failures.append(Failure(doc.origin or doc.doc_id, reason, repr(exc)))
            return
        summary.chunks_added += added
        summary.chunks_deleted += deleted

    def _fill_sentences(self, doc_ids: Sequence[str]) -> int:
        """Embed the sentences of ``doc_ids``' chunks that have no vector yet (the reader's semantic signal): an
        ingest fills what it read, so re-ingesting a corpus fills a store built before sentence vectors, and one
        upload never embeds the rest of the store."""
        try:
            return fill_sentence_vectors(self.store, self.embed, doc_ids)[0]
        except StoreError as exc:
            log.error("sentence vectors not stored: %s", exc.detail)
            return 0

    def _date(self, docs: Sequence[Document]) -> int:
        """Store the dates of ``docs`` (a date set by staff is kept); returns how many changed."""
        if not docs:
            return 0
        staff = {d for d, t in self.store.timelines(d.doc_id for d in docs).items() if t.date_from == "staff"}
        dated = {d: t for d, t in date_documents(docs).items() if d not in staff}
        try:
            return self.store.set_timelines(dated)
        except StoreError as exc:
            log.error("dates not stored: %s", exc.detail)
            return 0

    def _content_hash(self, doc: Document) -> str:
        s = self.settings
        key = json.dumps(
            [asdict(doc), self.store.embedding_model, s.chunk_tokens, s.chunk_overlap_tokens, INDEX_VERSION],
            ensure_ascii=False,
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(key.encode()).hexdigest()

    def _index(self, doc: Document) -> list[IndexedChunk]:
        """Chunk a document and prepare each chunk's embedded text and sparse forms."""
        embedder = self.embedder
        base = embedder.count_tokens("")  # prefix + special tokens

        def count(texts: Sequence[str]) -> list[int]:
            return [n - base for n in embedder.count_tokens_batch(list(texts))]

        header = f"{doc.title}\n"
        overhead = embedder.count_tokens(header)
        limit = min(self.settings.chunk_tokens, embedder.max_tokens)
        # Token sums are approximate at sentence joins: measure the real texts and tighten until they fit.
        margin = 0
        for _ in range(4):
            chunks = chunk_document(doc, count, limit, self.settings.chunk_overlap_tokens, overhead + margin)
            embed_texts = [header + c.text for c in chunks]
            excess = max((n - limit for n in embedder.count_tokens_batch(embed_texts)), default=0)
            if excess <= 0:
                break
            margin += excess + 2
        out = []
        for chunk, embed_text in zip(chunks, embed_texts):
            segmented = segment(embed_text)
            out.append(IndexedChunk(chunk, doc.kind, embed_text, segmented, fold(segmented)))
        return out


INDEX_VERSION = 1  # bump when chunking or sparse preparation changes, to re-index everything


def _progress(total: int, enabled: bool) -> Any:
    """A tqdm bar over files on a terminal, a silent stand-in otherwise."""
    from tqdm import tqdm

    return tqdm(
        total=total, unit="tệp", desc="Nạp dữ liệu", dynamic_ncols=True, disable=not (enabled and sys.stderr.isatty())
    )
