"""The answer chain (LCEL), each step a typed runnable over one :class:`Turn`:

    understand (the dialogue step: a policy question, or chitchat / off-domain / abuse / unclear, answered with a
      short reply of our own and no retrieval) -> resolve (with history: the message alone and the message read
      with its context, each retrieved, read and gated; the reading whose evidence answers better is kept)
      -> [retrieve (the hybrid BaseRetriever) -> read (evidence sentences) -> gate (refusal: no sources, not
      covered, a named detail missing)] -> generate + verify citations

The last step is a generator: ``chain.stream()`` yields :class:`AnswerChunk` pieces of the draft as the model
writes them, and a last chunk holding the verified :class:`Answer`; ``chain.invoke()`` adds the chunks up. No
generator's words reach the user without the citation verifier's approval, and refusal is a typed outcome.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal, Protocol

from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator, RunnableLambda

from bot.answer.citations import Citation, verify
from bot.answer.dialogue import Intent, is_our_reply, nothing_near, phrase_intent, phrase_labels
from bot.answer.generators.base import Draft, Generator, GeneratorError, collect
from bot.answer.grounding import (
    folded_key,
    known_names,
    missing_specifics,
    proper_names,
    states_its_specifics,
    worded,
)
from bot.answer.options import AskOptions
from bot.answer.query import ParsedQuery, load_glossary
from bot.answer.reader import ANSWERING, Reader, Reading, asked_term, same_content
from bot.answer.relations import asks_comment
from bot.answer.retriever import HybridRetriever
from bot.answer.timeline import (
    Chronology,
    QuestionTime,
    covered_years,
    in_time,
    replaced_note,
    time_of,
    when_said,
    written_as_of,
)
from bot.answer.types import Candidate, Hit, Passage
from vectorstore.details import Detail, extract
from vectorstore.records import Document, date_key, vi_date
from vectorstore.text import content_words, fold, has_diacritics, is_english, sentence_spans, words

log = logging.getLogger(__name__)

REFUSAL = "Tài liệu hiện có không đề cập đến nội dung này."
MODEL_UNAVAILABLE = (
    "Mô hình ngôn ngữ không trả lời được lúc này; câu trả lời dưới đây được trích nguyên văn từ tài liệu."
)
MODEL_UNVERIFIED = (
    "Câu trả lời của mô hình ngôn ngữ không kiểm chứng được bằng tài liệu; câu trả lời dưới đây "
    "được trích nguyên văn từ tài liệu."
)
RefusalReason = Literal["no_sources", "off_topic", "missing_specifics", "no_answer", "generator", "unverified"]


@dataclass(frozen=True)
class Refusal:
    """Why the answer is a refusal, and the details of the question that no source contains."""

    reason: RefusalReason
    missing: tuple[str, ...] = ()


@dataclass
class Answer:
    """The result of one question; ``to_dict()`` is the ``ask --json`` contract."""

    question: str
    answer: str
    citations: list[Citation]
    hits: list[Hit]
    prompt_version: str
    timings_ms: dict[str, float]
    refusal: Refusal | None = None
    id: str | None = None
    standalone_question: str = ""
    notices: list[str] = field(default_factory=list)
    rendered_prompt: str = ""
    dropped_claims: list[str] = field(default_factory=list)
    generator: str = ""
    coverage: float = 0.0  # best share of the question's content words found in one passage sentence
    answerability: float = 0.0  # the reader's probability that its best sentence answers the question
    intent: Intent = "policy"  # the dialogue step's label; anything else is our own reply, without sources
    follow_up: bool = False  # the message was read with the previous turn (its evidence answered better)

    @property
    def refused(self) -> bool:
        return self.refusal is not None

    @property
    def missing(self) -> list[str]:
        return list(self.refusal.missing) if self.refusal else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "refusal_reason": self.refusal.reason if self.refusal else None,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [h.to_dict(i) for i, h in enumerate(self.hits, start=1)],
            "prompt_version": self.prompt_version,
            "timings_ms": self.timings_ms,
            "standalone_question": self.standalone_question,
            "notices": self.notices,
            "generator": self.generator,
            "coverage": round(self.coverage, 4),
            "answerability": round(self.answerability, 4),
            "missing": self.missing,
            "intent": self.intent,
            "follow_up": self.follow_up,
        }


@dataclass(frozen=True)
class AnswerChunk:
    """A piece of a streamed answer: draft text as it is written, and (last) the verified answer."""

    text: str = ""
    answer: Answer | None = None

    def __add__(self, other: AnswerChunk) -> AnswerChunk:
        return AnswerChunk(self.text + other.text, other.answer or self.answer)


@dataclass
class Turn:
    """The chain's state for one question."""

    question: str
    options: AskOptions  # resolved
    id: str | None = None
    started: float = field(default_factory=time.perf_counter)
    snapshot: Any = None  # the corpus snapshot pinned for the whole turn
    standalone: str = ""
    query: ParsedQuery | None = None
    hits: list[Hit] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    reading: Reading | None = None
    refusal: Refusal | None = None
    timings: dict[str, float] = field(default_factory=dict)
    intent: Intent = "policy"
    follow_up: bool = False
    readings: tuple[float, float] | None = None  # with history: the evidence scores (alone, with its context)
    leans_back: bool = False  # not a question alone, but may ask about the previous one (see ``may_lean_back``)
    time: QuestionTime = field(default_factory=QuestionTime)  # what time the question asks about

    @property
    def evidence_score(self) -> float:
        """How well this reading's evidence answers: 0 when a gate refuses, else the reader's answerability."""
        if self.refusal is not None or self.reading is None:
            return 0.0
        return self.reading.probability


class Dialogue(Protocol):
    """The dialogue step as the chain needs it (``bot.answer.dialogue``, bound to the engine's embedder)."""

    def classify(self, query: ParsedQuery, message: str, has_history: bool) -> Intent: ...

    def reply(self, snapshot: Any, intent: Intent, message: str) -> str: ...

    def is_follow_up(self, alone: float, joined: float, message: str, previous: str) -> bool: ...


@dataclass(frozen=True)
class ChainParts:
    """What the chain needs from the engine (all long-lived; per-request choices come from ``Turn.options``)."""

    snapshot: Callable[[], Any]  # the current CorpusSnapshot
    retriever: Callable[[Any, AskOptions], HybridRetriever]
    generator: Callable[[AskOptions], Generator]
    extractive: Generator
    condense: Callable[[str, Sequence[tuple[str, str]], AskOptions], str]
    get_document: Callable[[str], Document | None]
    reader: Reader
    dialogue: Dialogue | None = None  # None: every message is a policy question
    similarity: Callable[[str, Sequence[str]], Sequence[float]] | None = None  # (query text, sentences) -> cosines


# what asks (the previous question's) and what only points back (the message's), as folded word runs
_ASKING = ("ngay nao", "khi nao", "bao gio", "bao nhieu", "bao lau", "the nao", "nhu the nao", "ra sao", "la gi",
           "o dau", "la ai", "nao", "gi", "ai", "may", "khong", "chua", "vay", "a", "nhi")  # fmt: skip
_POINTING = ("thi sao", "the con", "con", "vay", "the", "thi", "nhi", "a", "do", "nay", "kia")
_SAME_KIND = ("year", "ordinal", "date", "doc_number")


def _without(text: str, runs: Sequence[str]) -> list[str]:
    """``text``'s tokens (as typed) without the folded word runs listed (longest first)."""
    tokens = re.findall(r"[^\W_]+(?:[-./][^\W_]+)*|\S", text)
    folded = [fold(t) for t in tokens]
    keep = [True] * len(tokens)
    for run in sorted(runs, key=lambda r: -len(r.split())):
        parts = run.split()
        for i in range(len(tokens) - len(parts) + 1):
            if all(keep[i + j] and folded[i + j] == parts[j] for j in range(len(parts))):
                for j in range(len(parts)):
                    keep[i + j] = False
    return [t for t, k in zip(tokens, keep) if k and t not in "?!.,;:"]


def condense_heuristic(question: str, history: Sequence[tuple[str, str]]) -> str:
    """Without a language model, the message read with its context (whether that reading is kept is decided by
    the evidence, in the chain's resolve step, not by the message's first word):

    - a message that only swaps a detail of the previous question ("Còn năm 2022 thì sao?", "còn phiên thứ bảy?")
      is that question with the detail swapped;
    - otherwise the message comes first (its question words decide what is asked), then what the previous
      question was about, without its own question words: "Ai chủ trì phiên họp đó? Phiên họp thứ năm … diễn ra".
    """
    if not history:
        return question
    return _joined(question, meant_question(history))


def _joined(question: str, previous: str) -> str:
    swapped = _swap_detail(question, previous)
    if swapped:
        return swapped
    topic = " ".join(_without(previous, _ASKING))
    return f"{question.rstrip()} {topic}".strip()


def meant_question(history: Sequence[tuple[str, str]]) -> str:
    """The conversation's last question as it was meant: an elliptical one ("còn Hải Phòng?" after "Hà Nội đạt bao
    nhiêu phần trăm PAR Index 2023?", "còn vùng Đông Nam Bộ?") is read with the question before it as it was meant,
    back along the conversation — so "Đà Nẵng thì sao?" next still asks about PAR Index 2023."""
    meant = ""
    for question, _ in history[-MEANT_TURNS:]:
        meant = _joined(question, meant) if meant and elliptical(question) else question
    return meant


MEANT_TURNS = 8  # how far back a chain of swapped details is followed


def swaps_detail(message: str, history: Sequence[tuple[str, str]]) -> bool:
    """Whether the message, after a question, only names a detail ("Đà Nẵng thì sao?", "còn năm 2022?"): a follow-up
    by its form, whatever it looks like alone."""
    return bool(history) and only_a_detail(message) is not None


# a body's name goes on in lower case ("Bộ Nội vụ", "Ban Chỉ đạo"): its capitalised syllables are not all of it
_BODY_WORDS = frozenset("bo ban so cuc tong uy van toa vien hoi ngan trung phong chi vu".split())


def _cut_short(name: str, text: str) -> bool:
    """Whether ``name`` (capitalised syllables) is only the start of a body's name in ``text`` ("Bộ Nội" of "Bộ Nội
    vụ"): swapping it would leave the rest behind ("Đà Nẵng vụ"). A known name ("Ngân hàng Nhà nước") is whole."""
    if name in known_names(text):
        return False
    following = text[text.find(name) + len(name) :].split()[:1]
    next_word = following[0] if following else ""
    return fold(name.split()[0]) in _BODY_WORDS and next_word[:1].isalpha() and next_word[:1].islower()


def _swap_detail(question: str, previous: str) -> str:
    """``previous`` with its name, year, date, ordinal or document number replaced by the message's one of the same
    kind, when the message says nothing else; "" when it does not apply."""
    detail = only_a_detail(question)
    if isinstance(detail, str):  # "Còn Đồng Tháp?" after "Quảng Ninh đạt bao nhiêu điểm PCI…?"
        theirs_named = proper_names(previous)
        if len(theirs_named) != 1 or _cut_short(theirs_named[0], previous):
            return ""
        return previous.replace(theirs_named[0], detail, 1)
    if detail is None:
        return ""
    theirs = [d for d in extract(previous) if d.kind == detail.kind]
    if len(theirs) != 1:
        return ""
    return previous[: theirs[0].start] + detail.text + previous[theirs[0].end :]


def only_a_detail(message: str) -> str | Detail | None:
    """The one name ("Đà Nẵng thì sao?") or year, date, ordinal or document number ("còn năm 2022?") a message says
    beside pointing words; None when it says anything else."""
    mine = [d for d in extract(message) if d.kind in _SAME_KIND]
    if len(mine) == 1:
        rest = _without(message[: mine[0].start] + " " + message[mine[0].end :], _POINTING)
        rest = [t for t in rest if fold(t) not in {"nam", "lan", "phien", "hop", "ky", "ngay", "thang", "so"}]
        return None if rest else mine[0]
    named, own = proper_names(message), _without(message, _POINTING)
    while own and named and fold(own[0]) in _PLACE_CLASS and not named[0].startswith(own[0]):
        own = own[1:]  # "còn vùng Đông Nam Bộ?" names "Đông Nam Bộ"
    phrase = " ".join(own)  # the name as far as it goes: "Bộ Nội vụ", of which "Bộ Nội" is capitalised
    if (
        len(named) != 1
        or not phrase.startswith(named[0])
        or len(own) > MAX_NAME_WORDS
        or _without(phrase, _ASKING) != own
    ):
        return None
    return phrase


MAX_NAME_WORDS = 6  # "Bộ Lao động - Thương binh và Xã hội" is one
_PLACE_CLASS = frozenset("vung tinh thanh pho tp huyen quan xa phuong".split())  # the kind of place a name is


_POINTING_MARKED = frozenset("còn vậy thế thì nhỉ à đó này kia ấy đấy nữa".split())  # as typed with marks
_POINTING_WORDS = frozenset(map(fold, _POINTING_MARKED))  # as typed without: "do" may be "đó" (or "độ", "đô")
_NOW = re.compile(r"\b(?:hien|ngay|bay gio|luc|hom) nay\b")  # "nay" here is "now", not "này"


def _spelt(text: str) -> str:
    """``text`` folded without blanks: "Đà Nẵng" is spelt as "Danang" is."""
    return folded_key(text).replace(" ", "")


def _context_lacks(refusal: Refusal | None, message: str) -> bool:
    """Whether a reading with context was refused only for details the message itself does not name ("Đà Nẵng" of
    a previous question, for "Khi nào phải hoàn thành kết nối dữ liệu?")."""
    if refusal is None or refusal.reason != "missing_specifics" or not refusal.missing:
        return False
    own = fold(message)
    return not any(fold(detail) in own for detail in refusal.missing)


def _as_restored(snapshot: Any, text: str) -> str:
    """``text`` as the corpus snapshot restores it when typed without marks; a message that only names something
    with the name capitalised as the corpus writes it ("da nang thi sao" → "Đà Nẵng thì sao")."""
    if has_diacritics(text):
        return text
    restored = str(snapshot.parse(text).restored)
    cased = str(snapshot.cased(restored))
    return cased if isinstance(only_a_detail(cased), str) else restored


def _speaks_to(joined: Turn, message: str) -> bool:
    """Whether a follow-up reading may be kept: a message that points back ("còn", "này", "thì sao", …) or has at
    most two words of its own ("Ai cao nhất?") is elliptical; any other must find one of its own words in the
    sentence the joined reading would quote — "hiện nay cả nước có bao nhiêu tỉnh" after a question on a meeting is
    a new question, however well the meeting's sentence answers the joined reading."""
    best = joined.reading.best if joined.reading else None
    if best is None or joined.refusal is not None or elliptical(message):
        return True
    return bool(_own_words(message) & set(content_words(best.text)))


def _echoes(sentence: str, own: set[str]) -> bool:
    """Whether ``sentence`` holds more than half of a message's ``own`` words ("Gia Lai đứng thứ 19" for "gia lai
    xep thu may")."""
    return 2 * len(own & set(content_words(sentence))) > len(own) > 0


def _own_words(message: str) -> set[str]:
    """The message's content words, its asking words ("bao nhiêu", "ai") and "hiện nay" left out."""
    return set(content_words(" ".join(_without(_NOW.sub(" ", fold(message)), _ASKING))))


DEFINITION_K = 10  # passages read for "X là gì?" (chosen on the definitions' development split)
_LEADS_BACK = re.compile(r"^(?:the |vay |the thi |vay thi )?con\b|\bthi sao\b")  # "Còn phiên họp thứ năm?"


def questions_of(history: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The conversation's questions: a "cảm ơn", a "xin chào" or an off-topic request in between (our own reply
    answered it) is no context for a follow-up."""
    return tuple((q, a) for q, a in history if phrase_intent(q) is None and not is_our_reply(a))


def terse(message: str) -> bool:
    """Whether a message has at most two words of its own ("Ai cao nhất?", "khi nao")."""
    return len(_own_words(message)) < 3


def elliptical(message: str) -> bool:
    """Whether a message may lean on the previous one: it is terse or points back ("còn", "này", "thì sao", …)."""
    return terse(message) or points_back(message)


def points_back(message: str) -> bool:
    """Whether a message holds a pointing word: "còn", "thế", "đó", "thì sao" … ("thế nào" asks, it does not
    point). Typed with marks, the marks decide ("chế độ", "hôm nay" do not point); an English message has none of
    them ("Do you …")."""
    if is_english(message):
        return False
    typed = " ".join(_without(message, ("nhu the nao", "the nao"))).lower()
    if has_diacritics(typed):
        return bool(_POINTING_MARKED & set(typed.split()))
    return bool(_POINTING_WORDS & set(words(_NOW.sub(" ", fold(typed)))))


# a question word or "còn …": after a question, a terse "Khi nào?" or "o dau vay" asks about it
_ASKS = re.compile(
    r"\b(?:khi nao|bao gio|ngay nao|nam nao|bao nhieu|bao lau|may|o dau|tai dau|ai|nao|the nao|ra sao|con|thi sao|"
    r"when|where|who|which|how|what about)\b"
)


def asks(message: str) -> bool:
    """Whether a message holds an asking or pointing-back word ("khi nào", "bao nhiêu", "còn", "thì sao"); typed
    with marks, "mấy" asks and "mày", "máy" do not ("mày liệu hồn")."""
    kept = [f for f, w in zip(words(fold(message)), words(message)) if f != "may" or w in ("may", "mấy")]
    return bool(_ASKS.search(" ".join(kept)))


def may_follow(message: str) -> bool:
    """Whether a message after a question is held to the lower bar of a possible follow-up: it is elliptical and
    asks or points back ("Ai chủ trì?", "con da nang"; not "oki nha", "dcm nhu cc", "mày liệu hồn")."""
    return elliptical(message) and asks(message)


def asks_after(message: str) -> bool:
    """Whether a message, after a question, may ask about it however unclear it looks alone: it is terse and may
    lean back ("Khi nào?", "o dau vay" yes; "hả", "test", "asdfgh" no)."""
    return terse(message) and may_lean_back(message)


_OPENS_ASKING = re.compile(r"^(?:ai|khi nao|bao gio|o dau|tai dau|bao nhieu|bao lau|ngay nao|nam nao|who|when|where)\b")


def opens_asking(message: str) -> bool:
    """Whether a message opens with a question word ("Ai ký?", "khi nao vay"; not "có ai trực không")."""
    return bool(_OPENS_ASKING.match(" ".join(words(fold(message)))))


def may_lean_back(message: str) -> bool:
    """Whether a message the classifier took for a non-question may still, after a question, ask about it: it asks
    or points back ("ai nam o nhom c", "da nang thi sao"), has at most four words of its own and holds no insult
    (a "dạ" or "cảm ơn" in it may be part of the question: "cảm ơn, còn Đà Nẵng?")."""
    return asks(message) and len(_own_words(message)) <= 4 and not phrase_labels(message) & {"abuse", "injection"}


def refusal_text(
    hits: Sequence[Hit],
    missing: Sequence[str] = (),
    chronology: Chronology | None = None,
    as_of: str | None = None,
) -> str:
    """The refusal, naming the details no source contains, the nearest sources and the newest date the store
    holds on the topic, so the user can look further (and, asked as of a day, that only texts until then counted)."""
    text = REFUSAL
    if as_of:
        text = text[:-1] + f" (chỉ xét tài liệu đến ngày {vi_date(as_of)})."
    if missing:
        text = text[:-1] + " (không thấy: " + ", ".join(f"«{m}»" for m in missing) + ")."
    titles = list(dict.fromkeys(h.chunk.title for h in hits[:3]))
    if titles:
        text += " Nguồn gần nhất: " + "; ".join(titles) + "."
    newest = chronology.newest([h.chunk.doc_id for h in hits[:3]]) if chronology else None  # of those named
    if chronology is not None and newest is not None:
        title = next(h.chunk.title for h in hits if h.chunk.doc_id == newest)
        text += f" Tài liệu mới nhất về chủ đề này: «{title}» ({when_said(chronology.of(newest))})."
    return text


def dated_answer(turn: Turn, text: str, citations: list[Citation]) -> tuple[str, list[Citation], list[str]]:
    """The verified answer said as of its source's date ("Theo tài liệu ngày 10/6/2025: …"), an older source quoted
    beside a newer one labelled with its date ("Trước đó, theo tài liệu năm 2022: …"), each citation with its
    document's dates and, for a replaced text, what replaced it; plus the notices the user must see."""
    chronology: Chronology = turn.snapshot.chronology
    dated = [_dated(c, chronology) for c in citations]
    notices: list[str] = []
    lead = chronology.of(dated[0].doc_id)
    if turn.time.present and len(dated) > 1:
        claims = re.split(r"(?<=\]\.)\s+", text)
        for i, claim in enumerate(claims[1:], start=1):
            numbers = {int(n) for n in re.findall(r"\[(\d+)\]", claim)}
            older = [c for c in dated if c.n in numbers and c.doc_id != dated[0].doc_id]
            if older and 0 < date_key(chronology.when(older[0].doc_id)) < date_key(chronology.when(dated[0].doc_id)):
                claims[i] = f"Trước đó, theo tài liệu {when_said(chronology.of(older[0].doc_id))}: {claim}"
        text = " ".join(claims)
    said = written_as_of(lead)
    if said:
        text = f"{said}: {text}"
    if turn.options.as_of:
        text = f"Tính đến ngày {vi_date(turn.options.as_of)} (chỉ dùng tài liệu đến ngày đó). {text}"
    for c in dated:
        if c.superseded_by and c.superseded_by not in notices:
            notices.append(f"Lưu ý: {c.number} trong nguồn [{c.n}] {c.superseded_by[0].lower()}{c.superseded_by[1:]}.")
    return text, dated, notices


def _dated(citation: Citation, chronology: Chronology) -> Citation:
    t = chronology.of(citation.doc_id)
    replaced = chronology.replaced_by(citation.doc_id)
    return replace(citation, date=t.date, effective=t.effective, number=t.number,
                   superseded_by=replaced_note(replaced) if replaced else "")  # fmt: skip


def build_chain(parts: ChainParts) -> tuple[Runnable[Turn, Turn], Runnable[Turn, AnswerChunk]]:
    """The LCEL chains, input a :class:`Turn` (question + resolved options): the reading part (up to the gate, a
    ``Turn`` out: what evaluation and reader training look at) and the whole chain (:class:`AnswerChunk` s out)."""

    def understand(turn: Turn) -> Turn:
        snapshot = parts.snapshot()
        query = snapshot.parse(turn.question)
        options = turn.options
        asked = QuestionTime(as_of=options.as_of, past=True) if options.as_of else time_of(turn.question)
        if asked.as_of and not options.as_of:  # "theo quy định năm 2020": only what was written by then answers
            options = replace(options, as_of=asked.as_of)
        if options.k is not None and options.k < DEFINITION_K and asked_term(turn.question):
            options = replace(options, k=DEFINITION_K)  # "X là gì?": the defining passage is one of many naming X
        turn = replace(turn, snapshot=snapshot, standalone=turn.question, query=query, options=options, time=asked)
        if parts.dialogue is None:
            return turn
        started = time.perf_counter()
        after_question = bool(questions_of(turn.options.history))
        intent = parts.dialogue.classify(query, turn.question, after_question and may_follow(turn.question))
        # after a question, "Khi nào?" or "Ai chủ trì?" asks about it, however it looks alone (not "hả", "test"; a
        # message the classifier took for chit-chat only when it opens with the asking word: not "bạn bao nhiêu tuổi")
        if (
            after_question
            and asks_after(turn.question)
            and (intent == "unclear" or (intent == "chitchat" and opens_asking(turn.question)))
        ):
            intent = "policy"
        leans_back = after_question and intent != "policy" and may_lean_back(turn.question)
        return replace(turn, intent=intent, leans_back=leans_back, timings={**turn.timings, "understand": _ms(started)})

    def retrieve(turn: Turn, config: RunnableConfig) -> Turn:
        started = time.perf_counter()
        retriever = parts.retriever(turn.snapshot, turn.options)
        hits = retriever.hits(retriever.invoke(turn.standalone, config))
        return replace(turn, hits=hits, timings={**turn.timings, "retrieve": _ms(started)})

    def answer_from_documents(turn: Turn, config: RunnableConfig) -> Turn:
        return gate(read(retrieve(turn, config)))

    def resolve(turn: Turn, config: RunnableConfig) -> Turn:
        """Retrieve, read and gate; with history, for the message alone and for it read with its context, keeping
        the reading whose evidence answers better (a new question is answered as itself, an elliptical
        follow-up with what it refers to). "X là gì?" taken for off-topic or chit-chat is answered when the
        documents define X (the store's own scope: a legal corpus defines "lý lịch tư pháp")."""
        if turn.intent in ("off_domain", "chitchat") and asked_term(turn.question):  # "Lý lịch tư pháp là gì?"
            defined = answer_from_documents(replace(turn, intent="policy"), config)
            return turn if defined.refusal is not None else defined  # in scope when the documents define it
        if turn.intent != "policy" and not turn.leans_back:
            return turn
        history = questions_of(turn.options.history)
        if turn.intent != "policy":  # "Ai cao nhất?": a follow-up only if its context's documents say it
            message = _as_restored(turn.snapshot, turn.question)  # typed without marks: as restored, names cased
            joined = read_with_context(replace(turn, intent="policy"), message, history, config, echoing=True)
            if joined is None or (joined.refusal is not None and not swaps_detail(message, history)):
                return turn  # a message that only swaps a detail ("Đà Nẵng thì sao?") asks that: refused as it
            return replace(joined, follow_up=True, readings=(0.0, joined.evidence_score))
        alone = answer_from_documents(turn, config)
        if not history:
            return alone
        message = _as_restored(turn.snapshot, turn.question)
        # "còn Bộ Nội vụ thì sao?": read with its context, only a sentence naming Bộ Nội vụ answers
        joined = read_with_context(turn, message, history, config, echoing=isinstance(only_a_detail(message), str))
        if joined is None:
            return alone
        scores = alone.evidence_score, joined.evidence_score
        if parts.dialogue is not None:
            follow_up = parts.dialogue.is_follow_up(*scores, turn.question, history[-1][0])
        else:
            follow_up = scores[1] > scores[0]
        if alone.refusal is not None and joined.refusal is not None:  # no evidence either way: by its form
            follow_up = terse(turn.question) or bool(_LEADS_BACK.search(" ".join(words(fold(turn.question)))))
        elif _context_lacks(joined.refusal, turn.question) and not elliptical(turn.question):
            follow_up = False  # a full question the documents answer, refused only for a detail of its context
        follow_up = follow_up and _speaks_to(joined, turn.question)
        return replace(joined if follow_up else alone, follow_up=follow_up, readings=scores)

    def read_with_context(
        turn: Turn, message: str, history: Sequence[tuple[str, str]], config: RunnableConfig, echoing: bool = False
    ) -> Turn | None:
        """The message (``message``: as restored, see :func:`_as_restored`) read with the previous question
        (``None`` when the condenser leaves it as it is); with ``echoing``, only sentences holding more than half of
        the message's own words (of the one name it swaps in, if so) may answer ("Quảng Ninh … cao nhất" for "Ai cao
        nhất?", not the previous question's answer again)."""
        # typed without marks, read as restored: "con phien hop thu hai" swaps in "thứ hai", which the reader knows
        history = [(_as_restored(turn.snapshot, q), a) for q, a in history]
        joined_text = parts.condense(message, history, turn.options)
        if joined_text == message:
            return None
        joined = read(retrieve(replace(turn, standalone=joined_text, query=turn.snapshot.parse(joined_text)), config))
        reading = joined.reading
        if echoing and reading is not None:
            named, own = only_a_detail(message), _own_words(turn.question)
            if isinstance(named, str):  # a name the message swaps in: the quoted sentence must name it ("Danang")
                if reading.best is None or _spelt(named) not in _spelt(reading.best.text):
                    kept = [c for c in reading.candidates if _spelt(named) in _spelt(c.text)]
                    joined = replace(joined, reading=parts.reader.judged(kept, reading.closeness))
            else:
                kept = [c for c in reading.candidates if _echoes(c.text, own)]
                joined = replace(joined, reading=parts.reader.judged(kept, reading.closeness))
        return gate(joined)

    def read(turn: Turn) -> Turn:
        passages = [
            Passage(
                n=i,
                doc_id=h.chunk.doc_id,
                chunk_id=h.chunk.chunk_id,
                title=h.chunk.title,
                kind=h.chunk.kind,
                text=h.chunk.text,
                score=h.score,
                comment_no=h.chunk.comment_no,
                source=h.chunk.source,
            )
            for i, h in enumerate(turn.hits, start=1)
        ]
        assert turn.query is not None
        query = turn.query
        similarity = None if parts.similarity is None else partial(parts.similarity, query.dense_text)
        chronology = turn.snapshot.chronology
        spoken = {d: chronology.years(d) for d in {p.doc_id for p in passages}}
        reading = parts.reader.read(query.restored, passages, turn.snapshot.idf, similarity, spoken)
        if not asks_comment(query.restored):  # "Theo bạn đọc, …": the reader's own words are the answer
            passages, reading = _prefer_official(passages, reading, parts.get_document)
        ordered = in_time(reading.candidates, chronology, turn.time, parts.reader.model.threshold)
        return replace(turn, passages=passages, reading=replace(reading, candidates=ordered))

    def gate(turn: Turn) -> Turn:
        assert turn.query is not None
        if not turn.passages:
            return replace(turn, refusal=Refusal("no_sources"))
        documents = (parts.get_document(d) for d in dict.fromkeys(p.doc_id for p in turn.passages))
        missing = missing_specifics(
            turn.query.text,
            [t for p in turn.passages for t in (p.title, p.text)],
            load_glossary(),
            (d.text for d in documents if d is not None),  # read only when a glossary term needs them
        )
        best = turn.reading.best if turn.reading else None  # the sentence that would be quoted speaks for its year
        missing = covered_years(missing, [best.passage.doc_id] if best else [], turn.snapshot.chronology)
        if best is not None and best.features.get("foreign"):  # an English source says "provincial", not "cấp tỉnh"
            missing = [m for m in missing if m not in worded(turn.query.text, load_glossary())]
        if missing:
            return replace(turn, refusal=Refusal("missing_specifics", tuple(missing)))
        if turn.reading is None or turn.reading.probability < parts.reader.model.threshold:
            return replace(turn, refusal=Refusal("no_answer"))
        return turn

    def generate(turns: Iterator[Turn]) -> Iterator[AnswerChunk]:
        for turn in turns:
            yield from _answer(parts, turn)

    def in_topic(turn: Turn) -> Turn:
        """The reading kept (alone or with its context) is refused when nothing held comes near it ("cách nấu phở
        bò" that the dialogue step let through): whatever its words match, it is never quoted — unless the best
        sentence states the question's own specifics (a session's ordinal, a name, a document number)."""
        if turn.intent != "policy" or turn.refusal is not None or not parts.reader.off_topic(turn.reading):
            return turn
        assert turn.reading is not None and turn.query is not None
        best = turn.reading.best
        if best is not None and states_its_specifics(turn.query.text, f"{best.lead}\n{best.text}", load_glossary()):
            return turn
        return replace(turn, refusal=Refusal("off_topic"))

    reading = (
        RunnableLambda(understand, name="understand")
        | RunnableLambda(resolve, name="resolve")
        | RunnableLambda(in_topic, name="in_topic")
    )
    return reading, reading | RunnableGenerator(generate, name="generate_and_verify")


def _reply(parts: ChainParts, turn: Turn) -> AnswerChunk:
    """Our own reply to a message that is not a policy question: no retrieval, no quote, no citation."""
    assert parts.dialogue is not None
    text = parts.dialogue.reply(turn.snapshot, turn.intent, turn.question)
    answer = Answer(
        question=turn.question,
        answer=text,
        citations=[],
        hits=[],
        prompt_version="",
        timings_ms={**turn.timings, "total": _ms(turn.started)},
        id=turn.id,
        standalone_question=turn.question,
        generator="dialogue",
        intent=turn.intent,
    )
    return AnswerChunk(answer=answer)


def _answer(parts: ChainParts, turn: Turn) -> Iterator[AnswerChunk]:
    if turn.intent != "policy":
        yield _reply(parts, turn)
        return
    started = time.perf_counter()
    extractive = parts.extractive
    uses_model = turn.options.generator != "extractive"
    generator = parts.generator(turn.options) if turn.refusal is None else extractive
    fallback = extractive if uses_model else None
    notices: list[str] = []
    draft: Draft | None = None
    evidence = turn.reading.candidates if turn.reading else []
    answering = [c.text for c in evidence[:1]] + [c.text for c in evidence[1:] if c.probability >= ANSWERING]
    if turn.refusal is None:
        assert turn.query is not None
        question = turn.query.restored if fallback is None else turn.standalone
        passages = turn.passages if fallback is None else _evidence_passages(turn.passages, evidence)
        try:
            for item in generator.stream(question, passages, evidence):
                if isinstance(item, Draft):
                    draft = item
                else:
                    yield AnswerChunk(item)
        except Exception as exc:  # a client library's own error types count too: the user gets the extractive answer
            if isinstance(exc, GeneratorError):
                log.warning("generator %s failed, falling back to extractive: %s", generator.name, exc)
            else:
                log.exception("generator %s raised %s, falling back to extractive", generator.name, type(exc).__name__)
            notices.append(MODEL_UNAVAILABLE)
            generator, fallback, draft = extractive, None, _draft(extractive, turn)
    refusal = turn.refusal
    checked = None
    dropped: list[str] = []
    if draft is not None and draft.refused:
        refusal = Refusal("generator")
    elif draft is not None:
        checked = verify(draft.text, turn.passages, parts.get_document, answering, turn.standalone)
        dropped = checked.dropped
        if not checked.citations and fallback is not None:
            notices.append(MODEL_UNVERIFIED)
            sent_prompt = draft.rendered_prompt  # the model did read it: show it (prompt lab) though unused
            generator, draft = extractive, _draft(extractive, turn)
            draft.rendered_prompt = sent_prompt
            checked = (
                None
                if draft.refused
                else verify(draft.text, turn.passages, parts.get_document, answering, turn.standalone)
            )
        if checked is None or not checked.citations:
            refusal = refusal or Refusal("generator" if draft.refused else "unverified")
    citations: list[Citation] = []
    if refusal is not None and refusal.reason == "off_topic":
        text = nothing_near(turn.question, turn.snapshot.titles)
    elif refusal or checked is None:
        text = refusal_text(turn.hits, refusal.missing if refusal else (), turn.snapshot.chronology,
                            turn.options.as_of)  # fmt: skip
    else:
        text, citations, dated_notices = dated_answer(turn, checked.text, checked.citations)
        notices += dated_notices
    answer = Answer(
        question=turn.question,
        answer=text,
        citations=citations,
        hits=turn.hits,
        prompt_version=draft.prompt_version if draft else generator.prompt_id,
        timings_ms={**turn.timings, "generate": _ms(started), "total": _ms(turn.started)},
        refusal=refusal,
        id=turn.id,
        standalone_question=turn.standalone,
        notices=[*(draft.notices if draft else []), *notices],
        rendered_prompt=draft.rendered_prompt if draft else "",
        dropped_claims=dropped,
        generator=generator.name,
        coverage=evidence[0].coverage if evidence else 0.0,
        answerability=turn.reading.probability if turn.reading else 0.0,
        follow_up=turn.follow_up,
    )
    yield AnswerChunk(answer=answer)


def _draft(extractive: Generator, turn: Turn) -> Draft:
    assert turn.query is not None
    return collect(
        extractive.stream(turn.query.restored, turn.passages, turn.reading.candidates if turn.reading else [])
    )


def _prefer_official(
    passages: list[Passage], reading: Reading, get_document: Callable[[str], Document | None]
) -> tuple[list[Passage], Reading]:
    """When the best sentence is a reader's comment repeating the page it comments on, read the page's own
    sentence instead (added as one more passage): the policy is quoted from the official text, not a comment."""
    best = reading.best
    if best is None or best.passage.kind != "comment":
        return passages, reading
    comment = get_document(best.passage.doc_id)
    page = get_document(comment.parent_id) if comment is not None and comment.parent_id else None
    if page is None:
        return passages, reading
    for start, end in sentence_spans(page.text):
        sentence = page.text[start:end]
        if same_content(sentence, best.text):
            official = Passage(len(passages) + 1, page.doc_id, f"{page.doc_id}@{start}", page.title, page.kind,
                               sentence, best.passage.score, page.comment_no, page.source)  # fmt: skip
            first = replace(best, passage=official, text=sentence)
            return [*passages, official], replace(reading, candidates=[first, *reading.candidates])
    return passages, reading


def _evidence_passages(passages: list[Passage], evidence: Sequence[Candidate], most: int = 3) -> list[Passage]:
    """What a chat model reads: the passages holding the reader's best sentences (at most ``most``, keeping
    their numbers), not every retrieved one — a shorter prompt, a faster answer, fewer distractions."""
    keep: list[int] = []
    for c in evidence:
        if (c.probability >= ANSWERING or not keep) and c.passage.n not in keep:
            keep.append(c.passage.n)
        if len(keep) == most:
            break
    return [p for p in passages if p.n in keep] or passages[:most]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


__all__ = [
    "REFUSAL",
    "Answer",
    "AnswerChunk",
    "ChainParts",
    "Refusal",
    "Turn",
    "build_chain",
    "condense_heuristic",
    "meant_question",
    "only_a_detail",
    "refusal_text",
    "swaps_detail",
]
