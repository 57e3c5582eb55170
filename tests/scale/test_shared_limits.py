"""The question rate limit and the admin lock-out shared through the database (``webui/shared_limits.py``).

The same checks on a real SQLite file and a real PostgreSQL, each with two limiters on two engines (two replicas'
worth): the limit counts once in total, concurrent questions lose no update, old rows are pruned, and a database
that does not answer fails open with a warning. Then two real ``python app.py`` replicas over PostgreSQL and the
Chroma server: questions through the JSON API spread over A and B get 429 after the limit in total, sessions
behind one address each get the rate under the shared address ceiling, and an admin locked out on A is refused on
B. On the previous code (limits in each replica's memory) each of these fails.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from tests.app.fixtures import CHROMIUM, CHROMIUM_ARGS
from tests.app.test_admin_crash import ADMIN_PASSWORD, submit_login
from tests.conftest import unavailable
from tests.scale.test_replicas import Replicas
from tests.servers import ChromaServer, PostgresServer, free_port
from webui.guard import Caller
from webui.shared_limits import (
    SharedLoginGuard,
    SharedQuestionLimits,
    hashed,
    limits_engine,
    login_failures,
    rate_limits,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # the start of a 60 s window

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def limits_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'limits.sqlite3'}"
    return str(request.getfixturevalue("database_url"))


@pytest.fixture()
def engines(limits_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one database: what two replicas hold."""
    pair = (limits_engine(limits_url), limits_engine(limits_url))
    yield pair
    for engine in pair:
        engine.dispose()


def rows(engine: Engine, table: object) -> int:
    with engine.connect() as db:
        return int(db.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def test_two_replicas_share_the_rate_per_session_and_the_address_ceiling(engines: tuple[Engine, Engine]) -> None:
    clock = Clock()
    a, b = (SharedQuestionLimits(e, per_session=3, per_address=5, window_s=60.0, clock=clock) for e in engines)
    person = Caller("203.0.113.7", "session-1")
    assert [limiter.retry_after(person) for limiter in (a, b, a)] == [0.0, 0.0, 0.0]
    assert b.retry_after(person) == pytest.approx(80.0, abs=0.1)  # 3 in total, not 3 per replica
    assert b.retry_after(Caller("203.0.113.7", "session-2")) == 0.0  # a colleague behind the same address
    assert a.retry_after(Caller("203.0.113.7", "session-3")) == 0.0  # the address's 5th
    assert b.retry_after(Caller("203.0.113.7", "session-4")) > 0  # over the address ceiling, on either replica
    assert a.retry_after(Caller("198.51.100.9", "x")) == 0.0  # another address is not affected
    start = clock.now
    clock.now = start + 70.0  # the next window: the last one still weighs 5 × (1 - 10/60), too much
    assert a.retry_after(Caller("203.0.113.7", "session-2")) > 0
    clock.now = start + 72.5  # 5 × (1 - 12.5/60) + 1 ≤ 5: the window has slid far enough
    assert a.retry_after(Caller("203.0.113.7", "session-2")) == 0.0
    assert b.retry_after(person) > 0  # 3 × (1 - 12.5/60) + 1 > 3
    clock.now = start + 90.0
    assert b.retry_after(person) == 0.0
    assert SharedQuestionLimits(engines[0], 0, 5, 60.0).retry_after(person) == 0.0  # 0: no limits


def test_a_question_refused_by_the_address_ceiling_is_not_counted_on_its_session(
    engines: tuple[Engine, Engine],
) -> None:
    clock = Clock()
    a, b = (SharedQuestionLimits(e, per_session=2, per_address=3, window_s=60.0, clock=clock) for e in engines)
    assert a.retry_after(Caller("10.0.0.1", "x")) == 0.0
    assert b.retry_after(Caller("10.0.0.1", "y")) == 0.0
    assert a.retry_after(Caller("10.0.0.1", "z")) == 0.0
    for _ in range(5):
        assert b.retry_after(Caller("10.0.0.1", "w")) > 0  # refused by the address, never counted on "w"
    with engines[0].connect() as db:
        counts = sorted(db.execute(select(rate_limits.c.cur)).scalars())
    assert counts == [0, 1, 1, 1, 3]  # x, y, z and the address; "w" counted and taken back each time


def test_concurrent_questions_on_two_replicas_lose_no_update(engines: tuple[Engine, Engine]) -> None:
    clock = Clock()
    limiters = [SharedQuestionLimits(e, per_session=30, per_address=45, window_s=60.0, clock=clock) for e in engines]
    for limiter in limiters:  # tables exist before the race
        limiter.retry_after(Caller("192.0.2.200", "warm-up"))
    allowed: list[str] = []
    lock = threading.Lock()

    def ask(worker: int) -> None:
        limiter = limiters[worker % 2]
        for i in range(25):
            session = "one" if i % 2 else f"own-{worker}"  # half on one shared session, half on their own
            if limiter.retry_after(Caller("192.0.2.1", session)) == 0.0:
                with lock:
                    allowed.append(session)

    threads = [threading.Thread(target=ask, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 45  # the address ceiling, exactly: 200 attempts, two replicas
    assert allowed.count("one") <= 30
    with engines[0].connect() as db:
        address = db.scalar(select(rate_limits.c.cur).where(rate_limits.c.key == hashed("ip:192.0.2.1")))
        total = db.scalar(select(func.sum(rate_limits.c.cur)))
    assert address == 45 and total == 45 + 45 + 2 + 2  # every count matches what was allowed (and 2 warm-ups)


def test_rows_of_past_windows_are_pruned(engines: tuple[Engine, Engine]) -> None:
    clock = Clock()
    limiter = SharedQuestionLimits(engines[0], per_session=5, per_address=100, window_s=60.0, clock=clock)
    for i in range(50):
        limiter.retry_after(Caller(f"10.9.0.{i}", f"s{i}"))
    assert rows(engines[0], rate_limits) == 100
    clock.now += 60.0
    limiter.retry_after(Caller("10.9.1.1", "later"))
    assert rows(engines[0], rate_limits) == 102  # the previous window still weighs
    clock.now += 120.0
    limiter.retry_after(Caller("10.9.1.2", "much-later"))
    assert rows(engines[0], rate_limits) == 2


def test_a_lock_out_on_one_replica_holds_on_the_other(engines: tuple[Engine, Engine]) -> None:
    clock = Clock()
    a, b = (SharedLoginGuard(e, max_failures=3, window_s=900, lockout_s=60, clock=clock) for e in engines)
    assert [a.failed("x"), b.failed("x")] == [0.0, 0.0]
    assert a.locked_for("x") == 0.0
    assert a.failed("x") == pytest.approx(60.0)  # the third failure, counted over both replicas
    assert b.locked_for("x") == pytest.approx(60.0) and b.locked_for("y") == 0.0
    clock.now += 61
    assert b.locked_for("x") == 0.0
    assert [b.failed("x"), a.failed("x"), b.failed("x")][-1] == pytest.approx(120.0)  # and it doubles
    assert a.locked_for("x") == pytest.approx(120.0)
    b.succeeded("x")
    assert a.locked_for("x") == 0.0
    for _ in range(2):
        a.failed("z")
    clock.now += 901  # failures outside the window are forgotten
    assert b.failed("z") == 0.0
    assert rows(engines[0], login_failures) == 1  # x was cleared by its success, z stays


def test_a_database_that_does_not_answer_fails_open_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    engine = limits_engine(f"postgresql://cchc@127.0.0.1:{free_port()}/cchc")  # nothing listens there
    questions = SharedQuestionLimits(engine, per_session=2, per_address=10, window_s=60.0, retry_s=60.0)
    logins = SharedLoginGuard(engine, max_failures=2, lockout_s=60.0, retry_s=60.0)
    caller = Caller("10.0.0.1", "s")
    with caplog.at_level(logging.WARNING, logger="webui.shared_limits"):
        started = time.monotonic()
        assert [questions.retry_after(caller) for _ in range(2)] == [0.0, 0.0]  # nobody refused for the limiter
        assert questions.retry_after(caller) > 0  # ... and the replica still keeps the limit in its memory
        assert logins.locked_for("10.0.0.1") == 0.0
        assert [logins.failed("10.0.0.1") for _ in range(2)][-1] > 0
        assert time.monotonic() - started < 5
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("question rate limit" in w and "did not answer" in w for w in warnings)
    assert any("admin lock-out" in w for w in warnings)
    assert len(warnings) == 2  # one per outage and limit, not one per question


def test_the_shared_limit_comes_back_after_an_outage(tmp_path: Path, postgres: PostgresServer) -> None:
    own = PostgresServer()  # this test stops its server: not the session's
    own.start()
    try:
        engines = [limits_engine(own.url), limits_engine(own.url)]
        a, b = (SharedQuestionLimits(e, per_session=3, per_address=10, window_s=600.0, retry_s=0.5) for e in engines)
        caller = Caller("10.0.0.2", "s")
        assert [a.retry_after(caller), a.retry_after(caller)] == [0.0, 0.0]  # 2 counted in the database
        own.stop()
        assert b.retry_after(caller) == 0.0  # fails open while the database is down (1 in B's memory)
        own.start()
        deadline = time.monotonic() + 30
        while True:  # B goes back to the database by itself
            time.sleep(0.6)
            b.retry_after(Caller("10.0.0.3", "probe"))
            if not b._gate.down:
                break
            assert time.monotonic() < deadline, "the limiter did not go back to the database"
        assert b.retry_after(caller) == 0.0  # the 3rd in the database (B's memory alone would allow one more)
        assert b.retry_after(caller) > 0
    finally:
        for e in engines:
            e.dispose()
        own.remove()


LIMITED = {
    "CCHC_RATE_LIMIT_QUESTIONS": "3",
    "CCHC_RATE_LIMIT_QUESTIONS_PER_ADDRESS": "5",
    "CCHC_RATE_LIMIT_WINDOW_S": "600",
    "CCHC_ADMIN_MAX_FAILURES": "2",
    "CCHC_ADMIN_LOCKOUT_S": "600",
}


@pytest.mark.browser
def test_two_app_replicas_share_the_question_rate_and_the_admin_lock_out(
    tmp_path: Path, database_url: str, chroma: ChromaServer
) -> None:
    if not CHROMIUM.exists():
        unavailable("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    group = Replicas(tmp_path, database_url, chroma)
    group.env.update(LIMITED)
    try:
        a, b = group.start("a"), group.start("b")
        for port in (a, b):  # ready (the sample ingested): a question is not counted on a 503
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict("cccd", 1, False, api_name="/retrieve")

        def ask(port: int, client: str | None = None) -> httpx.Response:
            headers = {"X-Client-Id": client} if client else {}
            body = {"question": "Thủ tục cấp lại căn cước công dân?"}
            return httpx.post(f"http://127.0.0.1:{port}/api/ask", json=body, headers=headers, timeout=120)

        assert [ask(port).status_code for port in (a, b, a)] == [200, 200, 200]
        refused = ask(b)  # the 4th question without an id from this address: over the rate, in total
        assert refused.status_code == 429 and "quá nhiều câu hỏi" in refused.json()["error"]
        assert int(refused.headers["retry-after"]) > 0
        assert ask(a, "nguoi-1").status_code == 200  # colleagues with their own ids are not held to that rate
        assert ask(b, "nguoi-2").status_code == 200
        assert ask(a, "nguoi-3").status_code == 429  # ... up to the address's ceiling of 5, over both replicas

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

            def try_login(port: int, password: str) -> str:
                page = submit_login(browser, port, password)
                page.wait_for_function(  # the answer (not Gradio's "processing" line), or the admin panel
                    "document.querySelector('#admin-panel')?.offsetParent"
                    " || /Sai tên|quá nhiều/.test(document.querySelector('#admin-login-msg')?.innerText || '')"
                )
                text = "logged in" if page.locator("#admin-panel").is_visible() else page.inner_text("#admin-login-msg")
                page.close()
                return text

            assert "Sai tên đăng nhập" in try_login(a, "sai-mat-khau")
            assert "Đăng nhập sai quá nhiều lần" in try_login(a, "sai-nua")  # the 2nd failure locks out
            assert "Đăng nhập sai quá nhiều lần" in try_login(b, ADMIN_PASSWORD)  # B refuses even the right one
            browser.close()
    finally:
        group.stop()
