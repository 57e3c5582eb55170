"""Tab "Hỏi đáp": streamed, cited answers with a sources panel, follow-ups and feedback."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import gradio as gr

from bot.answer.chain import Answer
from bot.answer.options import MAX_QUESTION_CHARS, AskOptions, InputError
from bot.feedback import FeedbackError
from webui import render
from webui.context import AppContext
from webui.guard import RATE_LIMITED, Busy, arrived_at, caller_of

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 600.0  # how long a question waits for the start-up ingest
EXAMPLES = (
    "Thủ tướng yêu cầu chấm dứt tình trạng gì đối với cán bộ, công chức?",
    "Nguyên nhân chính của những tồn tại, hạn chế trong cải cách hành chính là gì?",
    "Phiên họp thứ tư của Ban chỉ đạo cải cách hành chính diễn ra vào ngày nào?",
    "Khi nào phải hoàn thành kết nối dữ liệu giải quyết TTHC trên Cổng Dịch vụ công quốc gia?",
)


def _session(request: gr.Request | None) -> str:
    """Gradio's per-page session id (groups one conversation's feedback)."""
    return str(getattr(request, "session_hash", "") or "")


def turn_record(ctx: AppContext, turn: int, answer: Answer) -> dict[str, Any]:
    """What the session keeps of one answered question (also what feedback stores)."""
    citations = [c.to_dict() for c in answer.citations]
    documents: dict[str, str | None] = {}
    for c in answer.citations:
        if c.doc_id not in documents:
            doc = ctx.engine.document(c.doc_id)
            documents[c.doc_id] = doc.text if doc else None
    return {
        "question": answer.question,
        "answer": answer.answer,
        "refused": answer.refused,
        "citations": citations,
        "prompt_version": answer.prompt_version,
        "generator": answer.generator,
        "notices": list(answer.notices),
        "sources_html": render.turn_sources_html(turn, citations, documents),
        "answer_html": render.answer_html(answer.answer, turn=turn, refused=answer.refused, notices=answer.notices),
    }


def failed_turn(turn: int, question: str, why: str) -> dict[str, Any]:
    """A question that got no answer, kept (as a refusal without sources) so chat and records stay aligned."""
    return {
        "question": question,
        "answer": "",
        "refused": True,
        "citations": [],
        "prompt_version": "",
        "generator": "",
        "notices": [],
        "sources_html": render.turn_sources_html(turn, [], {}),
        "answer_html": render.error_html(why),
    }


def messages(turns: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The chat, rebuilt from the session's records (two messages per turn: [n] feedback maps index // 2)."""
    out = []
    for t in turns:
        out += [
            {"role": "user", "content": render.question_html(t["question"])},
            {"role": "assistant", "content": t["answer_html"]},
        ]
    return out


def panel(turns: list[dict[str, Any]]) -> str:
    return render.sources_panel_html([(i, t["question"], t["sources_html"]) for i, t in enumerate(turns)])


def stream_answer(ctx: AppContext, question: str, history: list[tuple[str, str]]) -> Iterator[str | Answer]:
    """The text written so far (coalesced per chunk), then the final :class:`Answer` — straight from the chain's
    ``stream()``: when Gradio stops iterating (the user pressed stop or left), the model stops writing."""
    text = ""
    with closing(ctx.engine.stream(question, AskOptions(history=tuple(history)))) as chunks:
        for chunk in chunks:
            if chunk.answer is not None:
                yield chunk.answer
                return
            text += chunk.text
            yield text


def build_chat_tab(ctx: AppContext) -> None:
    turns = gr.State([])
    feedback_ids = gr.State({})
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            chatbot = gr.Chatbot(
                label="Hỏi đáp về cải cách hành chính",
                elem_id="chatbot",
                height=460,
                sanitize_html=True,
                render_markdown=True,
                latex_delimiters=[],
                allow_tags=False,
                buttons=["copy"],
                feedback_options=("Like", "Dislike"),
                group_consecutive_messages=False,
                placeholder="Hỏi bất kỳ điều gì về cải cách hành chính. Mỗi câu trả lời được trích nguyên văn "
                "từ tài liệu, kèm số [n] dẫn tới nguồn.",
            )
            with gr.Row(equal_height=True):
                question = gr.Textbox(
                    label="Câu hỏi của bạn",  # the accessible name (hidden visually: the placeholder says it)
                    show_label=False,
                    placeholder="Nhập câu hỏi (có thể gõ không dấu)…",
                    lines=1,
                    max_lines=4,
                    max_length=MAX_QUESTION_CHARS,
                    scale=5,
                    min_width=180,
                    elem_id="question",
                    autofocus=False,
                )
                send = gr.Button("Gửi", variant="primary", scale=1, min_width=70, elem_id="send")
                stop = gr.Button("Dừng", variant="stop", scale=1, min_width=70, elem_id="stop")
            gr.Markdown("**Câu hỏi gợi ý** (bấm để hỏi):")
            with gr.Column(elem_classes=["example-row"]):
                example_buttons = [
                    gr.Button(text, size="sm", variant="secondary", elem_classes=["example-q"]) for text in EXAMPLES
                ]
            with gr.Group():
                gr.Markdown("Câu trả lời gần nhất có hữu ích không?", elem_id="feedback-label")
                with gr.Row(elem_classes=["feedback-row"]):
                    useful = gr.Button("Hữu ích", size="sm", elem_id="fb-useful", min_width=90)
                    not_useful = gr.Button("Chưa hữu ích", size="sm", elem_id="fb-not-useful", min_width=110)
                reason = gr.Textbox(
                    label="Lý do (không bắt buộc)",
                    lines=1,
                    max_length=500,
                    elem_id="fb-reason",
                    placeholder="Ví dụ: thiếu thông tin, trích sai nguồn…",
                )
                fb_status = gr.Markdown("", elem_id="feedback-status")
            clear = gr.Button("Cuộc hội thoại mới", size="sm", variant="secondary", elem_id="new-chat")
        with gr.Column(scale=2, min_width=280):
            sources = gr.HTML(panel([]), elem_id="sources")

    def respond(message: str, state: list[dict[str, Any]], request: gr.Request) -> Iterator[tuple[Any, ...]]:
        message = " ".join((message or "").split())
        if not message:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), "Hãy nhập một câu hỏi."
            return
        state = list(state or [])
        turn = len(state)
        wait = ctx.questions.retry_after(caller_of(request))
        if wait:  # the question stays in the box, to send again later
            state.append(failed_turn(turn, message, RATE_LIMITED.format(seconds=math.ceil(wait))))
            yield gr.skip(), messages(state), panel(state), state, ""
            return
        chat = [
            *messages(state),
            {"role": "user", "content": render.question_html(message)},
            {"role": "assistant", "content": render.streaming_html("")},
        ]
        if not ctx.readiness.ready:
            chat[-1]["content"] = render.waiting_html("Hệ thống đang nạp dữ liệu, vui lòng đợi…")
            yield "", chat, gr.skip(), gr.skip(), ""
            ctx.readiness.wait(ANSWER_TIMEOUT_S)
        yield "", chat, gr.skip(), gr.skip(), ""
        history = [(t["question"], t["answer"]) for t in state]
        try:
            with ctx.admission.slot(arrived_at(request)):
                for item in stream_answer(ctx, message, history):
                    if isinstance(item, Answer):
                        state.append(turn_record(ctx, turn, item))
                        yield "", messages(state), panel(state), state, ""
                    else:
                        chat[-1] = {"role": "assistant", "content": render.streaming_html(item)}
                        yield gr.skip(), chat, gr.skip(), gr.skip(), gr.skip()
        except Exception as exc:
            told = isinstance(exc, (InputError, Busy))
            if not told:
                log.exception("answering failed")
            why = str(exc) if told else "Xin lỗi, đã có lỗi khi trả lời; vui lòng thử lại."
            state.append(failed_turn(turn, message, why))
            yield "", messages(state), panel(state), state, ""

    outputs = [question, chatbot, sources, turns, fb_status]
    answering = [
        trigger(
            respond,
            [source, turns],
            outputs,
            api_visibility="private",
            show_progress="hidden",
            concurrency_limit=None,  # admitted by ctx.admission (see app._register_api)
        )
        for trigger, source in [
            (question.submit, question),
            (send.click, question),
            *((b.click, b) for b in example_buttons),
        ]
    ]
    stop.click(None, None, None, cancels=answering, api_visibility="private")  # type: ignore[arg-type]  # closes the stream: the model stops

    def rate(
        turn: int | None, is_useful: bool, why: str, state: list[dict[str, Any]], ids: dict[int, int], sid: str | None
    ) -> tuple[str, dict[int, int]]:
        if not state:
            return "Chưa có câu trả lời nào để đánh giá.", ids
        turn = len(state) - 1 if turn is None else turn
        if not 0 <= turn < len(state):
            return "Không tìm thấy câu trả lời này.", ids
        record = state[turn]
        ids = dict(ids or {})
        try:
            if turn in ids:
                ctx.feedback.update(ids[turn], useful=is_useful, reason=why or "")
            else:
                ids[turn] = ctx.feedback.add(
                    question=record["question"],
                    answer=record["answer"],
                    citations=record["citations"],
                    prompt_version=record["prompt_version"],
                    useful=is_useful,
                    reason=why or "",
                    refused=record["refused"],
                    generator=record["generator"],
                    session=sid or "",
                )
        except FeedbackError as exc:
            log.error("feedback not stored: %s", exc.detail)
            return str(exc), ids
        word = "hữu ích" if is_useful else "chưa hữu ích"
        return f"Cảm ơn bạn! Đã ghi nhận câu trả lời {turn + 1} là **{word}**" + (" kèm lý do." if why else "."), ids

    fb_inputs = [reason, turns, feedback_ids]

    def rate_useful(why: str, state: list[dict[str, Any]], ids: dict[int, int], request: gr.Request):
        return rate(None, True, why, state, ids, _session(request))

    def rate_not_useful(why: str, state: list[dict[str, Any]], ids: dict[int, int], request: gr.Request):
        return rate(None, False, why, state, ids, _session(request))

    useful.click(rate_useful, fb_inputs, [fb_status, feedback_ids], api_visibility="private")
    not_useful.click(rate_not_useful, fb_inputs, [fb_status, feedback_ids], api_visibility="private")

    def on_like(data: gr.LikeData, why: str, state: list[dict[str, Any]], ids: dict[int, int], request: gr.Request):
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        if not isinstance(data.liked, bool) or not isinstance(index, int):
            return gr.skip(), ids
        return rate(index // 2, data.liked, why, state, ids, _session(request))

    chatbot.like(on_like, fb_inputs, [fb_status, feedback_ids], api_visibility="private")

    def reset() -> tuple[Any, ...]:
        return [], panel([]), [], {}, "", ""

    reset_outputs = [chatbot, sources, turns, feedback_ids, fb_status, reason]
    clear.click(reset, None, reset_outputs, api_visibility="private")
    chatbot.clear(reset, None, reset_outputs, api_visibility="private")  # the chatbot's own trash button


__all__ = ["EXAMPLES", "build_chat_tab", "messages", "panel", "stream_answer", "turn_record"]
