"""Two real app processes (``python app.py``) over one shared store -- PostgreSQL and the Chroma server on
loopback -- driven through their public faces: an upload through A's admin tab is answered by B within 5 s, a
delete through B stops A citing the text, kill -9 of A mid-upload then the same upload through B leaves the store
equal to a clean ingest, and the load script spread over both replicas gets 0 errors."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from ingest.pipeline import Ingestor
from settings import PROJECT_DIR, SAMPLE_DIR, Settings
from tests.app.fixtures import CHROMIUM, CHROMIUM_ARGS, choose, free_port
from tests.app.test_admin_crash import ROWS, login, start_app, upload, upload_corpus
from tests.conftest import unavailable
from tests.ingest.test_pipeline import store_snapshot
from tests.scale.conftest import replica
from tests.servers import ChromaServer
from vectorstore.store import Store

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True, scope="module")
def _chromium() -> None:
    if not CHROMIUM.exists():
        unavailable("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")


QUESTION = "Cổng dịch vụ công quốc gia có tiếp nhận hồ sơ cấp đổi giấy phép lái xe trực tuyến không?"
NEW_DOC = "Thông báo mới\n\nCổng dịch vụ công quốc gia tiếp nhận hồ sơ cấp đổi giấy phép lái xe trực tuyến."


class Replicas:
    """Replica processes over one shared store, started on demand and stopped at the end."""

    def __init__(self, root: Path, database_url: str, chroma: ChromaServer) -> None:
        self.root = root
        self.env = {
            "CCHC_DATABASE_URL": database_url,
            "CCHC_CHROMA_HOST": "127.0.0.1",
            "CCHC_CHROMA_PORT": str(chroma.port),
            "CCHC_COLLECTION": "replicas",
            "CCHC_RATE_LIMIT_QUESTIONS": "0",
        }
        self.procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}

    def start(self, name: str) -> int:
        port = free_port()
        self.procs[name] = (start_app(self.root / name, port, **self.env), port)
        return port

    def kill(self, name: str) -> None:
        proc, _ = self.procs.pop(name)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc, _ in self.procs.values():
            proc.terminate()
        for proc, _ in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


@pytest.fixture()
def replicas(tmp_path: Path, database_url: str, chroma: ChromaServer) -> Iterator[Replicas]:
    group = Replicas(tmp_path, database_url, chroma)
    yield group
    group.stop()


def ask(port: int, question: str) -> dict[str, Any]:
    from gradio_client import Client

    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    return client.predict(question, [], None, api_name="/ask")


def cited(answer: dict[str, Any]) -> set[str]:
    return {c["doc_id"] for c in answer["citations"]}


def test_an_upload_through_one_replica_is_answered_by_the_other(replicas: Replicas, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    a, b = replicas.start("a"), replicas.start("b")
    assert "thong_bao_moi" not in cited(ask(b, QUESTION))
    new = tmp_path / "thong_bao_moi.txt"
    new.write_text(NEW_DOC, encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = upload(browser, a, new)
        page.wait_for_selector("#admin-ingest-out pre")
        committed = time.monotonic()
        while "thong_bao_moi" not in cited(ask(b, QUESTION)):
            assert time.monotonic() - committed < 5, "replica B did not answer from the upload within 5 s"
            time.sleep(0.2)

        page = login(browser, b)  # B lists the shared store's documents
        choose(page, "admin-doc", re.compile("thong_bao_moi"))  # delete through B
        page.click("#admin-delete")
        page.wait_for_selector("#admin-delete-out :text('Đã xóa tài liệu')")
        browser.close()
    answer = ask(a, QUESTION)
    assert "thong_bao_moi" not in cited(answer)
    assert "giấy phép lái xe trực tuyến" not in answer["answer"]


def test_kill_9_of_one_replica_mid_upload_then_the_same_upload_through_the_other(
    replicas: Replicas, tmp_path: Path, database_url: str, chroma: ChromaServer, cache_dir: Path, embedder
) -> None:
    from playwright.sync_api import sync_playwright

    corpus = upload_corpus(tmp_path / "van_ban_tai_len.jsonl")
    database = create_engine(database_url)

    def committed() -> int:
        with database.connect() as db:
            return int(db.scalar(text("SELECT count(*) FROM documents WHERE doc_id LIKE 'up-%'")) or 0)

    a, b = replicas.start("a"), replicas.start("b")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        upload(browser, a, corpus)
        deadline = time.time() + 240
        while committed() < 5 and time.time() < deadline:
            time.sleep(0.05)
        done = committed()
        assert 5 <= done < ROWS, f"{done} of {ROWS} documents committed: the kill would not land mid-ingest"
        replicas.kill("a")
        page = upload(browser, b, corpus)
        page.wait_for_selector("#admin-ingest-out pre")
        browser.close()
    database.dispose()

    clean = Settings(data_dir=tmp_path / "clean", cache_dir=cache_dir)
    Ingestor(clean, embedder=embedder).run([SAMPLE_DIR, corpus])
    shared = replica(tmp_path / "check", cache_dir, database_url, chroma)
    shared = shared.model_copy(update={"collection": replicas.env["CCHC_COLLECTION"]})
    recovered, expected = store_snapshot(Store(shared, embedder.name)), store_snapshot(Store(clean, embedder.name))
    assert sum(1 for d in recovered["docs"] if d[0].startswith("up-")) == ROWS
    assert [d[:4] for d in recovered["docs"]] == [d[:4] for d in expected["docs"]]
    assert recovered["chunks"] == expected["chunks"]
    assert recovered["vectors"] == expected["vectors"] == [c[0] for c in recovered["chunks"]]
    assert ask(b, "Câu 3 của điều 7 quy định gì?")["citations"]  # the survivor answers from the recovered store


def test_the_load_script_spread_over_two_replicas_gets_no_errors(replicas: Replicas, tmp_path: Path) -> None:
    a, b = replicas.start("a"), replicas.start("b")
    out = tmp_path / "load.json"
    command = [sys.executable, "benchmarks/load.py", "--users", "50", "--seconds", "20", "--json", str(out),
               "--url", f"http://127.0.0.1:{a}/", "--url", f"http://127.0.0.1:{b}/"]  # fmt: skip
    subprocess.run(command, cwd=PROJECT_DIR, check=True, capture_output=True, timeout=600)
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["errors"] == 0, figures["error_samples"]
    assert figures["answers"] > 0
    assert set(figures["answers_by_url"]) == {f"http://127.0.0.1:{a}/", f"http://127.0.0.1:{b}/"}
    assert all(n > 0 for n in figures["answers_by_url"].values())
