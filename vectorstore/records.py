"""The records that flow from ingest/ into the store and out to bot/."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["speech", "article", "comment", "law"]
KINDS: tuple[str, ...] = ("speech", "article", "comment", "law")


@dataclass(frozen=True)
class Document:
    """One normalised (NFC) document or document part; citations quote ``text`` by offsets."""

    doc_id: str
    title: str
    text: str
    kind: str  # one of KINDS (Kind)
    source: str  # where a reader can find it: file path or URL
    origin: str = ""  # absolute path of the file it was read from ("" when not from a file)
    comment_no: int | None = None
    parent_id: str | None = None  # the page a comment belongs to
    metadata: dict[str, Any] = field(default_factory=dict)  # extra fields (JSONL columns, ...)


@dataclass(frozen=True)
class Chunk:
    """A retrievable span of a document: ``text == document.text[char_start:char_end]``."""

    chunk_id: str
    doc_id: str
    text: str
    char_start: int
    char_end: int
    paragraph: int  # index of the paragraph (blank-line separated) where the chunk starts
    position: int  # order of the chunk within its document
