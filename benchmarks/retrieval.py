"""Retrieval/answer benchmarks through the evaluation harness (``bot.eval``).

    python benchmarks/retrieval.py alqac      # ALQAC 2023: 2,249 articles, 210 questions
    python benchmarks/retrieval.py phapdien   # the team's citizen questions over the pháp điển corpus
    python benchmarks/retrieval.py sample     # the team's question set on the bundled sample

Each ingests its corpus into the embedding model's bench store (``bot.eval.bench_store``: data/bench-stores/NAME for
e5-small, NAME-MODEL for another; idempotent: unchanged input re-ingests in seconds) and compares BM25-only,
dense-only and the hybrid in one run. Reports go to reports/<the store's name>/; for the citizen set, each
configuration's figures on its held-out half are printed too.

    python benchmarks/retrieval.py phapdien --model data/cache/models/e5-ft-phapdien

runs the same with another embedding model (e.g. one from ``python -m workshop.finetune``), in its own store and
report folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot import eval as harness
from ingest.pipeline import Ingestor
from settings import PROJECT_DIR, SAMPLE_DIR, Settings

SHARED = PROJECT_DIR.parent / "shared"
CONFIGS = [
    "bm25:weight_dense=0,weight_bm25=1,weight_bm25_folded=1",
    "dense:weight_dense=1,weight_bm25=0,weight_bm25_folded=0",
    "hybrid",
]


def alqac_questions(out: Path) -> Path:
    rows = []
    for line in (SHARED / "bench/alqac2023/queries.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        rows.append(
            {
                "id": q["qid"],
                "question": q["question"],
                "positive_ids": q["positive_ids"],
                "variant": "gov_related" if q.get("gov_related") else "other",
            }
        )
    out.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", choices=["alqac", "phapdien", "sample"])
    parser.add_argument("--configs", nargs="*", default=CONFIGS)
    parser.add_argument("--no-ask", action="store_true")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--model", help="embedding model (name or folder); default: the settings' model")
    args = parser.parse_args()
    overrides = {"embedding_model": args.model} if args.model else {}
    store = harness.bench_store(args.dataset, Settings.load(**overrides))  # the model's own store, as elsewhere
    name = store.name
    overrides["store_dir"] = str(store)
    tmp = Path(tempfile.mkdtemp(prefix="bench-q-"))
    if args.dataset == "alqac":
        corpus, questions = SHARED / "bench/alqac2023/corpus.jsonl", alqac_questions(tmp / "alqac.jsonl")
    elif args.dataset == "phapdien":
        corpus, questions = (
            SHARED / "corpus/phapdien/corpus.jsonl",
            harness.CITIZEN_QUESTIONS,
        )
    else:
        corpus, questions = SAMPLE_DIR, PROJECT_DIR / "data/questions/sample.jsonl"
    if not corpus.exists():
        print(f"missing {corpus}: this benchmark needs ../shared", file=sys.stderr)
        return 2
    summary = Ingestor(Settings.load(**overrides)).run([corpus])
    print(f"store {store}: {summary.documents} documents, {summary.chunks_added} chunks added", file=sys.stderr)
    argv = ["--questions", str(questions), "--store", str(store), "--report", str(PROJECT_DIR / "reports" / name)]
    if args.model:
        os.environ["CCHC_EMBEDDING_MODEL"] = args.model  # the harness reads its settings from the environment
    for cfg in args.configs:
        argv += ["--config", cfg]
    if args.no_ask:
        argv.append("--no-ask")
    if args.limit:
        argv += ["--limit", str(args.limit)]
    code = harness.main(argv)
    if code == 0 and questions == harness.CITIZEN_QUESTIONS:
        held_out_half(PROJECT_DIR / "reports" / name / f"{questions.stem}.json")
    return code


def held_out_half(report: Path) -> None:
    """Print each configuration's figures on the citizen set's held-out half (``bot.eval.citizen_tuning_half``: the
    half no weight or phrase was chosen on)."""
    records = json.loads(report.read_text(encoding="utf-8"))["records"]
    for config, rows in records.items():
        tuned = {r["id"] for r in harness.citizen_tuning_half(rows)}
        m = harness.summarize([r for r in rows if r["id"] not in tuned])
        print(f"held-out half, {config}: n {m['n']}, recall@10 {m.get('recall@10')}, hit@10 {m.get('hit@10')}, "
              f"mrr@10 {m.get('mrr@10')}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
