"""What the tabs of one app share: the engine, the settings, feedback and readiness."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from bot.engine import Engine
from bot.feedback import FeedbackStore
from settings import SAMPLE_DIR, Settings
from webui.guard import Admission, LoginGuard, LoginLimit, QuestionLimit, QuestionLimits
from webui.shared_limits import SharedLoginGuard, SharedQuestionLimits, limits_engine

log = logging.getLogger(__name__)


class Readiness:
    """Set once the store holds documents (the bundled sample is ingested on first start)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.message = "Đang chuẩn bị dữ liệu…"
        self.failed = False

    @property
    def ready(self) -> bool:
        return self.event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.event.wait(timeout)

    def done(self, message: str) -> None:
        self.message = message
        self.event.set()

    def fail(self, message: str) -> None:
        self.message = message
        self.failed = True
        self.event.set()


def prepare(engine: Engine, readiness: Readiness) -> None:
    """Ingest the bundled sample when the store is empty (under the store's write lock, like any upload),
    build the corpus snapshot and warm the model, then say so."""
    try:
        readiness.message = "Đang nạp dữ liệu mẫu và mô hình, vui lòng đợi…"
        if not engine.store.stats()["documents"]:
            from ingest.pipeline import Ingestor

            log.info("store is empty: ingesting the bundled sample from %s", SAMPLE_DIR)
            summary = Ingestor(engine.settings, embedder=engine.embedder, store=engine.store).run([SAMPLE_DIR])
            log.info("sample ingested:\n%s", summary.render())
        engine.retrieve("thủ tục hành chính")  # builds the snapshot and loads the dense model once
        stats = engine.store.stats()
        readiness.done(f"Sẵn sàng: {stats['documents']} tài liệu, {stats['chunks']} đoạn văn bản.")
    except Exception as exc:
        log.exception("preparing the store failed")
        readiness.fail(f"Không chuẩn bị được dữ liệu: {exc}")


@dataclass
class AppContext:
    """The engine (one per store: every tab and option set shares it), settings, feedback and readiness."""

    engine: Engine
    settings: Settings
    feedback: FeedbackStore
    readiness: Readiness
    admission: Admission = field(init=False)  # answers computed at once, and how long a question may wait
    questions: QuestionLimit = field(init=False)  # question rate per session and per address (chat, "ask" API)
    logins: LoginLimit = field(init=False)  # per-client admin login failures

    def __post_init__(self) -> None:
        s = self.settings
        self.admission = Admission(s.answer_slots, s.busy_after_s)
        per_session, per_address, window = (
            s.rate_limit_questions,
            s.rate_limit_questions_per_address,
            s.rate_limit_window_s,
        )
        if s.database_url is None:  # one process: the limits live in its memory
            self.questions = QuestionLimits(per_session, per_address, window)
            self.logins = LoginGuard(s.admin_max_failures, lockout_s=s.admin_lockout_s)
        else:  # replicas: in the database they share, so N replicas allow the rate once, not N times
            db = limits_engine(s.database_url.get_secret_value())
            self.questions = SharedQuestionLimits(db, per_session, per_address, window)
            self.logins = SharedLoginGuard(db, s.admin_max_failures, lockout_s=s.admin_lockout_s)


__all__ = ["AppContext", "Readiness", "prepare"]
