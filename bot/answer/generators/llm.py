"""Answers written by a chat model behind any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp's server,
OpenAI), through LangChain's ``ChatOpenAI`` so callbacks, tracing and streaming are LangChain's own.

:class:`LLMGenerator` is cheap: one per request (prompt version, endpoint), all sharing one ``ChatOpenAI`` per
endpoint and, for the local model, one llama.cpp process per model file (``bot.models.server.LLMServers``).
Passages are fitted into ``context_tokens`` minus the answer budget before sending: measured with the server's
``POST /tokenize`` when it has one (llama.cpp does), else estimated at 2.5 characters per token; the passages the
reader ranked lowest are dropped first, then the last one kept is truncated. Timeouts, HTTP errors and empty
answers raise ``GeneratorError`` so the chain can fall back to the extractive answer. Against llama.cpp the
answer can be grammar-constrained (``citation_grammar``) so that even a 0.5B model ends every sentence with a
valid [n] marker or writes the prompt's exact refusal.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import httpx
import openai
from langchain.chat_models import init_chat_model

from bot.answer.generators.base import Draft, GeneratorError
from bot.answer.types import Candidate, Passage
from prompts import PromptTemplate, format_passages

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 2.5  # fallback estimate when the server cannot tokenize (conservative for Vietnamese)
MESSAGE_OVERHEAD_TOKENS = 6  # chat-template tokens around each message (<|im_start|>role\n ... <|im_end|>\n)
SAFETY_MARGIN_TOKENS = 32
MIN_TRUNCATED_TOKENS = 48  # a passage cut shorter than this is dropped instead
PROMPT_TOKENS_PER_S = 10.0  # the slowest prompt reading measured here (1.5B on 2 busy cores: ~20 tokens/s)
ELLIPSIS = " …"
_FAILURES = (openai.APIError, httpx.HTTPError, ValueError)  # ValueError: a body that is not an answer
CONNECT_TIMEOUT_S = 10.0


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


class Endpoint:
    """One OpenAI-compatible server: its ``ChatOpenAI`` and its token counter (shared by every prompt)."""

    def __init__(self, base_url: str, model: str, api_key: str, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.chat = init_chat_model(
            model,
            model_provider="openai",  # LangChain's ChatOpenAI, pointed at base_url
            base_url=self.base_url,
            api_key=api_key,
            temperature=0.0,
            max_retries=0,  # the chain falls back instead of making the user wait twice
            streaming=True,
            timeout=timeout_s,  # seconds, a plain number: whatever transport the client runs on
        )
        self._can_tokenize: bool | None = None  # None: not probed yet
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the server's tokenizer when it has one, else an estimate."""
        if self._can_tokenize is not False:
            try:
                n = self._tokenize(text)
            except (httpx.HTTPStatusError, ValueError, KeyError, TypeError) as exc:
                log.info("no /tokenize at %s (%s); estimating %.1f chars/token", self.base_url, exc, CHARS_PER_TOKEN)
                self._can_tokenize = False
            except httpx.HTTPError:
                if self._can_tokenize:
                    raise  # it worked before: the server is in trouble, let the caller report it
            else:
                self._can_tokenize = True
                return n
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def _tokenize(self, text: str) -> int:
        root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        r = httpx.post(
            f"{root}/tokenize",
            json={"content": text, "add_special": False},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=min(CONNECT_TIMEOUT_S, self.timeout_s),
        )
        r.raise_for_status()
        tokens = r.json()["tokens"]
        if not isinstance(tokens, list):
            raise ValueError("unexpected /tokenize answer")
        return len(tokens)


class LLMGenerator:
    """Streams a cited answer from a chat model with one prompt version."""

    def __init__(
        self,
        name: str,
        endpoint: Endpoint | Callable[[], Endpoint],
        prompt: PromptTemplate,
        *,
        context_tokens: int = 4096,
        max_tokens: int = 300,
        constrain_citations: bool = False,
        prompt_tokens_per_s: float | None = None,
    ) -> None:
        self.name = name
        self._endpoint = endpoint  # a callable starts a local server on first use
        self.prompt = prompt
        self.context_tokens = context_tokens
        self.max_tokens = max_tokens
        self.constrain_citations = constrain_citations  # llama.cpp servers only (sends a GBNF ``grammar``)
        self.prompt_tokens_per_s = prompt_tokens_per_s  # CPU servers: the first token waits for the prompt

    @property
    def prompt_id(self) -> str:
        return self.prompt.id

    def endpoint(self) -> Endpoint:
        if isinstance(self._endpoint, Endpoint):
            return self._endpoint
        return self._endpoint()

    # --- Generator protocol ---------------------------------------------------------
    def stream(
        self, question: str, passages: Sequence[Passage], evidence: Sequence[Candidate] = ()
    ) -> Iterator[str | Draft]:
        endpoint = self.endpoint()
        try:
            kept, prompt_tokens = self._fit(endpoint, question, passages)
            values = {"question": question, "passages": kept}
            body: dict[str, Any] = {"max_tokens": self.max_tokens}
            if self.constrain_citations and kept:
                body["grammar"] = citation_grammar([p.n for p in kept], self.prompt.refusal)
            pieces: list[str] = []
            for piece in self._chat(endpoint, self.prompt.messages(**values), body, prompt_tokens):
                pieces.append(piece)
                yield piece
        except _FAILURES as exc:
            raise GeneratorError(f"{self.name} generator failed: {type(exc).__name__}: {exc}") from exc
        text = "".join(pieces).strip()
        if not text:
            raise GeneratorError(f"{self.name} generator returned an empty answer")
        refused = self.prompt.is_refusal(text)
        yield Draft(
            "" if refused else text,
            self.prompt.id,
            refused=refused,
            rendered_prompt=render_messages(self.prompt.render(**values)),
        )

    def condense(self, condense_prompt: PromptTemplate, question: str, history: Sequence[tuple[str, str]]) -> str:
        """Rewrite a follow-up into a standalone question (one short line); ``GeneratorError`` on failure."""
        turns = [(role, text) for q, a in history for role, text in (("user", q), ("assistant", a))]
        messages = condense_prompt.messages(history=turns, question=question)
        endpoint = self.endpoint()
        try:
            text = "".join(
                self._chat(endpoint, messages, {"max_tokens": 80}, sum(len(str(m.content)) for m in messages) // 3)
            )
        except _FAILURES as exc:
            raise GeneratorError(f"{self.name} condense failed: {exc}") from exc
        line = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not line:
            raise GeneratorError("empty condensed question")
        return line

    def request_timeout(self, endpoint: Endpoint, prompt_tokens: int) -> float:
        """Seconds to wait for each piece of the answer; on a CPU the first one waits for the whole prompt."""
        if self.prompt_tokens_per_s:
            return endpoint.timeout_s + prompt_tokens / self.prompt_tokens_per_s
        return endpoint.timeout_s

    def _chat(self, endpoint: Endpoint, messages: Any, body: dict[str, Any], prompt_tokens: int) -> Iterator[str]:
        """Stream the model's text pieces (leading blanks dropped). Closing the iterator closes the request,
        which stops the server generating: that is how a user's "stop" cancels an answer. An answer that takes
        longer than the timeout, or a stream that ends without the server saying it finished, is an error."""
        timeout = self.request_timeout(endpoint, prompt_tokens)
        deadline = time.monotonic() + timeout  # for the whole answer: a server that trickles is cut off too
        started = finished = False
        for chunk in endpoint.chat.stream(messages, extra_body=body, timeout=timeout):
            finished = finished or bool(chunk.response_metadata.get("finish_reason"))
            piece = chunk.content if isinstance(chunk.content, str) else ""
            if not started:
                piece = piece.lstrip()
                started = bool(piece)
            if piece:
                yield piece
            if time.monotonic() > deadline:
                raise GeneratorError(f"the answer took longer than {timeout:.0f} s")
        if not finished:  # the connection closed mid-answer: what came is not the model's whole answer
            raise GeneratorError("the stream ended before the model finished its answer")

    # --- context budget ---------------------------------------------------------------
    def fit_passages(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """The passages that fit ``context_tokens - max_tokens``: highest scores first, whole; the first
        that does not fit is truncated (if a useful part fits), the rest dropped. Returned in ``n`` order."""
        return self._fit(self.endpoint(), question, passages)[0]

    def _fit(self, endpoint: Endpoint, question: str, passages: Sequence[Passage]) -> tuple[list[Passage], int]:
        memo: dict[str, int] = {}

        def count(text: str) -> int:
            if text not in memo:
                memo[text] = endpoint.count_tokens(text)
            return memo[text]

        def messages_tokens(kept: Sequence[Passage] | str) -> int:
            rendered = self.prompt.render(question=question, passages=kept)
            return sum(count(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in rendered) + MESSAGE_OVERHEAD_TOKENS

        budget = self.context_tokens - self.max_tokens - SAFETY_MARGIN_TOKENS
        used = messages_tokens("")
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
                cut = _truncate(p, room, count)
                if cut is not None:
                    kept.append(cut)
            break
        kept.sort(key=lambda p: p.n)
        total = used
        # the parts were counted separately; check the whole once and shrink if joins cost more
        for _ in range(3):
            total = messages_tokens(kept)
            if total <= budget or not kept:
                break
            last = max(kept, key=lambda p: (-p.score, p.n))  # the lowest-scored one
            cut = _truncate(last, count(format_passages([last])) - (total - budget) - 8, count)
            kept = sorted([k for k in kept if k is not last] + ([cut] if cut is not None else []), key=lambda p: p.n)
        if len(kept) < len(passages):
            log.info("context budget %d tokens: kept %d/%d passages", budget, len(kept), len(passages))
        return kept, total


def _truncate(p: Passage, tokens: int, count: Callable[[str], int]) -> Passage | None:
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


__all__ = ["Endpoint", "LLMGenerator", "citation_grammar", "render_messages"]
