"""The default generator: quotes what the reader selected, verbatim, each sentence cited [n].

Offline, fast and deterministic: it phrases nothing itself. It leads with the reader's best sentence (or clause)
and adds at most one more only when that one also answers (probability near the best) and says something the
first does not. An official text (speech, article, law) is preferred to a reader's comment that says the same
thing; a comment that is quoted is labelled as what a reader said. Below the reader's threshold it refuses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from bot.answer.citations import COMMENT_LABEL
from bot.answer.generators.base import Draft
from bot.answer.reader import ANSWERING, same_content
from bot.answer.types import Candidate, Passage

SUPPORT_RATIO = 0.8  # a second sentence must be at least this probable relative to the first


def choose(evidence: Sequence[Candidate], max_sentences: int = 2) -> list[Candidate]:
    """The candidates to quote (the reader already judged that the best one answers): the best — an official text
    over a comment saying the same — then at most one more answering sentence that adds to it."""
    if not evidence:
        return []
    answering = [
        evidence[0],
        *(c for c in evidence[1:] if c.probability >= ANSWERING and not c.features.get("conflict")),
    ]
    best = answering[0]
    if best.passage.kind == "comment":  # any official sentence saying the same answers as well: quote that one
        official = next((c for c in evidence if c.passage.kind != "comment" and same_content(c.text, best.text)
                         and not c.features.get("conflict")), None)  # fmt: skip
        best = official or best
    chosen = [best]
    for c in answering:
        if len(chosen) >= max_sentences:
            break
        if c.probability < SUPPORT_RATIO * best.probability or any(same_content(c.text, x.text) for x in chosen):
            continue
        if c.passage.kind == "comment" and best.passage.kind != "comment":
            continue  # a comment does not support an official text
        chosen.append(c)
    return chosen


class ExtractiveGenerator:
    name = "extractive"

    def __init__(self, threshold: float, max_sentences: int = 2) -> None:
        self.threshold = threshold
        self.max_sentences = max_sentences

    @property
    def prompt_id(self) -> str:
        return f"extractive@{self.threshold:g}"

    def stream(
        self, question: str, passages: Sequence[Passage], evidence: Sequence[Candidate]
    ) -> Iterator[str | Draft]:
        chosen = choose(evidence, self.max_sentences)
        if not chosen:
            yield Draft("", self.prompt_id, refused=True)
            return
        text = " ".join(_quoted(chosen))
        yield from re.findall(r"\S+\s*", text)
        yield Draft(text, self.prompt_id)


def _quoted(chosen: Sequence[Candidate]) -> Iterator[str]:
    """Each chosen sentence quoted and cited, a list item after its lead line (once): "Mức phí làm hộ chiếu online
    …[1]. Cấp mới: 200.000 VND/lần [1]." — the item alone does not say what it is the fee of."""
    quoted: set[str] = set()  # a lead line is quoted once, whether as a lead or chosen itself
    for c in chosen:
        for text, kind in ((c.lead, ""), (c.text, c.passage.kind)):
            if text and text not in quoted:
                quoted.add(text)
                yield _quote(text, c.passage.n, kind)


_LIST_ITEM = re.compile(r"^[a-zđ]\)")  # "a) …", "đ) …": a list item's own start


def _quote(text: str, n: int, kind: str = "") -> str:
    """A sentence quoted and cited; a clause that starts inside its sentence ("xếp vị trí thứ 2 là …") after "…"."""
    body = text.rstrip().rstrip(".…!?;:").rstrip()
    label = f"{COMMENT_LABEL}: " if kind == "comment" else ""
    inside = "…" if body[:1].islower() and not _LIST_ITEM.match(body) else ""
    return f"{label}{inside}{body} [{n}]."
