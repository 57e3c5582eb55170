"""Split the team's labelled reader questions into development and test parts, once, before any tuning.

    python benchmarks/split_questions.py      # writes data/questions/reader_dev.jsonl and reader_test.jsonl

Questions that share an answering sentence (or, unanswerable, the same words without diacritics) go to the same
part, so a question and its no-diacritics twin never sit on both sides. The assignment is a hash of that group key:
stable, and independent of the order of the files. Each row gains ``set`` (which corpus it is asked over) and
``split``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vectorstore.text import fold, normalize, words

QUESTIONS = Path(__file__).resolve().parent.parent / "data" / "questions"
SOURCES = {  # file -> the corpus its questions are asked over
    "cchc_indexes.jsonl": "cchc",
    "cchc_meetings.jsonl": "cchc",
    "sample_reader.jsonl": "cchc",  # the bundled sample is part of the team's CCHC corpus
    "phapdien_reader.jsonl": "phapdien",
}
TEST_SHARE = 0.4


def group_key(row: dict) -> str:
    if row.get("evidence"):
        return "e:" + " ".join(words(fold(normalize(row["evidence"]))))
    return "q:" + " ".join(words(fold(normalize(row["question"]))))


def split_of(row: dict) -> str:
    digest = hashlib.sha256(group_key(row).encode()).digest()
    return "test" if digest[0] / 256 < TEST_SHARE else "dev"


def main() -> int:
    parts: dict[str, list[dict]] = {"dev": [], "test": []}
    for name, corpus in SOURCES.items():
        for line in (QUESTIONS / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                row["set"] = corpus
                row["split"] = split_of(row)
                parts[row["split"]].append(row)
    for split, rows in parts.items():
        path = QUESTIONS / f"reader_{split}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        unanswerable = sum(not r["answerable"] for r in rows)
        print(
            f"{path.name}: {len(rows)} questions, {unanswerable} unanswerable, "
            f"{sum(r['variant'] == 'no_diacritics' for r in rows)} without diacritics"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
