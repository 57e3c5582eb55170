"""The engine: one long-lived object per store that every entry point (web UI, API, CLI, prompt lab,
evaluation) calls with the same rules.

It holds what is expensive — the store, the embedding model, one corpus snapshot (rebuilt once when an ingest
changes the store), one ``ChatOpenAI`` per endpoint and one llama.cpp process per model file — and builds the
answer chain once. Every request brings its own :class:`~bot.answer.options.AskOptions` (k, weights, kinds,
generator, prompt version, history), so comparing two prompt versions needs no second index or model process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Generator, Sequence
from contextlib import closing
from dataclasses import replace
from typing import Any, cast

from langchain_core.runnables import RunnableConfig

from bot.answer.chain import Answer, AnswerChunk, ChainParts, Turn, build_chain, condense_heuristic
from bot.answer.dialogue import DialogueModel, DialogueStep
from bot.answer.generators import base
from bot.answer.generators.extractive import ExtractiveGenerator
from bot.answer.generators.llm import PROMPT_TOKENS_PER_S, Endpoint, LLMGenerator
from bot.answer.options import MAX_QUESTION_CHARS, AskOptions, InputError, clip
from bot.answer.query import clean, load_glossary
from bot.answer.reader import MODEL_FILE, Reader, ReaderModel, model_file
from bot.answer.retriever import HybridRetriever
from bot.answer.types import Hit
from bot.models.server import LLMServers
from bot.snapshot import CorpusSnapshot, SnapshotHolder
from bot.wording import WordingMatch, lookup_wording
from ingest.dating import parse_date
from prompts import PromptTemplate, load_prompt
from settings import Settings
from vectorstore.embeddings import Embedder
from vectorstore.records import Document, Timeline
from vectorstore.sentences import SentenceVectors
from vectorstore.store import Store, StoreError
from vectorstore.text import fold, normalize, words

log = logging.getLogger(__name__)

QUESTION_CLIPPED = f"Câu hỏi quá dài: chỉ {MAX_QUESTION_CHARS} ký tự đầu được dùng để trả lời."
MAX_SYMBOLS = 20  # a message of emoji or punctuation only is read as that (at most this many characters)
LOCAL_RETRY_AFTER_S = 60.0  # after a failed start of the local model, questions fall back at once for this long


class Engine:
    """Answers, retrieves and looks up wording over one store."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, store: Store | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder.from_settings(settings)
        self.store = store or Store(settings, self.embedder.name)
        self.snapshots = SnapshotHolder(self.store, settings.exact_search_max_chunks)
        self.sentences = SentenceVectors(self.store, self.embedder)
        self.llm_servers = LLMServers(settings)
        try:
            fitted = model_file(settings.embedding_space)
            model = ReaderModel.load(settings.reader_model or (fitted if fitted.is_file() else MODEL_FILE))
            dialogue_model = DialogueModel.load(settings.embedding_space)
        except (ValueError, KeyError, OSError) as exc:  # a weights file that does not match this code
            raise StoreError(
                "Tệp trọng số của bộ đọc hoặc bộ phân loại hội thoại không khớp với phiên bản mã nguồn này. "
                "Cách sửa: huấn luyện lại (python -m workshop.train_reader, python -m workshop.train_dialogue) "
                "hoặc dùng tệp đi kèm bản cài đặt.",
                str(exc),
            ) from exc
        if model.embedder and model.embedder != settings.embedding_space:
            log.warning("the reader was fitted with %s's retrieval, this store uses %s", model.embedder,
                        settings.embedding_space)  # fmt: skip
        if settings.reader_threshold is not None:
            model = replace(model, threshold=settings.reader_threshold)
        self.reader = Reader(
            aliases={a: " ".join(words(fold(e))) for a, (_, e) in load_glossary().items()},
            glossary=load_glossary(),
            model=model,
        )
        self.extractive = ExtractiveGenerator(threshold=model.threshold)
        self._endpoints: dict[tuple[str, str], Endpoint] = {}
        self._prompts: dict[tuple[str, str | None], PromptTemplate] = {}
        self._local_failed_at: float | None = None
        self._lock = threading.RLock()  # short jobs only: the document cache, prompts, endpoints
        self._local_lock = threading.Lock()  # starting the local model (minutes), and its retry bookkeeping
        self._documents: OrderedDict[str, tuple[int, Document | None]] = OrderedDict()  # doc_id -> (revision, doc)
        if dialogue_model is None:
            log.warning("no dialogue model for %s: every message is taken as a policy question",
                        settings.embedding_space)  # fmt: skip
        self.dialogue = DialogueStep(dialogue_model, self.embedder.embed_query) if dialogue_model else None
        self.reading_chain, self.chain = build_chain(
            ChainParts(
                snapshot=self.snapshot,
                retriever=self._retriever,
                generator=self.generator,
                extractive=self.extractive,
                condense=self._condense,
                get_document=self.document,
                reader=self.reader,
                dialogue=self.dialogue,
                similarity=self._similarity,
            )
        )

    def _similarity(self, query_text: str, texts: Sequence[str]) -> list[float]:
        """The cosine similarity of each of ``texts`` to the query ``query_text`` (its vector is cached from
        retrieval; the texts' vectors were stored at ingest)."""
        return self.sentences.similarities(self.embedder.embed_query(query_text), texts)

    # --- questions ---------------------------------------------------------------------
    def ask(
        self,
        question: str,
        options: AskOptions | None = None,
        *,
        id: str | None = None,
        config: RunnableConfig | None = None,
    ) -> Answer:
        """The verified answer to ``question`` (a refusal is an answer with ``refused`` set)."""
        for chunk in self.stream(question, options, id=id, config=config):
            if chunk.answer is not None:
                return chunk.answer
        raise RuntimeError("the answer chain ended without an answer")

    def stream(
        self,
        question: str,
        options: AskOptions | None = None,
        *,
        id: str | None = None,
        config: RunnableConfig | None = None,
    ) -> Generator[AnswerChunk, None, None]:
        """The answer as it is written (draft pieces), then a last chunk with the verified :class:`Answer`.
        Closing the iterator early cancels the model's generation."""
        text, clipped = self._question(question)
        resolved = (options or AskOptions()).resolve(self.settings)
        stream = cast(Generator[AnswerChunk, None, None], self.chain.stream(Turn(text, resolved, id=id), config))
        with closing(stream) as chunks:
            for chunk in chunks:
                if chunk.answer is not None and clipped:
                    chunk.answer.notices.append(QUESTION_CLIPPED)
                yield chunk

    def read(self, question: str, options: AskOptions | None = None) -> Turn:
        """The question read against its sources, up to the refusal gate (no generation): hits, the reader's
        scored candidates and the refusal, if any."""
        text, _ = self._question(question)
        return self.reading_chain.invoke(Turn(text, (options or AskOptions()).resolve(self.settings)))

    def retrieve(self, question: str, options: AskOptions | None = None, *, by_doc: bool = False) -> list[Hit]:
        """The top ``k`` chunks (or distinct documents) for ``question``."""
        text, _ = self._question(question)
        retriever = self.retriever(options, by_doc=by_doc)
        return retriever.hits(retriever.invoke(text))

    def retriever(self, options: AskOptions | None = None, *, by_doc: bool = False) -> HybridRetriever:
        """A LangChain retriever over the current snapshot with ``options``."""
        return self._retriever(self.snapshot(), (options or AskOptions()).resolve(self.settings), by_doc=by_doc)

    def lookup_wording(self, phrase: str, limit: int = 10, *, in_force_only: bool = False) -> list[WordingMatch]:
        """Where the documents say ``phrase``: exact matches first, then the nearest wordings; with
        ``in_force_only``, none from a text another held document replaces."""
        snapshot = self.snapshot()

        def retrieve(text: str, k: int) -> list[Hit]:
            retriever = self._retriever(snapshot, AskOptions(k=k).resolve(self.settings))
            return retriever.hits(retriever.invoke(text))

        if not in_force_only:
            return lookup_wording(snapshot, retrieve, phrase, limit)
        found = lookup_wording(snapshot, retrieve, phrase, limit * 4)
        return [m for m in found if snapshot.chronology.replaced_by(m.doc_id) is None][:limit]

    def set_document_date(self, doc_id: str, date: str) -> str:
        """Staff set a document's date (kept over what ingest reads); returns the ISO date stored.
        ``InputError`` in Vietnamese for an unknown document or a date that is not one."""
        parsed = parse_date(date.strip()) if date and date.strip() else None
        if not parsed:
            raise InputError(f"Ngày «{date}» không hợp lệ: hãy ghi dạng 31/12/2020, 12/2020, 2020 hoặc 2020-12-31.")
        if self.store.get_document(doc_id) is None:
            raise InputError("Tài liệu không còn trong kho.")
        current = self.store.timelines([doc_id]).get(doc_id) or Timeline()
        self.store.set_timelines({doc_id: replace(current, date=parsed, date_from="staff")})
        return parsed

    def document(self, doc_id: str) -> Document | None:
        """A stored document, or None when it is gone. Recently read documents are kept per store revision, so
        answers read the database once per cited document, and keep their sources while it is unreachable."""
        generation = self.snapshots.generation  # the question's own snapshot was checked when it started
        with self._lock:
            cached = self._documents.get(doc_id)
            if cached is not None and cached[0] == generation:
                self._documents.move_to_end(doc_id)
                return cached[1]
        try:
            doc = self.store.get_document(doc_id)
        except StoreError as exc:
            log.warning("document %s unreadable, using the copy read earlier: %s", doc_id, exc.detail)
            return cached[1] if cached is not None else None
        with self._lock:
            self._documents[doc_id] = (generation, doc)
            while len(self._documents) > 256:
                self._documents.popitem(last=False)
        return doc

    def snapshot(self) -> CorpusSnapshot:
        return self.snapshots.current()

    def _question(self, question: str) -> tuple[str, bool]:
        text = clean(question or "")
        if not words(text):
            # "👍", "?", "🙏": no words, but the dialogue step has a reply for them (thanks, or "please ask")
            symbols = "".join(ch for ch in normalize(question or "") if ch.isprintable()).strip()[:MAX_SYMBOLS]
            if symbols and self.dialogue is not None:
                return symbols, False
            raise InputError("Câu hỏi trống: hãy nhập nội dung cần hỏi.")
        return text[:MAX_QUESTION_CHARS], len(text) > MAX_QUESTION_CHARS

    def _retriever(self, snapshot: CorpusSnapshot, options: AskOptions, by_doc: bool = False) -> HybridRetriever:
        return HybridRetriever(
            snapshot=snapshot,
            embedder=self.embedder,
            options=options,
            by_doc=by_doc,
            candidates=self.settings.candidates,
            rrf_k=self.settings.rrf_k,
        )

    def _condense(self, question: str, history: Sequence[tuple[str, str]], options: AskOptions) -> str:
        """A follow-up made standalone: by the chat model when the request uses one, else by the heuristic."""
        if not history:
            return question
        generator = self.generator(options)
        if isinstance(generator, LLMGenerator):
            try:
                return clip(generator.condense(self.prompt("condense"), question, history))
            except Exception:  # any client error: the heuristic still gives an answer
                log.exception("LLM condensing failed, using the heuristic")
        return condense_heuristic(question, history)

    # --- generators --------------------------------------------------------------------------
    def generator(self, options: AskOptions) -> base.Generator:
        """The generator ``options`` ask for (cheap: models and servers are shared)."""
        s = self.settings
        name = options.generator or s.generator
        if name == "extractive":
            return self.extractive
        prompt = self.prompt(s.prompt_name, options.prompt_version or s.prompt_version)
        if name == "openai":
            return LLMGenerator("openai", self._openai_endpoint(), prompt, context_tokens=s.llm_context)
        if name == "local":
            return LLMGenerator(
                "local",
                self._local_endpoint,
                prompt,
                context_tokens=s.llm_context,
                constrain_citations=True,
                prompt_tokens_per_s=PROMPT_TOKENS_PER_S,
            )
        raise InputError(f"Bộ sinh câu trả lời không hợp lệ: {name} (hợp lệ: extractive, openai, local)")

    def prompt(self, name: str, version: str | None = None) -> PromptTemplate:
        with self._lock:
            key = (name, version)
            if key not in self._prompts:
                self._prompts[key] = load_prompt(name, version)
            return self._prompts[key]

    def _openai_endpoint(self) -> Endpoint:
        s = self.settings
        key = ("openai", s.openai_base_url)
        with self._lock:
            if key not in self._endpoints:
                self._endpoints[key] = Endpoint(
                    s.openai_base_url, s.openai_model, s.openai_api_key.get_secret_value(), s.openai_timeout_s
                )
            return self._endpoints[key]

    def _local_endpoint(self) -> Endpoint:
        """The endpoint of the local model's server, started (or restarted after a crash) on first use."""
        from bot.models.install import ModelInstallError, model_file
        from bot.models.server import LLMServerError

        # A start can take minutes: it holds its own lock, never the engine's, which every answer takes briefly
        # (documents, prompts), so extractive answers go on while the local model loads.
        with self._local_lock:
            try:
                server = self.llm_servers.get(model_file(self.settings))
                if not server.running:
                    if (
                        self._local_failed_at is not None
                        and time.monotonic() - self._local_failed_at < LOCAL_RETRY_AFTER_S
                    ):
                        raise base.GeneratorError("the local LLM server failed to start recently; not retrying yet")
                    server.start()
            except (LLMServerError, ModelInstallError, OSError) as exc:
                self._local_failed_at = time.monotonic()
                raise base.GeneratorError(f"local LLM server unavailable: {exc}") from exc
            self._local_failed_at = None
        key = ("local", str(server.model_path))
        with self._lock:
            endpoint = self._endpoints.get(key)
            if endpoint is None or endpoint.base_url != server.base_url:
                endpoint = Endpoint(server.base_url, server.model_id, server.api_key, self.settings.openai_timeout_s)
                self._endpoints[key] = endpoint
            return endpoint

    # --- life cycle ------------------------------------------------------------------------------
    def warm_up(self, options: AskOptions | None = None) -> None:
        """Build the snapshot and answer one question, so the first user does not wait for either."""
        self.ask("thủ tục hành chính", options)

    def close(self) -> None:
        """Stop the local model servers and close the store."""
        self.llm_servers.close()
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["QUESTION_CLIPPED", "Engine"]
