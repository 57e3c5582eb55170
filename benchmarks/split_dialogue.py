"""Split the dialogue data into development and test parts, once, before any tuning.

    python benchmarks/split_dialogue.py     # adds "split" to data/dialogue/messages.jsonl and conversations.jsonl

Rows sharing a ``group`` (a message and its no-diacritics twin; conversations over the same first question) go to
the same part. The part is a hash of the group: stable, independent of file order. Rows that already have a split
keep it, so adding data later never moves a row that was measured. The ``heldout`` rows of messages.jsonl (a
batch written later, never tuned on) carry their split already.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

DIALOGUE = Path(__file__).resolve().parent.parent / "data" / "dialogue"
TEST_SHARE = 0.4


def split_of(group: str) -> str:
    return "test" if hashlib.sha256(group.encode()).digest()[0] / 256 < TEST_SHARE else "dev"


def main() -> None:
    for name in ("messages.jsonl", "conversations.jsonl"):
        path = DIALOGUE / name
        if not path.is_file():
            continue
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rows:
            row.setdefault("split", split_of(row.get("group") or row["id"]))
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        counts = Counter(r["split"] for r in rows)
        print(f"{name}: {len(rows)} rows, " + ", ".join(f"{n} {part}" for part, n in sorted(counts.items())))


if __name__ == "__main__":
    main()
