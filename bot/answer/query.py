"""Query understanding: normalise, expand acronyms, restore diacritics, tokenise for each index."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.answer.diacritics import DiacriticRestorer
from vectorstore.sparse import folded_tokens, segment, word_tokens
from vectorstore.text import fold, has_diacritics, normalize, words

DATA_DIR = Path(__file__).parent.parent / "data"
GLOSSARY_FILE = DATA_DIR / "acronyms.tsv"
EVERYDAY_FILE = DATA_DIR / "everyday_terms.tsv"
COMMON_PHRASES_FILE = DATA_DIR / "common_vi.txt"

_NOISE = re.compile(r"[^\w\s/.,:;!?()\"'“”-]+", re.UNICODE)


@dataclass(frozen=True)
class ParsedQuery:
    """One question, prepared for every retrieval path."""

    original: str
    text: str  # NFC, cleaned
    restored: str  # text with diacritics restored (acronyms kept as typed)
    dense_text: str  # diacritics restored + acronyms expanded: what the embedding model reads
    word_tokens: list[str]  # for BM25 over segmented words
    folded_tokens: list[str]  # for BM25 over diacritic-free syllables
    acronyms: tuple[str, ...]
    without_diacritics: bool


@cache
def load_glossary(path: Path = GLOSSARY_FILE) -> dict[str, tuple[str, str]]:
    """folded acronym -> (acronym, expansion), from the TSV kept in the repo."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            acronym, expansion = (normalize(x).strip() for x in line.split("\t", 1))
            out[fold(acronym)] = (acronym, expansion)
    return out


@cache
def load_everyday_terms(path: Path = EVERYDAY_FILE) -> dict[tuple[str, ...], str]:
    """A citizen's everyday phrase -> the law's wording for it ("mất tiền" -> "lệ phí"), from the TSV kept in the
    repo; each phrase under its lower-case words and under its words without marks."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            phrase, wording = (normalize(x).strip() for x in line.split("\t", 1))
            out[tuple(words(phrase.lower()))] = out[tuple(words(fold(phrase).lower()))] = wording
    return out


def everyday_phrases(text: str, terms: dict[tuple[str, ...], str] | None = None) -> list[tuple[str, str]]:
    """The everyday phrases ``text`` uses, on whole words, in the order they occur, each as written there with the
    law's wording for it ("làm giấy khai sinh có mất tiền không" -> [("làm giấy khai sinh", "đăng ký khai sinh"),
    ("mất tiền", "lệ phí")]). Typed with marks, the marks must match ("mặt tiền" is not "mất tiền"); typed
    without, the phrase is read without them."""
    terms = load_everyday_terms() if terms is None else terms
    said = words((normalize(text) if has_diacritics(text) else fold(text)).lower())
    longest = max((len(k) for k in terms), default=0)
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(said):
        n = next((n for n in range(min(longest, len(said) - i), 0, -1) if tuple(said[i : i + n]) in terms), 0)
        if n:
            found.append((" ".join(said[i : i + n]), terms[tuple(said[i : i + n])]))
        i += n or 1
    return found


def everyday_wordings(text: str, terms: dict[tuple[str, ...], str] | None = None) -> list[str]:
    """The law's wordings of the everyday phrases ``text`` uses (:func:`everyday_phrases`), each once."""
    return list(dict.fromkeys(wording for _, wording in everyday_phrases(text, terms)))


def common_phrases(path: Path = COMMON_PHRASES_FILE) -> list[str]:
    return [normalize(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip() and not x.startswith("#")]


def clean(question: str) -> str:
    """NFC, no control or decorative characters, single spaces."""
    text = _NOISE.sub(" ", normalize(question))
    return re.sub(r"\s+", " ", text).strip()


class QueryAnalyzer:
    """Turns a raw question into a :class:`ParsedQuery` using the glossary and the corpus restorer."""

    def __init__(self, restorer: DiacriticRestorer | None, glossary: dict[str, tuple[str, str]] | None = None) -> None:
        self.restorer = restorer
        self.glossary = load_glossary() if glossary is None else glossary

    def parse(self, question: str) -> ParsedQuery:
        text = clean(question)
        tokens = re.findall(r"[\w-]+", text)
        found = []
        for token in tokens:
            hit = self.glossary.get(fold(token))
            if hit and hit[0] not in found:
                found.append(hit[0])
        without = not has_diacritics(text)
        restored = self.restorer.restore(text) if (self.restorer and without) else text
        expansions = [self.glossary[fold(a)][1] for a in found]
        expansions += [w for w in everyday_wordings(text) if w not in expansions]  # "mất tiền": "lệ phí"
        dense_text = restored + (" (" + "; ".join(expansions) + ")" if expansions else "")
        segmented = word_tokens(segment(dense_text))
        folded = folded_tokens(" ".join([text, *expansions]))
        return ParsedQuery(
            original=question,
            text=text,
            restored=restored,
            dense_text=dense_text,
            word_tokens=segmented,
            folded_tokens=folded,
            acronyms=tuple(found),
            without_diacritics=without,
        )
