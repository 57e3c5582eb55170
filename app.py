"""The web app: ``python app.py`` (host, port and root path from Settings: CCHC_HOST, CCHC_PORT, CCHC_ROOT_PATH).

A thin Gradio client over ``bot/``: four tabs (citizens' Q&A, verbatim wording lookup for staff, a prompt lab
for developers, and an admin tab when CCHC_ADMIN_USER/CCHC_ADMIN_PASSWORD are set) and three API endpoints
("ask", "retrieve", "lookup_wording") for ``gradio_client`` or plain HTTP. ``build_app(engine, settings)``
builds everything without global state; ``main()`` creates the engine and launches.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import threading
from collections.abc import MutableMapping
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from bot.answer.options import AskOptions, InputError
from bot.engine import Engine
from bot.feedback import FeedbackStore
from settings import Settings
from vectorstore.store import StoreError
from webui import render
from webui.admin import admin_enabled, build_admin_tab
from webui.assets import CSS, HEAD
from webui.chat import build_chat_tab
from webui.context import AppContext, Readiness, prepare
from webui.guard import RATE_LIMITED, ArrivalStamp, Busy, arrived_at, caller_of
from webui.json_api import json_routes
from webui.lab import build_lab_tab
from webui.wording_tab import build_wording_tab

log = logging.getLogger("cchc.app")

TITLE = "Trợ lý chính sách cải cách hành chính"

# no model download and no telemetry from the libraries the app runs, unless the environment says otherwise
OFFLINE_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def offline_environment(environ: MutableMapping[str, str]) -> None:
    """Give ``environ`` the :data:`OFFLINE_DEFAULTS` it has no value for; :func:`main` calls it, so importing this
    module changes nothing. huggingface_hub reads its offline flag once, when first imported (gradio imports it
    before this runs), so its flag follows here; chromadb and gradio read theirs when the engine and app are made."""
    for key, value in OFFLINE_DEFAULTS.items():
        environ.setdefault(key, value)
    import huggingface_hub.constants

    flag = environ.get("HF_HUB_OFFLINE") or environ.get("TRANSFORMERS_OFFLINE") or ""
    huggingface_hub.constants.HF_HUB_OFFLINE = flag.upper() in {"1", "ON", "YES", "TRUE"}  # huggingface_hub's rule


def status_html(readiness: Readiness, engine: Engine | None = None) -> str:
    """The banner: loading / ready (with live collection counts) / failed."""
    state = "failed" if readiness.failed else "ready" if readiness.ready else "loading"
    message = readiness.message
    if state == "ready" and engine is not None:
        try:
            stats = engine.store.stats()
            message = f"Sẵn sàng: {stats['documents']} tài liệu, {stats['chunks']} đoạn văn bản."
        except Exception:
            log.debug("stats failed", exc_info=True)
    return f'<div class="status {state}" data-state="{state}">{render.esc(message)}</div>'


def build_app(engine: Engine, settings: Settings, *, prepare_store: bool = True) -> gr.Blocks:
    """The whole UI and API over ``engine``. With ``prepare_store`` a background thread ingests the bundled
    sample when the store is empty (the page says when it is ready); otherwise the app is ready at once."""
    readiness = Readiness()
    ctx = AppContext(
        engine=engine, settings=settings, feedback=FeedbackStore.from_settings(settings), readiness=readiness
    )
    if prepare_store:
        threading.Thread(target=prepare, args=(engine, readiness), name="cchc-prepare", daemon=True).start()
    else:
        stats = engine.store.stats()
        readiness.done(f"Sẵn sàng: {stats['documents']} tài liệu, {stats['chunks']} đoạn văn bản.")

    with gr.Blocks(title=TITLE, fill_width=False) as demo:
        gr.Markdown(
            f"# {TITLE}\nHỏi đáp về cải cách hành chính (CCHC) với câu trả lời trích nguyên văn từ tài liệu, "
            "có dẫn nguồn.",
            elem_id="app-header",
        )
        status = gr.HTML(status_html(readiness), elem_id="status")
        timer = gr.Timer(1.0, active=not readiness.ready)

        def tick() -> tuple[str, Any]:
            return status_html(readiness, engine), gr.Timer(active=not readiness.ready)

        timer.tick(tick, None, [status, timer], api_visibility="private", show_progress="hidden")
        demo.load(tick, None, [status, timer], api_visibility="private", show_progress="hidden")

        with gr.Tabs(elem_id="tabs", overflow_behavior="wrap"):
            with gr.Tab("Hỏi đáp", id="chat", elem_id="tab-chat"):
                build_chat_tab(ctx)
            with gr.Tab("Tra cứu nguyên văn", id="wording", elem_id="tab-wording"):
                build_wording_tab(ctx)
            with gr.Tab("Thử prompt", id="lab", elem_id="tab-lab"):
                build_lab_tab(ctx)
            if admin_enabled(settings):
                with gr.Tab("Quản trị", id="admin", elem_id="tab-admin"):
                    build_admin_tab(ctx)

        _register_api(ctx)
    demo.cchc_context = ctx  # for tests and scripts
    return demo


def _register_api(ctx: AppContext) -> None:
    """The public endpoints: stable names, JSON in and out."""

    def _wait() -> None:
        if not ctx.readiness.wait(600) or ctx.readiness.failed:
            raise gr.Error(ctx.readiness.message)

    def ask(
        question: str, history: list[list[str]] | None = None, k: int | None = None, request: gr.Request | None = None
    ) -> dict:
        """Answer a question from the documents, with verbatim citations.

        history: previous turns as [[question, answer], ...] for follow-up questions. k: passages to retrieve.
        Returns Answer.to_dict(): answer, refused, citations (n, doc_id, title, kind, comment_no, source, quote,
        char_start, char_end), retrieved, prompt_version, timings_ms, standalone_question, notices, generator.
        Each session may ask ``CCHC_RATE_LIMIT_QUESTIONS`` questions per ``CCHC_RATE_LIMIT_WINDOW_S`` seconds, all
        sessions of one address ``CCHC_RATE_LIMIT_QUESTIONS_PER_ADDRESS``.
        """
        wait = ctx.questions.retry_after(caller_of(request))
        if wait:
            raise gr.Error(RATE_LIMITED.format(seconds=math.ceil(wait)))
        _wait()
        turns = tuple((str(t[0]), str(t[1])) for t in (history or []) if isinstance(t, (list, tuple)) and len(t) >= 2)
        try:
            with ctx.admission.slot(arrived_at(request)):
                return ctx.engine.ask(question or "", AskOptions(k=_k(k), history=turns)).to_dict()
        except (InputError, Busy) as exc:
            raise gr.Error(str(exc)) from exc

    def retrieve(question: str, k: int = 5, by_doc: bool = False) -> list[dict]:
        """The k passages (chunks) nearest to the question, with fused scores and document offsets."""
        _wait()
        try:
            hits = ctx.engine.retrieve(question or "", AskOptions(k=_k(k)), by_doc=bool(by_doc))
        except InputError as exc:
            raise gr.Error(str(exc)) from exc
        return [h.to_dict(i) for i, h in enumerate(hits, start=1)]

    def lookup_wording_api(phrase: str, limit: int = 10) -> list[dict]:
        """Where the documents say this phrase: exact matches first, then the nearest wordings, each with its
        paragraph, position (doc_id, paragraph_no, char_start, char_end) and a word diff."""
        _wait()
        matches = ctx.engine.lookup_wording(phrase or "", limit=max(1, min(50, int(limit or 10))))
        return [m.to_dict() for m in matches]

    # answers are admitted by ctx.admission (slots + a bounded wait), not by Gradio's queue, which would hold
    # requests without limit; every waiting request holds a worker thread (launch sets max_threads)
    gr.api(ask, api_name="ask", concurrency_limit=None)
    gr.api(retrieve, api_name="retrieve", concurrency_limit=4)
    gr.api(lookup_wording_api, api_name="lookup_wording", concurrency_limit=4)


def _k(k: int | None) -> int | None:
    return None if k in (None, 0) else int(k)  # AskOptions.resolve clamps it to 1..MAX_K


def launch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``demo.launch`` (Gradio 6 takes css/head there, not in ``gr.Blocks``)."""
    return {
        "server_name": settings.host,
        "server_port": settings.port,
        "root_path": settings.root_path or None,
        "max_file_size": f"{settings.upload_max_mb}mb",
        "css": CSS,
        "head": HEAD,
        "footer_links": ["api"],
        "show_error": True,
        "ssr_mode": False,
    }


def launch(demo: gr.Blocks, settings: Settings, **overrides: Any) -> Any:
    # Gradio rebuilds a pandas summary of up to 10,000 past events after *every* event by default: under load
    # that cost grew with each request and held the interpreter (200 users: p95 13 s, RSS +250 MB a minute).
    # Summarise at most every 1,000 events, over the last 1,000 (read by gradio.queueing.Queue when created).
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    demo.queue(default_concurrency_limit=1, max_size=settings.max_waiting)
    ctx: AppContext | None = getattr(demo, "cchc_context", None)  # set by build_app
    app_kwargs = {
        "middleware": [Middleware(ArrivalStamp)],  # admission counts the time spent in Gradio's queue
        "routes": json_routes(ctx) if ctx else [],  # POST /api/ask, ahead of Gradio's routes
    }
    options = {
        "max_threads": settings.max_waiting + 40,
        "state_session_capacity": settings.max_sessions,  # the least recently used beyond it are forgotten
        "app_kwargs": app_kwargs,
        **launch_options(settings),
    }
    return demo.launch(**{**options, **overrides})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python app.py", description=TITLE)
    parser.add_argument("--host", help="địa chỉ lắng nghe (mặc định CCHC_HOST hoặc 127.0.0.1)")
    parser.add_argument("--port", type=int, help="cổng (mặc định CCHC_PORT hoặc 7860)")
    parser.add_argument("--root-path", help="đường dẫn gốc khi chạy sau reverse proxy (CCHC_ROOT_PATH)")
    args = parser.parse_args(argv)
    offline_environment(os.environ)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.load(host=args.host, port=args.port, root_path=args.root_path)
    try:
        engine = Engine(settings)
    except StoreError as exc:  # a cause users can fix (incl. a model not installed): say it, no traceback
        print(f"Lỗi: {exc}", file=sys.stderr)
        log.error("cannot start: %s", exc.detail)
        return 1
    demo = build_app(engine, settings)
    try:
        launch(demo, settings)
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
