"""Per-request options and the input limits every entry point shares (chat, API, CLI, prompt lab, evaluation)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from bot.answer.timeline import check_as_of
from vectorstore.records import KINDS

if TYPE_CHECKING:
    from settings import Settings

GeneratorName = Literal["extractive", "openai", "local"]
GENERATORS: tuple[str, ...] = ("extractive", "openai", "local")
MAX_QUESTION_CHARS = 1000  # longer questions are cut (with a notice), never sent whole to a model
HISTORY_TURNS = 4  # previous (question, answer) pairs a follow-up is read with
MAX_K = 50


class InputError(ValueError):
    """A request that cannot be served as asked; ``str()`` is a Vietnamese message for the user."""


@dataclass(frozen=True)
class Weights:
    """RRF weights of the three retrieval components (0 switches a component off)."""

    dense: float = 1.0
    bm25: float = 1.0
    folded: float = 1.0

    def as_dict(self) -> dict[str, float]:
        return {"dense": self.dense, "bm25": self.bm25, "folded": self.folded}


@dataclass(frozen=True)
class AskOptions:
    """What one request may choose; ``None`` means the settings' default (see :meth:`resolve`)."""

    k: int | None = None
    kinds: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    weights: Weights | None = None
    generator: GeneratorName | None = None
    prompt_version: str | None = None
    history: tuple[tuple[str, str], ...] = field(default=(), hash=False)
    as_of: str | None = None  # only documents dated on or before this day answer ("2020-12-31", "31/12/2020", "2020")

    def resolve(self, settings: Settings) -> AskOptions:
        """Defaults filled in, limits applied, values checked (``InputError`` in Vietnamese)."""
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise InputError(f"Loại tài liệu không hợp lệ: {', '.join(sorted(unknown))} (hợp lệ: {', '.join(KINDS)})")
        generator = self.generator or settings.generator
        if generator not in GENERATORS:
            raise InputError(f"Bộ sinh câu trả lời không hợp lệ: {generator} (hợp lệ: {', '.join(GENERATORS)})")
        weights = self.weights or Weights(*settings.fusion_weights)
        if min(weights.as_dict().values()) < 0 or not any(weights.as_dict().values()):
            raise InputError(
                "Trọng số truy hồi không hợp lệ: cần ít nhất một trọng số lớn hơn 0, không có trọng số âm."
            )
        as_of = None
        if self.as_of:
            try:
                as_of = check_as_of(self.as_of)
            except ValueError:
                raise InputError(
                    f"Ngày «{clip(self.as_of, 40)}» không hợp lệ: hãy ghi ngày, tháng hoặc năm, ví dụ 31/12/2020, "
                    "12/2020, 2020 hoặc 2020-12-31."
                ) from None
        return replace(
            self,
            as_of=as_of,
            k=max(1, min(MAX_K, int(self.k or settings.k))),
            weights=weights,
            generator=generator,
            prompt_version=self.prompt_version or settings.prompt_version,
            history=tuple((clip(q), clip(a, 4 * MAX_QUESTION_CHARS)) for q, a in self.history[-HISTORY_TURNS:]),
        )


def clip(text: str, limit: int = MAX_QUESTION_CHARS) -> str:
    """Whitespace collapsed and at most ``limit`` characters."""
    return " ".join((text or "").split())[:limit]


__all__ = [
    "GENERATORS",
    "HISTORY_TURNS",
    "MAX_K",
    "MAX_QUESTION_CHARS",
    "AskOptions",
    "GeneratorName",
    "InputError",
    "Weights",
    "clip",
]
