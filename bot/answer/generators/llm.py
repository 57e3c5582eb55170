"""Generators that call an OpenAI-compatible chat endpoint: a remote/production server, or the local
llama.cpp server that ``LocalGenerator`` starts on first use. Both go through the same code path.

The prompt comes from ``prompts/`` (``settings.prompt_name`` / ``settings.prompt_version``). Before
sending, passages are fitted into ``settings.llm_context`` minus the answer budget: the prompt is
measured with the server's ``POST /tokenize`` when it has one (llama.cpp does), else estimated at
2.5 characters per token; the lowest-scored passages are dropped first, then the last one kept is
truncated. Any timeout, HTTP error or empty answer raises ``GeneratorError`` so the chain can fall
back to the extractive answer (an exception raised by ``on_delta`` itself propagates unchanged).

Against llama.cpp (the local server) the answer can also be grammar-constrained (``citation_grammar``)
so that even a 0.5B model ends every sentence with a valid [n] marker or writes the exact refusal.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import httpx
import openai

from bot.generators.base import Draft, GeneratorError, OnDelta, Passage
from prompts import PromptTemplate, format_passages, load_prompt
from settings import Settings

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 2.5  # fallback estimate when the server cannot tokenize (conservative for Vietnamese)
MESSAGE_OVERHEAD_TOKENS = 6  # chat-template tokens around each message (<|im_start|>role\n ... <|im_end|>\n)
SAFETY_MARGIN_TOKENS = 32
MIN_TRUNCATED_TOKENS = 48  # a passage cut shorter than this is dropped instead
ELLIPSIS = " …"


def citation_grammar(numbers: Sequence[int], refusal: str = "", max_sentences: int = 4) -> str:
    """A llama.cpp GBNF grammar for the answer: either exactly ``refusal``, or 1..``max_sentences``
    sentences that each end with citation markers of the given passage numbers (``… text [2].`` or
    ``… text. [2][3]``). Small local models rarely write the markers unprompted; under this grammar they
    must, and can only cite passages that were sent. Brackets cannot appear inside a sentence, and a
    period inside one only between digits (``1.000``, ``19.4.2023``)."""
    if not numbers:
        raise ValueError("citation_grammar needs at least one passage number")
    cite = " | ".join(f'"{n}"' for n in sorted(set(numbers)))
    answer = f'sentence (" " sentence){{0,{max_sentences - 1}}}'
    lines = [
        "root ::= refusal | answer" if refusal else "root ::= answer",
        f"answer ::= {answer}",
        'sentence ::= body (" "? cite+ "." | "." " "? cite+)',
        'body ::= (letter | number) (letter | number | " ")*',
        "letter ::= [^\\[\\]\\n.0-9 ]",
        'number ::= [0-9]+ ("." [0-9]+)*',
        f'cite ::= "[" ({cite}) "]"',
    ]
    if refusal:
        lines.insert(1, "refusal ::= " + '"' + refusal.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "\n".join(lines) + "\n"


def render_messages(messages: Sequence[dict[str, str]]) -> str:
    """The exact text of the messages sent, for logs and ``Draft.rendered_prompt``."""
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


class OpenAICompatGenerator:
    """Streams a cited answer from any OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "not-needed",
        timeout_s: float = 60.0,
        context_tokens: int = 4096,
        prompt: PromptTemplate | None = None,
        max_tokens: int = 300,
        temperature: float = 0.0,
        constrain_citations: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.context_tokens = context_tokens
        self.prompt = prompt or load_prompt("answer")
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.constrain_citations = constrain_citations  # llama.cpp servers only (sends a GBNF ``grammar``)
        self.last_timings: dict[str, Any] | None = None  # llama.cpp's timings of the last answer (diagnostics)
        self._openai: openai.OpenAI | None = None
        self._can_tokenize: bool | None = None  # None: not probed yet
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> "OpenAICompatGenerator":
        kwargs: dict[str, Any] = dict(
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            api_key=settings.openai_api_key.get_secret_value(),
            timeout_s=settings.openai_timeout_s,
            context_tokens=settings.llm_context,
            prompt=load_prompt(settings.prompt_name, settings.prompt_version),
        )
        kwargs.update(overrides)
        return cls(**kwargs)

    # --- Generator protocol ---------------------------------------------------------
    def generate(self, question: str, passages: list[Passage], on_delta: OnDelta | None = None) -> Draft:
        client = self._client()
        try:
            kept, prompt_tokens = self._fit(question, passages)
            messages = self.prompt.render(question=question, passages=kept)
            extra: dict[str, Any] = {}
            if self.constrain_citations and kept:
                extra["grammar"] = citation_grammar([p.n for p in kept], self.prompt.refusal)
            text = self._stream(client, messages, on_delta, self.request_timeout(prompt_tokens), extra)
        except (openai.APIError, httpx.HTTPError) as exc:
            self._on_failure(exc)
            raise GeneratorError(f"{self.name} generator failed: {type(exc).__name__}: {exc}") from exc
        if not text:
            raise GeneratorError(f"{self.name} generator returned an empty answer")
        return Draft(text=text, prompt_version=self.prompt.id, rendered_prompt=render_messages(messages))

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """Rewrite a follow-up into a standalone question with the condense prompt (one short line).
        Raises GeneratorError on failure; the chain then falls back to its heuristic."""
        turns = [(role, text) for q, a in history[-3:] for role, text in (("user", q), ("assistant", a))]
        messages = load_prompt("condense").render(history=turns, question=question)
        try:
            text = self._stream(self._client(), messages, None, self.request_timeout(len(str(messages)) // 3),
                                None)
        except (openai.APIError, httpx.HTTPError) as exc:
            raise GeneratorError(f"{self.name} condense failed: {exc}") from exc
        line = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not line:
            raise GeneratorError("empty condensed question")
        return line

    # --- context budget ---------------------------------------------------------------
    def fit_passages(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """The passages that fit ``context_tokens - max_tokens``: highest scores first, whole; the first
        that does not fit is truncated (if a useful part fits), the rest dropped. Returned in ``n`` order."""
        return self._fit(question, passages)[0]

    def request_timeout(self, prompt_tokens: int) -> float:
        """Seconds to wait for each piece of the answer (the first one comes after the prompt is read)."""
        return self.timeout_s

    def _fit(self, question: str, passages: Sequence[Passage]) -> tuple[list[Passage], int]:
        count = self._token_counter()
        budget = self.context_tokens - self.max_tokens - SAFETY_MARGIN_TOKENS
        used = self._messages_tokens(self.prompt.render(question=question, passages=""), count)
        if used >= budget:
            raise GeneratorError(f"the question alone ({used} tokens) does not fit the context ({budget} tokens)")
        kept: list[Passage] = []
        for p in sorted(passages, key=lambda p: -p.score):
            cost = count(format_passages([p])) + 1  # + the blank line between blocks
            if used + cost <= budget:
                kept.append(p)
                used += cost
                continue
            room = budget - used - 1
            if room >= MIN_TRUNCATED_TOKENS or not kept:
                cut = self._truncate(p, room, count)
                if cut is not None:
                    kept.append(cut)
            break
        kept.sort(key=lambda p: p.n)
        total = used
        # the parts were counted separately; check the whole once and shrink if joins cost more
        for _ in range(3):
            total = self._messages_tokens(self.prompt.render(question=question, passages=kept), count)
            if total <= budget or not kept:
                break
            last = max(kept, key=lambda p: (-p.score, p.n))  # the lowest-scored one
            cut = self._truncate(last, count(format_passages([last])) - (total - budget) - 8, count)
            kept = [k for k in kept if k is not last] + ([cut] if cut is not None else [])
            kept.sort(key=lambda p: p.n)
        truncated = sum(k.text.endswith(ELLIPSIS) and not p.text.endswith(ELLIPSIS) for k in kept for p in passages if p.n == k.n)
        if len(kept) < len(passages) or truncated:
            log.info("context budget %d tokens: kept %d/%d passages (%d truncated)", budget, len(kept), len(passages), truncated)
        return kept, total

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the server's tokenizer when available, else an estimate."""
        if self._can_tokenize is not False:
            try:
                n = self._tokenize(text)
            except (httpx.HTTPStatusError, ValueError, KeyError, TypeError) as exc:
                # the server answers but has no llama.cpp-style /tokenize: estimate from now on
                log.info("no /tokenize at %s (%s); estimating %.1f chars/token", self._root_url(), exc, CHARS_PER_TOKEN)
                self._can_tokenize = False
            except httpx.HTTPError:
                if self._can_tokenize:
                    raise  # it worked before: the server is in trouble, let generate() report it
                # unreachable while probing: estimate this time, probe again next time
            else:
                self._can_tokenize = True
                return n
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def _token_counter(self) -> Callable[[str], int]:
        memo: dict[str, int] = {}

        def count(text: str) -> int:
            if text not in memo:
                memo[text] = self.count_tokens(text)
            return memo[text]

        return count

    def _messages_tokens(self, messages: Sequence[dict[str, str]], count: Callable[[str], int]) -> int:
        return sum(count(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages) + MESSAGE_OVERHEAD_TOKENS

    def _truncate(self, p: Passage, tokens: int, count: Callable[[str], int]) -> Passage | None:
        """``p`` cut at a word boundary so its block takes at most ``tokens``; None if nothing useful fits."""
        header = count(format_passages([replace(p, text="")]))
        room = tokens - header - count(ELLIPSIS)
        if room <= 8:
            return None
        full = count(format_passages([p]))
        chars = int(len(p.text) * room / max(full - header, 1))
        for _ in range(6):
            cut = p.text[:chars]
            if " " in cut and chars < len(p.text):
                cut = cut[: cut.rfind(" ")]
            candidate = replace(p, text=cut.rstrip() + ELLIPSIS)
            if count(format_passages([candidate])) <= tokens:
                return candidate
            chars = int(chars * 0.85)
        return None

    # --- HTTP -------------------------------------------------------------------------
    def _client(self) -> openai.OpenAI:
        with self._lock:
            if self._openai is None:
                self._openai = openai.OpenAI(
                    base_url=self.base_url,
                    api_key=self.api_key,
                    timeout=httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s)),
                    max_retries=0,  # the chain falls back instead of making the user wait twice
                )
            return self._openai

    def _root_url(self) -> str:
        return self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url

    def _tokenize(self, text: str) -> int:
        r = httpx.post(
            f"{self._root_url()}/tokenize",
            json={"content": text, "add_special": False},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=min(10.0, self.timeout_s),
        )
        r.raise_for_status()
        tokens = r.json()["tokens"]
        if not isinstance(tokens, list):
            raise ValueError("unexpected /tokenize answer")
        return len(tokens)

    def _stream(
        self,
        client: openai.OpenAI,
        messages: list[dict[str, str]],
        on_delta: OnDelta | None,
        timeout: float,
        extra_body: dict[str, Any] | None = None,
    ) -> str:
        """Stream the answer; emitted pieces join to the returned text (leading/trailing blanks dropped)."""
        emitted: list[str] = []
        pending = ""  # whitespace held back until more text follows
        finish = None
        self.last_timings = None
        t0 = time.monotonic()
        stream = client.chat.completions.create(
            model=self.model,
            messages=messages,  # type: ignore[arg-type]
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            stream=True,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            extra_body=extra_body or None,
        )
        with stream:
            for chunk in stream:
                extra = chunk.model_extra or {}
                if "timings" in extra:
                    self.last_timings = extra["timings"]
                if not chunk.choices:
                    continue
                finish = chunk.choices[0].finish_reason or finish
                piece = chunk.choices[0].delta.content or ""
                if not piece:
                    continue
                if not emitted:
                    piece = piece.lstrip()
                    if not piece:
                        continue
                stripped = piece.rstrip()
                if not stripped:
                    pending += piece
                    continue
                piece, pending = pending + stripped, piece[len(stripped):]
                emitted.append(piece)
                if on_delta is not None:
                    on_delta(piece)
        if finish == "length":
            log.warning("%s answer cut at max_tokens=%d", self.name, self.max_tokens)
        log.debug("%s answered in %.1fs: %s", self.name, time.monotonic() - t0, self.last_timings)
        return "".join(emitted)

    def _on_failure(self, exc: BaseException) -> None:
        """Hook for subclasses (the local generator checks whether its server died)."""


class LocalGenerator(OpenAICompatGenerator):
    """The same OpenAI-compatible path against a llama.cpp server this generator starts on first use.

    The server (``bot.llm_server.LocalLLMServer``) runs in a child process; if it dies, the failing
    request raises ``GeneratorError`` and the next one restarts it. After a failed start, new starts are
    not attempted for ``retry_after_s`` (each question falls back immediately instead of waiting).
    Answers are constrained by ``citation_grammar`` (every sentence ends with [n] of a sent passage, or
    the prompt's exact refusal) unless ``constrain_citations=False``. ``warm_up()`` starts the server
    ahead of the first question; ``close()`` stops it.
    """

    name = "local"

    def __init__(self, settings: Settings, *, server: Any = None, retry_after_s: float = 60.0, **kwargs: Any) -> None:
        from bot.llm_server import LocalLLMServer

        kwargs.setdefault("prompt", load_prompt(settings.prompt_name, settings.prompt_version))
        kwargs.setdefault("timeout_s", settings.openai_timeout_s)
        kwargs.setdefault("context_tokens", settings.llm_context)
        kwargs.setdefault("constrain_citations", True)
        super().__init__(base_url="http://127.0.0.1:0/v1", model="local", **kwargs)
        self.settings = settings
        self.server = server if server is not None else LocalLLMServer(settings, context=settings.llm_context)
        self.retry_after_s = retry_after_s
        self._failed_at: float | None = None

    def _client(self) -> openai.OpenAI:
        from bot.llm_server import LLMServerError
        from bot.models import LLMInstallError

        with self._lock:
            if not self.server.running:
                if self._failed_at is not None and time.monotonic() - self._failed_at < self.retry_after_s:
                    raise GeneratorError("the local LLM server failed to start recently; not retrying yet")
                if self._openai is not None:
                    log.warning("local LLM server is not running any more; restarting it")
                self._openai = None
                try:
                    self.server.start()
                except (LLMServerError, LLMInstallError, OSError) as exc:
                    self._failed_at = time.monotonic()
                    raise GeneratorError(f"local LLM server unavailable: {exc}") from exc
                self._failed_at = None
                self.base_url = self.server.base_url
                self.api_key = self.server.api_key
                self.model = self.server.model_id
                self._can_tokenize = None
        return super()._client()

    def request_timeout(self, prompt_tokens: int) -> float:
        """On a CPU the first token comes only after the whole prompt is read (1.5B on 2 cores: ~20 tokens/s),
        so allow for that on top of ``timeout_s``, using the speed measured on the previous answer."""
        speed = (self.last_timings or {}).get("prompt_per_second") or 0.0
        speed = min(max(float(speed), 5.0), 200.0) if speed else 10.0
        return self.timeout_s + prompt_tokens / speed

    def warm_up(self) -> None:
        """Start the server now and have it read the prompt's constant part (system message and worked
        examples) into its prompt cache, so the first question only pays for its passages. Call it from a
        background thread at app start; failures raise ``GeneratorError``."""
        client = self._client()
        messages = self.prompt.render(question="", passages="")
        try:
            self.last_timings = None
            client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=1, temperature=0.0,  # type: ignore[arg-type]
                timeout=self.request_timeout(self.count_tokens(render_messages(messages))),
            )
        except (openai.APIError, httpx.HTTPError) as exc:
            raise GeneratorError(f"local LLM warm-up failed: {exc}") from exc

    def _on_failure(self, exc: BaseException) -> None:
        if not self.server.running:
            log.error("local LLM server died (exit code in its log): %s", exc)

    def close(self) -> None:
        with self._lock:
            self.server.stop()
            self._openai = None


def local_generator(settings: Settings, **kwargs: Any) -> LocalGenerator:
    return LocalGenerator(settings, **kwargs)


__all__ = ["OpenAICompatGenerator", "LocalGenerator", "local_generator", "render_messages"]
