"""Durable answer feedback: useful / not useful, an optional reason, and what was rated.

One SQLite file (``settings.data_dir / "feedback" / "feedback.sqlite3"``); each record keeps the question,
the answer, its citations (JSON), the prompt version and generator, and UTC timestamps, so answers rated
"not useful" can be reviewed against the prompt that produced them. Safe to use from several threads:
every call opens its own short connection.

    store = FeedbackStore.from_settings(settings)
    fid = store.add(question="...", answer="...", citations=[...], prompt_version="answer@v2", useful=False)
    store.update(fid, reason="Thiếu nguồn")
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vectorstore.text import normalize

MAX_REASON_CHARS = 2000
MAX_TEXT_CHARS = 20000

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,          -- ISO 8601, UTC
    updated_at TEXT NOT NULL,
    useful INTEGER NOT NULL,           -- 1 useful, 0 not useful
    reason TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    refused INTEGER NOT NULL DEFAULT 0,
    citations TEXT NOT NULL,           -- JSON list of Citation.to_dict()
    prompt_version TEXT NOT NULL,
    generator TEXT NOT NULL DEFAULT '',
    session TEXT NOT NULL DEFAULT ''   -- an opaque per-browser-session id, to group one conversation
);
CREATE INDEX IF NOT EXISTS feedback_created ON feedback(created_at);
"""


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
    """Append and update feedback records in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @classmethod
    def from_settings(cls, settings: Any) -> FeedbackStore:
        return cls(Path(settings.data_dir) / "feedback" / "feedback.sqlite3")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction (committed on success, rolled back on error: what was stored before
        stays); a storage failure becomes a ``FeedbackError`` that says why."""
        try:
            db = sqlite3.connect(self.path, timeout=10)
            try:
                with db:
                    yield db
            finally:
                db.close()
        except (sqlite3.Error, OSError) as exc:
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
        with self._lock, self._connect() as db:
            cur = db.execute(
                "INSERT INTO feedback (created_at, updated_at, useful, reason, question, answer, refused, citations, "
                "prompt_version, generator, session) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    now,
                    now,
                    int(bool(useful)),
                    _clip(reason, MAX_REASON_CHARS),
                    _clip(question, MAX_TEXT_CHARS),
                    _clip(answer, MAX_TEXT_CHARS),
                    int(bool(refused)),
                    json.dumps(cits, ensure_ascii=False),
                    prompt_version or "",
                    generator or "",
                    session or "",
                ),
            )
            return int(cur.lastrowid or 0)

    def update(self, feedback_id: int, *, useful: bool | None = None, reason: str | None = None) -> bool:
        """Change the rating and/or the reason of a record; False when it does not exist."""
        sets: list[str] = ["updated_at=?"]
        values: list[Any] = [_now()]
        if useful is not None:
            sets.append("useful=?")
            values.append(int(bool(useful)))
        if reason is not None:
            sets.append("reason=?")
            values.append(_clip(reason, MAX_REASON_CHARS))
        with self._lock, self._connect() as db:
            cur = db.execute(f"UPDATE feedback SET {', '.join(sets)} WHERE id=?", (*values, int(feedback_id)))
            return cur.rowcount == 1

    def get(self, feedback_id: int) -> FeedbackRecord | None:
        rows = self._select("WHERE id=?", (int(feedback_id),))
        return rows[0] if rows else None

    def recent(self, limit: int = 100) -> list[FeedbackRecord]:
        """The newest records first."""
        return self._select("ORDER BY id DESC LIMIT ?", (int(limit),))

    def counts(self) -> dict[str, int]:
        with self._connect() as db:
            total, useful = db.execute("SELECT count(*), coalesce(sum(useful), 0) FROM feedback").fetchone()
        return {"total": int(total), "useful": int(useful), "not_useful": int(total) - int(useful)}

    def export_jsonl(self, path: Path) -> int:
        """Write every record as one JSON line (oldest first); return how many."""
        records = self._select("ORDER BY id", ())
        with Path(path).open("w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
        return len(records)

    def _select(self, tail: str, params: tuple[Any, ...]) -> list[FeedbackRecord]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, created_at, updated_at, useful, reason, question, answer, refused, citations, "
                f"prompt_version, generator, session FROM feedback {tail}",
                params,
            ).fetchall()
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
