"""The policy timeline's benchmark (issue 20): date extraction, and answers on the timeline questions.

    python benchmarks/timeline.py [--split dev|test|all] [--part extraction|answers|both]

**Extraction**: precision and recall of each document's date (and of legal texts' entry-into-force dates and
numbers) read at ingest (``ingest.dating``), against ``data/timeline/date_labels.jsonl`` (185 documents labelled by
reading: pháp điển articles from ``../shared``, our timeline, held-out and CCHC corpora, the sample). A predicted
date is right when it equals the label (same precision: "2025" is not "2025-06-09"); a prediction where the label
says the document does not state a date counts against precision. A legal text's issue date that only another
article of the same text states (``date_from == "corpus"``) is not this document's own reading: it is left out of
precision and recall and counted apart (the labels, by protocol, say null there). Labels are split in two halves
by a hash of the id (``dev`` / ``test``), fixed before any rule was changed after they were written.

**Answers**: ``data/questions/timeline.jsonl`` over a store of ``data/timeline`` + ``data/heldout`` (every document
dated where it says so): answer hit (the answer holds an expected fact and does not lead with a document of the
wrong time), unanswerable refused, the share of non-refused answers that say their date, and how many citations of
a replaced text carry the flag. The question's own words carry its time ("hiện nay", "theo quy định năm 2020"):
``as_of`` is not passed as an option, except with ``--given-as-of``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete

from bot.answer.options import AskOptions
from bot.answer.timeline import quoted_only
from bot.engine import Engine
from bot.eval import CITIZEN_QUESTIONS, bench_store, holds_answer, load_questions
from ingest.dating import date_documents, doc_key
from ingest.loaders import load_file
from ingest.pipeline import Ingestor
from settings import PROJECT_DIR, Settings
from vectorstore import database as tables
from vectorstore.embeddings import Embedder

LABELS = PROJECT_DIR / "data" / "timeline" / "date_labels.jsonl"
QUESTIONS = PROJECT_DIR / "data" / "questions" / "timeline.jsonl"
CORPUS = [PROJECT_DIR / "data" / "timeline", PROJECT_DIR / "data" / "heldout"]


def label_split(doc_id: str) -> str:
    return "dev" if hashlib.sha256(doc_id.encode()).digest()[0] % 2 == 0 else "test"


def extraction(split: str) -> dict[str, Any]:
    """Precision / recall of dates, entry-into-force dates and numbers on the labelled documents of ``split``."""
    labels = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels = [row for row in labels if split == "all" or label_split(row["id"]) == split]
    predicted: dict[tuple[str, str], Any] = {}
    legal: dict[tuple[str, str], bool] = {}
    for file in sorted({row["file"] for row in labels}):
        path = (PROJECT_DIR / file).resolve()
        if not path.exists():
            print(f"skipping {file}: not found (needs ../shared)", file=sys.stderr)
            continue
        docs = load_file(path).documents
        kinds = {d.doc_id: d.kind for d in docs}
        for doc_id, timeline in date_documents(docs).items():  # the whole file, as ingest dates it
            predicted[(file, doc_id)] = timeline
            legal[(file, doc_id)] = kinds[doc_id] == "law"
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    misses: list[dict[str, Any]] = []
    from_corpus = {"dates": 0, "label_equal": 0, "label_null": 0}
    for row in labels:
        got = predicted.get((row["file"], row["id"]))
        if got is None:
            continue
        own_date = got.date
        if got.date_from == "corpus":  # stated by another article of the same text: not this document's reading
            own_date = None
            from_corpus["dates"] += 1
            from_corpus["label_equal"] += got.date == row.get("date")
            from_corpus["label_null"] += row.get("date") is None
        number = got.number if legal[(row["file"], row["id"])] else None  # an article's is what it is about
        for field, value in (("date", own_date), ("effective", got.effective), ("number", number)):
            gold = row.get(field)
            c = counts[field]
            c["labelled"] += gold is not None
            c["predicted"] += value is not None
            right = value is not None and gold is not None and _same(field, value, gold)
            c["right"] += right
            if field == "date" and (value or gold) and not right:
                misses.append({"id": row["id"], "corpus": row["corpus"], "label": gold, "read": value,
                               "from": got.date_from})  # fmt: skip
    out: dict[str, Any] = {"documents": sum(1 for r in labels if (r["file"], r["id"]) in predicted)}
    for field, c in counts.items():
        out[field] = {
            "precision": round(c["right"] / c["predicted"], 3) if c["predicted"] else None,
            "recall": round(c["right"] / c["labelled"], 3) if c["labelled"] else None,
            **c,
        }
    out["issue_dates_from_other_articles"] = from_corpus
    out["date_misses"] = misses
    return out


def _same(field: str, value: str, gold: str) -> bool:
    if field == "number":
        return re.sub(r"\s+", "", value).upper() == re.sub(r"\s+", "", gold).upper()
    return value == gold


def answers(split: str, given_as_of: bool) -> dict[str, Any]:
    settings = Settings.load()
    embedder = Embedder.from_settings(settings)
    settings = settings.model_copy(update={"store_dir": bench_store("timeline", settings)})
    with Engine(settings, embedder=embedder) as engine:
        Ingestor(settings, embedder=embedder, store=engine.store).run(CORPUS)  # idempotent: quick when built
        rows = [q for q in load_questions(QUESTIONS) if split == "all" or q["split"] == split]
        records = [_ask(engine, q, given_as_of) for q in rows]
    return summarize(records)


def _ask(engine: Engine, q: dict[str, Any], given_as_of: bool) -> dict[str, Any]:
    options = AskOptions(as_of=q.get("as_of")) if given_as_of and q.get("as_of") else AskOptions()
    answer = engine.ask(q["question"], options)
    lead = answer.citations[0].doc_id if answer.citations else None
    cited_replaced = [c for c in answer.citations if c.doc_id in set(q.get("superseded_ids") or ())]
    hit = (
        q["answerable"]
        and not answer.refused
        and holds_answer(answer.answer, q["answers"])
        and lead not in set(q.get("stale_ids") or ())
    )
    return {
        "id": q["id"],
        "kind": q["kind"],
        "answerable": q["answerable"],
        "refused": answer.refused,
        "hit": bool(hit),
        "stale_lead": lead in set(q.get("stale_ids") or ()),
        "says_date": quoted_only(answer.answer) != answer.answer if not answer.refused else None,
        "lead_dated": bool(answer.citations[0].date or answer.citations[0].effective) if answer.citations else None,
        "replaced_cited": len(cited_replaced),
        "replaced_flagged": sum(1 for c in cited_replaced if c.superseded_by),
        "ask_ms": answer.timings_ms.get("total", 0.0),
        "answer": answer.answer[:300],
    }


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    def share(part: list[Any], whole: list[Any]) -> float | None:
        return round(len(part) / len(whole), 3) if whole else None

    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    given = [r for r in records if not r["refused"]]
    by_kind = {
        kind: share([r for r in answerable if r["kind"] == kind and r["hit"]],
                    [r for r in answerable if r["kind"] == kind])
        for kind in sorted({r["kind"] for r in records})
    }  # fmt: skip
    return {
        "questions": len(records),
        "answer_hit": share([r for r in answerable if r["hit"]], answerable),
        "answer_hit_by_kind": by_kind,
        "unanswerable_refused": share([r for r in unanswerable if r["refused"]], unanswerable),
        "given_right": share([r for r in given if r["hit"]], given),
        "stale_lead": sum(r["stale_lead"] for r in records),
        "answers_saying_date": share([r for r in given if r["says_date"]], given),
        "dated_lead_answers_saying_date": share(
            [r for r in given if r["lead_dated"] and r["says_date"]], [r for r in given if r["lead_dated"]]
        ),
        "replaced_citations": sum(r["replaced_cited"] for r in records),
        "replaced_flagged": sum(r["replaced_flagged"] for r in records),
        "ask_p50_ms": statistics.median([r["ask_ms"] for r in records]) if records else None,
        "misses": [
            r for r in records if (r["answerable"] and not r["hit"]) or (not r["answerable"] and not r["refused"])
        ],
    }


def phapdien_citations(redate: bool) -> dict[str, Any]:
    """On the whole pháp điển store (``data/bench-stores/phapdien-<model>``, built by benchmarks/reader.py and
    re-dated here without re-embedding; ``redate``: its dates dropped first, as in a store from before dates), the
    issue date, its entry into force, and its number; over the whole corpus, the issue dates a text cannot have
    (after its entry into force, or outside its number's year)."""
    corpus = PROJECT_DIR.parent / "shared" / "corpus" / "phapdien" / "corpus.jsonl"
    if not corpus.exists():
        return {"skipped": "../shared is absent"}
    dated = date_documents(load_file(corpus).documents).values()
    impossible = {
        "articles": len(dated),
        "with_issue_date": sum(1 for t in dated if t.date),
        "issue_date_after_entry_into_force": sum(1 for t in dated if t.date and t.effective and t.date > t.effective),
        "issue_date_outside_number_year": sum(
            1 for t in dated if t.date and t.number and doc_key(t.number)[1] not in (None, int(t.date[:4]))
        ),
    }
    settings = Settings.load()
    store_dir = bench_store("phapdien", settings)
    if not store_dir.exists():
        return {"skipped": f"no store at {store_dir}: python benchmarks/reader.py --sets phapdien builds it (~45 min)"}
    settings = settings.model_copy(update={"store_dir": store_dir})
    embedder = Embedder.from_settings(settings)
    with Engine(settings, embedder=embedder) as engine:
        if redate:
            with engine.store.engine.begin() as db:
                db.execute(delete(tables.timelines))
        summary = Ingestor(settings, embedder=embedder, store=engine.store).run([corpus])
        rows = load_questions(CITIZEN_QUESTIONS)
        citations = [c for q in rows for c in engine.ask(q["question"]).citations]

    def share(n: int) -> float | None:
        return round(n / len(citations), 3) if citations else None

    return {
        "corpus": impossible,
        "redated_documents": summary.documents_dated,
        "redate_seconds": summary.seconds,
        "chunks_embedded": summary.chunks_added,
        "citations": len(citations),
        "with_issue_date": share(sum(1 for c in citations if c.date)),
        "with_entry_into_force": share(sum(1 for c in citations if c.effective)),
        "with_number": share(sum(1 for c in citations if c.number)),
        "flagged_replaced": sum(1 for c in citations if c.superseded_by),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["dev", "test", "all"], default="test")
    parser.add_argument("--part", choices=["extraction", "answers", "both", "phapdien"], default="both")
    parser.add_argument("--given-as-of", action="store_true", help="pass each question's as_of as an option")
    parser.add_argument("--misses", action="store_true", help="print what was missed (look at dev only)")
    parser.add_argument("--redate", action="store_true", help="phapdien: drop the store's dates, then re-ingest")
    args = parser.parse_args(argv)
    if args.part in ("extraction", "both"):
        result = extraction(args.split)
        misses = result.pop("date_misses")
        print(json.dumps({"extraction": result}, ensure_ascii=False, indent=1))
        if args.misses:
            for m in misses:
                print("  miss:", json.dumps(m, ensure_ascii=False))
    if args.part in ("answers", "both"):
        result = answers(args.split, args.given_as_of)
        misses = result.pop("misses")
        print(json.dumps({"answers": result}, ensure_ascii=False, indent=1))
        if args.misses:
            for m in misses:
                print("  miss:", json.dumps(m, ensure_ascii=False))
    if args.part == "phapdien":
        print(json.dumps({"phapdien": phapdien_citations(args.redate)}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
