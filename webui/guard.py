"""Protection of the public app: admission of answers under load, a per-client rate limit on questions and a
per-client lock-out for admin password guessing.

One instance of each lives in the app's context (no module state). A client is the peer address Gradio reports
(behind a reverse proxy, configure the proxy to pass the real address; see the README); questions are also counted
per browser session (or per ``X-Client-Id`` on the JSON API), so people behind one address each get their own rate
under a higher per-address ceiling. These are the in-memory versions, for one process; ``webui/shared_limits.py``
keeps the same limits in the database the replicas share. Memory stays bounded: at most ``max_clients`` clients are
remembered, the least recently seen are forgotten first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

RATE_LIMITED = "Bạn đã gửi quá nhiều câu hỏi trong thời gian ngắn; vui lòng đợi {seconds} giây rồi hỏi tiếp."
LOCKED_OUT = "Đăng nhập sai quá nhiều lần; vui lòng thử lại sau {seconds} giây."
BUSY = "Hệ thống đang bận, vui lòng thử lại sau ít phút."


class Busy(RuntimeError):
    """No answer slot came free in time; ``str()`` is the Vietnamese message for users."""

    def __init__(self) -> None:
        super().__init__(BUSY)


class Admission:
    """At most ``slots`` answers are computed at once (they share the CPU); a question waits at most ``wait_s``
    for a slot and is then told the system is busy, instead of queueing without bound."""

    def __init__(self, slots: int, wait_s: float) -> None:
        self.slots = max(1, slots)
        self.wait_s = wait_s
        self._free = threading.BoundedSemaphore(self.slots)
        self._lock = threading.Lock()
        self.busy_replies = 0  # questions told the system is busy since start

    @contextmanager
    def slot(self, arrived: float | None = None) -> Iterator[None]:
        """Hold an answer slot. ``arrived`` (``time.monotonic()`` when the request reached the server): the time
        it already spent queued before this call counts against ``wait_s``."""
        waited = time.monotonic() - arrived if arrived is not None else 0.0
        if not self._free.acquire(blocking=False) and not (
            waited < self.wait_s and self._free.acquire(timeout=self.wait_s - waited)
        ):
            with self._lock:
                self.busy_replies += 1
            raise Busy()
        try:
            yield
        finally:
            self._free.release()


def client_of(request: object | None) -> str:
    """The peer address of a Gradio request ("" when unknown, e.g. a direct call)."""
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "")


CLIENT_ID_HEADER = "x-client-id"  # the JSON API's optional per-user id (a browser has its Gradio session instead)
MAX_SESSION_CHARS = 128


@dataclass(frozen=True)
class Caller:
    """Who asks: the peer address and, when known, the browser session (or the API client's own id)."""

    address: str
    session: str = ""

    @property
    def session_key(self) -> str:
        """The per-session counter's key; callers without a session share one per address."""
        return f"s:{self.session}" if self.session else f"anon:{self.address}"

    @property
    def address_key(self) -> str:
        """The per-address ceiling's key."""
        return f"ip:{self.address}"


def caller_of(request: object | None) -> Caller:
    """The caller of a Gradio request (its session hash) or of a Starlette request (its ``X-Client-Id`` header)."""
    session = getattr(request, "session_hash", None) if request is not None else None
    if not session:
        try:
            headers = getattr(request, "headers", None)
            session = headers.get(CLIENT_ID_HEADER) if headers is not None else None
        except AttributeError:
            session = None
    text = "".join(ch for ch in str(session or "") if ch.isprintable()).strip()[:MAX_SESSION_CHARS]
    return Caller(client_of(request), text)


class ArrivalStamp:
    """ASGI middleware: notes when each HTTP request reached the server (``scope["state"]["arrived"]``), so that
    admission counts the time a question spent in Gradio's queue before its handler ran."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["arrived"] = time.monotonic()
        await self.app(scope, receive, send)


def arrived_at(request: object | None) -> float | None:
    """When a Gradio request reached the server (see :class:`ArrivalStamp`), or None when unknown."""
    scope = getattr(getattr(request, "request", None), "scope", None)
    state = scope.get("state") if isinstance(scope, dict) else None
    arrived = state.get("arrived") if isinstance(state, dict) else None
    return float(arrived) if isinstance(arrived, (int, float)) else None


class RateLimiter:
    """At most ``limit`` events per client in any ``window_s`` seconds (a sliding window)."""

    def __init__(
        self, limit: int, window_s: float, max_clients: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self._clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """Record an event for ``client`` and return 0, or, over the limit, the seconds until one is allowed
        (the refused event is not recorded)."""
        if self.limit <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            wait = self._wait(client, now)
            if not wait:
                self._events[client].append(now)
            return wait

    def _wait(self, client: str, now: float) -> float:
        """Seconds until ``client`` may have an event (0: now); the caller holds the lock and records it."""
        events = self._events.pop(client, None) or deque()
        while events and events[0] <= now - self.window_s:
            events.popleft()
        self._events[client] = events  # most recently seen last
        while len(self._events) > self.max_clients:
            self._events.popitem(last=False)
        if self.limit > 0 and len(events) >= self.limit:
            return max(0.1, events[0] + self.window_s - now)
        return 0.0


class QuestionLimit(Protocol):
    """The question rate limit, in memory or shared through the database."""

    def retry_after(self, caller: Caller) -> float:
        """Record a question and return 0, or the seconds to wait (the refused question is not counted)."""
        ...


class QuestionLimits:
    """Questions per session (``per_session`` in any ``window_s``) under a per-address ceiling (``per_address``);
    0 turns a limit off, and ``per_session`` 0 turns both off. A question is counted on both or on neither."""

    def __init__(
        self,
        per_session: int,
        per_address: int,
        window_s: float,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = RateLimiter(per_session, window_s, max_clients, clock)
        self.addresses = RateLimiter(per_address if per_session > 0 else 0, window_s, max_clients, clock)
        self._clock = clock

    def retry_after(self, caller: Caller) -> float:
        if self.sessions.limit <= 0:
            return 0.0
        now = self._clock()
        with self.sessions._lock, self.addresses._lock:
            limiters = [(self.sessions, caller.session_key)]
            if self.addresses.limit > 0:
                limiters.append((self.addresses, caller.address_key))
            wait = max(limiter._wait(key, now) for limiter, key in limiters)
            if not wait:
                for limiter, key in limiters:
                    limiter._events[key].append(now)
            return wait


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    times: deque[float] = field(default_factory=deque)


class LoginGuard:
    """Admin login attempts per client: after ``max_failures`` failures within ``window_s`` the client is locked
    out for ``lockout_s`` (doubling with each further lock-out); a success clears its record."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 900.0,
        lockout_s: float = 300.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.max_clients = max_clients
        self._clock = clock
        self._clients: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def locked_for(self, client: str) -> float:
        """Seconds ``client`` must still wait before trying again (0 when it may try)."""
        with self._lock:
            record = self._clients.get(client)
            return max(0.0, record.locked_until - self._clock()) if record else 0.0

    def failed(self, client: str) -> float:
        """Record a failed attempt; return the lock-out it triggers (0 when none)."""
        now = self._clock()
        with self._lock:
            record = self._clients.pop(client, None) or _Failures()
            self._clients[client] = record
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
            while record.times and record.times[0] <= now - self.window_s:
                record.times.popleft()
            record.times.append(now)
            if len(record.times) < self.max_failures:
                return 0.0
            record.count += 1
            record.times.clear()
            record.locked_until = now + self.lockout_s * 2 ** (record.count - 1)
            return record.locked_until - now

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)


class LoginLimit(Protocol):
    """The admin login lock-out, in memory or shared through the database."""

    def locked_for(self, client: str) -> float: ...

    def failed(self, client: str) -> float: ...

    def succeeded(self, client: str) -> None: ...


__all__ = [
    "BUSY",
    "LOCKED_OUT",
    "RATE_LIMITED",
    "Admission",
    "Busy",
    "Caller",
    "LoginGuard",
    "LoginLimit",
    "QuestionLimit",
    "QuestionLimits",
    "RateLimiter",
    "caller_of",
    "client_of",
]
