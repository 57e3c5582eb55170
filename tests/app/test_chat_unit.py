"""The chat tab's streaming helper and session records, without a browser."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from webui.chat import messages, panel, stream_answer
from webui.context import Readiness


class FakeService:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []

    def ask(self, question: str, *, history: Any = (), on_delta: Any = None, **_: Any) -> Any:
        self.calls.append((question, list(history)))
        for piece in ("Một ", "hai ", "ba [1]."):
            on_delta(piece)
        if self.fail:
            raise RuntimeError("hỏng")
        return SimpleNamespace(answer="Một hai ba [1].")


def test_stream_answer_yields_growing_text_then_the_answer() -> None:
    ctx = SimpleNamespace(service=FakeService(), readiness=Readiness())
    items = list(stream_answer(ctx, "Hỏi?", [("trước", "đáp")]))
    texts, final = items[:-1], items[-1]
    assert texts and texts[-1] == "Một hai ba [1]."
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:]))
    assert final.answer == "Một hai ba [1]."
    assert ctx.service.calls == [("Hỏi?", [("trước", "đáp")])]


def test_stream_answer_reraises_errors() -> None:
    ctx = SimpleNamespace(service=FakeService(fail=True), readiness=Readiness())
    with pytest.raises(RuntimeError, match="hỏng"):
        list(stream_answer(ctx, "Hỏi?", []))


def test_messages_and_panel_from_records() -> None:
    records = [{"question": "Q<1>", "answer_html": '<div class="answer">A</div>', "sources_html": "<ol></ol>"},
               {"question": "Q2", "answer_html": '<div class="answer">B</div>', "sources_html": "<ol></ol>"}]
    chat = messages(records)
    assert [m["role"] for m in chat] == ["user", "assistant", "user", "assistant"]
    assert "Q&lt;1&gt;" in chat[0]["content"]
    html = panel(records)
    assert html.index('data-turn="1"') < html.index('data-turn="0"')  # newest first
    assert html.count(" open>") == 1
