"""kill -9 of the app while an upload through the admin tab is being ingested, then the same upload again
through a restarted app: the store equals a clean ingest of the same files (real app processes, real browser)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.pipeline import Ingestor
from settings import PROJECT_DIR, SAMPLE_DIR, Settings
from tests.app.fixtures import ADMIN_PASSWORD, ADMIN_USER, CHROMIUM, CHROMIUM_ARGS, cache_dir, free_port
from tests.conftest import unavailable
from tests.ingest.test_pipeline import store_snapshot
from vectorstore.store import Store

ROWS = 60


@pytest.fixture(autouse=True, scope="module")
def _chromium() -> None:
    if not CHROMIUM.exists():
        unavailable("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")


def start_app(data: Path, port: int, **extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CCHC_DATA_DIR": str(data),
        "CCHC_CACHE_DIR": str(cache_dir()),
        "CCHC_PORT": str(port),
        "CCHC_ADMIN_USER": ADMIN_USER,
        "CCHC_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "CCHC_INGEST_BATCH_CHUNKS": "8",  # many small commits: the kill lands between two of them
        **extra,
    }
    quiet = subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_DIR, env=env, stdout=quiet, stderr=quiet)
    deadline = time.time() + 300
    while time.time() < deadline:
        assert proc.poll() is None, "the app exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the app did not start")


def submit_login(browser: Any, port: int, password: str = ADMIN_PASSWORD) -> Any:
    """A new page on the app's admin tab, the login form sent (not waited for)."""
    page = browser.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"http://127.0.0.1:{port}/")
    page.wait_for_selector("#status [data-state=ready]")
    page.get_by_role("tab", name="Quản trị").click()
    page.locator("#admin-user").locator("input, textarea").first.fill(ADMIN_USER)
    page.locator("#admin-password").locator("input, textarea").first.fill(password)
    page.click("#admin-login-btn")
    return page


def login(browser: Any, port: int) -> Any:
    """A page on the app's admin tab, logged in."""
    page = submit_login(browser, port)
    page.locator("#admin-panel").wait_for(state="visible")
    return page


def upload(browser: Any, port: int, path: Path) -> Any:
    page = login(browser, port)
    page.set_input_files("#admin-files input[type=file]", str(path))
    page.wait_for_selector(f"#admin-files :text('{path.stem}')")
    page.click("#admin-ingest")
    return page


def upload_corpus(path: Path) -> Path:
    """ROWS articles in one JSONL file, large enough for a kill to land between two commits of its ingest."""
    rows = [
        {
            "id": f"up-{i:03d}",
            "title": f"Điều {i}. Thủ tục tải lên số {i}",
            "text": " ".join(f"Câu {j} của điều {i} quy định hồ sơ, trình tự và thời hạn." for j in range(12)),
        }
        for i in range(ROWS)
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


def committed(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM documents WHERE doc_id LIKE 'up-%'").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_kill_9_during_an_admin_upload_then_the_same_upload_equals_a_clean_ingest(tmp_path: Path, embedder) -> None:
    from playwright.sync_api import sync_playwright

    corpus = upload_corpus(tmp_path / "van_ban_tai_len.jsonl")
    data = tmp_path / "app"
    port = free_port()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        app = start_app(data, port)
        try:
            upload(browser, port, corpus)
            db = data / "store" / "documents.sqlite3"
            deadline = time.time() + 240
            while committed(db) < 5 and time.time() < deadline and app.poll() is None:
                time.sleep(0.05)
            done = committed(db)
            assert 5 <= done < ROWS, f"{done} of {ROWS} documents committed: the kill would not land mid-ingest"
            os.kill(app.pid, signal.SIGKILL)
            app.wait()
        finally:
            if app.poll() is None:
                app.kill()
        app = start_app(data, port)
        try:
            page = upload(browser, port, corpus)
            page.wait_for_selector("#admin-ingest-out pre")
        finally:
            app.terminate()
            app.wait(30)
        browser.close()

    settings = Settings(data_dir=tmp_path / "clean", cache_dir=cache_dir())
    Ingestor(settings, embedder=embedder).run([SAMPLE_DIR, corpus])
    clean = Store(settings, settings.embedding_key)
    recovered = Store(Settings(data_dir=data, cache_dir=cache_dir()), settings.embedding_key)
    a, b = store_snapshot(recovered), store_snapshot(clean)
    assert sum(1 for d in a["docs"] if d[0].startswith("up-")) == ROWS
    assert [d[:4] for d in a["docs"]] == [d[:4] for d in b["docs"]]
    assert a["chunks"] == b["chunks"]
    assert a["vectors"] == b["vectors"] == [c[0] for c in a["chunks"]]
