"""The app's guards: admission under load (busy instead of an endless queue), the question rate limit per
session under a per-address ceiling (unit and through the running app's API) and the admin login lock-out.
The limits shared through the database are tested in tests/scale/test_shared_limits.py."""

from __future__ import annotations

import time

import gradio as gr  # at module level: Gradio resolves the handler's "gr.Request" annotation here
import pytest

from tests.app.fixtures import CHROMIUM, CHROMIUM_ARGS, running_app
from tests.conftest import unavailable
from webui.guard import Admission, Busy, Caller, LoginGuard, QuestionLimits, RateLimiter, caller_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_the_limit_per_window_per_client() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60.0, clock=clock)
    assert [limiter.retry_after("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.retry_after("a") == pytest.approx(60.0)
    assert limiter.retry_after("b") == 0.0  # another client is not affected
    clock.now += 30
    assert limiter.retry_after("a") == pytest.approx(30.0)  # refused attempts do not extend the wait
    clock.now += 30.01
    assert limiter.retry_after("a") == 0.0
    assert RateLimiter(0, 60.0).retry_after("a") == 0.0  # 0 = no limit


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = RateLimiter(1, 60.0, max_clients=100)
    for i in range(1000):
        limiter.retry_after(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._events) == 100
    assert limiter.retry_after("10.0.3.231") > 0  # the most recent clients are remembered


def test_sessions_behind_one_address_each_get_the_rate_under_the_address_ceiling() -> None:
    clock = Clock()
    limits = QuestionLimits(per_session=2, per_address=5, window_s=60.0, clock=clock)
    office = [Caller("203.0.113.7", f"session-{i}") for i in range(4)]
    assert [limits.retry_after(office[0]) for _ in range(3)][-1] == pytest.approx(60.0)  # one person: the rate
    assert [limits.retry_after(office[1]) for _ in range(2)] == [0.0, 0.0]  # a colleague is not throttled by it
    assert limits.retry_after(office[2]) == 0.0  # 5 questions from the address: its ceiling
    assert limits.retry_after(office[3]) == pytest.approx(60.0)
    assert limits.retry_after(Caller("198.51.100.1", "elsewhere")) == 0.0  # another address
    clock.now += 60.01
    assert limits.retry_after(office[3]) == 0.0


def test_a_question_refused_by_one_limit_is_not_counted_by_the_other() -> None:
    clock = Clock()
    limits = QuestionLimits(per_session=1, per_address=2, window_s=60.0, clock=clock)
    spammer, colleague = Caller("10.1.1.1", "a"), Caller("10.1.1.1", "b")
    assert limits.retry_after(spammer) == 0.0
    assert all(limits.retry_after(spammer) > 0 for _ in range(10))  # refused by its session limit ...
    assert limits.retry_after(colleague) == 0.0  # ... and not eating the address's ceiling
    anonymous = [Caller("10.2.2.2"), Caller("10.2.2.2")]  # no session: they share one per-person quota
    assert limits.retry_after(anonymous[0]) == 0.0 and limits.retry_after(anonymous[1]) > 0
    assert QuestionLimits(0, 5, 60.0).retry_after(spammer) == 0.0  # 0 per session: no limits at all


def test_the_caller_is_the_gradio_session_or_the_api_client_id() -> None:
    from starlette.requests import Request

    def starlette(headers: list[tuple[bytes, bytes]]) -> Request:
        return Request({"type": "http", "headers": headers, "client": ("192.0.2.5", 4000), "method": "POST"})

    assert caller_of(gr.Request(starlette([]), session_hash="abc")) == Caller("192.0.2.5", "abc")
    assert caller_of(starlette([(b"x-client-id", b"  user-42\x07 ")])) == Caller("192.0.2.5", "user-42")
    assert caller_of(starlette([(b"x-client-id", b"x" * 1000)])).session == "x" * 128  # bounded
    assert caller_of(starlette([])) == Caller("192.0.2.5", "")
    assert caller_of(None) == Caller("", "")


def test_login_guard_locks_out_after_repeated_failures_and_doubles() -> None:
    clock = Clock()
    guard = LoginGuard(max_failures=3, window_s=900, lockout_s=60, clock=clock)
    assert [guard.failed("x") for _ in range(2)] == [0.0, 0.0] and guard.locked_for("x") == 0.0
    assert guard.failed("x") == pytest.approx(60.0)
    assert guard.locked_for("x") == pytest.approx(60.0) and guard.locked_for("y") == 0.0
    clock.now += 61
    assert guard.locked_for("x") == 0.0
    assert [guard.failed("x") for _ in range(3)][-1] == pytest.approx(120.0)  # a second lock-out lasts longer
    guard.succeeded("x")
    assert guard.locked_for("x") == 0.0


def test_failures_outside_the_window_are_forgotten() -> None:
    clock = Clock()
    guard = LoginGuard(max_failures=3, window_s=100, lockout_s=60, clock=clock)
    for _ in range(2):
        guard.failed("x")
    clock.now += 101
    assert guard.failed("x") == 0.0


def test_the_ask_api_refuses_a_client_over_its_rate_in_vietnamese(tmp_path, embedder) -> None:
    from gradio_client import Client

    with running_app(tmp_path, embedder, rate_limit_questions=2, rate_limit_window_s=600) as served:
        client = Client(served.url, verbose=False)
        for _ in range(2):
            assert client.predict(question="chuyển đổi số", api_name="/ask")["answer"]
        with pytest.raises(Exception, match="quá nhiều câu hỏi") as err:
            client.predict(question="chuyển đổi số", api_name="/ask")
        assert "Traceback" not in str(err.value)
        hits = client.predict(question="chuyen doi so", k=2, api_name="/retrieve")  # other endpoints still serve
        assert len(hits) == 2


@pytest.mark.browser
def test_browsers_behind_one_address_each_get_the_rate_in_the_chat(tmp_path, embedder) -> None:
    if not CHROMIUM.exists():
        unavailable("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    def ask(page, n: int) -> str:
        page.locator("#question textarea").fill("chuyển đổi số")
        page.click("#send")
        page.wait_for_function(
            "n => document.querySelectorAll('#chatbot .answer:not(.streaming)').length > n", arg=n, timeout=120_000
        )
        return page.locator("#chatbot .answer:not(.streaming)").nth(n).inner_text()

    limits = {"rate_limit_questions": 1, "rate_limit_questions_per_address": 2, "rate_limit_window_s": 600}
    with running_app(tmp_path, embedder, **limits) as served, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        pages = [browser.new_page() for _ in range(3)]  # three people, one address (loopback)
        for page in pages:
            page.goto(served.url)
            page.wait_for_selector("#status [data-state=ready]", timeout=120_000)
        assert "quá nhiều câu hỏi" not in ask(pages[0], 0)
        assert "quá nhiều câu hỏi" in ask(pages[0], 1)  # one person: the per-session rate
        assert "quá nhiều câu hỏi" not in ask(pages[1], 0)  # a colleague is still answered
        assert "quá nhiều câu hỏi" in ask(pages[2], 0)  # the address's ceiling (2)
        browser.close()


def test_admission_tells_a_waiting_question_the_system_is_busy() -> None:
    admission = Admission(slots=1, wait_s=0.2)
    with admission.slot():
        started = time.monotonic()
        with pytest.raises(Busy, match="đang bận"):
            with admission.slot():
                pass
        assert 0.15 < time.monotonic() - started < 2.0
    with admission.slot():  # the slot was given back
        assert admission.busy_replies == 1


def test_the_app_answers_busy_instead_of_queueing_when_every_slot_is_taken(tmp_path, embedder) -> None:
    from gradio_client import Client

    with running_app(tmp_path, embedder, answer_slots=1, busy_after_s=0.5) as served:
        client = Client(served.url, verbose=False)
        with served.context.admission.slot():  # someone else's long answer holds the only slot
            started = time.monotonic()
            with pytest.raises(Exception, match="đang bận"):
                client.predict(question="chuyển đổi số", api_name="/ask")
            assert time.monotonic() - started < 10
        assert client.predict(question="chuyển đổi số", api_name="/ask")["answer"]  # served once it is free


def test_time_already_spent_in_the_queue_counts_against_the_wait() -> None:
    admission = Admission(1, wait_s=2.0)
    with admission.slot():
        started = time.monotonic()
        with pytest.raises(Busy):  # arrived 5 s ago: no further wait
            with admission.slot(arrived=time.monotonic() - 5.0):
                pass
        assert time.monotonic() - started < 0.5
        started = time.monotonic()
        with pytest.raises(Busy):  # arrived 1.5 s ago: waits only the remaining 0.5 s
            with admission.slot(arrived=time.monotonic() - 1.5):
                pass
        assert 0.4 < time.monotonic() - started < 1.5
    with admission.slot(arrived=time.monotonic() - 60.0):  # a free slot admits however long it waited
        pass


def test_the_app_stamps_each_request_with_its_arrival_for_the_handlers() -> None:
    from gradio_client import Client

    import app
    from settings import Settings
    from tests.app.fixtures import free_port
    from webui.guard import arrived_at

    def waited(_: str, request: gr.Request) -> float:
        arrived = arrived_at(request)
        return -1.0 if arrived is None else time.monotonic() - arrived

    with gr.Blocks() as demo:
        box = gr.Textbox()
        box.submit(waited, box, gr.Number(), api_name="waited")
    settings = Settings(port=free_port())
    _, url, _ = app.launch(demo, settings, prevent_thread_lock=True, quiet=True)
    try:
        seconds = Client(url, verbose=False).predict("x", api_name="/waited")
        assert 0.0 <= seconds < 5.0  # stamped when the request reached the server, read through Gradio's queue
    finally:
        demo.close()
