"""What the tabs of one app share: the service, the settings, feedback, the wording index, readiness."""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from bot.feedback import FeedbackStore
from bot.service import ChatService
from bot.wording import WordingIndex
from settings import Settings

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


def prepare(service: ChatService, readiness: Readiness) -> None:
    """Ingest the bundled sample when the store is empty, warm the indexes, then say so."""
    try:
        readiness.message = "Đang nạp dữ liệu mẫu và mô hình, vui lòng đợi…"
        summary = service.ensure_sample()
        if summary is not None:
            log.info("sample ingested:\n%s", summary.render())
        service.retrieve("thủ tục hành chính")  # loads BM25 indexes and the dense model once
        stats = service.store.stats()
        readiness.done(f"Sẵn sàng: {stats['documents']} tài liệu, {stats['chunks']} đoạn văn bản.")
    except Exception as exc:  # noqa: BLE001 - shown in the page instead of crashing the server
        log.exception("preparing the store failed")
        readiness.fail(f"Không chuẩn bị được dữ liệu: {exc}")


@dataclass
class AppContext:
    service: ChatService
    settings: Settings
    feedback: FeedbackStore
    wording: WordingIndex
    readiness: Readiness
    lab_services: "OrderedDict[tuple[Any, ...], ChatService]" = field(default_factory=OrderedDict)
    lab_lock: threading.Lock = field(default_factory=threading.Lock)
    ingest_lock: threading.Lock = field(default_factory=threading.Lock)

    def lab_service(self, **overrides: Any) -> ChatService:
        """A ChatService with other retrieval/answer settings, sharing the embedder and the store."""
        key = tuple(sorted(overrides.items()))
        if not overrides:
            return self.service
        with self.lab_lock:
            svc = self.lab_services.get(key)
            if svc is None:
                svc = ChatService(self.settings.model_copy(update=overrides), embedder=self.service.embedder,
                                  store=self.service.store)
                self.lab_services[key] = svc
                while len(self.lab_services) > 8:  # indexes are per service: keep memory bounded
                    _, old = self.lab_services.popitem(last=False)
                    _close_generators(old)
            else:
                self.lab_services.move_to_end(key)
            return svc


def _close_generators(service: ChatService) -> None:
    """Stop an evicted service's LLM generators (their local servers); never its store, which is shared."""
    for generator in list(getattr(service, "_generators", {}).values()):
        close = getattr(generator, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001
                log.warning("closing generator %r failed", generator, exc_info=True)


__all__ = ["AppContext", "Readiness", "prepare"]
