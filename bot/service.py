"""ChatService: the one object the CLI, the evaluation harness and the web app talk to.

It owns the store, the embedding model, the retrieval index, the generators and the chain for one
Settings; everything is created once and reused across questions.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from bot.chain import Answer, build_chain, condense_heuristic
from bot.generators.base import Generator, GeneratorError, OnDelta
from bot.generators.extractive import ExtractiveGenerator, idf_table
from bot.query import load_glossary
from bot.retriever import Hit, HybridSearcher, RetrievalIndex
from settings import SAMPLE_DIR, Settings
from vectorstore.embeddings import Embedder
from vectorstore.sparse import folded_tokens
from vectorstore.store import Store
from vectorstore.text import fold, words

log = logging.getLogger(__name__)


class ChatService:
    """Answers and retrieves over one store."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, store: Store | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder.from_settings(settings)
        self.store = store or Store(settings, self.embedder.name)
        self.index = RetrievalIndex(self.store)
        self.searcher = HybridSearcher(settings, self.store, self.embedder, self.index)
        self._generators: dict[str, Generator] = {}
        self._lock = threading.Lock()
        self._idf_generation = -1
        self._extractive: ExtractiveGenerator | None = None

    # --- setup ------------------------------------------------------------------------
    def ensure_sample(self) -> Any:
        """Ingest the bundled sample when the store is empty; return the ingest summary or None."""
        if self.store.stats()["documents"]:
            return None
        from ingest.pipeline import Ingestor

        log.info("store is empty: ingesting the bundled sample from %s", SAMPLE_DIR)
        return Ingestor(self.settings, embedder=self.embedder, store=self.store).run([SAMPLE_DIR])

    def warm_up(self) -> None:
        """Load indexes and run one query so the first user does not wait."""
        self.ask("thủ tục hành chính")

    # --- generators -----------------------------------------------------------------------
    @property
    def extractive(self) -> ExtractiveGenerator:
        self.index.refresh()
        generation = self.store.generation()
        if self._extractive is None or generation != self._idf_generation:
            idf = idf_table([folded_tokens(c.folded) for c in self.index.chunks])
            aliases = {a: " ".join(words(fold(e))) for a, (_, e) in load_glossary().items()}
            self._extractive = ExtractiveGenerator(idf, min_coverage=self.settings.refusal_threshold, aliases=aliases)
            self._idf_generation = generation
        return self._extractive

    def generator(self, name: str | None = None, prompt_version: str | None = None) -> Generator:
        """The generator called ``name`` (settings.generator by default), created once."""
        name = name or self.settings.generator
        if name == "extractive":
            return self.extractive
        key = f"{name}:{prompt_version or self.settings.prompt_version or 'latest'}"
        with self._lock:
            if key not in self._generators:
                self._generators[key] = _make_llm_generator(self.settings, name, prompt_version)
            return self._generators[key]

    # --- questions ----------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        history: Sequence[tuple[str, str]] = (),
        k: int | None = None,
        kinds: Sequence[str] | None = None,
        generator: str | None = None,
        prompt_version: str | None = None,
        on_delta: OnDelta | None = None,
        id: str | None = None,
    ) -> Answer:
        chosen = self.generator(generator, prompt_version)
        chain = build_chain(self.searcher, self.extractive, self.store.get_document, condense=_condenser(chosen))
        return chain.invoke({
            "question": question, "history": list(history), "k": k or self.settings.k, "kinds": kinds,
            "generator": chosen, "on_delta": on_delta, "id": id,
        })

    def retrieve(self, question: str, *, k: int | None = None, by_doc: bool = False,
                 kinds: Sequence[str] | None = None, **kwargs: Any) -> list[Hit]:
        return self.searcher.search(question, k or self.settings.k, kinds=kinds, by_doc=by_doc, **kwargs)

    def close_generators(self) -> None:
        """Stop what the LLM generators started (e.g. a local model server)."""
        with self._lock:
            for gen in self._generators.values():
                close = getattr(gen, "close", None)
                if close:
                    close()
            self._generators.clear()

    def close(self) -> None:
        self.close_generators()
        self.store.close()


def _condenser(generator: Generator) -> Callable[[str, Sequence[tuple[str, str]]], str]:
    """The LLM's condense prompt when the generator has one, the heuristic otherwise or on failure."""
    llm_condense = getattr(generator, "condense", None)
    if llm_condense is None:
        return condense_heuristic

    def condense(question: str, history: Sequence[tuple[str, str]]) -> str:
        if not history:
            return question
        try:
            return llm_condense(question, history)
        except GeneratorError as exc:
            log.warning("LLM condensing failed, using the heuristic: %s", exc)
            return condense_heuristic(question, history)

    return condense


def _make_llm_generator(settings: Settings, name: str, prompt_version: str | None) -> Generator:
    from bot.generators.openai_compat import LocalGenerator, OpenAICompatGenerator
    from prompts import load_prompt

    prompt = load_prompt(settings.prompt_name, prompt_version or settings.prompt_version)
    if name == "openai":
        return OpenAICompatGenerator.from_settings(settings, prompt=prompt)
    if name == "local":
        return LocalGenerator(settings, prompt=prompt)
    raise ValueError(f"Bộ sinh câu trả lời không hợp lệ: {name} (hợp lệ: extractive, openai, local)")
