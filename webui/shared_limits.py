"""The question rate limit and the admin lock-out, shared by every replica through the database they share.

With ``CCHC_DATABASE_URL`` set, N replicas allow the configured rate in total, not N times it, and a client locked
out on one replica is locked out on all. Each check is one atomic SQLAlchemy Core statement (an upsert whose
``WHERE`` decides), so concurrent replicas never lose an update:

- questions: a sliding-window counter per key (Cloudflare's estimate: this window's count plus the previous one's
  weighted by how much of it still overlaps the last ``window_s`` seconds). A question is counted on its session
  and on its address, or on neither: the rare question that one of the two refuses is taken back off the other.
- admin logins: failures per address since the first of them (within ``window_s``); the lock-out doubles.

Keys are hashed (no addresses or session ids stored); rows nobody used for two windows (a day, for lock-outs) are
pruned, at most once per window per replica. When the database does not answer, the check fails open: a warning
is logged and, for ``retry_s`` seconds, the replica keeps the limits in its own memory (``webui/guard.py``), so
nobody is refused for the limiter's sake and nobody gets unlimited tries either.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    bindparam,
    case,
    create_engine,
    delete,
    make_url,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.compiler import SQLCompiler

from vectorstore.database import make_engine
from webui.guard import Caller, LoginGuard, QuestionLimits

log = logging.getLogger(__name__)

LIMITS = MetaData()

rate_limits = Table(
    "rate_limits",
    LIMITS,
    Column("key", Text, primary_key=True),  # a hash of the session or the address
    Column("win", BigInteger, nullable=False),  # the current window: floor(unix time / window_s)
    Column("prev", Integer, nullable=False),  # questions counted in the window before it
    Column("cur", Integer, nullable=False),  # questions counted in it
    Column("lim", Integer, nullable=False),  # the limit the key was last checked against
    Index("rate_limits_win", "win"),
)

login_failures = Table(
    "login_failures",
    LIMITS,
    Column("key", Text, primary_key=True),  # a hash of the address
    Column("since", Float, nullable=False),  # the first failure of the current count (unix time)
    Column("failures", Integer, nullable=False),
    Column("next_lock", Float, nullable=False),  # seconds of the next lock-out (doubles with each)
    Column("locked_until", Float, nullable=False),  # unix time; 0 when never locked
    Column("seen", Float, nullable=False),  # the last failure (for pruning)
    Index("login_failures_seen", "seen"),
)

LOGIN_MEMORY_S = 86_400.0  # a client's lock-out history is kept this long after its last failure
T = TypeVar("T")


def limits_engine(url: str) -> Engine:
    """An engine for the limit tables: on PostgreSQL each statement commits by itself (one round trip, no
    ``BEGIN``/``COMMIT``), connections are not pinged first (a dead one fails one check, which fails open, and the
    pool replaces it), and a server that does not answer is given up on within about 2 s."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return make_engine(url, busy_timeout_s=2.0)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(
        parsed,
        isolation_level="AUTOCOMMIT",
        pool_size=4,
        max_overflow=28,
        pool_timeout=2,
        connect_args={"connect_timeout": 2, "options": "-c statement_timeout=2000 -c lock_timeout=1000"},
    )


def hashed(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _insert(engine: Engine, table: Table) -> Any:
    return (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(table)


class _Gate:
    """Runs a check on the database; when it fails, logs a warning and answers from ``fallback`` for ``retry_s``."""

    def __init__(self, engine: Engine, what: str, retry_s: float) -> None:
        self.engine = engine
        self.what = what
        self.retry_s = retry_s
        self._down_until = 0.0
        self._tables = False
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return time.monotonic() < self._down_until

    def run(self, work: Callable[[Connection], T], fallback: Callable[[], T]) -> T:
        if self.down:
            return fallback()
        try:
            if not self._tables:
                LIMITS.create_all(self.engine)
                self._tables = True
            with self.engine.begin() as db:
                return work(db)
        except (SQLAlchemyError, OSError) as exc:
            with self._lock:
                self._down_until = time.monotonic() + self.retry_s
            log.warning(
                "%s: the shared database did not answer (%s: %s); this replica keeps the limit alone for %.0f s",
                self.what,
                type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "",
                self.retry_s,
            )
            return fallback()


def window_wait(win: int, prev: int, cur: int, limit: int, now: float, window_s: float) -> float:
    """Seconds until a key with this counter state may count one more question (0: now)."""
    w = math.floor(now / window_s)
    frac = now / window_s - w
    p = prev if win == w else cur if win == w - 1 else 0
    c = cur if win == w else 0
    if p * (1 - frac) + c + 1 <= limit:
        return 0.0
    if c + 1 <= limit:  # this window has room: wait for the previous window's weight to fade enough
        need = 1 - (limit - 1 - c) / p
        return max(0.1, (need - frac) * window_s + 0.01)
    need = 1 - (limit - 1) / c  # this window is full: in the next one its count weighs (1 - f)
    return max(0.1, (1 - frac + need) * window_s + 0.01)


class SharedQuestionLimits:
    """:class:`webui.guard.QuestionLimits` kept in the shared database (same settings, same meaning)."""

    def __init__(
        self,
        engine: Engine,
        per_session: int,
        per_address: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.time,
        retry_s: float = 5.0,
    ) -> None:
        self.per_session = per_session
        self.per_address = per_address if per_session > 0 else 0
        self.window_s = window_s
        self._clock = clock
        self._gate = _Gate(engine, "question rate limit", retry_s)
        self.fallback = QuestionLimits(per_session, per_address, window_s)
        self._pruned = -1
        self._compiled: dict[int, SQLCompiler] = {}

    @property
    def engine(self) -> Engine:
        return self._gate.engine

    def retry_after(self, caller: Caller) -> float:
        """Count a question and return 0, or the seconds to wait (then it is counted nowhere)."""
        if self.per_session <= 0:
            return 0.0
        keys = {hashed(caller.session_key): self.per_session}
        if self.per_address > 0:
            keys[hashed(caller.address_key)] = self.per_address
        return self._gate.run(lambda db: self._check(db, keys), lambda: self.fallback.retry_after(caller))

    def _upsert(self, n: int) -> SQLCompiler:
        """The check for ``n`` keys, compiled once: SQLAlchemy does not cache a multi-row INSERT's compilation, and
        compiling it on every question cost more than the round trip."""
        compiled = self._compiled.get(n)
        if compiled is None:
            t = rate_limits
            w = bindparam("w", type_=BigInteger)
            rows = [
                {"key": bindparam(f"k{i}", type_=Text), "win": w, "prev": 0, "cur": 1, "lim": bindparam(f"n{i}")}
                for i in range(n)
            ]
            stmt = _insert(self.engine, t).values(rows)
            p = case((t.c.win == w, t.c.prev), (t.c.win == w - 1, t.c.cur), else_=0)
            c = case((t.c.win == w, t.c.cur), else_=0)
            stmt = stmt.on_conflict_do_update(
                index_elements=[t.c.key],
                set_={"win": w, "prev": p, "cur": c + 1, "lim": stmt.excluded.lim},
                where=p * bindparam("rest", type_=Float) + c + 1 <= stmt.excluded.lim,
            ).returning(t.c.key)
            compiled = self._compiled[n] = cast(SQLCompiler, stmt.compile(dialect=self.engine.dialect))
        return compiled

    def _check(self, db: Connection, keys: dict[str, int]) -> float:
        now = self._clock()
        w = math.floor(now / self.window_s)
        t = rate_limits
        compiled = self._upsert(len(keys))
        values: dict[str, Any] = {"w": w, "rest": 1.0 - (now / self.window_s - w)}
        for i, (key, limit) in enumerate(keys.items()):
            values[f"k{i}"], values[f"n{i}"] = key, limit
        params = dict(compiled.construct_params(values))
        if compiled.positional:  # SQLite's "?" placeholders
            counted = set(
                db.exec_driver_sql(compiled.string, tuple(params[k] for k in compiled.positiontup or ())).scalars()
            )
        else:
            counted = set(db.exec_driver_sql(compiled.string, params).scalars())
        if w != self._pruned:  # rows untouched for two windows count for nothing: drop them
            self._pruned = w
            db.execute(delete(t).where(t.c.win < w - 1))
        if len(counted) == len(keys):
            return 0.0
        for key in counted:  # counted on one key and refused by the other: take it back
            db.execute(update(t).where(t.c.key == key, t.c.win == w, t.c.cur > 0).values(cur=t.c.cur - 1))
        refused = [k for k in keys if k not in counted]
        rows = db.execute(select(t.c.win, t.c.prev, t.c.cur, t.c.lim).where(t.c.key.in_(refused))).all()
        return max((window_wait(r[0], r[1], r[2], r[3], now, self.window_s) for r in rows), default=0.1) or 0.1


class SharedLoginGuard:
    """:class:`webui.guard.LoginGuard` kept in the shared database: a lock-out holds on every replica."""

    def __init__(
        self,
        engine: Engine,
        max_failures: int = 5,
        window_s: float = 900.0,
        lockout_s: float = 300.0,
        *,
        clock: Callable[[], float] = time.time,
        retry_s: float = 5.0,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self._clock = clock
        self._gate = _Gate(engine, "admin lock-out", retry_s)
        self.fallback = LoginGuard(max_failures, window_s, lockout_s)
        self._pruned = 0.0

    def locked_for(self, client: str) -> float:
        """Seconds ``client`` must still wait before trying again (0 when it may try)."""

        def work(db: Connection) -> float:
            t = login_failures
            until = db.execute(select(t.c.locked_until).where(t.c.key == hashed(f"login:{client}"))).scalar()
            return max(0.0, float(until) - self._clock()) if until is not None else 0.0

        return self._gate.run(work, lambda: self.fallback.locked_for(client))

    def failed(self, client: str) -> float:
        """Record a failed attempt; return the lock-out it triggers (0 when none)."""
        return self._gate.run(lambda db: self._failed(db, client), lambda: self.fallback.failed(client))

    def _failed(self, db: Connection, client: str) -> float:
        now = self._clock()
        t = login_failures
        first = self.max_failures <= 1  # the first failure already locks
        stmt = _insert(db.engine, t).values(
            key=hashed(f"login:{client}"),
            since=now,
            failures=0 if first else 1,
            next_lock=self.lockout_s * (2 if first else 1),
            locked_until=now + self.lockout_s if first else 0.0,
            seen=now,
        )
        fresh = t.c.since > now - self.window_s
        failures = case((fresh, t.c.failures + 1), else_=1)
        trip = failures >= self.max_failures
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                "failures": case((trip, 0), else_=failures),
                "since": case((and_(fresh, t.c.failures > 0), t.c.since), else_=now),
                "locked_until": case((trip, now + t.c.next_lock), else_=t.c.locked_until),
                "next_lock": case((trip, t.c.next_lock * 2), else_=t.c.next_lock),
                "seen": now,
            },
        ).returning(t.c.locked_until)
        until = float(db.execute(stmt).scalar_one())
        if now - self._pruned > self.window_s:
            self._pruned = now
            db.execute(delete(t).where(t.c.seen < now - max(LOGIN_MEMORY_S, self.window_s), t.c.locked_until < now))
        return max(0.0, until - now)

    def succeeded(self, client: str) -> None:
        def work(db: Connection) -> None:
            db.execute(delete(login_failures).where(login_failures.c.key == hashed(f"login:{client}")))

        self._gate.run(work, lambda: None)
        self.fallback.succeeded(client)


__all__ = ["LIMITS", "SharedLoginGuard", "SharedQuestionLimits", "limits_engine", "login_failures", "rate_limits"]
