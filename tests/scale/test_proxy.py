"""deploy/nginx.conf in front of two real replicas (``CCHC_ROOT_PATH=/hoidap``), as the compose file runs it but
with the replicas on loopback ports: the chat streams through the proxy in a real browser, the API answers, and
when the replica serving a client is killed, that client's next question is answered by the other one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from settings import PROJECT_DIR
from tests.app.fixtures import CHROMIUM, CHROMIUM_ARGS, free_port
from tests.conftest import SAMPLE_ID, unavailable
from tests.scale.test_replicas import QUESTION, Replicas, cited
from tests.servers import ChromaServer

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
UPSTREAM = re.compile(r"^\s*server app:7860[^\n]*$", re.MULTILINE)
pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True, scope="module")
def _chromium() -> None:
    if not CHROMIUM.exists():
        unavailable("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")


class Proxy:
    """nginx with deploy/nginx.conf, its upstream pointed at loopback ports; logs which replica served."""

    def __init__(self, folder: Path, replica_ports: list[int]) -> None:
        self.folder = folder
        self.port = free_port()
        site = (PROJECT_DIR / "deploy" / "nginx.conf").read_text(encoding="utf-8")
        assert UPSTREAM.search(site), "deploy/nginx.conf no longer names the replicas as app:7860"
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;" for p in replica_ports)
        site = UPSTREAM.sub(servers, site).replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        user = "user root;" if os.geteuid() == 0 else ""
        self.access = folder / "access.log"
        (folder / "nginx.conf").write_text(
            f"{user}\ndaemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\n"
            f"http {{\n  log_format upstream '$request_uri $upstream_addr $status';\n"
            f"  access_log {self.access} upstream;\n  client_body_temp_path {folder}/body;\n"
            f"  proxy_temp_path {folder}/proxy;\n{site}\n}}\n",
            encoding="utf-8",
        )
        self.proc = subprocess.Popen(
            [NGINX, "-c", str(folder / "nginx.conf"), "-p", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 30
        while not (folder / "nginx.pid").exists():
            assert self.proc.poll() is None and time.time() < deadline, (folder / "error.log").read_text()
            time.sleep(0.1)
        self.url = f"http://127.0.0.1:{self.port}/hoidap/"

    def served_by(self, path_part: str) -> str:
        """The replica address of the last logged request whose URI contains ``path_part``."""
        lines = [line for line in self.access.read_text().splitlines() if path_part in line]
        return lines[-1].split()[1]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


@pytest.fixture()
def proxied(tmp_path: Path, database_url: str, chroma: ChromaServer) -> Iterator[tuple[Replicas, Proxy]]:
    if not Path(NGINX).exists():
        unavailable("nginx is not installed (apt-get install nginx-light)")
    group = Replicas(tmp_path, database_url, chroma)
    group.env["CCHC_ROOT_PATH"] = "/hoidap"
    ports = [group.start("a"), group.start("b")]
    proxy = Proxy(tmp_path, ports)
    yield group, proxy
    proxy.stop()
    group.stop()


def ask_through(url: str, question: str) -> dict:
    from gradio_client import Client

    return Client(url, verbose=False).predict(question, [], None, api_name="/ask")


def test_the_replicas_behind_the_deploy_proxy(proxied: tuple[Replicas, Proxy]) -> None:
    from playwright.sync_api import sync_playwright

    replicas, proxy = proxied
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(120_000)
        page.goto(proxy.url)
        page.wait_for_selector("#status [data-state=ready]")
        page.locator("#question textarea").fill("Thủ tướng yêu cầu chấm dứt tình trạng gì?")
        page.click("#send")
        page.wait_for_selector("#chatbot .answer:not(.streaming) a.cite")
        browser.close()

    first = ask_through(proxy.url, QUESTION)
    assert first["answer"] and isinstance(first["citations"], list)
    serving = proxy.served_by("/queue/join")
    name = next(n for n, (_, port) in replicas.procs.items() if serving.endswith(f":{port}"))
    replicas.kill(name)  # the replica this client sticks to dies
    answer = ask_through(proxy.url, "Thủ tướng yêu cầu chấm dứt tình trạng gì?")
    assert answer["citations"], "the surviving replica did not answer"
    assert proxy.served_by("/queue/join") != serving
    assert all(doc.startswith(SAMPLE_ID) for doc in cited(answer))  # the shared store's sample
