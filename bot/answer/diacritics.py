"""Restore Vietnamese diacritics in a query from the ingested corpus's own syllable statistics.

'thu tuc cap lai can cuoc' -> 'thủ tục cấp lại căn cước': every syllable typed without marks gets
the accented form that a bigram model of the corpus finds most likely (Viterbi over candidates).
Syllables the user typed with marks, and syllables unknown to the corpus, are kept as typed.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from vectorstore.text import fold

_SYLLABLE = re.compile(r"[^\W\d_]+", re.UNICODE)


class DiacriticRestorer:
    """A syllable bigram model over the corpus, used to put marks back on folded query syllables."""

    def __init__(self, unigrams: Counter[str], bigrams: Counter[tuple[str, str]]) -> None:
        self.unigrams = unigrams
        self.bigrams = bigrams
        self.total = max(1, sum(unigrams.values()))
        self.candidates: dict[str, list[str]] = defaultdict(list)
        for syllable, _ in unigrams.most_common():
            self.candidates[fold(syllable)].append(syllable)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> DiacriticRestorer:
        unigrams: Counter[str] = Counter()
        bigrams: Counter[tuple[str, str]] = Counter()
        for text in texts:
            for sentence in re.split(r"[.,;:!?()\n\"“”]+", text.lower()):
                syl = _SYLLABLE.findall(sentence)
                unigrams.update(syl)
                bigrams.update(itertools.pairwise(syl))
        return cls(unigrams, bigrams)

    def restore(self, text: str) -> str:
        """Return ``text`` with marks restored on the syllables typed without any."""
        pieces = _SYLLABLE.split(text)
        syllables = _SYLLABLE.findall(text)
        if not syllables:
            return text
        options = [self._options(s) for s in syllables]
        best = self._viterbi(options)
        out = [pieces[0]]
        for typed, chosen, tail in zip(syllables, best, pieces[1:]):
            out.append(_match_case(typed, chosen))
            out.append(tail)
        return "".join(out)

    def _options(self, typed: str) -> list[str]:
        lower = typed.lower()
        if fold(lower) != lower:  # typed with marks: trust the user
            return [lower]
        return self.candidates.get(lower, [])[:8] or [lower]

    def _viterbi(self, options: list[list[str]]) -> list[str]:
        log_uni = {s: math.log((self.unigrams[s] + 0.1) / self.total) for opts in options for s in opts}
        # scores[j] = best log-prob of a path ending in options[i][j]
        scores = [log_uni[s] for s in options[0]]
        back: list[list[int]] = []
        for i in range(1, len(options)):
            new_scores, pointers = [], []
            for cur in options[i]:
                best_j, best = 0, -math.inf
                for j, prev in enumerate(options[i - 1]):
                    value = scores[j] + self._transition(prev, cur, log_uni[cur])
                    if value > best:
                        best_j, best = j, value
                new_scores.append(best)
                pointers.append(best_j)
            scores, back = new_scores, [*back, pointers]
        j = max(range(len(scores)), key=scores.__getitem__)
        path = [j]
        for pointers in reversed(back):
            j = pointers[j]
            path.append(j)
        path.reverse()
        return [options[i][k] for i, k in enumerate(path)]

    def _transition(self, prev: str, cur: str, log_unigram: float) -> float:
        """log P(cur | prev): bigram relative frequency interpolated with the unigram."""
        pair = self.bigrams.get((prev, cur), 0)
        prev_count = self.unigrams.get(prev, 0)
        bigram = pair / prev_count if prev_count else 0.0
        return math.log(0.8 * bigram + 0.2 * math.exp(log_unigram) + 1e-12)


def _match_case(typed: str, chosen: str) -> str:
    if typed.isupper() and len(typed) > 1:
        return chosen.upper()
    if typed[:1].isupper():
        return chosen[:1].upper() + chosen[1:]
    return chosen
