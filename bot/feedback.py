"""Durable answer feedback: useful / not useful, an optional reason, and what was rated.

One SQLite file (``settings.data_dir / "feedback" / "feedback.sqlite3"``), or the database the replicas share
(``CCHC_DATABASE_URL``), through the same SQLAlchemy code; each record keeps the question,
the answer, its citations (JSON), the prompt version and generator, and UTC timestamps, so answers rated
"not useful" can be reviewed against the prompt that produced them. Safe to use from several threads:
every call takes a pooled connection for one transaction.

    store = FeedbackStore.from_settings(settings)
    fid = store.add(question="...", answer="...", citations=[...], prompt_version="answer@v2", useful=False)
    store.update(fid, reason="Thiếu nguồn")
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from vectorstore.database import FEEDBACK, make_engine
from vectorstore.database import feedback as F
from vectorstore.text import normalize

MAX_REASON_CHARS = 2000
MAX_TEXT_CHARS = 20000


@dataclass(frozen=True)
class FeedbackRecord:
    id: int
    created_at: str
    updated_at: str
    useful: bool
    reason: str
    question: str
    answer: str
    refused: bool
    citations: list[dict[str, Any]]
    prompt_version: str
    generator: str
    session: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _clip(text: str | None, limit: int) -> str:
    return normalize(text or "").strip()[:limit]


class FeedbackError(RuntimeError):
    """Feedback could not be stored; ``str()`` is the Vietnamese message for users, ``detail`` is for logs."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail

    @classmethod
    def of(cls, exc: BaseException) -> FeedbackError:
        text = str(exc).lower()
        if "full" in text or getattr(exc, "errno", None) == 28:  # SQLITE_FULL, ENOSPC
            why = "Bộ nhớ của máy chủ đã đầy nên góp ý chưa được lưu; các góp ý trước vẫn còn. Vui lòng thử lại sau."
        elif "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
            why = "Máy chủ không ghi được góp ý (thư mục chỉ đọc); các góp ý trước vẫn còn. Vui lòng báo quản trị."
        else:
            why = "Chưa lưu được góp ý do lỗi lưu trữ; các góp ý trước vẫn còn. Vui lòng thử lại sau."
        return cls(why, f"{type(exc).__name__}: {exc}")


class FeedbackStore:
    """Append and update feedback records: a SQLite file of their own, or the shared database of the replicas."""

    def __init__(self, location: str | Path) -> None:
        """``location``: a SQLite file path, or a database URL (``sqlite:///...``, ``postgresql://...``)."""
        url = location if isinstance(location, str) and "://" in location else f"sqlite:///{Path(location).resolve()}"
        try:
            self.engine = make_engine(url, busy_timeout_s=10)
            FEEDBACK.create_all(self.engine)
        except (SQLAlchemyError, OSError) as exc:
            raise FeedbackError.of(exc) from exc

    @classmethod
    def from_settings(cls, settings: Any) -> FeedbackStore:
        return cls(settings.feedback_url)

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A connection in one transaction (committed on success, rolled back on error: what was stored before
        stays); a storage failure becomes a ``FeedbackError`` that says why."""
        try:
            with self.engine.begin() as db:
                yield db
        except (SQLAlchemyError, OSError) as exc:
            raise FeedbackError.of(exc) from exc

    def add(
        self,
        *,
        question: str,
        answer: str,
        useful: bool,
        citations: Sequence[dict[str, Any] | Any] = (),
        prompt_version: str = "",
        reason: str = "",
        refused: bool = False,
        generator: str = "",
        session: str = "",
    ) -> int:
        """Store one rating; return its id."""
        cits = [c if isinstance(c, dict) else c.to_dict() for c in citations]
        now = _now()
        row = {
            "created_at": now,
            "updated_at": now,
            "useful": int(bool(useful)),
            "reason": _clip(reason, MAX_REASON_CHARS),
            "question": _clip(question, MAX_TEXT_CHARS),
            "answer": _clip(answer, MAX_TEXT_CHARS),
            "refused": int(bool(refused)),
            "citations": json.dumps(cits, ensure_ascii=False),
            "prompt_version": prompt_version or "",
            "generator": generator or "",
            "session": session or "",
        }
        with self._connect() as db:
            return int(db.execute(insert(F).values(**row).returning(F.c.id)).scalar_one())

    def update(self, feedback_id: int, *, useful: bool | None = None, reason: str | None = None) -> bool:
        """Change the rating and/or the reason of a record; False when it does not exist."""
        values: dict[str, Any] = {"updated_at": _now()}
        if useful is not None:
            values["useful"] = int(bool(useful))
        if reason is not None:
            values["reason"] = _clip(reason, MAX_REASON_CHARS)
        with self._connect() as db:
            return db.execute(update(F).where(F.c.id == int(feedback_id)).values(**values)).rowcount == 1

    def get(self, feedback_id: int) -> FeedbackRecord | None:
        rows = self._select(F.c.id == int(feedback_id))
        return rows[0] if rows else None

    def recent(self, limit: int = 100) -> list[FeedbackRecord]:
        """The newest records first."""
        return self._select(None, F.c.id.desc(), limit=int(limit))

    def counts(self) -> dict[str, int]:
        with self._connect() as db:
            total, useful = db.execute(select(func.count(), func.coalesce(func.sum(F.c.useful), 0))).one()
        return {"total": int(total), "useful": int(useful), "not_useful": int(total) - int(useful)}

    def export_jsonl(self, path: Path) -> int:
        """Write every record as one JSON line (oldest first); return how many."""
        records = self._select(None, F.c.id)
        with Path(path).open("w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
        return len(records)

    def close(self) -> None:
        self.engine.dispose()

    def _select(self, where: Any, order: Any = None, limit: int | None = None) -> list[FeedbackRecord]:
        query = select(
            F.c.id, F.c.created_at, F.c.updated_at, F.c.useful, F.c.reason, F.c.question, F.c.answer, F.c.refused,
            F.c.citations, F.c.prompt_version, F.c.generator, F.c.session,
        )  # fmt: skip
        if where is not None:
            query = query.where(where)
        if order is not None:
            query = query.order_by(order)
        if limit is not None:
            query = query.limit(limit)
        with self._connect() as db:
            rows = db.execute(query).all()
        return [
            FeedbackRecord(
                r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], bool(r[7]), json.loads(r[8]), r[9], r[10], r[11]
            )
            for r in rows
        ]


__all__ = ["FeedbackRecord", "FeedbackStore"]


if __name__ == "__main__":  # pragma: no cover - a quick look at the newest feedback
    import sys

    from settings import Settings

    store = FeedbackStore.from_settings(Settings.load())
    if len(sys.argv) > 1:
        print(f"{store.export_jsonl(Path(sys.argv[1]))} records written to {sys.argv[1]}")
    else:
        print(json.dumps(store.counts(), ensure_ascii=False))
        for rec in store.recent(20):
            mark = "+" if rec.useful else "-"
            print(f"{rec.created_at} {mark} [{rec.prompt_version}] {rec.question[:60]!r} {rec.reason[:60]!r}")
