"""deploy/nginx.conf's flood guard on ``POST /hoidap/api/ask``: past its burst, one address is answered 429 by
nginx itself, with the app's Vietnamese message and a Retry-After, before anything reaches a replica."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.conftest import unavailable
from tests.scale.test_proxy import NGINX, Proxy
from tests.servers import free_port


def test_the_proxy_turns_away_a_flood_of_questions_from_one_address_in_vietnamese(tmp_path: Path) -> None:
    if not Path(NGINX).exists():
        unavailable("nginx is not installed (apt-get install nginx)")
    proxy = Proxy(tmp_path, [free_port()])  # no replica listens: what nginx lets through fails with 502
    try:
        with httpx.Client(timeout=10) as client:
            started = time.monotonic()
            statuses = []
            for _ in range(160):
                statuses.append(client.post(proxy.url + "api/ask", json={"question": "Thủ tục?"}))
            elapsed = time.monotonic() - started
            page = client.get(proxy.url)  # the rest of the site is not limited
    finally:
        proxy.stop()
    passed = [r for r in statuses if r.status_code != 429]
    refused = [r for r in statuses if r.status_code == 429]
    assert {r.status_code for r in passed} == {502}
    assert 101 <= len(passed) <= 101 + 10 * elapsed + 1  # the burst, then 10 a second
    assert refused, "nginx let every question through"
    assert "quá nhiều câu hỏi" in refused[0].json()["error"] and refused[0].headers["retry-after"] == "10"
    assert page.status_code != 429
