"""The dialogue step, ahead of retrieval: what kind of message is this?

Every message is labelled ``policy`` (a question for the documents), ``chitchat`` (greetings, thanks, farewells,
"what can you do / who are you"), ``off_domain`` (another topic), ``abuse`` or ``unclear`` (too short or noise to
mean anything). Only ``policy`` messages are retrieved for and answered from the documents; the others get a short
reply of our own, with no quote and no citation (:func:`reply`).

Whole-message phrases come first (:func:`phrase_intent`: "cảm ơn bạn nhé", "hi", "👍", "đồ ngu", from
``bot/data/dialogue_phrases.tsv``). Otherwise the classifier decides: a multinomial logistic model over the query
vector the retriever computes anyway (the embedder caches it), a few cheap signals of the message's form
(:func:`form_features`) and which of a fitted vocabulary's words and word pairs the message holds, compared without
marks (:func:`lexical_terms`: "haha", "nau", "thue tncn", "cap lai"). Its weights are per embedding
model, in ``bot/data/dialogue_model.json``, fitted on the development split of ``data/dialogue/messages.jsonl`` and
the team's development questions by ``python -m workshop.train_dialogue``. When unsure it retrieves: a message is
taken as a non-question only when the model gives ``policy`` less than the file's ``policy_threshold``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bot.answer.reader import logistic
from vectorstore.text import content_words, fold, words

Intent = Literal["policy", "chitchat", "off_domain", "abuse", "unclear"]
MODEL_FILE = Path(__file__).resolve().parent.parent / "data" / "dialogue_model.json"
SCHEMA = 2
FORM_FEATURES = ("log_words", "question_mark", "digits", "short")
# a follow-up or a new question: how well each reading's evidence answers, and the message's own substance
FOLLOW_UP_FEATURES = ("alone", "joined", "gain", "content_words", "shared", "repeats", "short")

COVERAGE = (
    "Tôi là trợ lý hỏi đáp về cải cách hành chính (CCHC): thủ tục hành chính, dịch vụ công, văn bản pháp luật "
    "và chỉ đạo của Chính phủ, Thủ tướng về CCHC trong kho tài liệu. Mỗi câu trả lời trích nguyên văn tài liệu "
    "và ghi rõ nguồn; khi tài liệu không nói, tôi nói rõ là không có."
)
HOW_TO_ASK = "Hãy hỏi một câu cụ thể, có thể gõ không dấu hoặc dùng chữ viết tắt (TTHC, UBND, CCCD)."
# a question nothing held comes near (the reader's topic floor): no "nearest sources" — none is near
NOTHING_NEAR = (
    "Trong kho tài liệu không có nội dung nào gần với câu hỏi này. Tôi trả lời về cải cách hành chính, thủ tục "
    "hành chính và dịch vụ công, dựa trên tài liệu trong kho."
)
REPLIES: dict[str, str] = {
    "greeting": "Xin chào! " + COVERAGE,
    "about": COVERAGE,  # "bạn là ai?", "bạn làm được gì?", and any other chit-chat without a greeting in it
    "thanks": "Rất vui được giúp bạn! Nếu cần, bạn cứ hỏi tiếp về cải cách hành chính và thủ tục hành chính.",
    "farewell": "Tạm biệt bạn! Khi cần tra cứu về cải cách hành chính, thủ tục hành chính, bạn cứ quay lại.",
    "off_domain": (
        "Câu này nằm ngoài phạm vi của tôi: tôi chỉ trả lời về cải cách hành chính, thủ tục hành chính và dịch vụ "
        "công, dựa trên tài liệu trong kho."
    ),
    "abuse": "Tôi ở đây để hỗ trợ tra cứu về cải cách hành chính. Mời bạn đặt câu hỏi về nội dung đó.",
    "unclear": "Tôi chưa hiểu câu hỏi của bạn.",
}


def follow_up_features(alone: float, joined: float, message: str, previous: str) -> dict[str, float]:
    """The signals deciding whether ``message`` is read with the previous question: each reading's evidence score
    (the reader's answerability, 0 when a gate refuses), how much the message says on its own, the share of its
    words the previous question has (``shared``) and the share of the previous question's words it repeats
    (``repeats``: a new question restating its own topic)."""
    own = content_words(message)
    before = content_words(previous)
    mine, theirs = set(own), set(before)
    return {
        "alone": alone,
        "joined": joined,
        "gain": joined - alone,
        "content_words": math.log1p(len(own)),
        "shared": sum(w in theirs for w in own) / len(own) if own else 1.0,
        "repeats": sum(w in mine for w in before) / len(before) if before else 0.0,
        "short": float(len(own) <= 3),
    }


@dataclass(frozen=True)
class DialogueModel:
    """One embedding model's classifiers: the message's intent (``coef``: labels × features, ``intercept``, the
    policy threshold) and whether a message with history is a follow-up (logistic, over ``FOLLOW_UP_FEATURES``)."""

    embedder: str
    labels: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    policy_threshold: float
    vocabulary: dict[str, int] = field(default_factory=dict)  # a lexical term -> its place after the form features
    history_threshold: float = 0.0  # with history, a short message above this is a (follow-up) question
    follow_up_weights: dict[str, float] | None = None
    follow_up_bias: float = 0.0
    notes: str = ""

    def follow_up_probability(self, signals: dict[str, float]) -> float | None:
        """That the message is a follow-up (None: no follow-up model fitted)."""
        if self.follow_up_weights is None:
            return None
        return logistic(self.follow_up_bias, self.follow_up_weights, signals)

    @classmethod
    def load(cls, embedder: str, path: Path = MODEL_FILE) -> DialogueModel | None:
        """The classifier fitted for ``embedder``, or None when the file has none for it. A file of another
        schema, or whose features do not match this code, is refused (``ValueError``)."""
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if (
            data.get("schema") != SCHEMA
            or tuple(data.get("form_features", ())) != FORM_FEATURES
            or tuple(data.get("follow_up_features", ())) != FOLLOW_UP_FEATURES
        ):
            raise ValueError(f"{path}: dialogue model schema/features do not match this code; refit it")
        entry = data.get("models", {}).get(embedder)
        if entry is None:
            return None
        coef = np.asarray(entry["coef"], dtype=np.float32)
        vocabulary = {term: i for i, term in enumerate(entry.get("vocabulary", ()))}
        if coef.shape[1] != entry["dim"] + len(FORM_FEATURES) + len(vocabulary):
            raise ValueError(f"{path}: the {embedder} classifier has {coef.shape[1]} weights per label")
        return cls(
            embedder,
            tuple(entry["labels"]),
            coef,
            np.asarray(entry["intercept"], dtype=np.float32),
            float(entry["policy_threshold"]),
            vocabulary,
            float(entry.get("history_threshold", entry["policy_threshold"])),
            entry["follow_up"]["weights"] if entry.get("follow_up") else None,
            float(entry["follow_up"]["bias"]) if entry.get("follow_up") else 0.0,
            entry.get("notes", ""),
        )

    def probabilities(self, vector: np.ndarray, message: str) -> dict[str, float]:
        x = features(vector, message, self.vocabulary)
        z = self.coef @ x + self.intercept
        z = np.exp(z - z.max())
        p = z / z.sum()
        return {label: float(v) for label, v in zip(self.labels, p)}

    def classify(self, vector: np.ndarray, message: str, has_history: bool = False) -> tuple[Intent, dict[str, float]]:
        """The intent of ``message`` (its query vector given): ``policy`` unless the model is sure it is not. After
        a question, short elliptical follow-ups ("Ai cao nhất?", "Còn Đồng Tháp?") look like chit-chat on their
        own: the bar is then the lower ``history_threshold``."""
        probs = self.probabilities(vector, message)
        threshold = min(self.history_threshold, self.policy_threshold) if has_history else self.policy_threshold
        if probs.get("policy", 1.0) >= threshold:
            return "policy", probs
        other = max((p, label) for label, p in probs.items() if label != "policy")[1]
        return other, probs  # type: ignore[return-value]


PHRASES_FILE = Path(__file__).resolve().parent.parent / "data" / "dialogue_phrases.tsv"
# words that add nothing to a greeting, thanks or insult ("cảm ơn bạn nhiều nhé", "chào ad ạ")
FILLER = frozenset(
    "ban nhe nha a ah nhieu lam qua minh toi em anh chi ad admin bot oi ne nhi vay roi may tao the thi ha hihi haha "
    "hehe so very much you u bro nhe nhen nhak luon nhaa ak".split()
)
_CHITCHAT = {"greeting", "thanks", "farewell", "capability"}
_LEAD = {"greeting", "thanks"}  # what may open a message that goes on to ask ("chào bạn, cho hỏi …")
_BREAKS = frozenset(",.!;:…-–—")


@dataclass(frozen=True)
class Phrase:
    """A known phrase's label and, for one written with its marks in the file (and every insult), its marked forms:
    the message must then use one of these or no marks ("ngu" is not "ngủ", "ngữ")."""

    label: str
    marked: frozenset[tuple[str, ...]] | None


@cache
def load_phrases(path: Path = PHRASES_FILE) -> dict[tuple[str, ...], Phrase]:
    """Folded phrase -> its :class:`Phrase` (greeting, thanks, farewell, capability, abuse, injection), from the
    repo's TSV."""
    out: dict[tuple[str, ...], Phrase] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, phrase = line.split("\t", 1)
            phrase = unicodedata.normalize("NFC", phrase.strip().lower())
            folded = tuple(fold(phrase).split())
            strict = label == "abuse" or fold(phrase) != phrase
            marked = frozenset({tuple(phrase.split()), folded}) if strict else None
            known = out.get(folded)
            if known is not None and known.marked is not None and marked is not None:
                marked |= known.marked  # "như cứt" and "như cút": both forms
            out[folded] = Phrase(label, marked)
    return out


_TOKEN = re.compile(r"[^\W_]+|[^\w\s]")


@lru_cache(maxsize=1024)  # one message is scanned by several checks (whole phrases, anywhere, after an opening)
def _scan(message: str) -> tuple[tuple[str | None, str, int], ...]:
    """The message as runs, longest known phrase first: (label or None for an unknown word, its folded text, the
    end offset in the NFC message)."""
    text = unicodedata.normalize("NFC", message).lower()
    found = [(m.group(), m.end()) for m in _TOKEN.finditer(text) if m.group() not in _PUNCTUATION]
    tokens = [t for t, _ in found]
    folded = [fold(t) for t in tokens]
    phrases = load_phrases()
    longest = max((len(k) for k in phrases), default=1)
    runs: list[tuple[str | None, str, int]] = []
    i = 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            phrase = phrases.get(tuple(folded[i : i + n]))
            if phrase is not None and (phrase.marked is None or tuple(tokens[i : i + n]) in phrase.marked):
                runs.append((phrase.label, " ".join(folded[i : i + n]), found[i + n - 1][1]))
                i += n
                break
        else:
            runs.append((None, folded[i], found[i][1]))
            i += 1
    return tuple(runs)


def _phrase_labels(message: str, whole: bool) -> set[str] | None:
    """The labels of the known phrases in ``message``; with ``whole``, None unless the message is made only of them
    and filler."""
    runs = _scan(message)
    if whole and any(label is None and word not in FILLER for label, word, _ in runs):
        return None
    return {label for label, _, _ in runs if label is not None}


def phrase_labels(message: str) -> set[str]:
    """The labels of the known phrases anywhere in ``message`` ("bot ngu vãi" -> {"abuse"})."""
    return _phrase_labels(message, whole=False) or set()


def after_opening(message: str) -> str | None:
    """What a message says after an opening greeting or thanks and a break ("chào bạn, cho hỏi thủ tục cấp lại
    CCCD?" -> "cho hỏi thủ tục cấp lại CCCD?"), or None when it does not open so or says nothing more. The break
    (a comma, a full stop, "!") is required: "da nang thi sao" does not open with "dạ"."""
    text = unicodedata.normalize("NFC", message)
    runs = _scan(text)
    opened = False
    for label, word, end in runs:
        if label in _LEAD:
            opened = True
        elif not (label is None and word in FILLER):
            return None
        following = text[end:].lstrip()
        if opened and following[:1] in _BREAKS:
            rest = following.lstrip("".join(_BREAKS) + " ")
            return rest if any(label is None and w not in FILLER for label, w, _ in _scan(rest)) else None
    return None


def phrase_intent(message: str) -> Intent | None:
    """The intent of a message made only of known whole-message phrases and filler ("cảm ơn bạn nhé", "hi",
    "👍", "đồ ngu"), or None: then the classifier decides."""
    labels = _phrase_labels(message, whole=True)
    if not labels:
        return None
    if labels <= _CHITCHAT:
        return "chitchat"
    return "abuse" if labels <= {"abuse", "injection"} else None


# an emoticon ("=))", ":D", ":v", "^^", "<3", "T_T"); an emoji of displeasure is no acknowledgement
_EMOTICON = re.compile(r"[:;=xX8][-']?[()DdPpOo3vV\]\[|/\\*]+|\^[_.]?\^|<3|[tT]_[tT]")
_DISPLEASED = frozenset("😡🤬😠😤🖕💩👎")
_PUZZLED = frozenset("🤔🤷😶👀😐😑❓❔")  # "I don't follow": unclear, not an acknowledgement
_GLUM = re.compile(r"[😢😭😞😔😟😥🙁☹]|[:;=]'?-?\(|[tT]_[tT]")  # a sad reaction is not thanked


def reaction_intent(message: str) -> Intent | None:
    """The intent of a message made only of emoji and emoticons (and punctuation): a reaction, read as chit-chat
    ("😂😂", "👍🏻", ":)))", ":D" — acknowledged), abuse when it shows displeasure ("🖕"), unclear when puzzlement
    ("🤔", "🤷"); None for any other message (punctuation alone is unclear, not a reaction)."""
    shown = False
    for token in unicodedata.normalize("NFC", message).split():
        if _EMOTICON.fullmatch(token):
            shown = True
            continue
        if any(unicodedata.category(ch)[0] in "LN" for ch in token):
            return None
        shown |= any(unicodedata.category(ch) == "So" for ch in token)
    if not shown:
        return None
    marks = set(message)
    return "abuse" if _DISPLEASED & marks else "unclear" if _PUZZLED & marks else "chitchat"


def known_intent(message: str) -> Intent | None:
    """The intent decided before the classifier, or None: a message made only of known phrases ("cảm ơn bạn
    nhé", "đồ ngu") or of emoji and emoticons, an attempt to steer the assistant ("ignore previous instructions")
    or an advertisement (abuse), or no words at all (unclear)."""
    known = phrase_intent(message) or reaction_intent(message)
    if known is not None:
        return known
    if "injection" in phrase_labels(message) or advertises(message):
        return "abuse"
    return "unclear" if not words(message) else None


def what_to_read(message: str, dense_text: str) -> tuple[str, str]:
    """What the classifier reads of a message (the text to embed, the text whose form is measured): after an opening
    greeting or thanks, only what follows it ("chào bạn, cho hỏi thủ tục cấp lại CCCD?" is a policy question)."""
    rest = after_opening(message)
    if rest is None:
        return dense_text, message
    return after_opening(dense_text) or dense_text, rest


def kind_by_phrases(message: str, intent: Intent) -> Intent:
    """The kind of a message already taken for a non-question: an insult anywhere makes it abuse, a capability
    phrase ("bot này dùng để làm gì") chit-chat; otherwise the classifier's kind stands."""
    labels = phrase_labels(message)
    if labels & {"abuse", "injection"}:
        return "abuse"
    if "capability" in labels:
        return "chitchat"
    return intent


_PUNCTUATION = frozenset("?!.,;:…-–—()[]\"'“”‘’~*\ufe0f")

# a way to reach the sender: a mobile number (masked or not: "0912xxxxxx", "0987.xxx.xxx", "09xx"), a chat app, a
# link to a commercial site (not a ".gov.vn" portal a citizen may name)
_PHONE = re.compile(r"\b0\d{1,4}(?:[.\s-]?(?:\d{2,4}|x{2,})){1,3}(?!\d)", re.IGNORECASE)
_LINK = re.compile(  # "bit.ly/…", "t.me/…": a shortened link or a chat group's is one too
    r"https?://(?![\w.-]*\.gov\.vn)|www\.|\b[\w-]+\.(?:com|net|xyz|top|win|info|biz|vip|site|online|ly|me|gl|io|cc)\b"
)
_CHANNEL = re.compile(r"\b(?:zalo|inbox|ib|telegram|whatsapp)\b")
# a question word (folded), or "không" / "chưa" closing the message
_QUESTION = re.compile(
    r"\b(?:khi nao|bao gio|bao nhieu|bao lau|o dau|tai dau|ai|nao|gi|sao|the nao|cach|how|what|when|where|who|why|"
    r"which)\b|\b(?:khong|chua|a)$"
)


def advertises(message: str) -> bool:
    """Whether a message is an advertisement (spam): it gives a way to reach its sender — a phone number, a chat
    app, a commercial link — and asks nothing ("Vay nhanh 50 triệu, liên hệ 0987.xxx.xxx"; not "số 0912… gọi mạo danh
    công an thì báo ở đâu?")."""
    phone = m.group().lower() if (m := _PHONE.search(message)) else ""
    dialled = sum(ch.isdigit() for ch in phone) >= 9 or "xx" in phone
    folded = " ".join(words(fold(message)))
    reach = dialled or bool(_LINK.search(message.lower())) or bool(_CHANNEL.search(folded))
    return reach and "?" not in message and not _QUESTION.search(folded)


def form_features(message: str) -> np.ndarray:
    """Cheap signals of the message's form: its length, a question mark, digits, and very short (≤ 2 words)."""
    n = len(words(message))
    return np.array(
        [math.log1p(n), float("?" in message), float(any(ch.isdigit() for ch in message)), float(n <= 2)],
        dtype=np.float32,
    )


def lexical_terms(message: str) -> set[str]:
    """The message's words and neighbouring word pairs, without marks: "Tính thuế TNCN" -> {"tinh", "thue", "tncn",
    "tinh thue", "thue tncn"}."""
    folded = words(fold(message))
    return set(folded) | {f"{a} {b}" for a, b in pairwise(folded)}


def features(vector: np.ndarray, message: str, vocabulary: Mapping[str, int] | None = None) -> np.ndarray:
    """The classifier's input: the query vector, the form signals, and a 1 for each ``vocabulary`` term held."""
    vocabulary = vocabulary or {}
    lexical = np.zeros(len(vocabulary), dtype=np.float32)
    lexical[[vocabulary[term] for term in lexical_terms(message) if term in vocabulary]] = 1.0
    return np.concatenate([np.asarray(vector, dtype=np.float32).ravel(), form_features(message), lexical])


def reply_kind(intent: Intent, message: str) -> str:
    """Which reply an intent gets (a chitchat message is a greeting, thanks — or laughter, an acknowledgement —, a
    farewell, or else asks about us)."""
    if intent != "chitchat":
        return intent
    labels = _phrase_labels(message, whole=False) or set()
    if "farewell" in labels:
        return "farewell"
    # emoji or emoticons alone, or only laughter and filler ("haha", "hihi nha"): an acknowledgement
    if reaction_intent(message) == "chitchat":  # a sad one is answered with what we do, not thanked
        return "about" if _GLUM.search(message) else "thanks"
    if "thanks" in labels or all(fold(w) in FILLER for w in words(message.lower())):
        return "thanks"
    return "greeting" if "greeting" in labels else "about"


def suggestions(titles: Sequence[str], message: str, n: int = 2) -> list[str]:
    """``n`` questions drawn from the store's document titles (which ones depends on the message, so that two
    greetings do not always suggest the same)."""
    distinct = list(dict.fromkeys(t.strip() for t in titles if t and len(words(t)) >= 3))
    if not distinct:
        return []
    start = int(hashlib.sha256(message.encode()).hexdigest(), 16) % len(distinct)
    picked = [distinct[(start + i) % len(distinct)] for i in range(min(n, len(distinct)))]
    return [f"{_shorten(t)}: nội dung chính là gì?" for t in picked]


def _shorten(title: str, most: int = 14) -> str:
    # "Điều 5. Hồ sơ…", "Điều 18.4.TT.6.14. Trách nhiệm…" (the Bộ Pháp điển's numbering) -> "Hồ sơ…", "Trách nhiệm…"
    title = re.sub(r"^\s*Điều\s+\d+[a-z]?(?:\.[\dA-ZĐ]+)*\.\s*", "", title)
    ws = title.split()
    return " ".join(ws[:most]) + (" …" if len(ws) > most else "")


def reply(intent: Intent, message: str, titles: Sequence[str] = ()) -> str:
    """Our own short Vietnamese reply to a message that is not a policy question: what we cover, how to ask, and
    two suggested questions from the store. No quote, no citation."""
    kind = reply_kind(intent, message)
    if kind in ("greeting", "about", "off_domain", "unclear", "abuse"):
        return with_examples(REPLIES[kind], titles, message)
    return REPLIES[kind]


def with_examples(text: str, titles: Sequence[str], message: str) -> str:
    """``text``, then how to ask and two suggested questions from the store's titles."""
    text += " " + HOW_TO_ASK
    examples = suggestions(titles, message)
    return text + (" Ví dụ: " + " ".join(f"«{q}»" for q in examples) if examples else "")


def nothing_near(message: str, titles: Sequence[str] = ()) -> str:
    """The answer to a question nothing held comes near ("cách pha cà phê sữa đá" the classifier let through, a
    procedure the store does not hold): that nothing is near, what we cover, how to ask and two suggested questions
    — true of both, where the usual refusal's "nearest sources" would list what is not near."""
    return with_examples(NOTHING_NEAR, titles, message)


def is_our_reply(answer: str) -> bool:
    """Whether ``answer`` is one of our own replies to a non-question (a turn that is no context for a follow-up)."""
    return answer.startswith(tuple(REPLIES.values()))


class DialogueStep:
    """The classifier bound to the engine's embedder: the chain's ``Dialogue``."""

    def __init__(self, model: DialogueModel, embed_query: Callable[[str], np.ndarray]) -> None:
        self.model = model
        self.embed_query = embed_query  # cached: the retriever asks for the same vector next

    def classify(self, query: Any, message: str, has_history: bool) -> Intent:
        """``query`` is the parsed message (its ``dense_text`` is what the retriever embeds); ``has_history``: it
        may lean on a previous question (the lower threshold applies)."""
        known = known_intent(message)
        if known is not None:
            return known
        dense, text = what_to_read(message, query.dense_text)
        intent, _ = self.model.classify(self.embed_query(dense), text, has_history)
        if intent == "policy":
            return intent
        return kind_by_phrases(message, intent)

    def is_follow_up(self, alone: float, joined: float, message: str, previous: str) -> bool:
        """Whether to keep the reading with the previous question (by the fitted model; without one, whichever
        reading's evidence answers better)."""
        p = self.model.follow_up_probability(follow_up_features(alone, joined, message, previous))
        return joined > alone if p is None else p >= 0.5

    def reply(self, snapshot: Any, intent: Intent, message: str) -> str:
        return reply(intent, message, snapshot.titles)


__all__ = [
    "FOLLOW_UP_FEATURES",
    "FORM_FEATURES",
    "MODEL_FILE",
    "DialogueModel",
    "DialogueStep",
    "Intent",
    "advertises",
    "after_opening",
    "features",
    "follow_up_features",
    "form_features",
    "is_our_reply",
    "kind_by_phrases",
    "known_intent",
    "lexical_terms",
    "nothing_near",
    "phrase_intent",
    "phrase_labels",
    "reaction_intent",
    "reply",
    "reply_kind",
    "suggestions",
    "what_to_read",
    "with_examples",
]
