"""An OpenAI-compatible endpoint that misbehaves -- refuses, hangs, trickles, drops the stream halfway, returns
garbage -- never breaks an answer: it falls back to the extractive answer with a notice, within the timeout.

The endpoint is a real HTTP server on loopback (the true boundary), scripted per test."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.answer.chain import MODEL_UNAVAILABLE
from bot.answer.options import AskOptions
from bot.engine import Engine
from ingest.pipeline import Ingestor
from settings import SAMPLE_DIR, Settings

TIMEOUT_S = 2.0
QUESTION = "Thủ tướng yêu cầu hoàn thành kết nối dữ liệu TTHC trên cổng dịch vụ công quốc gia khi nào?"


def chunk(text: str) -> bytes:
    body = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    body["choices"] = [{"index": 0, "delta": {"content": text}, "finish_reason": None}]
    return f"data: {json.dumps(body)}\n\n".encode()


class Script(BaseHTTPRequestHandler):
    mode = "ok"
    stop = threading.Event()

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "tokenize" in self.path:
            self.send_error(404)
            return
        mode = self.mode
        if mode == "hang":
            self.stop.wait(30)
            return
        if mode == "error":
            self.send_error(500, "boom")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream" if mode != "html" else "text/html")
        self.end_headers()
        if mode == "html":
            self.wfile.write(b"<html><body>502 Bad Gateway</body></html>")
        elif mode == "garbage":
            self.wfile.write(b"data: {this is not json\n\ndata: \x00\xff\xfe\n\n")
        elif mode == "drop":
            self.wfile.write(chunk("Theo tài liệu, ") + chunk("Thủ tướng yêu cầu"))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        elif mode == "trickle":  # a byte of answer every half second, for ever
            while not self.stop.is_set():
                self.wfile.write(chunk("ừm "))
                self.wfile.flush()
                time.sleep(0.5)


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Script)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    Script.stop.set()
    httpd.shutdown()


@pytest.fixture(scope="module")
def engine(server, tmp_path_factory, cache_dir, embedder) -> Iterator[Engine]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("faults"),
        cache_dir=cache_dir,
        openai_base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
        openai_timeout_s=TIMEOUT_S,
    )
    eng = Engine(settings, embedder=embedder)
    Ingestor(settings, embedder=embedder, store=eng.store).run([SAMPLE_DIR])
    yield eng
    eng.close()


@pytest.mark.parametrize("mode", ["error", "hang", "trickle", "drop", "garbage", "html"])
def test_a_misbehaving_endpoint_falls_back_to_extractive_in_time(engine: Engine, mode: str) -> None:
    Script.mode = mode
    started = time.monotonic()
    answer = engine.ask(QUESTION, AskOptions(generator="openai"))
    elapsed = time.monotonic() - started
    assert not answer.refused and ("5-2023" in answer.answer or "5/2023" in answer.answer)
    assert answer.generator == "extractive" and MODEL_UNAVAILABLE in answer.notices
    assert elapsed < 2 * TIMEOUT_S + 3, elapsed


class ClientThatBreaks:
    """A chat client whose library changed under us: every call raises ``TypeError`` (as ``openai`` did when it
    moved to httpx2 and refused our ``httpx.Timeout``)."""

    def stream(self, *args: object, **kwargs: object) -> Iterator[object]:
        raise TypeError("Invalid timeout: expected a number, `None`, a tuple or `httpx2.Timeout`")


def test_a_client_raising_type_error_falls_back_to_extractive_with_the_notice(engine: Engine, monkeypatch, caplog):
    endpoint = engine._openai_endpoint()
    monkeypatch.setattr(endpoint, "chat", ClientThatBreaks())
    answer = engine.ask(QUESTION, AskOptions(generator="openai"))
    assert not answer.refused and ("5-2023" in answer.answer or "5/2023" in answer.answer)
    assert answer.generator == "extractive" and MODEL_UNAVAILABLE in answer.notices
    assert answer.citations
    assert any("TypeError" in r.getMessage() and r.exc_info for r in caplog.records)  # logged with its traceback
    streamed = list(engine.stream(QUESTION, AskOptions(generator="openai")))  # the chat's path, too
    assert streamed[-1].answer is not None and MODEL_UNAVAILABLE in streamed[-1].answer.notices


def test_the_timeout_reaches_the_client_as_a_plain_number(engine: Engine) -> None:
    """No transport library's types in the call: a number is what every client version accepts."""
    endpoint = engine._openai_endpoint()
    timeout = endpoint.chat.request_timeout  # ChatOpenAI's field
    assert isinstance(timeout, float | int) and timeout == TIMEOUT_S


def test_extractive_answers_keep_their_pace_while_the_local_model_starts(engine: Engine, monkeypatch, tmp_path):
    """Starting llama.cpp can take minutes; it must not hold the lock every answer takes (documents, prompts)."""
    from bot.models import install, server

    started, release = threading.Event(), threading.Event()

    def slow_start(self):  # the process boundary: a model that takes its time to load
        started.set()
        release.wait(20)
        raise server.LLMServerError("not really started")

    monkeypatch.setattr(install, "model_file", lambda settings: tmp_path / "model.gguf")
    monkeypatch.setattr(server.LocalLLMServer, "start", slow_start)
    engine.ask(QUESTION)  # warm: the snapshot and the documents are read
    starting = threading.Thread(target=lambda: engine.ask(QUESTION, AskOptions(generator="local")))
    starting.start()
    try:
        assert started.wait(10)
        t0 = time.monotonic()
        answer = engine.ask("Thủ tướng yêu cầu chấm dứt tình trạng gì?")
        assert time.monotonic() - t0 < 3.0 and answer.citations
        engine.prompt("answer")  # the prompt lab's lookups do not wait either
        assert time.monotonic() - t0 < 3.0
    finally:
        release.set()
        starting.join(30)
