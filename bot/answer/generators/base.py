"""The interface every answer generator implements, and what flows through it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.answer.types import Candidate, Passage


@dataclass
class Draft:
    """What a generator wrote, before citation verification."""

    text: str  # Vietnamese answer with [n] markers ("" when refused)
    prompt_version: str  # "name@version" of the prompt used, or "extractive@N"
    refused: bool = False  # the generator found no answer in the passages
    rendered_prompt: str = ""  # the exact prompt sent to a model ("" for extractive)
    notices: list[str] = field(default_factory=list)


class Generator(Protocol):
    """Writes an answer from numbered passages; never sees anything but the question and the passages."""

    name: str

    @property
    def prompt_id(self) -> str:
        """The prompt version (or extractive configuration) its answers are labelled with."""
        ...

    def stream(
        self, question: str, passages: Sequence[Passage], evidence: Sequence[Candidate]
    ) -> Iterator[str | Draft]:
        """Yield the answer's text pieces as they are written, then the finished :class:`Draft`.
        ``evidence`` is the reader's ranking of the passages' sentences, best first (with probabilities).
        Raise :class:`GeneratorError` on timeouts, server errors or unusable output."""
        ...


class GeneratorError(RuntimeError):
    """The generator could not answer (server down, timeout, bad output); the chain falls back."""


def collect(pieces: Iterator[str | Draft]) -> Draft:
    """Run a generator's stream to its end and return the draft."""
    for item in pieces:
        if isinstance(item, Draft):
            return item
    raise GeneratorError("the generator ended without a draft")
