"""Embedding models side by side: e5-small (bundled) and EmbeddingGemma-300M at 768 and 256 dimensions.

    python benchmarks/embedders.py [--models e5 gemma gemma@256] [--fresh] [--phase ingest|eval|app|all]
    python benchmarks/embedders.py --variants onnx-fp32 openvino-bf16 [--rounds 3] [--variant-phases speed app ...]

``--variants`` runs EmbeddingGemma's runtimes side by side (see :func:`variants_main`): each speed run in a fresh
process, interleaved; the app's peak RSS; then quality (citizen recall over a gold + distractor store built by the
variant, the reader's CCHC answer hit, ``ask`` on the whole pháp điển store where one holds the variant's vectors)
and ALQAC recall over a gold + distractor store the variant embeds.

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
from bot.eval import BENCH_STORES, bench_store
from ingest.pipeline import Ingestor
from settings import E5_SMALL, PROJECT_DIR, Settings
from vectorstore.embeddings import Embedder
from vectorstore.sentences import sentence_key
from vectorstore.store import Store

SHARED = PROJECT_DIR.parent / "shared"
REPORT = PROJECT_DIR / "reports" / "embedders"
CORPORA = {"phapdien": SHARED / "corpus/phapdien/corpus.jsonl", "alqac": SHARED / "bench/alqac2023/corpus.jsonl"}
CITIZEN = harness.CITIZEN_QUESTIONS
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


# --------------------------------------------------------------------------------------------------------------
# runtimes of the default model side by side (issue 22): torch fp32, ONNX fp32, ONNX int8
# --------------------------------------------------------------------------------------------------------------
GEMMA = {"embedding_model": "embeddinggemma"}
VARIANTS: dict[str, dict[str, Any]] = {
    "torch-fp32-before": {**GEMMA, "embedding_backend": "torch", "embedding_precision": "fp32"},  # BeforeEmbedder
    "torch-fp32": {**GEMMA, "embedding_backend": "torch", "embedding_precision": "fp32"},
    "onnx-fp32": {**GEMMA, "embedding_backend": "onnx", "embedding_precision": "fp32"},
    "onnx-int8": {**GEMMA, "embedding_backend": "onnx", "embedding_precision": "int8"},
    "openvino-fp32": {**GEMMA, "embedding_backend": "openvino", "embedding_precision": "fp32"},
    "openvino-bf16": {**GEMMA, "embedding_backend": "openvino", "embedding_precision": "bf16"},
}
SPEED_ARTICLES = 130  # the first articles of the pháp điển corpus: ~300 chunks
CITIZEN_DISTRACTORS = 170  # articles drawn (seed 0) besides the citizen set's gold articles


class BeforeEmbedder(Embedder):
    """The encode this issue replaced, kept to measure against: ``model.encode`` under one lock, torch's
    process-wide thread count flipped to 1 for up to 4 texts and to every core for more, on each call."""

    def _encode(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        threads = 1 if len(texts) <= 4 else (os.cpu_count() or 1)
        with self._tokenize_lock, torch.inference_mode():
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                vecs = self.model.encode(  # type: ignore[union-attr]
                    list(texts), prompt=prompt, batch_size=batch_size, normalize_embeddings=True
                )
            finally:
                torch.set_num_threads(previous)
        return np.ascontiguousarray(vecs, dtype=np.float32)


def load_variant(variant: str, settings: Settings) -> Embedder:
    embedder = Embedder.from_settings(settings)
    if variant.endswith("-before"):
        import torch

        torch.set_num_threads(os.cpu_count() or 1)  # what the process had before Embedder set 1 at load
        embedder.__class__ = BeforeEmbedder
    return embedder


def variant_settings(variant: str, **update: Any) -> Settings:
    return Settings.load(**VARIANTS[variant]).model_copy(update=update)


def corpus_subset(ids: set[str] | None, first: int = 0, extra: int = 0, corpus: str = "phapdien") -> Path:
    """A jsonl of ``corpus`` articles: the first ``first``, those in ``ids``, and ``extra`` more drawn with seed 0."""
    import random

    rows = CORPORA[corpus].read_text(encoding="utf-8").splitlines()
    keep = set(range(first)) | {i for i, line in enumerate(rows) if ids and json.loads(line)["id"] in ids}
    rest = [i for i in range(len(rows)) if i not in keep]
    keep |= set(random.Random(0).sample(rest, min(extra, len(rest))))
    out = Path(tempfile.mkdtemp(prefix="bench-subset-")) / "subset.jsonl"
    out.write_text("\n".join(rows[i] for i in sorted(keep)) + "\n", encoding="utf-8")
    return out


def speed(variant: str) -> dict[str, Any]:
    """In this (fresh) process: model load, ingest of the fixed subset through ``Ingestor``, query encodes over
    the citizen questions, the share of encode time spent tokenising, and this process's peak RSS."""
    import resource

    data = Path(tempfile.mkdtemp(prefix="bench-variant-"))
    settings = variant_settings(variant, data_dir=data, cache_dir=PROJECT_DIR / "data/cache")
    started = time.perf_counter()
    embedder = load_variant(variant, settings)
    embedder.embed_passages(["khởi động", "khởi động lần hai"])
    load_s = time.perf_counter() - started
    ingestor = Ingestor(settings, embedder=embedder)
    summary = ingestor.run([corpus_subset(None, first=SPEED_ARTICLES)])
    ingestor.store.close()
    questions = [r["question"] for r in harness.load_questions(CITIZEN)]
    latencies = []
    for question in questions:
        t = time.perf_counter()
        embedder.embed_query(question)
        latencies.append((time.perf_counter() - t) * 1000)
    texts = [t for _, t in Store(settings, settings.embedding_key).embed_texts()][:64]
    t = time.perf_counter()
    for i in range(0, len(texts), 16):
        embedder.model.tokenize([embedder.passage_prompt + x for x in texts[i : i + 16]])
    tokenise_s = time.perf_counter() - t
    t = time.perf_counter()
    embedder.embed_passages(texts)
    encode_s = time.perf_counter() - t
    shutil.rmtree(data, ignore_errors=True)
    latencies.sort()
    return {
        "load_s": round(load_s, 1),
        "chunks": summary.chunks_added,
        "ingest_s": round(summary.seconds, 1),
        "chunks_per_s": round(summary.chunks_added / summary.seconds, 2),
        "query_p50_ms": round(latencies[len(latencies) // 2], 1),
        "query_p95_ms": round(latencies[int(0.95 * len(latencies))], 1),
        "tokenise_share": round(tokenise_s / encode_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


class FromStore:
    """Passage vectors read back from a store of the same model (fp32 torch = fp32 ONNX to ~1e-7): its chunks' and
    its sentences' vectors; a text it has neither of is embedded by ``embedder``."""

    def __init__(self, store: Store, embedder: Embedder) -> None:
        rows = store.embed_texts()
        vectors = store.vectors([r[0] for r in rows])
        self.by_text = {text: vectors[i] for i, (_, text) in enumerate(rows)}
        self.sentences = store
        self.embedder = embedder

    def embed_passages(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        keys = {t: sentence_key(t) for t in texts if t not in self.by_text}
        stored = self.sentences.sentence_vectors(list(keys.values()))
        missing = [t for t, k in keys.items() if k not in stored]
        fresh = dict(zip(missing, self.embedder.embed_passages(missing))) if missing else {}
        rows = [self.by_text[t] if t in self.by_text else stored.get(keys[t], fresh.get(t)) for t in texts]
        return np.stack(rows).astype(np.float32)


def quality(variant: str) -> dict[str, Any]:
    """Citizen-set recall over gold + distractor articles, the reader's CCHC answer hit (test split), and ``ask``
    p50/p95 on the whole pháp điển store where one exists for the variant's vectors."""
    from benchmarks.reader import CORPORA as READER_CORPORA
    from benchmarks.reader import figures

    cache = {"cache_dir": PROJECT_DIR / "data/cache"}
    base = variant_settings(variant, **cache)
    embedder = load_variant(variant, base)
    out: dict[str, Any] = {}
    questions = harness.load_questions(CITIZEN)
    gold = {i for r in questions for i in r.get("positive_ids") or []}
    settings = base.model_copy(update={"store_dir": BENCH_STORES / f"citizen-subset-{base.embedding_key}"})
    ingestor = Ingestor(settings, embedder=embedder)
    full_key = variant_settings("torch-fp32").embedding_key
    full_dir = BENCH_STORES / f"phapdien-{full_key}"
    full = None
    if settings.embedding_key == full_key and (full_dir / "documents.sqlite3").is_file():
        full = Store(base.model_copy(update={"store_dir": full_dir}), full_key)
        ingestor.embed = FromStore(full, embedder).embed_passages  # type: ignore[method-assign]
    summary = ingestor.run([corpus_subset(gold, extra=CITIZEN_DISTRACTORS)])
    if full is not None:
        full.close()
    ingestor.store.close()
    engine = Engine(settings, embedder=embedder)
    engine.warm_up(AskOptions())
    embedder._queries.clear()
    records = harness.evaluate(engine, questions, 10, AskOptions(), ask=False)
    engine.close()
    chunks = summary.chunks_added + summary.chunks_unchanged
    out["citizen_subset"] = {**harness.report({"h": records})["h"]["overall"], "chunks": chunks}
    cchc = base.model_copy(update={"store_dir": BENCH_STORES / f"cchc-{base.embedding_key}"})
    engine = Engine(cchc, embedder=embedder)
    Ingestor(cchc, embedder=embedder, store=engine.store).run(READER_CORPORA["cchc"])
    rows = [r for r in harness.load_questions(PROJECT_DIR / "data/questions/reader_test.jsonl") if r["set"] == "cchc"]
    engine.warm_up(AskOptions())
    out["cchc_reader"] = figures(harness.evaluate(engine, rows, 10, AskOptions()))
    engine.close()
    whole = base.model_copy(update={"store_dir": BENCH_STORES / f"phapdien-{base.embedding_key}"})
    if (whole.store_path / "documents.sqlite3").is_file():
        embedder._queries.clear()  # the citizen questions were encoded above: time their encode here too
        engine = Engine(whole, embedder=embedder)
        engine.warm_up(AskOptions())
        records = harness.evaluate(engine, questions, 10, AskOptions())
        engine.close()
        out["phapdien"] = harness.report({"h": records})["h"]["overall"]
    return out


def alqac_recall(variant: str) -> dict[str, Any]:
    """ALQAC recall over a store of its 210 questions' 160 gold articles plus ``CITIZEN_DISTRACTORS`` drawn ones,
    embedded by the variant (retrieval only: the reader's sentence vectors are not filled)."""
    questions = harness.load_questions(alqac_questions(Path(tempfile.mkdtemp()) / "alqac.jsonl"))
    gold = {i for r in questions for i in r.get("positive_ids") or []}
    base = variant_settings(variant, cache_dir=PROJECT_DIR / "data/cache")
    settings = base.model_copy(update={"store_dir": BENCH_STORES / f"alqac-subset-{base.embedding_key}"})
    embedder = load_variant(variant, settings)
    ingestor = Ingestor(settings, embedder=embedder)
    ingestor._fill_sentences = lambda doc_ids: 0  # type: ignore[method-assign]
    summary = ingestor.run([corpus_subset(gold, extra=CITIZEN_DISTRACTORS, corpus="alqac")])
    ingestor.store.close()
    engine = Engine(settings, embedder=embedder)
    records = harness.evaluate(engine, questions, 10, AskOptions(), ask=False)
    engine.close()
    chunks = summary.chunks_added + summary.chunks_unchanged
    return {"alqac_subset": {**harness.report({"h": records})["h"]["overall"], "chunks": chunks}}


def app_rss(variant: str, questions: int = 20) -> dict[str, Any]:
    """``python app.py`` on a fresh data folder (it ingests the bundled sample): its peak RSS after
    ``questions`` citizen questions through the public API."""
    from gradio_client import Client

    data = Path(tempfile.mkdtemp(prefix="bench-app-"))
    port = free_port()
    env = {**os.environ, "CCHC_DATA_DIR": str(data), "CCHC_CACHE_DIR": str(PROJECT_DIR / "data/cache")}
    env.update({"CCHC_PORT": str(port), **{f"CCHC_{k.upper()}": str(v) for k, v in VARIANTS[variant].items()}})
    quiet = subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_DIR, env=env, stdout=quiet, stderr=quiet)
    try:
        first_answer(proc, port)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        for row in harness.load_questions(CITIZEN)[: questions - 1]:
            client.predict(row["question"], api_name="/ask")
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
        rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)
    return {"app_peak_rss_mb": round(peak_kb / 1024), "app_rss_mb": round(rss_kb / 1024)}


def run_child(variant: str, phase: str) -> dict[str, Any]:
    """``phase`` of ``variant`` in a fresh process (its own peak RSS, no model loaded before it)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        target = Path(f.name)
    command = [sys.executable, __file__, "--child", variant, phase, str(target)]
    subprocess.run(command, check=True, cwd=PROJECT_DIR)
    return json.loads(target.read_text(encoding="utf-8"))


def variants_main(names: Sequence[str], rounds: int, phases: Sequence[str]) -> int:
    """Speed in ``rounds`` interleaved rounds (variant A, B, C, A, B, C, ...: the 2 cores are shared with other
    work, so each ratio compares neighbours in time), then quality once per variant."""
    REPORT.mkdir(parents=True, exist_ok=True)
    report_file = REPORT / "variants.json"
    results: dict[str, Any] = json.loads(report_file.read_text()) if report_file.is_file() else {}
    if "speed" in phases:
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in names}
        for r in range(rounds):
            for v in names:
                runs[v].append(run_child(v, "speed"))
                print(f"round {r + 1} {v}: {runs[v][-1]}", file=sys.stderr, flush=True)
        for v in names:
            results.setdefault(v, {})["speed_runs"] = runs[v]
    if "app" in phases:
        for v in names:
            if not v.endswith("-before"):  # the app always runs the current Embedder
                results.setdefault(v, {}).update(app_rss(v))
                print(f"{v} app: {results[v]}", file=sys.stderr, flush=True)
    if "quality" in phases:
        for v in names:
            results.setdefault(v, {}).update(run_child(v, "quality"))
            print(f"{v} quality: {results[v]}", file=sys.stderr, flush=True)
    if "alqac" in phases:
        for v in names:
            results.setdefault(v, {}).update(run_child(v, "alqac"))
            print(f"{v} alqac: {results[v].get('alqac_subset')}", file=sys.stderr, flush=True)
    report_file.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(variants_table(results))
    return 0


def variants_table(results: dict[str, Any]) -> str:
    """Speed figures round by round ("a, b": rounds 1 and 2), each ratio against the baseline's run of the same
    round (its neighbour in time); quality figures once."""

    def f(x: Any) -> str:
        return "–" if x is None else f"{x:.3f}" if isinstance(x, float) and x < 1 else str(x)

    def rounds(runs: list[dict[str, Any]], key: str) -> str:
        return ", ".join(f(r[key]) for r in runs) or "–"

    base = (results.get("torch-fp32-before") or results.get("torch-fp32", {})).get("speed_runs", [])
    lines = [
        "| variant | ingest chunks/s | × before (same round) | query encode p50 ms | query encode p95 ms "
        "| tokenise share | peak RSS MB (ingest run) | citizen subset R@10 / MRR@10 | ALQAC subset R@10 / MRR@10 "
        "| CCHC reader answer hit "
        "| CCHC `ask` p50 / p95 ms | whole pháp điển `ask` p50 / p95 ms | app peak RSS MB (20 questions) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v, r in results.items():
        runs = r.get("speed_runs", [])
        ratios = ", ".join(f"{a['chunks_per_s'] / b['chunks_per_s']:.2f}" for a, b in zip(runs, base)) or "–"
        c, rd, p = r.get("citizen_subset", {}), r.get("cchc_reader", {}), r.get("phapdien", {})
        aq = r.get("alqac_subset", {})
        lines.append(
            f"| {v} | {rounds(runs, 'chunks_per_s')} | {ratios} | {rounds(runs, 'query_p50_ms')} "
            f"| {rounds(runs, 'query_p95_ms')} | {rounds(runs, 'tokenise_share')} | {rounds(runs, 'peak_rss_mb')} "
            f"| {f(c.get('recall@10'))} / {f(c.get('mrr@10'))} | {f(aq.get('recall@10'))} / {f(aq.get('mrr@10'))} "
            f"| {f(rd.get('answer_hit'))} "
            f"| {f(rd.get('ask_p50_ms'))} / {f(rd.get('ask_p95_ms'))} "
            f"| {f(p.get('ask_p50_ms'))} / {f(p.get('ask_p95_ms'))} | {f(r.get('app_peak_rss_mb'))} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--phase", choices=["ingest", "eval", "app", "all"], default="all")
    parser.add_argument("--fresh", action="store_true", help="rebuild (and time) the stores even if they exist")
    parser.add_argument("--corpora", nargs="*", choices=sorted(CORPORA), default=list(CORPORA))
    parser.add_argument("--variants", nargs="*", choices=sorted(VARIANTS), help="runtimes of the default model")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds (with --variants)")
    parser.add_argument(
        "--variant-phases",
        nargs="*",
        choices=["speed", "app", "quality", "alqac"],
        default=["speed", "app", "quality", "alqac"],
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # VARIANT PHASE OUT.json: one run, in-process
    args = parser.parse_args(argv)
    if args.child:
        variant, phase, target = args.child
        result = {"speed": speed, "quality": quality, "alqac": alqac_recall}[phase](variant)
        Path(target).write_text(json.dumps(result), encoding="utf-8")
        return 0
    if not all(p.exists() for p in CORPORA.values()):
        print("this benchmark needs ../shared (the pháp điển and ALQAC corpora)", file=sys.stderr)
        return 2
    if args.variants:
        return variants_main(args.variants, args.rounds, args.variant_phases)
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
