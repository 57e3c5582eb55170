"""Evaluation harness: ``python -m bot.eval --questions FILE.jsonl [--k 10] [--report DIR] [--config NAME:k=v,...]``

Rows: {"id", "question", "positive_ids"?, "evidence"?, "answers"?, "unanswerable"?, "variant"?}.
Prints and writes (JSON + Markdown + PNG) recall@1/5/10 (the share of a question's gold documents found), hit@10
(at least one found) and MRR@10 (by document id, or by a retrieved chunk containing the evidence), answer hit
rate, citation validity, refusal precision/recall and latency p50/p95, overall and by variant, for one or more
configurations side by side.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from bot.answer.citations import is_valid
from bot.answer.options import AskOptions, GeneratorName, Weights
from bot.answer.timeline import quoted_only
from bot.engine import Engine
from settings import E5_SMALL, PROJECT_DIR, Settings
from vectorstore import details
from vectorstore.embeddings import Embedder
from vectorstore.store import Store
from vectorstore.text import fold, normalize

KS = (1, 5, 10)
BENCH_STORES = PROJECT_DIR / "data" / "bench-stores"


def bench_store(corpus: str, settings: Settings) -> Path:
    """Where benchmarks keep ``corpus`` for the settings' model: ``data/bench-stores/phapdien`` for e5-small (the
    stores' first model), ``.../phapdien-embeddinggemma`` or ``.../phapdien-embeddinggemma@256`` for another."""
    key = settings.embedding_key
    return BENCH_STORES / (corpus if key == E5_SMALL else f"{corpus}-{key.replace('/', '_')}")


@dataclass(frozen=True)
class Config:
    name: str
    overrides: dict[str, str]


def parse_config(spec: str) -> Config:
    """'hybrid:weight_dense=1,generator=local' -> Config('hybrid', {...})."""
    name, _, rest = spec.partition(":")
    overrides = dict(item.split("=", 1) for item in rest.split(",") if item.strip())
    return Config(name.strip() or "default", {k.strip(): v.strip() for k, v in overrides.items()})


CITIZEN_QUESTIONS = PROJECT_DIR / "benchmarks" / "questions" / "phapdien_citizen.jsonl"


def citizen_tuning_half(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The citizen set's tuning half: its even-numbered answerable questions (the fusion weights were chosen on
    them); the other half and the unanswerable questions are never tuned on."""
    return [r for r in rows if not r["unanswerable"]][0::2]


def load_questions(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            row = json.loads(line)
            row.setdefault("id", str(number))
            row["question"] = normalize(row["question"])
            row["unanswerable"] = bool(row.get("unanswerable", row.get("answerable") is False))
            row.setdefault("variant", "unanswerable" if row["unanswerable"] else "default")
            rows.append(row)
    return rows


def evidence_rank(row: dict[str, Any], hits: Sequence[Any], get_text: Any) -> int | None:
    """1-based rank of the first retrieved chunk that holds the evidence (or overlaps half of it)."""
    evidence = normalize(row["evidence"])
    positives = set(row.get("positive_ids") or [])
    for rank, hit in enumerate(hits, start=1):
        c = hit.chunk
        if positives and c.doc_id not in positives:
            continue
        if evidence in c.text:
            return rank
        text = get_text(c.doc_id) or ""
        at = text.find(evidence)
        if at >= 0:
            overlap = min(c.char_end, at + len(evidence)) - max(c.char_start, at)
            if overlap >= len(evidence) / 2:
                return rank
    return None


def doc_ranks(row: dict[str, Any], doc_hits: Sequence[Any]) -> list[int]:
    positives = set(row.get("positive_ids") or [])
    return [rank for rank, h in enumerate(doc_hits, start=1) if h.chunk.doc_id in positives]


OPTION_FIELDS = ("k", "weight_dense", "weight_bm25", "weight_bm25_folded", "generator", "prompt_version")


def split_overrides(base: Settings, overrides: dict[str, str]) -> tuple[dict[str, str], AskOptions]:
    """A configuration's overrides as (settings fields, request options): options need no engine of their own."""
    fields = {k: v for k, v in overrides.items() if k not in OPTION_FIELDS}
    o = {k: v for k, v in overrides.items() if k in OPTION_FIELDS}
    weights = None
    if {"weight_dense", "weight_bm25", "weight_bm25_folded"} & set(o):
        weights = Weights(
            float(o.get("weight_dense", base.fusion_weights[0])),
            float(o.get("weight_bm25", base.fusion_weights[1])),
            float(o.get("weight_bm25_folded", base.fusion_weights[2])),
        )
    options = AskOptions(
        k=int(o["k"]) if "k" in o else None,
        weights=weights,
        generator=cast(GeneratorName | None, o.get("generator")),
        prompt_version=o.get("prompt_version"),
    )
    return fields, options


def holds_answer(answer: str, expected: Sequence[str]) -> bool:
    """Whether ``answer`` states one of the expected facts (compared without diacritics or case) in what it quotes,
    not in what it says of its sources' dates ("Theo tài liệu ngày 9/6/2025: …" holds no answer "9/6/2025"). An
    expected figure or date is also met in another notation: "83,94%" by "83.94%", "1/7/2025" by "July 1, 2025"."""
    quoted = quoted_only(answer)
    folded = fold(quoted)
    return any(fold(normalize(a)) in folded or _states_figures(quoted, a) for a in expected)


def _states_figures(text: str, expected: str) -> bool:
    """Whether ``expected`` is only figures and dates (with "%", units aside) and ``text`` states each of them with
    the same digits and meaning ("200.000" is met by "200,000", not by "200"; "10%" by "10 percent", not by "10
    bậc"; "1/7/2025" by "July 1, 2025", not by "1/7")."""
    wanted = details.extract(expected, ("date", "number"))
    rest = expected
    for d in reversed(wanted):
        rest = rest[: d.start] + rest[d.end :]
    if not wanted or re.search(r"[^\W\d_]", rest):
        return False
    stated = details.extract(text, ("date", "number"))

    def form(d: details.Detail, source: str) -> str:  # a number's digits and percent sign, or a date's fields
        if d.kind == "number":
            percent = bool(re.match(r"\s*(?:%|percent\b|phần trăm\b)", source[d.end :], re.IGNORECASE))
            return re.sub(r"\D", "", d.text) + "%" * percent
        return "".join("x" if part is None else "d" for part in cast(tuple, d.value))

    return all(any(form(w, expected) == form(s, text) and details.matches(w, [s]) for s in stated) for w in wanted)


def evaluate(
    engine: Engine, rows: list[dict[str, Any]], k: int, options: AskOptions | None = None, ask: bool = True
) -> list[dict[str, Any]]:
    """Run every question with ``options`` (retrieval metrics at depth ``k``); one result record per row."""
    options = options or AskOptions()
    deep = replace(options, k=k)
    texts: dict[str, str | None] = {}

    def get_text(doc_id: str) -> str | None:
        if doc_id not in texts:
            doc = engine.store.get_document(doc_id)
            texts[doc_id] = doc.text if doc else None
        return texts[doc_id]

    out = []
    for row in rows:
        record: dict[str, Any] = {
            "id": row["id"],
            "variant": row["variant"],
            "trap": row.get("trap") or "",
            "unanswerable": bool(row.get("unanswerable")),
        }
        # ask first: its latency is measured cold (retrieval below reuses the question's cached vector)
        if ask:
            answer = engine.ask(row["question"], options)
            record["intent"] = answer.intent
            record["refused"] = answer.refused or answer.intent != "policy"  # our own reply answers nothing
            record["coverage"] = answer.coverage
            record["ask_ms"] = answer.timings_ms["total"]
            record["answer"] = answer.answer
            record["prompt_version"] = answer.prompt_version
            record["citations"] = len(answer.citations)
            record["cited_gold"] = bool(set(row.get("positive_ids") or []) & {c.doc_id for c in answer.citations})
            record["answerability"] = answer.answerability
            record["invalid_citations"] = sum(1 for c in answer.citations if not is_valid(c, get_text(c.doc_id) or ""))
            if row.get("answers") and not record["refused"]:
                record["answer_hit"] = holds_answer(answer.answer, row["answers"])
            elif row.get("answers"):
                record["answer_hit"] = False
        started = time.perf_counter()
        if row.get("positive_ids") and not record["unanswerable"]:  # an unanswerable row names its near miss
            doc_hits = engine.retrieve(row["question"], deep, by_doc=True)
            ranks = doc_ranks(row, doc_hits)
            record["doc_ranks"] = ranks
            record["n_positive"] = len(row["positive_ids"])
        record["retrieve_ms"] = (time.perf_counter() - started) * 1000
        if row.get("evidence"):
            chunk_hits = engine.retrieve(row["question"], deep)
            record["evidence_rank"] = evidence_rank(row, chunk_hits, get_text)
        out.append(record)
    return out


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    def pct(values: list[float], q: float) -> float | None:
        if not values:
            return None
        values = sorted(values)
        return round(values[min(len(values) - 1, int(q * len(values)))], 1)

    m: dict[str, Any] = {"n": len(records)}
    with_docs = [r for r in records if "doc_ranks" in r]
    if with_docs:
        for kk in KS:
            m[f"recall@{kk}"] = round(
                statistics.mean(sum(1 for x in r["doc_ranks"] if x <= kk) / r["n_positive"] for r in with_docs), 4
            )
        m["hit@10"] = round(
            statistics.mean(1.0 if r["doc_ranks"] and min(r["doc_ranks"]) <= 10 else 0.0 for r in with_docs), 4
        )
        m["mrr@10"] = round(
            statistics.mean(
                (1 / min(r["doc_ranks"]) if r["doc_ranks"] and min(r["doc_ranks"]) <= 10 else 0.0) for r in with_docs
            ),
            4,
        )
    with_ev = [r for r in records if "evidence_rank" in r]
    if with_ev:
        for kk in KS:
            m[f"evidence@{kk}"] = round(
                statistics.mean(1.0 if r["evidence_rank"] and r["evidence_rank"] <= kk else 0.0 for r in with_ev), 4
            )
        m["evidence_mrr@10"] = round(
            statistics.mean(
                1 / r["evidence_rank"] if r["evidence_rank"] and r["evidence_rank"] <= 10 else 0.0 for r in with_ev
            ),
            4,
        )
    asked = [r for r in records if "refused" in r]
    if asked:
        hits = [r["answer_hit"] for r in asked if "answer_hit" in r]
        if hits:
            m["answer_hit_rate"] = round(statistics.mean(hits), 4)
        gold = [r["cited_gold"] for r in asked if not r["unanswerable"] and not r["refused"]]
        if gold:
            m["cited_gold_rate"] = round(statistics.mean(gold), 4)  # of the answered answerable questions
        total_cit = sum(r["citations"] for r in asked)
        m["citations"] = total_cit
        m["invalid_citations"] = sum(r["invalid_citations"] for r in asked)
        m["citation_validity"] = round(1 - m["invalid_citations"] / total_cit, 4) if total_cit else None
        tp = sum(1 for r in asked if r["refused"] and r["unanswerable"])
        fp = sum(1 for r in asked if r["refused"] and not r["unanswerable"])
        fn = sum(1 for r in asked if not r["refused"] and r["unanswerable"])
        answerable = sum(1 for r in asked if not r["unanswerable"])
        m["refusal_precision"] = round(tp / (tp + fp), 4) if tp + fp else None
        m["refusal_recall"] = round(tp / (tp + fn), 4) if tp + fn else None
        m["false_refusals"] = fp
        m["false_refusal_rate"] = round(fp / answerable, 4) if answerable else None
        m["false_answers"] = fn
        m["ask_p50_ms"] = pct([r["ask_ms"] for r in asked], 0.5)
        m["ask_p95_ms"] = pct([r["ask_ms"] for r in asked], 0.95)
    m["retrieve_p50_ms"] = pct([r["retrieve_ms"] for r in records], 0.5)
    m["retrieve_p95_ms"] = pct([r["retrieve_ms"] for r in records], 0.95)
    return m


def report(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """{config: {"overall": metrics, "by_variant": {variant: metrics}}}"""
    out = {}
    for name, records in results.items():
        variants = defaultdict(list)
        for r in records:
            variants[r["variant"]].append(r)
        out[name] = {
            "overall": summarize(records),
            "by_variant": {v: summarize(rs) for v, rs in sorted(variants.items())},
        }
    return out


def markdown(summary: dict[str, Any], title: str) -> str:
    keys: list[str] = []
    for cfg in summary.values():
        for k in cfg["overall"]:
            if k not in keys:
                keys.append(k)
    lines = [f"# {title}", "", "| config | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, cfg in summary.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(cfg["overall"].get(k)) for k in keys) + " |")
    for name, cfg in summary.items():
        lines += [
            "",
            f"## {name}: by variant",
            "",
            "| variant | n | recall@10 | hit@10 | mrr@10 | evidence@5 | answer hit | refused ok |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for v, m in cfg["by_variant"].items():
            lines.append(
                f"| {v} | {m['n']} | {_fmt(m.get('recall@10'))} | {_fmt(m.get('hit@10'))} | {_fmt(m.get('mrr@10'))} | "
                f"{_fmt(m.get('evidence@5'))} | {_fmt(m.get('answer_hit_rate'))} | {_fmt(m.get('refusal_recall'))} |"
            )
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def plot(summary: dict[str, Any], path: Path) -> bool:
    """A bar chart of the main metrics (needs the ``eval`` extra: matplotlib); False when it is not installed."""
    try:
        import matplotlib
    except ImportError:
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [
        m
        for m in ("recall@1", "recall@5", "recall@10", "mrr@10", "evidence@5", "answer_hit_rate")
        if any(m in cfg["overall"] for cfg in summary.values())
    ]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(metrics)), 4))
    width = 0.8 / max(1, len(summary))
    for i, (name, cfg) in enumerate(summary.items()):
        values = [cfg["overall"].get(m) or 0 for m in metrics]
        ax.bar([x + i * width for x in range(len(metrics))], values, width, label=name)
    ax.set_xticks([x + width * (len(summary) - 1) / 2 for x in range(len(metrics))], metrics)
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("Retrieval and answer quality")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.eval")
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--report", type=Path)
    parser.add_argument("--store", type=Path)
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        help="NAME:field=value,... (Settings fields, e.g. weight_dense=0); repeat to compare",
    )
    parser.add_argument("--no-ask", action="store_true", help="retrieval metrics only")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--every", type=int, default=1, help="keep every N-th question (a quick, spread-out subset)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    rows = load_questions(args.questions)[:: args.every][: args.limit]
    base = Settings.load(store_dir=args.store)
    embedder = Embedder.from_settings(base)
    store = Store(base, embedder.name)
    configs = [parse_config(c) for c in args.config] or [Config("default", {})]
    engines: dict[str, Engine] = {}  # one per distinct settings: request options share an engine
    results = {}
    for cfg in configs:
        fields, options = split_overrides(base, cfg.overrides)
        key = json.dumps(fields, sort_keys=True)
        if key not in engines:
            engines[key] = Engine(Settings.load(**{**base.model_dump(), **fields}), embedder=embedder, store=store)
        engine = engines[key]
        engine.warm_up(options)
        results[cfg.name] = evaluate(engine, rows, args.k, options, ask=not args.no_ask)
    for engine in engines.values():
        engine.llm_servers.close()  # the store is shared by all configurations
    summary = report(results)
    title = f"Evaluation: {args.questions.name} ({len(rows)} questions)"
    md = markdown(summary, title)
    print(md)
    if args.report:
        args.report.mkdir(parents=True, exist_ok=True)
        stem = args.questions.stem
        (args.report / f"{stem}.json").write_text(
            json.dumps({"summary": summary, "records": results}, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        (args.report / f"{stem}.md").write_text(md, encoding="utf-8")
        plotted = plot(summary, args.report / f"{stem}.png")
        print(
            f"Report written to {args.report}/{stem}.{{json,md{',png' if plotted else ''}}}"
            + ("" if plotted else " (no plot: pip install -e '.[eval]' for matplotlib)"),
            file=sys.stderr,
        )
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
