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


@dataclass(frozen=True)
class Timeline:
    """When a document was written and, for a legal text, which text it is: dates as ISO text ("2025-06-09", or
    "2025-06" / "2025" when the source gives no more), None when the document does not say (never guessed)."""

    date: str | None = None  # issued (a legal text) or published (news, a speech)
    date_from: str = ""  # where it was read: metadata | citation | text | url | staff ("" when unknown)
    effective: str | None = None  # a legal text's entry into force
    number: str | None = None  # the legal text's number as written ("23/2015/NĐ-CP")
    replaces: tuple[tuple[str, str], ...] = ()  # (new, old) text numbers this document says one replaces

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date, "date_from": self.date_from, "effective": self.effective,
                "number": self.number, "replaces": [list(pair) for pair in self.replaces]}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timeline:
        return cls(
            data.get("date"),
            data.get("date_from") or "",
            data.get("effective"),
            data.get("number"),
            tuple((str(new), str(old)) for new, old in data.get("replaces") or ()),
        )


def date_key(iso: str | None) -> int:
    """An ISO date (or its year / year-month) as a sortable integer YYYYMMDD, missing parts 0; 0 for None."""
    if not iso:
        return 0
    parts = [int(p) for p in iso.split("-")[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0] * 10_000 + parts[1] * 100 + parts[2]


def vi_date(iso: str | None) -> str:
    """An ISO date written the Vietnamese way: "9/6/2025", "6/2025", "2025" ("" for None)."""
    if not iso:
        return ""
    return "/".join(str(int(p)) for p in reversed(iso.split("-")[:3]))
