"""``POST /api/ask``: one answer as plain JSON, outside Gradio's queue and sessions.

Gradio's own API (``/gradio_api/call/ask``, gradio_client) opens a session per call, which copies the whole UI's
configuration and streams the result over server-sent events: under load that work, not the answers, filled the
cores. This route takes the rate limit and the admission first, answers in a thread, and replies in one response:

    curl -s -X POST http://127.0.0.1:7860/api/ask -H 'content-type: application/json' \\
         -d '{"question": "Thủ tướng yêu cầu chấm dứt tình trạng gì?", "history": [], "k": null}'

200: ``Answer.to_dict()``; 400: bad JSON or question (any malformed body, however deep or strange); 413: a body
over ``CCHC_API_MAX_BODY_KB``, refused before it is read whole; 429: over the client's rate; 503: busy or not ready.
Error bodies are ``{"error": "<Vietnamese message>"}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.answer.options import AskOptions, InputError
from webui.context import AppContext
from webui.guard import BUSY, RATE_LIMITED, Busy, arrived_at, caller_of

log = logging.getLogger(__name__)

BAD_REQUEST = (
    'Yêu cầu không hợp lệ: cần một đối tượng JSON (UTF-8) dạng {"question": "...", "history": [], "k": null, '
    '"as_of": null}.'
)
FAILED = "Xin lỗi, đã có lỗi khi trả lời; vui lòng thử lại."
TOO_LARGE = "Yêu cầu quá lớn: nội dung gửi lên tối đa {kb} KB (một câu hỏi và vài lượt hội thoại trước)."


class TooLarge(Exception):
    """The request body is over the route's limit."""


async def read_bounded(request: Request, limit: int) -> bytes:
    """The body, read in pieces and abandoned as soon as it exceeds ``limit`` bytes (a declared Content-Length
    over it is refused before reading anything)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


def json_routes(ctx: AppContext) -> list[BaseRoute]:
    """The JSON routes of the app (added ahead of Gradio's own)."""
    # one thread per request held at once; a thread waiting for an answer slot costs no CPU
    pool = ThreadPoolExecutor(max_workers=ctx.settings.max_waiting, thread_name_prefix="api-ask")

    async def ask(request: Request) -> JSONResponse:
        arrived = arrived_at(request)
        wait = ctx.questions.retry_after(caller_of(request))
        if wait:
            seconds = math.ceil(wait)
            return _error(429, RATE_LIMITED.format(seconds=seconds), {"Retry-After": str(seconds)})
        limit = ctx.settings.api_max_body_kb * 1024
        try:
            question, options = _parse(await read_bounded(request, limit))
        except TooLarge:
            return _error(413, TOO_LARGE.format(kb=ctx.settings.api_max_body_kb))
        except (ValueError, TypeError, RecursionError, MemoryError):  # whatever a malformed body makes the parser do
            return _error(400, BAD_REQUEST)
        if not ctx.readiness.ready or ctx.readiness.failed:
            return _error(503, ctx.readiness.message)

        def answer() -> dict[str, Any]:
            with ctx.admission.slot(arrived):
                return ctx.engine.ask(question, options).to_dict()

        try:
            return JSONResponse(await asyncio.get_running_loop().run_in_executor(pool, answer))
        except Busy:
            return _error(503, BUSY, {"Retry-After": "30"})
        except InputError as exc:
            return _error(400, str(exc))
        except Exception:
            log.exception("answering failed")
            return _error(500, FAILED)

    return [Route("/api/ask", ask, methods=["POST"])]


def _parse(body: bytes) -> tuple[str, AskOptions]:
    """The question and its options from a request body; ValueError when it is not what the route takes."""
    data = json.loads(body.decode("utf-8"))  # UnicodeDecodeError and JSONDecodeError are ValueErrors
    if not isinstance(data, dict) or not isinstance(data.get("question"), str):
        raise ValueError("no question")
    history = data.get("history") or []
    k = data.get("k")
    as_of = data.get("as_of")
    if not isinstance(history, list) or not (k is None or (isinstance(k, int) and not isinstance(k, bool))):
        raise ValueError("bad history or k")
    if not (as_of is None or isinstance(as_of, str)):
        raise ValueError("bad as_of")
    turns = tuple((str(t[0]), str(t[1])) for t in history if isinstance(t, (list, tuple)) and len(t) >= 2)
    return data["question"], AskOptions(k=k or None, history=turns, as_of=as_of or None)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


__all__ = ["json_routes"]
