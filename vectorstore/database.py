"""The relational side of the product, one code path for SQLite (embedded) and PostgreSQL (shared).

SQLAlchemy Core tables for the store (``documents``, ``chunks``, ``meta``) and for feedback, engines tuned per
backend, and :func:`exclusive`, the lock that serialises writers across threads, processes and replicas: a
PostgreSQL advisory lock on the shared database, a ``flock`` beside the SQLite file. Both are released by the
operating system or the server when their holder dies (kill -9 included), so a crash never leaves it held.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

STORE = MetaData()

meta = Table(
    "meta",
    STORE,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

documents = Table(
    "documents",
    STORE,
    Column("doc_id", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("origin", Text, nullable=False),
    Column("comment_no", Integer),
    Column("parent_id", Text),
    Column("metadata", Text, nullable=False),  # JSON
    Column("text", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("documents_origin", "origin"),
)

chunks = Table(
    "chunks",
    STORE,
    Column("chunk_id", Text, primary_key=True),
    Column("doc_id", Text, ForeignKey("documents.doc_id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("char_start", Integer, nullable=False),
    Column("char_end", Integer, nullable=False),
    Column("paragraph", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("embed_text", Text, nullable=False),
    Column("segmented", Text, nullable=False),
    Column("folded", Text, nullable=False),
    Index("chunks_doc", "doc_id"),
)

# each document's dates (``vectorstore.records.Timeline``), kept apart from ``documents`` so that re-reading them
# (a better date reader, a date set by staff) never changes a document's content hash nor re-embeds it
timelines = Table(
    "timelines",
    STORE,
    Column("doc_id", Text, primary_key=True),
    Column("date", Text),  # ISO: YYYY, YYYY-MM or YYYY-MM-DD
    Column("date_from", Text, nullable=False, server_default=""),  # metadata | citation | text | url | staff
    Column("effective", Text),
    Column("number", Text),
    Column("replaces", Text, nullable=False, server_default="[]"),  # JSON [[new, old], ...]
)

# the reader's sentence vectors (``vectorstore.sentences``): one per sentence or clause of the chunks, keyed by a
# hash of its text, so they need no reconciling with the chunks (a text seen again reuses its vector; one no chunk
# holds any more is dropped at the next fill)
sentence_vectors = Table(
    "sentence_vectors",
    STORE,
    Column("key", Text, primary_key=True),
    Column("vector", LargeBinary, nullable=False),  # float16, L2-normalised
)

FEEDBACK = MetaData()

feedback = Table(
    "feedback",
    FEEDBACK,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", Text, nullable=False),  # ISO 8601, UTC
    Column("updated_at", Text, nullable=False),
    Column("useful", Integer, nullable=False),  # 1 useful, 0 not useful
    Column("reason", Text, nullable=False, server_default=""),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("refused", Integer, nullable=False, server_default="0"),
    Column("citations", Text, nullable=False),  # JSON list of Citation.to_dict()
    Column("prompt_version", Text, nullable=False),
    Column("generator", Text, nullable=False, server_default=""),
    Column("session", Text, nullable=False, server_default=""),  # an opaque per-browser-session id
    Index("feedback_created", "created_at"),
    sqlite_autoincrement=True,
)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, busy_timeout_s: float = 30.0) -> Engine:
    """An engine for ``url``: SQLite in WAL mode with foreign keys and SQLAlchemy-managed transactions, or a
    pooled PostgreSQL (psycopg 3) whose connections are checked before use (a restarted server is survived)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
            pool_size=8,
            max_overflow=56,
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_size=8, max_overflow=56, pool_pre_ping=True, pool_recycle=1800)


def _sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (the "begin" listener)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a PostgreSQL advisory lock."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[None]:
    """Hold the writer lock called ``name`` on this database, waiting for another holder (any process) to finish."""
    if is_sqlite(engine):
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        lock_path = Path(database).with_name(f"{Path(database).name}.{name}.lock")
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        key = lock_key(name)
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            except SQLAlchemyError:  # the connection is gone, and the server released its lock with it
                pass


__all__ = [
    "FEEDBACK",
    "STORE",
    "chunks",
    "documents",
    "exclusive",
    "feedback",
    "is_sqlite",
    "lock_key",
    "make_engine",
    "meta",
    "timelines",
]
