"""Embedding models side by side: e5-small (bundled) and EmbeddingGemma-300M at 768 and 256 dimensions.

    python benchmarks/embedders.py [--models e5 gemma gemma@256] [--fresh] [--phase ingest|eval|app|all]

For each model, through the product's own path (``Ingestor``, ``Engine``, ``python app.py``), on this machine:

* full ingest of the pháp điển corpus and of the ALQAC corpus into data/bench-stores/ (seconds, recorded in the
  store folder as ``bench_ingest.json`` when the store is built from empty; a store built earlier is used untimed
  unless ``--fresh`` rebuilds it);
* hybrid recall@1/@10 and MRR@10 on the citizen set (and its no-diacritics part) and on ALQAC (210 questions);
* ``ask`` p50/p95 over the citizen set on the full pháp điển store (extractive generator, reader included);
* app cold start (process start -> first answer through the public API, on a fresh data folder: it ingests the
  bundled sample first), the app's peak RSS after a few questions, and a restart (the store in place).

``gemma@256`` is Matryoshka truncation: sentence-transformers' ``truncate_dim`` keeps the first 256 of the 768
values and renormalises, so its stores are built from the 768-dimension store's vectors (one forward pass; a test
checks the equivalence) and its ingest time is the 768 one. Needs ../shared and the installed model
(``python -m bot.models install-embedder embeddinggemma --accept-terms``). Prints a markdown table and writes
reports/embedders/embedders.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from benchmarks.retrieval import alqac_questions
from bot import eval as harness
from bot.answer.options import AskOptions
from bot.engine import Engine
from bot.eval import bench_store
from ingest.pipeline import Ingestor
from settings import E5_SMALL, PROJECT_DIR, Settings
from vectorstore.embeddings import Embedder
from vectorstore.store import Store

SHARED = PROJECT_DIR.parent / "shared"
REPORT = PROJECT_DIR / "reports" / "embedders"
CORPORA = {"phapdien": SHARED / "corpus/phapdien/corpus.jsonl", "alqac": SHARED / "bench/alqac2023/corpus.jsonl"}
CITIZEN = PROJECT_DIR / "benchmarks/questions/phapdien_citizen.jsonl"
MODELS: dict[str, dict[str, Any]] = {
    "e5": {"embedding_model": E5_SMALL},
    "gemma": {"embedding_model": "embeddinggemma"},
    "gemma@256": {"embedding_model": "embeddinggemma", "embedding_dim": 256},
}
APP_QUESTIONS = ["thu tuc hanh chinh nao con chong cheo?", "Thủ tướng yêu cầu gì về cải cách hành chính?"]


def settings_for(model: str, corpus: str) -> Settings:
    settings = Settings.load(**MODELS[model])
    return settings.model_copy(update={"store_dir": bench_store(corpus, settings)})


class TruncatedFrom:
    """Passage vectors of a Matryoshka model at ``dim``, taken from a store of the full-size model: the first
    ``dim`` values, renormalised -- what the model's own ``truncate_dim`` computes."""

    def __init__(self, full: Store, dim: int) -> None:
        rows = full.embed_texts()
        vectors = full.vectors([r[0] for r in rows])[:, :dim]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        self.by_text = {text: vectors[i] for i, (_, text) in enumerate(rows)}

    def embed_passages(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        return np.stack([self.by_text[t] for t in texts]).astype(np.float32)


def ingest(model: str, corpus: str, fresh: bool) -> dict[str, Any]:
    settings = settings_for(model, corpus)
    record_file = settings.store_path / "bench_ingest.json"
    if record_file.is_file() and not fresh:
        return json.loads(record_file.read_text(encoding="utf-8"))
    if not fresh and (settings.store_path / "documents.sqlite3").is_file():  # built earlier, not timed here
        store = Store(settings, settings.embedding_key)
        chunks = store.stats()["chunks"]
        store.close()
        if chunks:
            return {"chunks": chunks, "seconds": None}
    if model.endswith("@256"):
        full_settings = settings_for(model.split("@")[0], corpus)
        full = Store(full_settings, full_settings.embedding_key)
        embedder: Any = TruncatedFrom(full, MODELS[model]["embedding_dim"])
        full.close()
        ingestor = Ingestor(settings, embedder=Embedder.from_settings(settings))
        ingestor.embed = embedder.embed_passages  # type: ignore[method-assign]
    else:
        ingestor = Ingestor(settings)
        ingestor.embedder.embed_passages(["khởi động"])  # load the model outside the timing
    ingestor.store.reset()
    summary = ingestor.run([CORPORA[corpus]])
    ingestor.store.close()
    record = {"chunks": summary.chunks_added, "seconds": round(summary.seconds, 1), "date": time.strftime("%F")}
    if model.endswith("@256"):
        full_store = settings_for(model.split("@")[0], corpus).store_path
        full_record = json.loads((full_store / "bench_ingest.json").read_text(encoding="utf-8"))
        record.update(seconds=full_record["seconds"], derived_from_full_size=True)
    record_file.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return record


def evaluate(model: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for corpus, questions, ask in (
        ("phapdien", harness.load_questions(CITIZEN), True),
        ("alqac", harness.load_questions(alqac_questions(Path(tempfile.mkdtemp()) / "alqac.jsonl")), False),
    ):
        engine = Engine(settings_for(model, corpus))
        engine.warm_up(AskOptions())
        records = harness.evaluate(engine, questions, 10, AskOptions(), ask=ask)
        engine.close()
        summary = harness.report({"hybrid": records})["hybrid"]
        out[corpus] = summary["overall"]
        if corpus == "phapdien":
            out["phapdien_no_diacritics"] = summary["by_variant"].get("no_diacritics", {})
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cold_start(model: str) -> dict[str, Any]:
    """``python app.py`` on a fresh data folder: seconds to the first answer, then peak RSS after a few more."""
    from gradio_client import Client

    data = Path(tempfile.mkdtemp(prefix="bench-app-"))
    port = free_port()
    env = {**os.environ, "CCHC_DATA_DIR": str(data), "CCHC_CACHE_DIR": str(PROJECT_DIR / "data/cache")}
    env["CCHC_PORT"] = str(port)
    env.pop("CCHC_EMBEDDING_DIM", None)
    env.update({f"CCHC_{k.upper()}": str(v) for k, v in MODELS[model].items()})
    started = time.perf_counter()
    quiet = subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_DIR, env=env, stdout=quiet, stderr=quiet)
    try:
        first_answer(proc, port)
        seconds = time.perf_counter() - started
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        for q in APP_QUESTIONS * 3:
            client.predict(q, api_name="/ask")
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
        proc.terminate()
        proc.wait(30)
        started = time.perf_counter()  # a restart: the store is in place
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_DIR, env=env, stdout=quiet, stderr=quiet)
        first_answer(proc, port)
        restart = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)
    return {"cold_start_s": round(seconds, 1), "restart_s": round(restart, 1), "peak_rss_mb": round(peak_kb / 1024)}


def first_answer(proc: subprocess.Popen[bytes], port: int) -> None:
    """Wait for the app to answer a first question through its API."""
    from gradio_client import Client

    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with {proc.returncode}")
        try:
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            break
        except Exception:
            time.sleep(0.2)
    client.predict(APP_QUESTIONS[0], api_name="/ask")


def table(results: dict[str, dict[str, Any]]) -> str:
    def f(x: Any) -> str:
        return "–" if x is None else f"{x:.3f}" if isinstance(x, float) and x < 10 else str(x)

    lines = [
        "| model | pháp điển ingest | citizen hybrid recall@1 / @10 / hit@10 / MRR@10 | no-diacritics recall@10 "
        "| ALQAC recall@1 / @10 / MRR@10 | `ask` p50 / p95 ms | first start / restart s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model, r in results.items():
        p, n, a = r.get("phapdien", {}), r.get("phapdien_no_diacritics", {}), r.get("alqac", {})
        ing = r.get("ingest", {}).get("phapdien", {})
        lines.append(
            f"| {model} | {ing.get('seconds', '–')} s ({ing.get('chunks', '–')} chunks) "
            f"| {f(p.get('recall@1'))} / {f(p.get('recall@10'))} / {f(p.get('hit@10'))} / {f(p.get('mrr@10'))} "
            f"| {f(n.get('recall@10'))} | {f(a.get('recall@1'))} / {f(a.get('recall@10'))} / {f(a.get('mrr@10'))} "
            f"| {f(p.get('ask_p50_ms'))} / {f(p.get('ask_p95_ms'))} | {f(r.get('cold_start_s'))} / "
            f"{f(r.get('restart_s'))} "
            f"| {f(r.get('peak_rss_mb'))} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--phase", choices=["ingest", "eval", "app", "all"], default="all")
    parser.add_argument("--fresh", action="store_true", help="rebuild (and time) the stores even if they exist")
    parser.add_argument("--corpora", nargs="*", choices=sorted(CORPORA), default=list(CORPORA))
    args = parser.parse_args(argv)
    if not all(p.exists() for p in CORPORA.values()):
        print("this benchmark needs ../shared (the pháp điển and ALQAC corpora)", file=sys.stderr)
        return 2
    REPORT.mkdir(parents=True, exist_ok=True)
    report_file = REPORT / "embedders.json"
    results: dict[str, dict[str, Any]] = json.loads(report_file.read_text()) if report_file.is_file() else {}
    for model in args.models:
        r = results.setdefault(model, {})
        if args.phase in ("ingest", "all"):
            r["ingest"] = {**r.get("ingest", {}), **{c: ingest(model, c, args.fresh) for c in args.corpora}}
            print(model, "ingest", r["ingest"], file=sys.stderr, flush=True)
        if args.phase in ("eval", "all"):
            r.update(evaluate(model))
        if args.phase in ("app", "all"):
            r.update(cold_start(model))
        report_file.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(table({m: results[m] for m in MODELS if m in results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
