"""The default generator: quotes the passage sentences that best cover the question, each cited [n].

Offline, fast and deterministic. Coverage is the IDF-weighted share of the question's content
syllables (and syllable pairs), compared without diacritics, that a sentence contains. Below
``min_coverage`` it refuses: the documents do not say.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.generators.base import Draft, OnDelta, Passage
from bot.grounding import proper_names
from vectorstore.text import fold, words

REFUSAL = "Tài liệu hiện có không đề cập đến nội dung này."
_SENTENCE = re.compile(r"[^.!?…\n]+(?:[.!?…]+|$)", re.MULTILINE)
_STOP = frozenset(fold(
    "và của là các có được cho trong theo với những này đó một không thì để từ về tại đã sẽ nào gì ai "
    "bao nhiêu sao thế như hay hoặc nêu nói gì tôi muốn hỏi cần làm ở đâu khi nào bị được không nhé ạ vậy"
).split())


@dataclass(frozen=True)
class ScoredSentence:
    passage: Passage
    text: str
    coverage: float
    score: float


_NUMBER_WORDS = frozenset("mot hai ba bon tu nam sau bay tam chin muoi tram nghin ngan trieu ty".split())
_ASKS_PERCENT = re.compile(r"\b(phan tram|ty le)\b")
_ASKS_PLACE = re.compile(r"\b(tinh|thanh pho|dia phuong|quoc gia) nao\b")
_ASKS_NUMBER = re.compile(
    r"\b(so hieu|bao nhieu|may (ngay|nam|thang|lan|nguoi|buoc)|thu may|ngay nao|nam nao|thang nao|khi nao|"
    r"bao gio|bao lau|luc nao|thoi han|han chot|thoi diem nao)\b"
)


def answer_type_check(question: str) -> Callable[[str], bool] | None:
    """For questions asking a number, date, percentage or place: a test that a sentence supplies one
    (a number or name that the question itself does not contain). None when the question asks no such thing."""
    folded = fold(question)
    asked = set(words(folded))
    if _ASKS_PLACE.search(folded):
        return lambda sentence: any(set(words(fold(name))) - asked for name in proper_names(sentence))
    if _ASKS_PERCENT.search(folded):
        return lambda sentence: "%" in sentence or "phan tram" in fold(sentence)
    if _ASKS_NUMBER.search(folded):
        def has_new_number(sentence: str) -> bool:
            tokens = set(re.findall(r"\d+", sentence)) | (set(words(fold(sentence))) & _NUMBER_WORDS)
            return bool(tokens - asked)
        return has_new_number
    return None


def terms(text: str) -> list[str]:
    """Content syllables of ``text`` (folded, stop words removed) and their adjacent pairs."""
    syl = [w for w in words(fold(text)) if w not in _STOP]
    return syl + [f"{a}_{b}" for a, b in zip(syl, syl[1:])]


class ExtractiveGenerator:
    name = "extractive"

    def __init__(self, idf: Mapping[str, float], min_coverage: float = 0.5, max_sentences: int = 2,
                 aliases: Mapping[str, str] | None = None) -> None:
        self.idf = idf
        self.aliases = dict(aliases or {})  # folded acronym -> folded expansion ("cccd" -> "can cuoc cong dan")
        self.default_idf = max(idf.values(), default=1.0)
        self.min_coverage = min_coverage
        self.max_sentences = max_sentences

    def weight(self, term: str) -> float:
        if "_" in term:
            a, b = term.split("_", 1)
            return 0.5 * (self.weight(a) + self.weight(b))
        return self.idf.get(term, self.default_idf)

    def rank_sentences(self, question: str, passages: list[Passage]) -> list[ScoredSentence]:
        """Every sentence of the passages, best first."""
        q_terms = set(terms(question))
        total = sum(self.weight(t) for t in q_terms)
        if not total:
            return []
        scored = []
        for rank, passage in enumerate(passages):
            for m in _SENTENCE.finditer(passage.text):
                sentence = m.group().strip()
                if len(words(sentence)) < 4:
                    continue
                covered = q_terms & self.sentence_terms(sentence)
                coverage = sum(self.weight(t) for t in covered) / total
                scored.append(ScoredSentence(passage, sentence, coverage, coverage + 0.05 / (1 + rank)))
        scored.sort(key=lambda s: -s.score)
        check = answer_type_check(question)
        return [s for s in scored if check(s.text)] if check else scored

    def sentence_terms(self, sentence: str) -> set[str]:
        """Terms of a sentence; an acronym and its expansion stand for each other."""
        found = set(terms(sentence))
        if self.aliases:
            folded = " ".join(words(fold(sentence)))
            for acronym, expansion in self.aliases.items():
                if expansion in folded:
                    found.add(acronym)
                elif acronym in found:
                    found.update(terms(expansion))
        return found

    def best_coverage(self, question: str, passages: list[Passage]) -> float:
        ranked = self.rank_sentences(question, passages)
        return ranked[0].coverage if ranked else 0.0

    def generate(self, question: str, passages: list[Passage], on_delta: OnDelta | None = None) -> Draft:
        ranked = self.rank_sentences(question, passages)
        version = f"extractive@{self.min_coverage:g}"
        if not ranked or ranked[0].coverage < self.min_coverage:
            text = REFUSAL
        else:
            best = ranked[0]
            chosen = [best]
            for s in ranked[1:]:
                if len(chosen) >= self.max_sentences:
                    break
                if s.coverage >= max(self.min_coverage, 0.8 * best.coverage) and s.text not in {c.text for c in chosen}:
                    chosen.append(s)
            text = " ".join(f"{_strip_end(s.text)} [{s.passage.n}]." for s in chosen)
        if on_delta:
            for piece in re.findall(r"\S+\s*", text):
                on_delta(piece)
        return Draft(text=text, prompt_version=version)


def _strip_end(sentence: str) -> str:
    return sentence.rstrip().rstrip(".…!?;:").rstrip()


def idf_table(documents: list[list[str]]) -> dict[str, float]:
    """Smoothed IDF of folded syllables over tokenised documents."""
    df: dict[str, int] = {}
    for tokens in documents:
        for t in set(tokens):
            df[t] = df.get(t, 0) + 1
    n = len(documents)
    return {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
