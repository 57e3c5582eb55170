"""Load: N concurrent chat sessions against the running app through its public HTTP API, for T seconds.

    python benchmarks/load.py --users 50 --seconds 60 [--store data/bench-stores/phapdien] [--url URL ...]

``--api gradio`` (the default) calls Gradio's API, as gradio_client does; ``--api json`` the plain ``POST /api/ask``.
Starts ``python app.py`` on a free loopback port over ``--store`` (default: the full pháp điển store that
``benchmarks/retrieval.py phapdien`` builds), unless ``--url`` points at a running app; several ``--url``s (the
replicas of one shared store) share the users round-robin. Each user asks questions
from the citizen set (with and without diacritics) and, every third turn, a follow-up with its history, one after
another (a closed loop: a user asks again as soon as it is answered). The per-client rate limit is switched off
for the run (all users share one loopback address). Prints throughput, latency p50/p95/p99/max, answers, busy
replies ("hệ thống đang bận"), errors, and the app's peak and final RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import PROJECT_DIR
from vectorstore.text import fold

QUESTIONS = PROJECT_DIR / "benchmarks/questions/phapdien_citizen.jsonl"
FOLLOW_UPS = ["Hồ sơ gồm những gì?", "Thời hạn giải quyết là bao lâu?", "Cơ quan nào có thẩm quyền?"]
BUSY_MARK = "đang bận"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    answers: int = 0
    answers_by_url: dict[str, int] = field(default_factory=dict)
    busy: int = 0
    errors: list[str] = field(default_factory=list)


async def ask(client: httpx.AsyncClient, question: str, history: list[list[str]]) -> tuple[str, Any]:
    """One call of the "ask" endpoint over plain HTTP: ("complete", answer dict) or ("error", message)."""
    started = await client.post("gradio_api/call/ask", json={"data": [question, history, None]})
    started.raise_for_status()
    event_id = started.json()["event_id"]
    kind, data = "", None
    async with client.stream("GET", f"gradio_api/call/ask/{event_id}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ").strip()
            elif line.startswith("data: ") and kind in ("complete", "error"):
                payload = line.removeprefix("data: ")
                data = json.loads(payload) if payload.strip() not in ("", "null") else None
                return kind, data[0] if kind == "complete" and isinstance(data, list) else data
    return kind or "closed", data


async def ask_json(client: httpx.AsyncClient, question: str, history: list[list[str]]) -> tuple[str, Any]:
    """One call of the plain JSON route ``POST /api/ask``: ("complete", answer dict) or ("error", body)."""
    response = await client.post("api/ask", json={"question": question, "history": history, "k": None})
    body = response.json()
    return ("complete", body) if response.status_code == 200 else ("error", body)


async def user(base: str, questions: list[str], deadline: float, tally: Tally, seed: int, api: str = "gradio") -> None:
    rng = random.Random(seed)
    history: list[list[str]] = []
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(120.0)) as client:
        turn = 0
        while time.monotonic() < deadline:
            if turn % 3 == 2 and history:
                question = rng.choice(FOLLOW_UPS)
            else:
                question = rng.choice(questions)
                question = fold(question) if rng.random() < 0.4 else question
                history = []
            started = time.monotonic()
            try:
                call = ask_json if api == "json" else ask
                kind, data = await call(client, question, history[-4:])
            except (httpx.HTTPError, ValueError) as exc:
                kind, data = "error", f"{type(exc).__name__}: {exc}"
            tally.latencies.append(time.monotonic() - started)
            text = json.dumps(data, ensure_ascii=False) if data is not None else ""
            if kind == "complete" and isinstance(data, dict):
                tally.answers += 1
                tally.answers_by_url[base] = tally.answers_by_url.get(base, 0) + 1
                history.append([question, str(data.get("answer", ""))])
            elif BUSY_MARK in text:
                tally.busy += 1
            else:
                tally.errors.append(f"{kind}: {text[:200]}")
            turn += 1


def rss_mb(pid: int) -> tuple[float, float]:
    """(peak, current) resident memory of ``pid`` in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


def start_app(env: dict[str, str], data: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``python app.py`` on a free loopback port, ``env`` over this environment, its data (and app.log) in ``data``
    or a new temporary folder; returns the process and its URL once it serves the page."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = data or Path(tempfile.mkdtemp(prefix="load-data-"))
    data.mkdir(parents=True, exist_ok=True)
    full = {**os.environ, "CCHC_CACHE_DIR": str(PROJECT_DIR / "data/cache"), **env}
    full.update(CCHC_PORT=str(port), CCHC_DATA_DIR=str(data))
    log = (data / "app.log").open("wb")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_DIR, env=full, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited ({proc.returncode}); see {log.name}")
        try:
            if httpx.get(base, timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the app did not start in 600 s")


async def run(bases: list[str], users: int, seconds: float, pid: int | None, api: str = "gradio") -> dict[str, Any]:
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    for base in bases:
        async with httpx.AsyncClient(base_url=base, timeout=600) as warm:  # the store is ready before timing
            await ask(warm, questions[0], [])
    tally = Tally()
    peak_during: list[float] = []

    async def sample() -> None:
        while True:
            if pid:
                peak_during.append(rss_mb(pid)[1])
            await asyncio.sleep(2)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(
        *(user(bases[seed % len(bases)], questions, deadline, tally, seed, api) for seed in range(users))
    )
    elapsed = time.monotonic() - started
    sampler.cancel()
    lat = sorted(tally.latencies)

    def pct(q: float) -> float | None:
        return round(lat[min(len(lat) - 1, int(q * len(lat)))], 2) if lat else None

    out: dict[str, Any] = {
        "api": api,
        "users": users,
        "seconds": round(elapsed, 1),
        "requests": len(lat),
        "answers": tally.answers,
        "answers_by_url": tally.answers_by_url,
        "busy": tally.busy,
        "errors": len(tally.errors),
        "answers_per_s": round(tally.answers / elapsed, 2),
        "p50_s": pct(0.5),
        "p95_s": pct(0.95),
        "p99_s": pct(0.99),
        "max_s": round(lat[-1], 2) if lat else None,
        "mean_s": round(statistics.mean(lat), 2) if lat else None,
        "error_samples": tally.errors[:5],
    }
    if pid:
        peak, current = rss_mb(pid)
        out.update(peak_rss_mb=round(peak), final_rss_mb=round(current), rss_mb_samples=[round(x) for x in peak_during])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--store", type=Path, default=PROJECT_DIR / "data/bench-stores/phapdien")
    parser.add_argument(
        "--url", action="append", help="a running app instead of starting one (repeat for replicas; no RSS then)"
    )
    parser.add_argument(
        "--api", choices=["gradio", "json"], default="gradio",
        help="gradio: /gradio_api/call/ask (what gradio_client uses); json: the plain POST /api/ask",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    proc = None
    if args.url:
        bases = [url.rstrip("/") + "/" for url in args.url]
    else:
        if not (args.store / "documents.sqlite3").is_file():
            print(f"no store at {args.store}: run python benchmarks/retrieval.py phapdien first", file=sys.stderr)
            return 2
        proc, base = start_app({"CCHC_STORE_DIR": str(args.store), "CCHC_RATE_LIMIT_QUESTIONS": "0"})
        bases = [base]
    try:
        figures = asyncio.run(run(bases, args.users, args.seconds, proc.pid if proc else None, args.api))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    samples = figures.pop("rss_mb_samples", [])
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    if samples:
        print(f"RSS over the run (MB, every 2 s): {samples}")
    if args.json:
        args.json.write_text(json.dumps({**figures, "rss_mb_samples": samples}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
