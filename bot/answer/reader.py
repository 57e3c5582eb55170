"""The reader: which sentence of the retrieved passages answers the question, and whether any does.

Candidates are the sentences of the top passages and, for long sentences, their clauses (split at ";"), each with
its document title. Each candidate gets a few signals, measured on the team's development questions
(``python -m workshop.train_reader --ablate``; what did not pay its way is in the README):

- ``lexical``: the IDF-weighted share of the question's content syllables (and pairs) in the sentence (folded,
  acronyms and expansions standing for each other), and the same over the title (``title``);
- ``type_expected`` / ``type_found``: the answer type the question asks (organisation, place, person, number,
  percentage, date, duration, money) and whether the sentence holds such a thing that the question does not
  already hold;
- ``constraints`` / ``in_sentence``: the share of the question's details (years, dates, document numbers and
  ordinals compared by meaning — "27/4/2021" is "April 27"; levels, names, glossary terms as words) found in the
  sentence or its title, and in the sentence alone; for a sentence in another language than the question, only
  the details both languages write alike (:func:`bot.answer.grounding.worded`), when the question names any;
- ``conflict`` (a hard rule, not a weight): the sentence is about another year or another ordinal (meeting, round)
  than the question names; or, for a question asking a figure, a date, a place or a body, lacks the name the
  question attaches it to; or, asked a number, percentage, date or duration, holds none; or speaks of another
  time than the question (another day, or by its document's date, :func:`out_of_time`); or, asked which legal text,
  names none the question does not (:func:`names_new_text`); or does not state the relation asked — who chaired,
  signed, ranked first, fell the most; the event a date is asked of; the group a figure is of; a penalty
  (``bot.answer.relations``); or says only "not" of what the question asks (:func:`denies_asked`); or, asked what
  a reader wrote ("Theo bạn đọc, …", "bình luận thứ tám"), is not a comment, or not that one; or, asked what a
  term is ("TTHC là gì?"), does not define it (:func:`defines`); it never answers;
- ``missing``: the rarest question word found neither in the sentence nor in its title (IDF, relative);
- ``rank``: the passage's retrieval rank; ``comment``: the sentence is a reader's comment;
- ``semantic``: the cosine similarity of the question's vector to the sentence's (stored at ingest, see
  ``vectorstore.sentences``), standardised among the candidates of the sentence's language; ``foreign``: the
  sentence's passage is in English and the question is not, and then its word signals (``lexical``, ``title``,
  ``missing``), which cannot be observed across languages, are those of the same-language candidate nearest in
  ``semantic`` (:func:`impute_word_signals`).

Two logistic models (weights per embedding model in ``bot/data/reader_model*.json``, see :func:`model_file`,
refitted by the command above) turn the signals
into the probability that a candidate answers, and the best candidate's signals into the probability that the
question is answered at all (the answerability, compared with the threshold chosen on the development split).
The reading also keeps its ``closeness``, the highest raw cosine of the question to a candidate: below the file's
``topic_floor`` nothing held is about the question, and it is refused whatever its words match
(:meth:`Reader.off_topic`).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import cast

import numpy as np

from bot.answer.grounding import folded_key, meant_specifics, proper_names, stated_details, states, worded
from bot.answer.query import everyday_phrases
from bot.answer.relations import (
    asked_event,
    asked_group,
    asked_role,
    asks_comment,
    by_readers,
    comment_number,
    denies_asked,
    lacks_role,
    other_event,
    other_group,
    statements_required,
)
from bot.answer.types import Candidate, Passage
from vectorstore.details import DateValue, Detail, DocValue, Kind, matches
from vectorstore.details import extract as extract_details
from vectorstore.text import content_words, fold, has_diacritics, is_english, led_items, reading_units, words

MODEL_FILE = Path(__file__).resolve().parent.parent / "data" / "reader_model.json"  # EmbeddingGemma's (the default)
DEFAULT_SPACE = "embeddinggemma"


def model_file(embedding_space: str) -> Path:
    """The reader's weights for an embedding model (its retrieval and its sentence vectors shape the signals):
    ``reader_model.json`` for EmbeddingGemma, ``reader_model@<model>.json`` beside it for another."""
    if embedding_space == DEFAULT_SPACE:
        return MODEL_FILE
    return MODEL_FILE.with_name(f"reader_model@{embedding_space.replace('/', '_')}.json")


FEATURES = ("lexical", "title", "type_expected", "type_found", "constraints", "in_sentence",
            "conflict", "missing", "rank", "comment", "semantic", "foreign", "semantic_foreign")  # fmt: skip
WORD_SIGNALS = ("lexical", "title", "missing")  # what a candidate in another language cannot share with the question
ANSWER_FEATURES = (*FEATURES, "best", "margin")  # the question-level model: the best candidate's signals + its score
ANSWERING = 0.5  # a candidate at least this probable is an answering sentence (quoted, verified against)

# asked for these, a sentence without one cannot answer
_FIGURES = frozenset({"number", "percent", "date", "duration", "money", "person", "titled", "place", "org"})
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_BODIES = "Bộ|Ngân hàng|Văn phòng|Thanh tra|Ủy ban|Uỷ ban|Tổng cục|Cục|Sở"
# a body: its keyword and a word ("bộ phận" is a unit, not a body), or a people's committee or council
_ORG = re.compile(rf"\b(?:{_BODIES}|Ban|Ministry|Bank)\s+(?!phận\b)\w|\b(?:UBND|HĐND)\b", re.I)
# a body by name: its keyword and a capitalised word ("Bộ Tư pháp", "UBND TP.HCM"; not "nhiều bộ đã")
_NAMED_ORG = re.compile(rf"\b(?i:{_BODIES}|Ban|Ministry of|Bank of)\s+(?:the\s+)?[A-ZĐ][\w.-]*|\b(?:UBND|HĐND)\b")
_ASKS_NAMED_ORG = re.compile(r"\b(?:bo|bo nganh|ngan hang) nao\b|\bwhich ministry\b")  # "cơ quan nào" may be a kind
# a body by its name ("Bộ Xây dựng", "Bộ KH-CN", "Ngân hàng Nhà nước"): the keyword and the capitalised word after it
_BODY = re.compile(rf"\b(?:{_BODIES})\s+[A-ZĐÂĂÊÔƠƯÁÀẢÃẠÉÈÍÌÓÒÚÙÝ][\w-]*")
_DATE = re.compile(r"\b\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?\b|\b(?:ngày|tháng|năm|quý)\s+\d+|\b(?:19|20)\d\d\b", re.I)
_DURATION = re.compile(r"\d+\s*(?:ngày|tháng|năm|giờ|tuần|phút|days?|months?|years?)", re.I)
_MONEY = re.compile(
    r"\d[\d.,]*\s*(?:đồng|nghìn|ngàn|triệu|tỷ|vnđ|vnd|đ\b|usd)|(?:vnđ|vnd|usd)\s*\d|miễn\s+(?:phí|lệ phí|thu)"
    r"|không\s+(?:thu|mất)\s+(?:phí|lệ phí|tiền)|free of charge|\bfree\b",
    re.I,
)
# who: a person, an official's title or role, or a body acting as one ("Ai chủ trì" is not answered by dates alone)
_PERSON = re.compile(
    r"\b(?:thu tuong|bo truong|thu truong|chu tich|truong ban|pho truong ban|giam doc|tong bi thu|chu nhiem|"
    r"nguoi|ong|ba|dong chi|can bo|cong chuc|vien chuc|lanh dao|cong dan|ca nhan|co quan|uy ban|ubnd|"
    r"chinh phu|prime minister|minister|chairman|chairwoman|president|director|head|official|citizen)\b"
)
_BOUND_BEFORE = re.compile(r"\b(?:truoc|den|toi|tu|sau|by|before|until|since|as of)\s+(?:ngay\s+)?$", re.I)
_PLACE_ACRONYM = re.compile(r"\b(?:TP\.?\s?HCM|TPHCM|HCMC)\b")  # a place written as letters ("TP.HCM có 168 xã")
# folded, up to a name's first syllable: a body's keyword, or a person's title before the name
_NOT_A_PLACE = re.compile(
    r"\b(?:(?:bo|ban|uy ban|van phong|ngan hang|cuc|tong cuc|so|thanh tra|chinh phu|quoc hoi|trung tam)|"
    r"(?:thu tuong|bo truong|thu truong|chu tich|truong ban|giam doc|ong|ba|dong chi|bi thu)\s+\w+)$"
)
_PLACE_BEFORE = re.compile(r"\b(?:tai|o|tinh|thanh pho|huyen|xa|quan|phuong|in|at)\s*$", re.I)  # "tại Hà Nội"
# "thủ tục cấp lại CCCD", "cần giấy tờ gì", "làm thế nào": how to do something, answered by what to file, bring or
# where to go — not by the fee ("Cấp lại thẻ CCCD … là 35.000 đồng") nor by when a fee applies
_PROCEDURE_ASKED = re.compile(
    r"^(?:(?:cho (?:toi|minh|em|chau) )?(?:hoi|xin hoi) )?(?:thu tuc(?! hanh chinh)|quy trinh|trinh tu"
    r"|cach (?:lam|dang ky|xin|cap|doi|nop|thuc hien))\b"
    r"|\b(?:giay to|ho so|thu tuc) (?:gi|nao|gom|bao gom|nhu the nao|the nao|ra sao)\b"
    r"|\b(?:giay to|ho so)\b.*\b(?:gom|bao gom) (?:nhung )?(?:gi|nao)\b"
    r"|\bcan (?:nhung |mang )?(?:giay to|ho so|gi)\b"
    r"|^(?:lam|xin|dang ky|nop|doi|cap)\b.*\b(?:nhu the nao|the nao|ra sao)$|\bhow (?:to|do|can)\b|\bwhat documents\b"
)
_PROCEDURE_STEPS = re.compile(
    r"\b(?:ho so|giay to|to khai|nop|xuat trinh|mang theo|trinh tu|cac buoc|buoc|thu tuc|dang ky|truc tuyen|"
    r"dich vu cong|tiep nhan|tra ket qua|ngay lam viec|co quan cong an|cong an (?:cap )?(?:xa|phuong|huyen|quan|tinh)|"
    r"application|submit|documents?|online|apply)\b"
)
# "X là gì?" asks what X is: answered only by a sentence that defines X ("X là …", "X (…) là …", "X gồm …").
# Not when X names an attribute of something ("Điều kiện dự tuyển là gì?", "Tên tỉnh mới là gì?"): those ask a value
_DEFINITION_ASKED = re.compile(
    r"^(?:(?:cho (?:minh|toi|em|chau) )?(?:hoi|xin hoi) )?(?:(?:the|vay|con|thi) )*(?P<term>.+?) "
    r"(?:la gi|nghia la gi|co nghia la gi|duoc hieu la gi|duoc hieu nhu the nao|la cai gi)$"
    r"|^what (?:is|are) (?:an? |the )?(?P<english>.+)$"
)
_DEFINER = r"(?:la|duoc hieu la|duoc goi la|co nghia la|nghia la|gom|bao gom|is|are|means|refers to)\b"
_DEFINES = re.compile(r"[”\"’']?\s*(?:\([^)]{0,40}\)\s*)?(?::|,?\s*" + _DEFINER + ")")
# opening its sentence or list item, the term may be qualified before the definer ("Cơ chế một cửa trong giải quyết
# thủ tục hành chính là …", "Nơi cư trú của công dân là …")
_QUALIFIED = re.compile(r"[”\"’']?(?:\s+[^\W_]+){1,8}?\s+" + _DEFINER)
_CLAUSE_BREAKS = frozenset(",;:“\"‘'(")  # the term opens a clause ("Trong Nghị định này, dữ liệu mở được hiểu là …")
_ITEM_START = re.compile(r"^\s*(?:(?:\d+|[a-z])[.)]\s*)?[“\"‘']?")
_ATTRIBUTES = re.compile(
    r"^(?:dieu kien|ho so|thu tuc|ten|so hieu|muc|le phi|phi|thoi han|noi dung|muc tieu|nhiem vu|phuong cham|"
    r"quy trinh|trinh tu|yeu cau|giay to|nguyen tac|vai tro|y nghia|ket qua|chu de|khau hieu|diem moi|quy dinh|"
    r"trach nhiem|nghia vu|doi tuong|pham vi|hinh thuc|cach|tieu chi|tieu chuan|mau|ly do|nguyen nhan|giai phap|"
    r"bien phap|dia chi|so dien thoai|email|website)\b"
)
_DEFINITION_MAX_WORDS = 8
_CALLS = re.compile(r"\b(?:goi|coi)\b")  # "Thủ tướng gọi thể chế là gì?": what someone called it
_ASKS_TEXT = re.compile(r"\b(?:nghi dinh|nd|van ban|quyet dinh|qd|thong tu|luat|nghi quyet|chi thi|decree) nao\b")
# "bao nhiêu" is answered by a number; "thứ mấy" also by an ordinal; "năm bao nhiêu" also by a date or a year;
# "số bao nhiêu" also by a text's number
_ASKS_RANK = re.compile(r"\b(?:thu may|khoa may|xep hang|rank)")
_SHARE = re.compile(r"\b\d+/\d+\b")
# what a rank written as a plain number or share follows ("xếp thứ 19/63", "hạng 5"): "97%", "4/7 chỉ số" are no rank
_RANK_WORD = re.compile(r"\b(?:thu|hang|vi tri|xep|top)\s*$")
_PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s*(?:%|phần trăm|phan tram|percent)", re.I)
_ASKS_PLACE = re.compile(r"\b(?:xep|dung|hang|vi tri|xep hang)(?: thu)? (?:may|bao nhieu)\b|\b(?:rank|ranked)\b")
_COUNTED_ORDINAL = re.compile(r"\b(?:nam|lan|ky|ky hop|khoa|phien|phien hop|dot|hoi nghi|ngay|thang|quy)\s*$", re.I)
_ASKS_BOUND = re.compile(r"\b(?:tren|duoi|hon|over|above|below|under|more than|less than) (?:bao nhieu|may)\b")
_BOUND = re.compile(r"\b(?:tren|duoi|hon|over|above|below|under|more than|less than)\s*$", re.I)
_ASKS_DAY = re.compile(r"\b(?:ngay nao|ngay bao nhieu|ngay may|what date|which day)\b")  # "ngày nào": a day
_ASKS_TEXT_NUMBER = re.compile(r"\bso (?:bao nhieu|may)\b")  # "quyết định số bao nhiêu": a text's number
# "có số hiệu là gì": only a text's number answers ("chỉ số hiệu quả" is an index)
_ASKS_CODE = re.compile(r"\bso hieu\b(?! qua)")
_ASKS_WHEN = re.compile(r"\b(?:ngay|thang|nam|year) (?:bao nhieu|may)\b")
_TEXT_RELATIONS = tuple(re.compile(rf"\b(?:{p})") for p in ("thay the|replac", "sua doi|amend", "bai bo|repeal"))
# the indexes provinces and ministries are ranked by, as folded words: a sentence on another one does not answer
_INDEXES: dict[str, re.Pattern[str]] = {
    "par": re.compile(r"\b(?:par ?index|chi so (?:cai cach hanh chinh|cchc)|administration reform index)\b"),
    "sipas": re.compile(r"\b(?:sipas|chi so hai long|satisfaction index)\b"),
    "papi": re.compile(r"\bpapi\b"),
    "pci": re.compile(r"\b(?:pci|chi so nang luc canh tranh|competitiveness index)\b"),
    "ict": re.compile(r"\bict ?index\b"),
}
# an official's title, folded: "pho thu tuong nao" asks who held it ("Phó Thủ tướng Trần Lưu Quang")
_TITLES = r"((?:pho )?(?:thu tuong|bo truong|thu truong|chu tich|giam doc|truong ban|bi thu|tong bi thu))"
_ASKS_TITLED = re.compile(rf"\b{_TITLES} nao\b")  # "Phó Thủ tướng nào …?": a holder of that title
_QUESTION_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("percent", re.compile(r"\b(phan tram|ty le|bao nhieu %|percent)")),
    ("org", re.compile(r"\b(bo nao|co quan nao|bo nganh nao|don vi nao|nganh nao|ngan hang nao|ministry)\b")),
    ("place", re.compile(r"\b(tinh|thanh pho|dia phuong|quoc gia|dia ban|vung(?: kinh te(?: xa hoi)?)?|khu vuc) nao")),
    ("where", re.compile(r"\b(o dau|tai dau|noi nao)\b")),  # a named place or a kind of one ("công an cấp xã")
    ("duration", re.compile(r"\b(bao lau|trong vong bao nhieu|mat bao nhieu (ngay|thang|nam))\b")),
    # "… đã có hiệu lực chưa?" asks since when it is in force
    ("date", re.compile(r"\b(khi nao|(?:ngay|nam|thang|thoi diem) nao|bao gio|luc nao|han chot|hieu luc chua)\b")),
    ("money", re.compile(r"\b(le phi|phi|muc thu|fee|cost)\b.*\b(bao nhieu|may|how much)\b|\bbao nhieu tien\b")),
    ("number", re.compile(r"\b(bao nhieu|may|thu may|so luong|diem so|dat .* diem|so hieu(?! qua))\b")),
    ("titled", _ASKS_TITLED),
    ("person", re.compile(r"\b(ai|nguoi nao|ong nao|ba nao)\b")),
)


@dataclass(frozen=True)
class Reading:
    """The reader's verdict: candidates best first, and the probability that the best one answers."""

    candidates: list[Candidate]
    probability: float = 0.0  # that the best candidate answers the question (answerability)
    closeness: float = 1.0  # the highest cosine of the question to a candidate: how near the store comes to it

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class ReaderModel:
    """Two logistic models: which candidate answers (over :data:`FEATURES`), and whether the best one does (over
    :data:`ANSWER_FEATURES`); the refusal threshold on the latter was chosen on the development split."""

    weights: dict[str, float]
    bias: float
    answer_weights: dict[str, float]
    answer_bias: float
    threshold: float
    notes: str = ""
    embedder: str = ""  # the embedding model whose retrieval the weights were fitted on
    # for a candidate in another language than the question, the word signals cannot be observed: they are taken
    # from its nearest same-language candidate, or with none from these lines, (intercept, slope) over the semantic
    # signal fitted on the development questions' same-language candidates (see impute_word_signals)
    imputed: dict[str, tuple[float, float]] = field(default_factory=dict)
    # below this closeness nothing in the store is about the question ("cách nấu phở"): off-topic, never quoted
    topic_floor: float = 0.0

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> ReaderModel:
        """The weights file, refused (``ValueError``) unless its schema names exactly this code's signals."""
        data = json.loads(path.read_text(encoding="utf-8"))
        schema = data.get("schema") or {}
        if (
            tuple(schema.get("features", ())) != FEATURES
            or tuple(schema.get("answer_features", ())) != ANSWER_FEATURES
            or set(data["weights"]) != set(FEATURES)
            or set(data["answer_weights"]) != set(ANSWER_FEATURES)
        ):
            raise ValueError(
                f"{path}: the reader's weights were fitted for other signals than this code computes "
                f"(file: {schema.get('features')}, code: {list(FEATURES)}); refit: python -m workshop.train_reader"
            )
        imputed = {k: (float(a), float(b)) for k, (a, b) in (data.get("imputed") or {}).items()}
        if not set(imputed) <= set(WORD_SIGNALS):
            raise ValueError(f"{path}: imputed signals {sorted(imputed)} are not word signals {list(WORD_SIGNALS)}")
        return cls(
            {k: float(v) for k, v in data["weights"].items()}, float(data["bias"]),
            {k: float(v) for k, v in data["answer_weights"].items()}, float(data["answer_bias"]),
            float(data["threshold"]), data.get("notes", ""), str(schema.get("embedder", "")), imputed,
            float(data.get("topic_floor", 0.0)),
        )  # fmt: skip

    def probability(self, features: Mapping[str, float]) -> float:
        return logistic(self.bias, self.weights, features)

    def answerability(self, best: Mapping[str, float]) -> float:
        return logistic(self.answer_bias, self.answer_weights, best)


def logistic(bias: float, weights: Mapping[str, float], features: Mapping[str, float]) -> float:
    """A logistic model's probability: ``bias`` plus the weighted ``features`` (a missing one counts 0)."""
    z = bias + sum(w * features.get(name, 0.0) for name, w in weights.items())
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def answer_features(candidates: Sequence[Candidate]) -> dict[str, float]:
    """The question-level signals: the best candidate's, its score, and its lead over the runner-up."""
    if not candidates:
        return {}
    best = candidates[0]
    runner_up = candidates[1].probability if len(candidates) > 1 else 0.0
    return {**best.features, "best": best.probability, "margin": best.probability - runner_up}


Similarity = Callable[[Sequence[str]], Sequence[float]]


def semantic_signals(
    rows: list[dict[str, float]], candidates: Sequence[Candidate], similarity: Similarity | None
) -> float:
    """Add the semantic signals to each candidate's ``rows`` (which hold ``foreign``: its passage is in another
    language than the question, so its words cannot overlap the question's): ``semantic``, its cosine similarity to
    the question standardised among the candidates of its own language (cross-lingual cosines run lower than
    same-language ones, and models differ in scale), and its product with ``foreign``. Without ``similarity`` both
    are 0. Returns the highest cosine (1.0 without ``similarity``: nothing is known to be far)."""
    for row in rows:
        row["semantic"] = row["semantic_foreign"] = 0.0
    if similarity is None:
        return 1.0
    cosines = np.asarray(similarity([c.text for c in candidates]), dtype=np.float64)
    for foreign in (0.0, 1.0):
        group = [i for i, row in enumerate(rows) if row["foreign"] == foreign]
        if len(group) < 2:
            continue
        values = cosines[group]
        spread = float(values.std()) or 1.0
        for i, value in zip(group, values):
            z = max(-3.0, min(3.0, (float(value) - float(values.mean())) / spread))
            rows[i]["semantic"] = z
            rows[i]["semantic_foreign"] = z * foreign
    return float(cosines.max(initial=-1.0))


def impute_word_signals(rows: list[dict[str, float]], imputed: Mapping[str, tuple[float, float]]) -> None:
    """Replace the word signals of each foreign candidate: by those of the same-language candidate whose semantic
    signal is nearest (a foreign sentence that stands out as much as a Vietnamese one is credited with that
    one's overlap), or, with none, by their expected value given its semantic signal (``imputed``)."""
    if not imputed:
        return
    own = [row for row in rows if not row["foreign"]]
    for row in rows:
        if not row["foreign"]:
            continue
        if own:
            twin = min(own, key=lambda r: abs(r["semantic"] - row["semantic"]))
            row.update({name: twin[name] for name in imputed})
        else:
            for name, (intercept, slope) in imputed.items():
                row[name] = max(0.0, min(1.0, intercept + slope * row["semantic"]))


def question_type(question: str) -> str | None:
    """The answer type a question asks for, from its folded words (None: an open question)."""
    folded = " ".join(words(fold(question)))
    for name, pattern in _QUESTION_TYPES:
        if pattern.search(folded):
            return name
    return None


def holds_type(kind: str | None, sentence: str, question: str) -> bool:
    """Whether ``sentence`` holds an answer of ``kind`` that the question does not already hold."""
    if kind is None:
        return False
    asked = set(words(fold(question)))
    # "hơn bao nhiêu phần trăm" asks a bound: then a bound answers
    bounded = kind in ("percent", "number") and bool(_ASKS_BOUND.search(" ".join(words(fold(question)))))
    if kind == "percent":  # a value, not a bound ("đạt trên 80%" is a class, not what a province reached)
        return any(bounded or not _bound(sentence, m.start()) for m in _PERCENT.finditer(sentence))
    if kind == "titled":  # the asked title itself ("thủ tướng" is not "phó thủ tướng"), and a name
        title = _ASKS_TITLED.search(" ".join(words(fold(question))))
        written = " ".join(words(fold(sentence)))
        holds = title and any(
            not written[: m.start()].endswith("pho ") or title.group(1).startswith("pho")
            for m in re.finditer(rf"\b{title.group(1)}\b", written)
        )
        return bool(holds) and any(set(words(fold(n))) - asked for n in proper_names(sentence))
    if kind == "person":
        found = set(_PERSON.findall(" ".join(words(fold(sentence)))))
        people = [n for n in proper_names(sentence) if not _PLACE_BEFORE.search(fold(sentence[: sentence.find(n)]))]
        return bool(found - asked) or any(set(words(fold(n))) - asked for n in people)
    if kind == "number":  # a count or a rank: not the digits of a date, a year or a text's number
        folded = " ".join(words(fold(question)))
        wanted: set[Kind] = {"number"}
        wanted |= {"ordinal"} if _ASKS_RANK.search(folded) else set()
        wanted |= {"date", "year"} if _ASKS_WHEN.search(folded) else set()
        wanted |= {"doc_number"} if _ASKS_TEXT_NUMBER.search(folded) else set()
        wanted = {"doc_number"} if _ASKS_CODE.search(folded) else wanted
        said = {d.value for d in extract_details(question, wanted)}
        unit = counted(question)
        bounds = {m.start() for m in _PERCENT.finditer(sentence) if not bounded and _bound(sentence, m.start())}
        # "xếp thứ mấy" asks a place in a ranking; "năm thứ mấy", "kỳ họp thứ mấy" ask a counted ordinal
        ranked = bool(_ASKS_PLACE.search(folded))
        rank_only = ranked and unit is None  # asked only a rank ("bao nhiêu điểm và xếp thứ mấy" takes the points)
        if any(
            d.value not in said
            and d.start not in bounds
            and not _preceded_by(_REFERENCE, sentence, d.start)
            and counts(sentence, d.end, unit)
            and not (ranked and _not_a_rank(sentence, d))
            and not (rank_only and d.kind == "number" and not _preceded_by(_RANK_WORD, sentence, d.start))
            for d in extract_details(sentence, wanted)
        ):
            return True
        dated = [range(d.start, d.end) for d in extract_details(sentence, frozenset({"date", "doc_number"}))]
        return any(
            m.group() not in question
            and not any(m.start() in r for r in dated)
            and counts(sentence, m.end(), unit)
            and (not rank_only or _preceded_by(_RANK_WORD, sentence, m.start()))  # "4/7 chỉ số" is no rank
            for m in _SHARE.finditer(sentence)
        )  # "xếp thứ 19/63", "45/63 tỉnh"
    if kind == "date" and _ASKS_DAY.search(" ".join(words(fold(question)))):  # a day, not a year or a period
        said = {d.value for d in extract_details(question, frozenset({"date"}))}
        dates = extract_details(sentence, frozenset({"date"}))
        return any(cast(DateValue, d.value)[2] is not None and d.value not in said for d in dates)
    if kind in ("date", "duration", "money"):
        pattern = {"date": _DATE, "duration": _DURATION, "money": _MONEY}[kind]
        return any(set(words(fold(m.group()))) - asked for m in pattern.finditer(sentence))
    if kind == "org":
        bodies = _NAMED_ORG if _ASKS_NAMED_ORG.search(" ".join(words(fold(question)))) else _ORG
        return any(set(words(fold(sentence[m.start() : m.start() + 40]))) - asked for m in bodies.finditer(sentence))
    names = proper_names(sentence)
    if kind == "place":  # a place by name: not a body ("Bộ Nội vụ") nor a titled person ("Bộ trưởng Phạm Thị …")
        names = [n for n in names if not _NOT_A_PLACE.search(fold(sentence[: sentence.find(n) + len(n.split()[0])]))]
        names += _PLACE_ACRONYM.findall(sentence)
    return any(set(words(fold(name))) - asked for name in names)  # a place; where


_NOT_UNITS = frozenset(
    "trong so voi la cua khi thi o tai duoc nua roi vay the a nhi khong ca cac nhung nam va de ma".split()
)  # words after "bao nhiêu" that are not what it counts
_SCALE = frozenset("nghin ngan trieu ty van hon tren gan khoang chuc tram".split())
_SAME_UNIT = {"dia": {"dia", "tinh", "thanh"}, "tinh": {"tinh", "dia", "thanh"}}  # "địa phương" / "tỉnh, thành"


def counted(question: str) -> set[str] | None:
    """What "bao nhiêu" counts, as folded words ("bao nhiêu cán bộ" -> {"can"}), if a noun follows it (not an
    index: "tăng bao nhiêu Chỉ số CCHC"; "năm" as a span of years, "bao nhiêu năm thì phải đổi", not before one)."""
    tokens = [*words(fold(question)), "", ""]
    for i in range(len(tokens) - 3):
        unit, after = tokens[i + 2], tokens[i + 3]
        years = unit == "nam" and not after.isdigit()
        if tokens[i : i + 2] == ["bao", "nhieu"] and (unit not in _NOT_UNITS or years) and unit:
            if tokens[i + 2 : i + 4] == ["chi", "so"]:
                return None
            return _SAME_UNIT.get(unit, {unit})
    return None


# a number that points into a legal text ("khoản 1 Điều này", "Điều 15"), not a count
_REFERENCE = re.compile(r"\b(?:khoan|dieu|diem|chuong|muc|phu luc|article|clause|chapter)\s+$", re.I)


def _preceded_by(pattern: re.Pattern[str], sentence: str, start: int) -> bool:
    """Whether the words just before ``start`` (folded) end with ``pattern`` (a ``$``-anchored one)."""
    return bool(pattern.search(fold(sentence[max(0, start - 16) : start])))


def _not_a_rank(sentence: str, detail: Detail) -> bool:
    """An ordinal that counts years, rounds or meetings ("năm thứ 2 triển khai", "phiên họp thứ tư"), not a place
    in a ranking."""
    return detail.kind == "ordinal" and _preceded_by(_COUNTED_ORDINAL, sentence, detail.start)


def _bound(sentence: str, start: int) -> bool:
    """The figure starting at ``start`` is a bound ("trên 80%", "over 90 percent"), not a value."""
    return _preceded_by(_BOUND, sentence, start)


def counts(sentence: str, end: int, unit: set[str] | None) -> bool:
    """Whether the number ending at ``end`` counts ``unit`` ("1.497.360 tài khoản" does not count "cán bộ"); a
    sentence without Vietnamese marks (an English source) counts in its own words."""
    if unit is None or not has_diacritics(sentence):
        return True
    after = words(fold(sentence[end : end + 40]))[:4]
    while after and after[0] in _SCALE:
        after = after[1:]
    return bool(after) and after[0] in unit


def asks_text(question: str) -> bool:
    """Whether the question asks which legal text ("nghị định nào", "văn bản nào")."""
    return bool(_ASKS_TEXT.search(" ".join(words(fold(question)))))


def texts_named(text: str) -> list[Detail]:
    """The legal texts ``text`` names, as details (compared by meaning: "Nghị định 61/2018" is "61/2018/NĐ-CP")."""
    return extract_details(text, frozenset({"doc_number"}))


def relations_asked(question: str) -> list[re.Pattern[str]]:
    """The relations between texts a question asks of ("thay thế nghị định nào": replaced)."""
    folded = " ".join(words(fold(question)))
    return [p for p in _TEXT_RELATIONS if p.search(folded)]


def text_refs(text: str) -> set[tuple[str, str]]:
    """The legal texts ``text`` names whose kind it says, as (kind, number): "Chỉ thị số 23" and "23/CT-TTg" are
    both ("ct", "23")."""
    named = cast(list[DocValue], [d.value for d in texts_named(text)])
    return {(code.split("-")[0], number) for number, _, code in named if code}


def other_text(asked: set[tuple[str, str]], said: set[tuple[str, str]]) -> bool:
    """The sentence names a text of a kind the question names, and not the asked one ("Chỉ thị số 23" for "Chỉ thị
    số 32")."""
    kinds = {kind for kind, _ in asked}
    return not asked & said and any(kind in kinds for kind, _ in said)


def names_new_text(sentence: str, asked: Sequence[Detail], relations: Sequence[re.Pattern[str]]) -> bool:
    """Whether ``sentence`` names a legal text that the question does not (``asked``: :func:`texts_named`), and
    states the ``relations`` the question asks of it (a sentence that says "thay thế")."""
    if all(matches(named, asked) for named in texts_named(sentence)):
        return False
    folded = " ".join(words(fold(sentence)))
    return all(p.search(folded) for p in relations)


def asked_term(question: str) -> str | None:
    """The term a question asks the meaning of ("TTHC là gì?" -> "tthc"; "what is PAPI" -> "papi"), folded; None
    when it asks no definition, or asks the value of an attribute ("Điều kiện dự tuyển công chức là gì?")."""
    m = _DEFINITION_ASKED.match(" ".join(words(fold(question))))
    term = m and (m.group("term") or m.group("english"))
    if not term or len(term.split()) > _DEFINITION_MAX_WORDS or _ATTRIBUTES.match(term) or _CALLS.search(term):
        return None
    return term


@lru_cache(maxsize=256)  # one question's term is matched against every candidate sentence
def _term_pattern(term: str) -> re.Pattern[str]:
    """A folded term as whole words, any separators between them ("kien nghi phan anh" meets "kiến nghị, phản ánh")."""
    return re.compile(r"(?<!\w)" + r"\W+".join(map(re.escape, term.split())) + r"(?!\w)")


def defines(terms: Sequence[str], sentence: str) -> bool:
    """Whether ``sentence`` defines one of ``terms`` (folded words): the term opens the sentence or a clause, then
    "là", "được hiểu là", "gồm", ":" … (a bracketed abbreviation between them allowed: "Biểu mẫu điện tử tương tác
    (e-Form) là …"; a short qualifier too when the term opens the sentence). "Kiểm soát thủ tục hành chính là …"
    defines another term."""
    text = fold(sentence).lower()
    opening = _ITEM_START.match(text)
    start = opening.end() if opening else 0
    for term in terms:
        for m in _term_pattern(term).finditer(text):
            opens = m.start() == start
            after_break = opens or text[: m.start()].rstrip()[-1:] in _CLAUSE_BREAKS  # "Trong Nghị định này, X là"
            if (after_break and _DEFINES.match(text, m.end())) or (opens and _QUALIFIED.match(text, m.end())):
                return True
    return False


def asks_procedure(question: str) -> bool:
    """The question asks how to do something ("thủ tục cấp lại CCCD", "cần giấy tờ gì"), not what it costs."""
    folded = " ".join(words(fold(question)))
    return bool(_PROCEDURE_ASKED.search(folded)) and question_type(question) != "money"


def no_step(sentence: str) -> bool:
    """The sentence names no step of a procedure (what to file or bring, where to go), or only states a fee."""
    return bool(_MONEY.search(sentence)) or not _PROCEDURE_STEPS.search(" ".join(words(fold(sentence))))


def indexes_named(text: str) -> set[str]:
    """The indexes (PAR Index / Chỉ số CCHC, SIPAS, PAPI, PCI, ICT Index) ``text`` names."""
    folded = " ".join(words(fold(text)))
    return {name for name, pattern in _INDEXES.items() if pattern.search(folded)}


def ordinals_of(text: str) -> set[int]:
    """The ordinals ``text`` names, as numbers ("phiên họp thứ tư", "Phiên họp thứ 4" and "4th" alike)."""
    return {d.value for d in extract_details(text, frozenset({"ordinal"})) if isinstance(d.value, int)}


_WHEN: frozenset[Kind] = frozenset({"year", "date"})
YEAR_BEFORE = 1  # a dated article speaks for the year before its own too (a 2024 report on the 2023 index)
# a year named as the baseline of a comparison ("giảm 3 bậc so với năm 2022") is not a year the passage reports on
_BASELINE = re.compile(
    r"\b(?:so với|compared (?:to|with)|than)\s+(?:cùng kỳ\s+|the same period (?:of|in)\s+)?(?:năm\s+|in\s+)?"
    r"(?:19|20)\d\d\b",
    re.I,
)


def days_of(text: str, span: range = range(0), bounds: bool = True) -> set[DateValue]:
    """The days ``text`` names, as (year, month, day); a day and month without a year ("Sáng ngày 19/4") is of its
    document's year when the document speaks for one year only (``span``: a news item, not a legal text).
    Without ``bounds``, a day that bounds a period ("trước ngày 1/7", "tính đến ngày …") is left out."""
    days: set[DateValue] = set()
    folded = "" if bounds else fold(text)
    for detail in extract_details(text, frozenset({"date"})):
        year, month, day = cast(DateValue, detail.value)
        if day is not None and (bounds or not _BOUND_BEFORE.search(folded, 0, detail.start)):
            days.add((span.start if year is None and len(span) == 1 else year, month, day))
    return days


@lru_cache(maxsize=1024)  # a passage's context is read once per candidate sentence of it
def years_named(text: str) -> frozenset[str]:
    """The years ``text`` writes, alone or in a date; not the year in a text's number ("Nghị định 61/2018/NĐ-CP"
    names a decree, it does not speak of 2018)."""
    years = (d.value if d.kind == "year" else cast(DateValue, d.value)[0] for d in extract_details(text, _WHEN))
    return frozenset(str(y) for y in years if y is not None)


def said_years(sentence: str, span: range, baselines: bool = True) -> set[str]:
    """The years ``sentence`` speaks of: those it writes (without ``baselines``, not a comparison's baseline: "tăng
    1,85% so với năm 2023" reports on the year after), and its days' years (see :func:`days_of`)."""
    own = years_named(sentence if baselines else _BASELINE.sub(" ", sentence))
    return set(own) | {str(y) for y, _, _ in days_of(sentence, span) if y is not None}


def other_day(asked: set[DateValue], said: set[DateValue]) -> bool:
    """The sentence names days, and none is one the question names ("Sáng 19/10" for "Ngày 19/4/2022")."""
    return bool(asked and said) and not any(
        (am, ad) == (sm, sd) and (ay is None or sy is None or ay == sy) for ay, am, ad in asked for sy, sm, sd in said
    )


def out_of_time(asked: set[str], said: set[str], context: str, span: range, day_named: bool = False) -> bool:
    """A sentence that names no year (``said``), whose passage and title (``context``) name none of the asked years,
    and whose document's dates do not fall in an asked year either (``span``: the years it speaks for,
    :data:`YEAR_BEFORE` included; an undated document has none): it speaks of another time, or of none known —
    unless, undated and yearless all round, the sentence names a day (``day_named``: "Sáng ngày 19/4" may be the
    asked 19/4/2022)."""
    if not asked or said:
        return False
    spoken = {str(y) for y in range(span.start - YEAR_BEFORE, span.stop)} if span else set()
    times = years_named(_BASELINE.sub(" ", context)) | spoken
    return not asked & times if times else not day_named


SAME_CONTENT = 0.7  # share of the shorter sentence's content words in the other: they state the same thing


def same_content(a: str, b: str) -> bool:
    """Whether two sentences say the same thing (most of the shorter one's content words are in the other)."""
    wa, wb = set(content_words(a)), set(content_words(b))
    if not wa or not wb:
        return False
    return len(wa & wb) / min(len(wa), len(wb)) >= SAME_CONTENT


class Reader:
    """Scores candidates with the glossary's acronyms and a trained :class:`ReaderModel`."""

    def __init__(
        self,
        aliases: Mapping[str, str] | None = None,
        glossary: Mapping[str, tuple[str, str]] | None = None,
        model: ReaderModel | None = None,
    ) -> None:
        self.aliases = dict(aliases or {})
        self.glossary = glossary or {}
        self.model = model or ReaderModel.load()

    # --- candidates ------------------------------------------------------------------------------------------
    @staticmethod
    def candidates(passages: Sequence[Passage]) -> list[Candidate]:
        out: list[Candidate] = []
        seen: set[str] = set()
        for rank, passage in enumerate(passages):
            leads = led_items(passage.text)
            for piece in reading_units(passage.text):
                if piece not in seen:
                    seen.add(piece)
                    lead = next((led for item, led in leads.items() if piece in item), "")  # "1." split off
                    out.append(Candidate(passage, piece, rank, lead=lead))
        return out

    # --- signals -------------------------------------------------------------------------------------------------
    def spellings(self, term: str) -> list[str]:
        """A folded term and its forms with an acronym expanded or an expansion abbreviated ("tthc" and "thu tuc
        hanh chinh")."""
        out = [term]
        for acronym, expansion in self.aliases.items():
            for form in list(out):
                padded = f" {form} "
                if f" {acronym} " in padded:
                    out.append(padded.replace(f" {acronym} ", f" {expansion} ").strip())
                elif f" {expansion} " in padded:
                    out.append(padded.replace(f" {expansion} ", f" {acronym} ").strip())
        return list(dict.fromkeys(out))

    def terms(self, text: str) -> set[str]:
        syl = content_words(text)
        found = set(syl) | {f"{a}_{b}" for a, b in itertools.pairwise(syl)}
        if self.aliases:
            folded = " ".join(words(fold(text)))
            for acronym, expansion in self.aliases.items():
                if expansion in folded:
                    found.add(acronym)
                elif acronym in found:
                    exp = expansion.split()
                    found.update(exp)
                    found.update(f"{a}_{b}" for a, b in itertools.pairwise(exp))
        return found

    def read(
        self,
        question: str,
        passages: Sequence[Passage],
        idf: Mapping[str, float],
        similarity: Similarity | None = None,
        spoken: Mapping[str, range] | None = None,
    ) -> Reading:
        """Every candidate of ``passages`` scored for ``question`` (``idf``: the corpus snapshot's; ``similarity``:
        the question's cosine similarity to each candidate text, from the stored sentence vectors; ``spoken``: the
        years each document speaks for, by id, from its dates — see :func:`said_years`), best first."""
        spoken = spoken or {}
        default_idf = max(idf.values(), default=1.0)

        def weight(term: str) -> float:
            if "_" in term:
                a, b = term.split("_", 1)
                return 0.5 * (weight(a) + weight(b))
            return idf.get(term, default_idf)

        kind = question_type(question)
        candidates = self.candidates(passages)
        if not candidates:
            return Reading([])
        q_terms = self.terms(question)
        total = sum(weight(t) for t in q_terms) or 1.0
        # "có mất tiền không": a sentence saying "lệ phí" holds those words of the question, in the law's wording
        said_everyday = [
            (self.terms(phrase) & q_terms, f" {' '.join(words(fold(wording)))} ")
            for phrase, wording in everyday_phrases(question)
        ]
        q_words = {t for t in q_terms if "_" not in t}
        top_idf = max((weight(t) for t in q_words), default=1.0) or 1.0
        wanted = meant_specifics(question, self.glossary)
        own_words = worded(question, self.glossary) if wanted else set()  # a source in English states otherwise
        by_meaning = any(d is not None for d in wanted.values())
        asked_english = is_english(question)
        passages_read: dict[str, tuple[str, list[Detail], bool]] = {}  # by chunk: title key, title details, English
        asked_years = set(years_named(_BASELINE.sub(" ", question)))  # "so với năm 2023" is not the asked time
        asked_ordinals = ordinals_of(question)  # by meaning: "thứ tư" = "thứ 4" = "4th"
        asked_days = days_of(question, bounds=False)  # "Ngày 19/4/2022, …": the day something happened
        names = proper_names(question) if kind else []  # a typed answer sits by its names
        subject = _BODY.match(question.strip()) if kind in ("number", "percent") else None
        body = folded_key(subject.group()) if subject else None  # "Bộ Xây dựng đạt bao nhiêu điểm": not another's
        group = asked_group(question) if kind in ("number", "percent") else None  # "… của các địa phương": not regions
        required = statements_required(question, kind is None)  # a fine, a validity, a charge: stated, not near
        event = asked_event(question) if kind == "date" else None
        role = asked_role(question) if kind in ("person", "titled", "org", "place") else None
        procedure = asks_procedure(question)
        term = asked_term(question)
        defined = self.spellings(term) if term else []
        which_text = asks_text(question)
        asked_indexes = indexes_named(question)
        asked_refs = text_refs(question)
        comment_asked, comment_no = asks_comment(question), comment_number(question)
        texts, relations = (texts_named(question), relations_asked(question)) if which_text else ([], [])
        rows = []
        for c in candidates:
            own_terms = self.terms(c.text) | self.terms(c.lead)  # a list item says what its lead line names
            if said_everyday:
                written = f" {' '.join(words(fold(c.text)))} "
                own_terms |= {t for phrase_terms, law in said_everyday if law in written for t in phrase_terms}
            lexical = sum(weight(t) for t in q_terms & own_terms) / total
            title = sum(weight(t) for t in q_terms & self.terms(c.passage.title)) / total
            if c.passage.chunk_id not in passages_read:
                heading = c.passage.title
                passages_read[c.passage.chunk_id] = (
                    folded_key(heading),
                    stated_details(heading) if by_meaning else [],
                    is_english(c.passage.text),
                )
            title_key, title_said, english = passages_read[c.passage.chunk_id]
            foreign = english != asked_english
            stated = f"{c.lead} {c.text}" if c.lead else c.text
            key, said = folded_key(stated), stated_details(stated) if by_meaning else []
            # across languages, judged on the details both write alike, if the question names any
            details = {t: d for t, d in wanted.items() if not (foreign and t in own_words)} or wanted
            in_sentence = sum(1 for t, d in details.items() if states(t, d, key, said))
            found = sum(1 for t, d in details.items() if states(t, d, key, said) or states(t, d, title_key, title_said))
            seen = own_terms | self.terms(c.passage.title)
            missing = max((weight(t) for t in q_words - seen), default=0.0) / top_idf
            span = spoken.get(c.passage.doc_id, range(0))
            # another year, the asked one neither here (a baseline's year may be the asked one: "so với năm 2020
            # (17,79%)") nor in the title: conflict; a sentence naming only baselines is of its passage's time
            own_years, every_year = said_years(c.text, span, baselines=False), said_years(c.text, span)
            years = every_year if own_years or asked_years & every_year else own_years
            title_years = years_named(f"{c.passage.title} {c.lead}")
            ordinals = ordinals_of(c.text) if asked_ordinals else set()
            typed = holds_type(kind, c.text, question)
            # a sentence naming no index is of the one its title names ("Gia Lai đứng thứ 19" in a SIPAS article)
            indexes = (indexes_named(c.text) or indexes_named(c.passage.title)) if asked_indexes else set()
            days = days_of(c.text, span) if asked_years or asked_days else set()
            conflict = (
                bool(asked_years and years and not asked_years & years and not asked_years & title_years)
                or out_of_time(asked_years, years, c.passage.title + " " + c.passage.text, span, bool(days))
                # a 2025 news item's "Nhóm A gồm 13 tỉnh" does not answer "năm 2023"
                or bool(asked_ordinals and ordinals and not asked_ordinals & ordinals)  # another meeting, round…
                or other_day(asked_days, days)
                # "Hà Nội đạt 91,43%" for "Quảng Ninh đạt bao nhiêu"; an English source writes "Ministry of …"
                or any(not states(n, None, key, ()) for n in names if not (foreign and n in own_words))
                or bool(body and body not in key and not english)
                or other_group(group, c.text)  # the regions' average for the provinces' one
                or any(not states(c.text) for states in required)  # "bị phạt": a fee does not answer
                or (kind in _FIGURES and not typed)  # "how much" with no amount
                or other_event(event, c.text)  # asked when it was passed, the sentence says when it took effect
                or lacks_role(role, c.text)  # asked who chaired, the sentence names who asked for something
                or (procedure and no_step(c.text))  # asked how to get a card, the sentence gives its fee
                or bool(defined and not defines(defined, c.text))  # asked what TTHC is, the sentence only uses it
                or bool(indexes and not asked_indexes & indexes)  # a SIPAS figure asked, a PAR Index one said
                or bool(asked_refs and other_text(asked_refs, text_refs(c.text)))
                or (which_text and not names_new_text(c.text, texts, relations))  # "nghị định nào", no number
                or denies_asked(question, c.text)  # "không bắt buộc …" for "khi nào bắt buộc …"
                # "Theo bạn đọc, …": not the article commented on
                or (comment_asked and not by_readers(c.passage.kind, c.passage.title, c.text))
                or bool(comment_no and c.passage.comment_no != comment_no)  # "bình luận thứ tám": that one only
            )
            rows.append({
                "lexical": lexical, "title": title,
                "type_expected": float(kind is not None), "type_found": float(typed),
                "constraints": found / len(details) if details else 1.0,
                "in_sentence": in_sentence / len(details) if details else 1.0,
                "conflict": float(conflict), "missing": missing,
                "rank": 1.0 / (1 + c.rank), "comment": float(c.passage.kind == "comment"),
                "foreign": float(foreign),
            })  # fmt: skip
        closeness = semantic_signals(rows, candidates, similarity)
        impute_word_signals(rows, self.model.imputed)
        scored = [replace(c, features=f, probability=self.model.probability(f)) for c, f in zip(candidates, rows)]
        # A sentence that contradicts a detail the question names (another year or ordinal, without the entity a
        # figure is asked for) never answers it, whatever its other signals: such candidates go last, and when no
        # other is left the question is not answerable from these sources.
        scored.sort(key=lambda c: (c.features["conflict"], -c.probability, c.rank))
        return self.judged(scored, closeness)

    def judged(self, candidates: list[Candidate], closeness: float = 1.0) -> Reading:
        """The reading of ``candidates`` (best first): its answerability, 0 when the best one conflicts or none is
        left (a caller may narrow a reading's candidates and judge it again, passing the first reading's
        ``closeness``)."""
        if not candidates or candidates[0].features["conflict"]:
            return Reading(candidates, 0.0, closeness)
        return Reading(candidates, self.model.answerability(answer_features(candidates)), closeness)

    def off_topic(self, reading: Reading | None) -> bool:
        """Whether nothing the store holds comes near the question (below the model's ``topic_floor``)."""
        return reading is not None and bool(reading.candidates) and reading.closeness < self.model.topic_floor


__all__ = [
    "ANSWER_FEATURES",
    "FEATURES",
    "Candidate",
    "Reader",
    "ReaderModel",
    "Reading",
    "answer_features",
    "holds_type",
    "logistic",
    "question_type",
]
