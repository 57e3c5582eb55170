"""The answer chain (LCEL): condense -> retrieve -> select evidence -> generate -> verify -> result.

Each step is a small function over one state dict, joined with ``RunnableLambda``; the chain never
lets a generator's words reach the user without the citation verifier's approval.
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from bot.citations import Citation, verify
from bot.generators.base import Draft, Generator, GeneratorError, OnDelta, Passage
from bot.generators.extractive import REFUSAL, ExtractiveGenerator
from bot.grounding import missing_specifics
from bot.query import ParsedQuery, load_glossary
from bot.retriever import Hit, HybridSearcher
from vectorstore.records import Document
from vectorstore.text import fold, words

log = logging.getLogger(__name__)

FALLBACK_NOTICE = "Mô hình ngôn ngữ không trả lời được lúc này; câu trả lời dưới đây được trích nguyên văn từ tài liệu."
_FOLLOW_UP = re.compile(r"^(còn|vậy|thế|thì|nếu|nó|điều đó|việc đó|cái đó|ở đâu|khi nào|bao lâu|ai)\b", re.IGNORECASE)


@dataclass
class Answer:
    """The result of one question; ``to_dict()`` is the ``ask --json`` contract."""

    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    hits: list[Hit]
    prompt_version: str
    timings_ms: dict[str, float]
    id: str | None = None
    standalone_question: str = ""
    notices: list[str] = field(default_factory=list)
    rendered_prompt: str = ""
    dropped_claims: list[str] = field(default_factory=list)
    generator: str = ""
    coverage: float = 0.0  # best share of the question's content words found in one passage sentence
    missing: list[str] = field(default_factory=list)  # details the question names that no source contains

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [h.to_dict(i) for i, h in enumerate(self.hits, start=1)],
            "prompt_version": self.prompt_version,
            "timings_ms": self.timings_ms,
            "standalone_question": self.standalone_question,
            "notices": self.notices,
            "generator": self.generator,
            "coverage": round(self.coverage, 4),
            "missing": self.missing,
        }


def condense_heuristic(question: str, history: Sequence[tuple[str, str]]) -> str:
    """Without a language model: join an elliptical follow-up to the previous question."""
    if not history:
        return question
    previous = history[-1][0]
    content = [w for w in words(fold(question)) if len(w) > 1]
    if _FOLLOW_UP.match(question.strip()) or len(content) <= 4:
        return f"{previous} {question}"
    return question


def refusal_text(hits: Sequence[Hit], missing: Sequence[str] = ()) -> str:
    """The refusal, naming the details no source contains and the nearest sources, so the user can look further."""
    text = REFUSAL
    if missing:
        text = text[:-1] + " (không thấy: " + ", ".join(f"«{m}»" for m in missing) + ")."
    titles = list(dict.fromkeys(h.chunk.title for h in hits[:3]))
    if titles:
        text += " Nguồn gần nhất: " + "; ".join(titles) + "."
    return text


def build_chain(
    searcher: HybridSearcher,
    extractive: ExtractiveGenerator,
    get_document: Callable[[str], Document | None],
    condense: Callable[[str, Sequence[tuple[str, str]]], str] = condense_heuristic,
) -> Runnable[dict[str, Any], Answer]:
    """The LCEL chain. Input keys: question, history, k, kinds, generator (a Generator), on_delta."""

    def condense_step(state: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        standalone = condense(state["question"], state.get("history") or [])
        query = searcher.analyzer().parse(standalone)
        return {**state, "standalone": standalone, "query": query, "t0": started}

    def retrieve_step(state: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        hits = searcher.search(state["query"], state.get("k"), kinds=state.get("kinds"), doc_ids=state.get("doc_ids"))
        return {**state, "hits": hits, "retrieve_ms": (time.perf_counter() - started) * 1000}

    def evidence_step(state: dict[str, Any]) -> dict[str, Any]:
        hits: list[Hit] = state["hits"]
        passages = [
            Passage(n=i, doc_id=h.chunk.doc_id, chunk_id=h.chunk.chunk_id, title=h.chunk.title, kind=h.chunk.kind,
                    text=h.chunk.text, score=h.score, comment_no=h.chunk.comment_no, source=h.chunk.source)
            for i, h in enumerate(hits, start=1)
        ]
        query: ParsedQuery = state["query"]
        coverage = extractive.best_coverage(query.restored, passages)
        missing = missing_specifics(query.text, [t for p in passages for t in (p.title, p.text)], load_glossary())
        return {**state, "passages": passages, "coverage": coverage, "missing": missing}

    def generate_step(state: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        generator: Generator = state.get("generator") or extractive
        passages: list[Passage] = state["passages"]
        query: ParsedQuery = state["query"]
        on_delta: OnDelta | None = state.get("on_delta")
        notices: list[str] = []
        if not passages or state["coverage"] < extractive.min_coverage or state["missing"]:
            draft = Draft(REFUSAL, prompt_version=_version_of(generator, extractive))
        else:
            try:
                draft = generator.generate(query.restored if generator is extractive else state["standalone"],
                                           passages, on_delta)
            except GeneratorError as exc:
                log.warning("generator %s failed, falling back to extractive: %s", generator.name, exc)
                notices.append(FALLBACK_NOTICE)
                draft = extractive.generate(query.restored, passages, on_delta)
        draft.notices = [*draft.notices, *notices]
        return {**state, "draft": draft, "generator_used": generator, "generate_ms": (time.perf_counter() - started) * 1000}

    def verify_step(state: dict[str, Any]) -> Answer:
        draft: Draft = state["draft"]
        passages: list[Passage] = state["passages"]
        checked = verify(draft.text, passages, get_document) if draft.text != REFUSAL else None
        notices = list(draft.notices)
        if checked is not None and not checked.citations and state["generator_used"] is not extractive:
            # Nothing the model wrote survived verification: answer extractively instead.
            notices.append(FALLBACK_NOTICE)
            fallback = extractive.generate(state["query"].restored, passages)
            checked = verify(fallback.text, passages, get_document) if fallback.text != REFUSAL else None
        refused = checked is None or not checked.citations
        total = (time.perf_counter() - state["t0"]) * 1000
        return Answer(
            question=state["question"],
            answer=refusal_text(state["hits"], state["missing"]) if refused else checked.text,
            refused=refused,
            citations=[] if refused else checked.citations,
            hits=state["hits"],
            prompt_version=draft.prompt_version,
            timings_ms={"retrieve": round(state["retrieve_ms"], 1), "generate": round(state["generate_ms"], 1),
                        "total": round(total, 1)},
            id=state.get("id"),
            standalone_question=state["standalone"],
            notices=notices,
            rendered_prompt=draft.rendered_prompt,
            dropped_claims=[] if checked is None else checked.dropped,
            generator=getattr(state["generator_used"], "name", "extractive"),
            coverage=state["coverage"],
            missing=state["missing"],
        )

    return (
        RunnableLambda(condense_step, name="condense")
        | RunnableLambda(retrieve_step, name="retrieve")
        | RunnableLambda(evidence_step, name="select_evidence")
        | RunnableLambda(generate_step, name="generate")
        | RunnableLambda(verify_step, name="verify_citations")
    )


def _version_of(generator: Generator, extractive: ExtractiveGenerator) -> str:
    prompt = getattr(generator, "prompt", None)
    return getattr(prompt, "id", None) or f"extractive@{extractive.min_coverage:g}"
