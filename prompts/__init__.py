"""Versioned prompt files: ``prompts/<name>/<version>.toml``, reviewed like code.

Each file holds ``name``, ``version``, ``notes``, ``system``, ``template`` (``str.format`` fields such as
``{question}``, ``{passages}``, ``{history}``, ``{refusal}``), optionally ``refusal`` (the exact sentence an
answer prompt uses when the passages do not answer) and ``[[examples]]`` (few-shot turns: the template
fields plus ``answer``).

    >>> p = load_prompt("answer")          # highest version, numeric-aware ("v10" > "v2")
    >>> p.id                                # "answer@v2"
    >>> p.chat_prompt                       # a LangChain ChatPromptTemplate (few-shot turns included)
    >>> messages = p.messages(question="...", passages=passages)   # LangChain messages for a chat model
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate

PROMPTS_DIR = Path(__file__).resolve().parent
ALLOWED_FIELDS = frozenset({"question", "passages", "history", "refusal"})
KIND_LABELS = {"speech": "bài phát biểu", "article": "bài viết", "comment": "bình luận", "law": "văn bản pháp luật"}
# passages are wrapped in these tags in the templates; a passage must not be able to close them
_DATA_TAG = re.compile(r"</?\s*tai_lieu\s*>", re.IGNORECASE)


class PassageLike(Protocol):
    @property
    def n(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class PromptTemplate:
    """One version of one prompt, as read from its TOML file."""

    name: str
    version: str
    notes: str
    system: str
    template: str
    refusal: str = ""
    examples: tuple[dict[str, str], ...] = field(default=(), hash=False)

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    @cached_property
    def chat_prompt(self) -> ChatPromptTemplate:
        """The prompt as a LangChain ``ChatPromptTemplate``: system, the few-shot turns already filled in, then
        the user turn from ``template``; ``refusal`` is bound to the file's own sentence."""
        turns: list[tuple[str, str]] = [("system", self.system)]
        for example in self.examples:
            shot = {k: _as_text(k, v) for k, v in example.items() if k != "answer"}
            shot.setdefault("refusal", self.refusal)
            turns.append(("human", _escape(self._format(self.template, shot))))
            turns.append(("ai", _escape(self._format(example["answer"], shot))))
        turns.append(("human", self.template))
        prompt = ChatPromptTemplate.from_messages(turns)
        return prompt.partial(refusal=self.refusal) if "refusal" in prompt.input_variables else prompt

    def messages(self, **fields: Any) -> list[BaseMessage]:
        """The chat messages for ``fields`` (``passages`` may be a sequence of passages, ``history`` of turns)."""
        values = {k: _as_text(k, v) for k, v in fields.items()}
        missing = set(self.chat_prompt.input_variables) - set(values)
        if missing:
            raise ValueError(f"prompt {self.id} needs the fields {sorted(missing)}; got {sorted(values)}")
        return self.chat_prompt.format_messages(**values)

    def render(self, **fields: Any) -> list[dict[str, str]]:
        """The same messages as plain ``{"role", "content"}`` dicts (logs, the prompt lab)."""
        roles = {"human": "user", "ai": "assistant"}
        return [{"role": roles.get(m.type, m.type), "content": str(m.content)} for m in self.messages(**fields)]

    def is_refusal(self, answer: str) -> bool:
        """True when ``answer`` is this prompt's refusal sentence (blanks, case and final stop aside)."""

        def key(text: str) -> str:
            return " ".join(text.split()).rstrip(" .…").lower()

        return bool(self.refusal) and key(answer) == key(self.refusal)

    def _format(self, text: str, values: Mapping[str, str]) -> str:
        try:
            return text.format_map(values)
        except KeyError as exc:
            raise ValueError(f"prompt {self.id} needs the field {exc.args[0]!r}; got {sorted(values)}") from None


def _escape(text: str) -> str:
    """Literal text inside a ChatPromptTemplate (f-string braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


def format_passages(passages: Iterable[PassageLike]) -> str:
    """Numbered blocks ``[n] (title — kind) text``, separated by blank lines."""
    blocks = []
    for p in passages:
        kind = KIND_LABELS.get(p.kind, p.kind)
        comment_no = getattr(p, "comment_no", None)
        if p.kind == "comment" and comment_no is not None:
            kind = f"{kind} #{comment_no}"
        title = " ".join((p.title or "").split()) or "Không có tiêu đề"
        text = _DATA_TAG.sub(" ", p.text).strip()
        blocks.append(f"[{p.n}] ({title} — {kind}) {text}")
    return "\n\n".join(blocks)


def format_history(turns: Iterable[tuple[str, str]]) -> str:
    """Chat history for the condense prompt from ``(role, text)`` pairs, role ``user``/``assistant``."""
    names = {"user": "Người dùng", "assistant": "Trợ lý"}
    return "\n".join(f"{names.get(role, role)}: {' '.join(text.split())}" for role, text in turns)


def _as_text(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if key == "passages" and isinstance(value, Sequence):
        return format_passages(value)
    if key == "history" and isinstance(value, Sequence):
        return format_history(value)
    return str(value)


def version_key(version: str) -> tuple:
    """Numeric-aware ordering: v2 < v10, v1.2 < v1.10; ties broken by the raw string."""
    return tuple(int(n) for n in re.findall(r"\d+", version)), version


def list_prompts(root: Path | None = None) -> dict[str, list[str]]:
    """Every prompt name with its versions, lowest to highest."""
    root = root or PROMPTS_DIR
    found: dict[str, list[str]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        versions = sorted((f.stem for f in folder.glob("*.toml")), key=version_key)
        if versions:
            found[folder.name] = versions
    return found


def load_prompt(name: str, version: str | None = None, root: Path | None = None) -> PromptTemplate:
    """Load ``prompts/<name>/<version>.toml``; ``version=None`` picks the highest version.

    Unknown names or versions raise ``ValueError`` listing what exists.
    """
    available = list_prompts(root)
    if name not in available:
        raise ValueError(f"unknown prompt {name!r}; available: {_describe(available)}")
    versions = available[name]
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise ValueError(f"unknown version {chosen!r} of prompt {name!r}; available: {', '.join(versions)}")
    path = (root or PROMPTS_DIR) / name / f"{chosen}.toml"
    return _parse(path, name, chosen)


def _describe(available: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{n} ({', '.join(v)})" for n, v in available.items()) or "none"


def _parse(path: Path, name: str, version: str) -> PromptTemplate:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    missing = [k for k in ("name", "version", "notes", "system", "template") if not isinstance(data.get(k), str)]
    if missing:
        raise ValueError(f"{path}: missing string keys {missing}")
    if (data["name"], data["version"]) != (name, version):
        raise ValueError(f"{path}: declares {data['name']}@{data['version']}, expected {name}@{version}")
    examples = tuple(
        {k: v.strip() if isinstance(v, str) else v for k, v in e.items()} for e in data.get("examples", [])
    )
    for text in [data["system"], data["template"], *(e.get("answer", "") for e in examples)]:
        unknown = _fields(text) - ALLOWED_FIELDS
        if unknown:
            raise ValueError(f"{path}: unknown template fields {sorted(unknown)} (allowed: {sorted(ALLOWED_FIELDS)})")
    if any("answer" not in e for e in examples):
        raise ValueError(f"{path}: every [[examples]] entry needs an 'answer'")
    refusal = data.get("refusal", "")
    if "{refusal}" in data["system"] + data["template"] and not refusal:
        raise ValueError(f"{path}: uses {{refusal}} but defines no 'refusal' sentence")
    return PromptTemplate(
        name=data["name"],
        version=data["version"],
        notes=data["notes"].strip(),
        system=data["system"].strip(),
        template=data["template"].strip(),
        refusal=refusal.strip(),
        examples=examples,
    )


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


__all__ = ["PROMPTS_DIR", "PromptTemplate", "format_history", "format_passages", "list_prompts", "load_prompt"]
