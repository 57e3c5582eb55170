"""The chat tab's streaming helper and session records, without a browser."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.answer.chain import AnswerChunk
from bot.answer.options import AskOptions
from webui.chat import messages, panel, stream_answer
from webui.context import Readiness


class FakeEngine:
    """Stands in for the engine's ``stream`` (the chain itself is tested in tests/bot/test_chain.py)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, AskOptions]] = []
        self.closed = False

    def stream(self, question: str, options: AskOptions) -> Any:
        self.calls.append((question, options))
        try:
            for piece in ("Một ", "hai ", "ba [1]."):
                yield AnswerChunk(piece)
            if self.fail:
                raise RuntimeError("hỏng")
            yield AnswerChunk(answer=SimpleNamespace(answer="Một hai ba [1]."))
        finally:
            self.closed = True


def test_stream_answer_yields_growing_text_then_the_answer() -> None:
    ctx = SimpleNamespace(engine=FakeEngine(), readiness=Readiness())
    items = list(stream_answer(ctx, "Hỏi?", [("trước", "đáp")]))
    texts, final = items[:-1], items[-1]
    assert texts == ["Một ", "Một hai ", "Một hai ba [1]."]
    assert final.answer == "Một hai ba [1]."
    assert ctx.engine.calls == [("Hỏi?", AskOptions(history=(("trước", "đáp"),)))]


def test_leaving_the_stream_closes_the_chain_stream() -> None:
    ctx = SimpleNamespace(engine=FakeEngine(), readiness=Readiness())
    stream = stream_answer(ctx, "Hỏi?", [])
    assert next(stream) == "Một "
    stream.close()  # what Gradio does when the user presses stop or leaves
    assert ctx.engine.closed


def test_stream_answer_reraises_errors() -> None:
    ctx = SimpleNamespace(engine=FakeEngine(fail=True), readiness=Readiness())
    with pytest.raises(RuntimeError, match="hỏng"):
        list(stream_answer(ctx, "Hỏi?", []))


def test_messages_and_panel_from_records() -> None:
    records = [
        {"question": "Q<1>", "answer_html": '<div class="answer">A</div>', "sources_html": "<ol></ol>"},
        {"question": "Q2", "answer_html": '<div class="answer">B</div>', "sources_html": "<ol></ol>"},
    ]
    chat = messages(records)
    assert [m["role"] for m in chat] == ["user", "assistant", "user", "assistant"]
    assert "Q&lt;1&gt;" in chat[0]["content"]
    html = panel(records)
    assert html.index('data-turn="1"') < html.index('data-turn="0"')  # newest first
    assert html.count(" open>") == 1
