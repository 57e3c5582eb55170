"""Fusion weights per embedding model, chosen on development questions only.

    python benchmarks/fusion.py [--model embeddinggemma] [--dim 256]

Grid over the RRF weights (dense, BM25 on words, BM25 on folded words) on the pháp điển questions of the team's
development split (``data/questions/reader_dev.jsonl``, set "phapdien", answerable) and on ALQAC's 210 questions;
retrieval only, over the full stores in data/bench-stores/ (built by ``benchmarks/embedders.py``). Prints
recall@10 and MRR@10 per setting, sorted by their mean over both sets. The citizen set, on which the README
reports, is never read here.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.retrieval import alqac_questions
from bot import eval as harness
from bot.answer.options import AskOptions, Weights
from bot.engine import Engine
from bot.eval import bench_store
from settings import DEFAULT_EMBEDDING_MODEL, PROJECT_DIR, Settings
from vectorstore.embeddings import Embedder

DEV = PROJECT_DIR / "data/questions/reader_dev.jsonl"
CITIZEN = harness.CITIZEN_QUESTIONS
GRID = {"dense": (1.0, 2.0, 3.0, 4.0), "bm25": (0.0, 0.5, 1.0), "folded": (0.0, 0.5, 1.0)}


def dev_sets(citizen_half: bool) -> dict[str, list[dict[str, Any]]]:
    if citizen_half:  # the citizen set's even-numbered questions; the odd ones are kept for the report
        rows = harness.load_questions(CITIZEN)
        tuning = harness.citizen_tuning_half(rows)
        tuned = {r["id"] for r in tuning}
        return {
            "phapdien": tuning,
            "phapdien-held-out": [r for r in rows if not r["unanswerable"] and r["id"] not in tuned],
        }
    rows = [r for r in harness.load_questions(DEV) if r.get("set") == "phapdien" and not r["unanswerable"]]
    alqac = harness.load_questions(alqac_questions(Path(tempfile.mkdtemp()) / "alqac.jsonl"))
    return {"phapdien": rows, "alqac": alqac}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_EMBEDDING_MODEL)
    parser.add_argument("--dim", type=int)
    parser.add_argument(
        "--citizen-half",
        action="store_true",
        help="choose on the citizen set's even questions, report the choice on its odd ones (an analysis)",
    )
    args = parser.parse_args()
    base = Settings.load(embedding_model=args.model, embedding_dim=args.dim)
    embedder = Embedder.from_settings(base)
    results: dict[tuple[float, float, float], dict[str, dict[str, float]]] = {}
    for corpus, rows in dev_sets(args.citizen_half).items():
        store = bench_store(corpus.removesuffix("-held-out"), base)
        if not (store / "documents.sqlite3").is_file():
            print(f"missing store {store}: run benchmarks/embedders.py first", file=sys.stderr)
            return 2
        engine = Engine(base.model_copy(update={"store_dir": store}), embedder=embedder)
        for dense, bm25, folded in itertools.product(*GRID.values()):
            if not (bm25 or folded) and dense != GRID["dense"][0]:
                continue  # dense alone: the weight does not matter
            options = AskOptions(weights=Weights(dense, bm25, folded))
            summary = harness.summarize(harness.evaluate(engine, rows, 10, options, ask=False))
            results.setdefault((dense, bm25, folded), {})[corpus] = {
                "recall@10": summary["recall@10"],
                "mrr@10": summary["mrr@10"],
            }
        engine.close()
    if args.citizen_half:
        tuned = "phapdien"

        def mean(r: dict[str, dict[str, float]]) -> float:
            return statistics.mean(r[tuned].values())

        best, default = max(results, key=lambda w: mean(results[w])), (1.0, 1.0, 1.0)
        print(f"# {base.embedding_key}: weights chosen on the citizen set's even half, reported on its odd half\n")
        print("| weights | even half R@10 / MRR@10 | odd half R@10 / MRR@10 |")
        print("|---|---|---|")
        for w in dict.fromkeys([default, best]):
            even, odd = results[w]["phapdien"], results[w]["phapdien-held-out"]
            print(
                f"| {w[0]:g} / {w[1]:g} / {w[2]:g} | {even['recall@10']:.3f} / {even['mrr@10']:.3f} "
                f"| {odd['recall@10']:.3f} / {odd['mrr@10']:.3f} |"
            )
        return 0
    print(f"# Fusion weights for {base.embedding_key} (development questions only)\n")
    print("| dense | bm25 | folded | pháp điển dev R@10 | MRR@10 | ALQAC R@10 | MRR@10 | mean |")
    print("|---|---|---|---|---|---|---|---|")

    def overall(r: dict[str, dict[str, float]]) -> float:
        return statistics.mean(v for m in r.values() for v in m.values())

    for weights, r in sorted(results.items(), key=lambda kv: -overall(kv[1])):
        p, a = r["phapdien"], r["alqac"]
        print(
            f"| {weights[0]:g} | {weights[1]:g} | {weights[2]:g} | {p['recall@10']:.3f} | {p['mrr@10']:.3f} "
            f"| {a['recall@10']:.3f} | {a['mrr@10']:.3f} | {overall(r):.3f} |"
        )
    out = PROJECT_DIR / "reports" / "fusion"
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"weights": list(w), **r} for w, r in results.items()]
    (out / f"{base.embedding_key.replace('/', '_')}.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
