"""Stable CLI (scripts and evaluations rely on it):

python -m bot ask "QUESTION" [--json] [--store DIR] [--k N] [--generator NAME]
python -m bot retrieve "QUESTION" --json [--k N] [--by-doc]
both: --batch FILE.jsonl (rows {"id", "question"}) -> one JSON line per row, model loaded once.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from settings import Settings
from vectorstore.records import KINDS


def _rows(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    if args.batch:
        with open(args.batch, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    question = str(row["question"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise SystemExit(
                        f'Lỗi: dòng {number} của {args.batch} không hợp lệ ({exc}); cần {{"id", "question"}}'
                    ) from None
                yield {"id": row.get("id", str(number)), "question": question}
    elif args.question:
        yield {"id": None, "question": args.question}
    else:
        raise SystemExit("Lỗi: cần một câu hỏi hoặc --batch FILE.jsonl")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Hỏi đáp chính sách CCHC có trích dẫn.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("ask", "retrieve"):
        p = sub.add_parser(name)
        p.add_argument("question", nargs="?")
        p.add_argument("--json", action="store_true")
        p.add_argument("--store", type=Path)
        p.add_argument("--k", type=int)
        p.add_argument("--batch", type=Path)
        p.add_argument("--kind", action="append", choices=KINDS, help="chỉ tìm trong loại tài liệu này")
        p.add_argument("--as-of", help="chỉ dùng tài liệu có ngày đến hết ngày này (31/12/2020, 2020-12-31, 2020)")
        if name == "ask":
            p.add_argument("--generator", choices=["extractive", "openai", "local"])
            p.add_argument("--prompt-version")
        else:
            p.add_argument("--by-doc", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from bot.answer.options import AskOptions, InputError
    from bot.engine import Engine
    from vectorstore.store import StoreError

    settings = Settings.load(store_dir=args.store)
    try:
        engine = Engine(settings)
    except StoreError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2
    if not engine.store.stats()["chunks"]:
        print(
            "Kho dữ liệu trống: hãy nạp tài liệu trước (python -m ingest ĐƯỜNG_DẪN) hoặc chạy python app.py.",
            file=sys.stderr,
        )
    options = AskOptions(
        k=args.k,
        kinds=tuple(args.kind or ()),
        as_of=args.as_of,
        generator=getattr(args, "generator", None),
        prompt_version=getattr(args, "prompt_version", None),
    )
    try:
        for row in _rows(args):
            try:
                _run(engine, args, row, options)
            except InputError as exc:
                print(f"Lỗi ({row['id'] or 'câu hỏi'}): {exc}", file=sys.stderr)
                if not args.batch:
                    return 2
            except Exception as exc:  # a bug must not end a batch: say which row, log the traceback, go on
                if not args.batch:
                    raise
                logging.getLogger("bot").exception("question %s failed", row["id"])
                error = f"Lỗi hệ thống khi trả lời câu hỏi này ({type(exc).__name__})."
                print(json.dumps({"id": row["id"], "question": row["question"], "error": error}, ensure_ascii=False))
    finally:
        engine.close()
    return 0


def _run(engine: Any, args: argparse.Namespace, row: dict[str, Any], options: Any) -> None:
    if args.command == "ask":
        answer = engine.ask(row["question"], options, id=row["id"])
        if args.json or args.batch:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            print(_render_answer(answer))
    else:
        started = time.perf_counter()
        hits = engine.retrieve(row["question"], options, by_doc=args.by_doc)
        out = {
            "id": row["id"],
            "question": row["question"],
            "retrieved": [h.to_dict(i) for i, h in enumerate(hits, start=1)],
            "timings_ms": {"retrieve": round((time.perf_counter() - started) * 1000, 1)},
        }
        if args.json or args.batch:
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            for h in out["retrieved"]:
                print(f"{h['rank']:>2}. [{h['doc_id']}] {h['score']:.4f} {h['title']}\n    {h['text'][:200]}")


def _render_answer(answer: Any) -> str:
    from bot.answer.timeline import dates_label

    lines = [answer.answer, ""]
    for c in answer.citations:
        where = f"bình luận số {c.comment_no}" if c.comment_no else c.kind
        replaced = f" — {c.superseded_by}" if c.superseded_by else ""
        when = dates_label(c.date, c.effective, c.number, c.kind)
        lines.append(f"[{c.n}] {c.title} ({where}; {when}){replaced} — “{c.quote}”")
    lines += [f"({n})" for n in answer.notices]
    return "\n".join(lines).strip()


if __name__ == "__main__":
    sys.exit(main())
