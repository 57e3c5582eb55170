"""Scale-out: the same load against one app replica and against two, both over one shared store.

    python benchmarks/scale.py [--store data/bench-stores/phapdien-embeddinggemma] [--users 50] [--seconds 60]
                               [--api json|gradio]

Starts a throw-away PostgreSQL cluster and ``chroma run`` on loopback (tests/servers.py), copies ``--store`` (an
embedded store, default: the full pháp điển store of the default embedding model) into them without
re-embedding (``python -m vectorstore copy-from``), then starts one fresh replica and runs
``benchmarks/load.py`` against it, then two fresh replicas and spreads the same users over both. Prints one JSON
line per configuration (throughput, latency, errors, busy replies) and a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.load import start_app
from bot.eval import bench_store
from settings import PROJECT_DIR, Settings
from tests.servers import ChromaServer, PostgresServer


def stop(replicas: list[subprocess.Popen[bytes]]) -> None:
    for proc in replicas:
        proc.terminate()
    for proc in replicas:
        proc.wait(60)
    replicas.clear()


def load(bases: list[str], users: int, seconds: float, api: str, out: Path) -> dict:
    command = [sys.executable, "benchmarks/load.py", "--users", str(users), "--seconds", str(seconds), "--api", api,
               "--json", str(out)] + [arg for base in bases for arg in ("--url", base)]  # fmt: skip
    subprocess.run(command, cwd=PROJECT_DIR, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text(encoding="utf-8"))


def main() -> int:
    default_store = bench_store("phapdien", Settings())
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=default_store)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--api", choices=["json", "gradio"], default="json", help="which API load.py calls")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not (args.store / "documents.sqlite3").is_file():
        print(f"no store at {args.store}: run python benchmarks/retrieval.py phapdien first", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="scale-"))
    postgres, chroma = PostgresServer(), ChromaServer(work / "chroma")
    postgres.start()
    chroma.start()
    env = {
        "CCHC_DATABASE_URL": postgres.url,
        "CCHC_CHROMA_HOST": "127.0.0.1",
        "CCHC_CHROMA_PORT": str(chroma.port),
        "CCHC_RATE_LIMIT_QUESTIONS": "0",  # every simulated user shares one loopback address
        "CCHC_CACHE_DIR": str(Settings().cache_path),
    }
    replicas: list[subprocess.Popen[bytes]] = []
    results = []
    try:
        started = time.perf_counter()
        copy = [sys.executable, "-m", "vectorstore", "copy-from", str(args.store)]
        subprocess.run(copy, cwd=PROJECT_DIR, env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)
        print(f"store copied into PostgreSQL + Chroma in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        for n in (1, 2):  # fresh replicas for each: no cache carried over from the previous run
            bases = []
            for i in range(n):
                proc, base = start_app(env, work / f"run-{n}-replica-{i}")
                replicas.append(proc)
                bases.append(base)
            figures = load(bases, args.users, args.seconds, args.api, work / f"load-{n}.json")
            figures = {"replicas": n, **{k: v for k, v in figures.items() if k != "rss_mb_samples"}}
            results.append(figures)
            print(json.dumps(figures, ensure_ascii=False))
            stop(replicas)
    finally:
        stop(replicas)
        chroma.stop()
        postgres.remove()
    print("\n| replicas | users | answers/s | answers | busy | errors | p50 | p95 | max |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['replicas']} | {r['users']} | {r['answers_per_s']} | {r['answers']} | {r['busy']} | "
              f"{r['errors']} | {r['p50_s']} s | {r['p95_s']} s | {r['max_s']} s |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
