"""The interface every answer generator implements."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


OnDelta = Callable[[str], None]


@dataclass(frozen=True)
class Passage:
    """A numbered retrieved passage shown to a generator; ``n`` is the citation marker [n]."""

    n: int
    doc_id: str
    chunk_id: str
    title: str
    kind: str
    text: str
    score: float
    comment_no: int | None = None
    source: str = ""


@dataclass
class Draft:
    """What a generator wrote, before citation verification."""

    text: str  # Vietnamese answer with [n] markers
    prompt_version: str  # "name@version" of the prompt used, or "extractive@N"
    rendered_prompt: str = ""  # the exact prompt sent to a model ("" for extractive)
    notices: list[str] = field(default_factory=list)  # e.g. fallback notices shown to the user


class Generator(Protocol):
    """Writes an answer from numbered passages; never sees anything but the question and the passages."""

    name: str

    def generate(self, question: str, passages: list[Passage], on_delta: OnDelta | None = None) -> Draft:
        """Write the answer; when ``on_delta`` is given, call it with each text piece as it is produced
        (the pieces concatenate to ``Draft.text``). Raise ``GeneratorError`` on timeouts/server errors."""
        ...


class GeneratorError(RuntimeError):
    """The generator could not answer (server down, timeout, bad output); the chain falls back."""
