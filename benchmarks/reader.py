"""The reader's benchmark: answers on the team's labelled questions, by corpus, variant and trap.

    python benchmarks/reader.py [--split test|dev] [--sets cchc phapdien citizen] [--generator extractive]

Sets: ``cchc`` (the team's CCHC corpus, ``data/cchc/`` plus the bundled sample, with its questions from
``data/questions/reader_<split>.jsonl``), ``phapdien`` (the same file's questions over the pháp điển corpus in
``../shared``), ``heldout`` (30 documents of 2024-2025 in ``data/heldout/`` and their 129 questions in
``data/questions/cchc_reform2025.jsonl``, written after every rule was tuned and never tuned on), ``citizen``
(``benchmarks/questions/phapdien_citizen.jsonl``, 108 citizen questions with gold articles, not split: the reader
never trained on it) and ``definitions`` ("X là gì?" over the CCHC and pháp điển corpora, terms each defines and
terms it does not: ``data/questions/definitions.jsonl``, split by a hash of the term). Stores are built in
``data/bench-stores/`` when missing.
Prints the figures of the README's reader table and writes ``reports/reader/<split>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import eval as harness
from bot.answer.options import AskOptions
from bot.engine import Engine
from bot.eval import bench_store
from ingest.pipeline import Ingestor
from settings import PROJECT_DIR, SAMPLE_DIR, Settings
from vectorstore.embeddings import Embedder

SHARED = PROJECT_DIR.parent / "shared"
CORPORA = {
    "cchc": [SAMPLE_DIR, PROJECT_DIR / "data" / "cchc"],
    "phapdien": [SHARED / "corpus/phapdien/corpus.jsonl"],
    "heldout": [PROJECT_DIR / "data" / "heldout"],
}
HELDOUT_QUESTIONS = PROJECT_DIR / "data" / "questions" / "cchc_reform2025.jsonl"
DEFINITIONS = PROJECT_DIR / "data" / "questions" / "definitions.jsonl"
DEFINED_IN = ("cchc", "phapdien")


def engine_for(name: str, embedder: Embedder) -> Engine | None:
    paths = CORPORA[name]
    if not all(p.exists() for p in paths):
        print(f"skipping {name}: {paths} not found (needs ../shared)", file=sys.stderr)
        return None
    settings = Settings.load()
    settings = settings.model_copy(update={"store_dir": bench_store(name, settings)})
    engine = Engine(settings, embedder=embedder)
    Ingestor(settings, embedder=embedder, store=engine.store).run(paths)  # idempotent: quick when built
    return engine


def figures(records: list[dict]) -> dict[str, float | int | None]:
    answerable = [r for r in records if not r["unanswerable"]]
    unanswerable = [r for r in records if r["unanswerable"]]
    with_facts = [r for r in answerable if "answer_hit" in r]
    answered = [r for r in answerable if not r["refused"]]
    given = [r for r in records if not r["refused"] and (r["unanswerable"] or "answer_hit" in r)]
    latencies = sorted(r["ask_ms"] for r in records)
    return {
        "n": len(records),
        "answer_hit": round(statistics.mean(r["answer_hit"] for r in with_facts), 3) if with_facts else None,
        "unanswerable_refused": round(statistics.mean(r["refused"] for r in unanswerable), 3) if unanswerable else None,
        "false_refusals": round(statistics.mean(r["refused"] for r in answerable), 3) if answerable else None,
        # of the answers given, the share that are right (an answer to an unanswerable question is wrong)
        "given_right": round(statistics.mean(r.get("answer_hit", False) for r in given), 3) if given else None,
        "cited_gold": round(statistics.mean(r["cited_gold"] for r in answered), 3) if answered else None,
        "invalid_citations": sum(r["invalid_citations"] for r in records),
        "ask_p50_ms": latencies[len(latencies) // 2] if latencies else None,
        "ask_p95_ms": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else None,
    }


def table(title: str, groups: dict[str, list[dict]]) -> str:
    keys = list(figures(next(iter(groups.values()))).keys())
    lines = [f"### {title}", "", "| group | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, records in groups.items():
        values = figures(records)
        lines.append(f"| {name} | " + " | ".join("–" if values[k] is None else str(values[k]) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    parser.add_argument("--sets", nargs="*", default=["cchc", "heldout", "phapdien", "citizen", "definitions"])
    parser.add_argument("--generator", default="extractive")
    args = parser.parse_args()
    labelled = harness.load_questions(PROJECT_DIR / f"data/questions/reader_{args.split}.jsonl")
    embedder = Embedder.from_settings(Settings.load())
    options = AskOptions(generator=args.generator)  # type: ignore[arg-type]
    out: dict[str, list[dict]] = {}
    engines: dict[str, Engine | None] = {}
    definitions = [r for r in harness.load_questions(DEFINITIONS) if r["split"] == args.split]
    runs = [(name, corpus) for name in args.sets for corpus in (DEFINED_IN if name == "definitions" else [name])]
    for name, corpus in runs:
        corpus = "phapdien" if corpus == "citizen" else corpus
        if corpus not in engines:
            engines[corpus] = engine_for(corpus, embedder)
        engine = engines[corpus]
        if engine is None:
            continue
        if name == "citizen":
            rows = harness.load_questions(harness.CITIZEN_QUESTIONS)
        elif name == "heldout":
            rows = harness.load_questions(HELDOUT_QUESTIONS)
        elif name == "definitions":
            rows = [r for r in definitions if r["set"] == corpus]
        else:
            rows = [r for r in labelled if r.get("set") == name]
        engine.warm_up(options)
        out.setdefault(name, []).extend(harness.evaluate(engine, rows, 10, options))
    report = []
    for name, records in out.items():
        groups = {"all": records}
        if name == "citizen":  # the half the fusion weights were not chosen on
            tuned = {r["id"] for r in harness.citizen_tuning_half(records)}
            groups["held-out half"] = [r for r in records if r["id"] not in tuned]
        for field in ("variant", "trap"):
            for value in sorted({r[field] for r in records if r[field]}):
                groups[f"{field}={value}"] = [r for r in records if r[field] == value]
        part = args.split if name in ("cchc", "phapdien", "definitions") else "all"
        report.append(table(f"{name} ({part}), {args.generator}", groups))
    text = "\n".join(report)
    print(text)
    target = PROJECT_DIR / "reports" / "reader"
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{args.split}.md").write_text(text, encoding="utf-8")
    (target / f"{args.split}.json").write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    for engine in engines.values():
        if engine is not None:
            engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
