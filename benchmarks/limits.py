"""What a question rate-limit check costs on the request path: in memory (``webui/guard.py``), and shared through
the database (``webui/shared_limits.py``) on a SQLite file and on a throw-away local PostgreSQL cluster.

    python benchmarks/limits.py [--checks 3000] [--threads 8] [--backends memory,sqlite,postgresql]

For each backend: the latency of one check when the question is allowed (the usual case: one statement), when it
is refused (the statement, then reading the state to say how long to wait), and the checks per second that
``--threads`` threads sustain through one limiter (one replica's request threads). Callers are 400 sessions
behind 40 addresses with limits high enough that they are allowed; the refused case is one session over its limit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webui.guard import Caller, QuestionLimit, QuestionLimits
from webui.shared_limits import SharedQuestionLimits, limits_engine


def timed(check: Callable[[], float], n: int) -> list[float]:
    """Latencies of ``n`` calls, in microseconds."""
    out = []
    for _ in range(n):
        started = time.perf_counter()
        check()
        out.append((time.perf_counter() - started) * 1e6)
    return out


def measure(name: str, make: Callable[[int], QuestionLimit], checks: int, threads: int) -> None:
    callers = [Caller(f"10.0.{i % 40}.1", f"session-{i}") for i in range(400)]
    limiter = make(10**6)
    limiter.retry_after(callers[0])  # tables, connections
    i = iter(range(10**9))
    allowed = timed(lambda: limiter.retry_after(callers[next(i) % len(callers)]), checks)
    over = make(1)
    over.retry_after(Caller("10.9.9.9", "over"))
    refused = timed(lambda: over.retry_after(Caller("10.9.9.9", "over")), max(100, checks // 10))
    assert over.retry_after(Caller("10.9.9.9", "over")) > 0

    done = [0] * threads
    stop = time.perf_counter() + 3.0

    def work(t: int) -> None:
        k = t
        while time.perf_counter() < stop:
            limiter.retry_after(callers[k % len(callers)])
            k += threads
            done[t] += 1

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    started = time.perf_counter()
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    rate = sum(done) / (time.perf_counter() - started)

    def q(values: list[float], p: float) -> float:
        return statistics.quantiles(values, n=100)[int(p) - 1]

    print(
        f"| {name} | {statistics.median(allowed):,.0f} / {q(allowed, 95):,.0f} µs | "
        f"{statistics.median(refused):,.0f} / {q(refused, 95):,.0f} µs | {rate:,.0f} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--backends", default="memory,sqlite,postgresql")
    args = parser.parse_args()
    backends = args.backends.split(",")
    print(f"| backend | allowed p50 / p95 | refused p50 / p95 | checks/s ({args.threads} threads) |")
    print("|---|---|---|---|")
    if "memory" in backends:
        measure("memory (one process)", lambda n: QuestionLimits(n, n, 60.0), args.checks, args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in backends:
            engine = limits_engine(f"sqlite:///{Path(tmp) / 'limits.sqlite3'}")
            measure("SQLite file", lambda n: SharedQuestionLimits(engine, n, n, 60.0), args.checks, args.threads)
            engine.dispose()
        if "postgresql" in backends:
            from tests.servers import PostgresServer

            server = PostgresServer()
            server.start()
            try:
                engine = limits_engine(server.url)
                measure(
                    "PostgreSQL (loopback)",
                    lambda n: SharedQuestionLimits(engine, n, n, 60.0),
                    args.checks,
                    args.threads,
                )
                engine.dispose()
            finally:
                server.remove()


if __name__ == "__main__":
    main()
