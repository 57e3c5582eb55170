"""The relations a question asks about, and whether a sentence states them: the event a date is asked of
("thông qua" is not "có hiệu lực", a deadline is not an issue date), the role a person, body or place is asked for
(who chaired, signed, ranked first, fell the most, what a body reports to), the group a figure is asked of
(provinces, ministries, regions), a penalty (a fine is not a fee), whether something costs money (a charge or its
waiver answers, not any sentence on the procedure) and a validity (how long a paper is valid is not how long it
takes to issue). Questions and sentences are read folded ("chủ trì" = "chu tri"), a signature, a penalty and a
charge with their marks where they have them ("kỳ" is not "ký", "phát" is not "phạt", "lưu động" holds no "đồng")."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from functools import lru_cache
from typing import cast

from vectorstore import details
from vectorstore.text import STOP_WORDS, fold, has_diacritics, words

# the event a date is asked of: "thông qua" (passed) is not "có hiệu lực" (in force) nor "ký" (signed)
_EVENTS: dict[str, re.Pattern[str]] = {
    "passed": re.compile(r"\b(?:thong qua|passed|adopted)\b"),
    "signed": re.compile(r"\b(?:ky ban hanh|ban hanh|da ky|ky quyet dinh|ky nghi dinh|signed|issued)\b"),
    "effective": re.compile(r"\b(?:co hieu luc|hieu luc thi hanh|ap dung tu|took effect|takes effect|effective)\b"),
    # "phải trình … trước ngày nào?": a deadline, not the day something was issued
    "deadline": re.compile(r"\b(?:truoc ngay|cham nhat|han chot|thoi han|deadline|no later than)\b"),
}
# the role a person is asked for: "Ai chủ trì …" is answered by who chaired, not by anyone the sentence names
_ROLES: dict[str, re.Pattern[str]] = {
    "chair": re.compile(r"\b(?:chu tri|chair(?:ed|s|ing)?|presided)\b"),
    "sign": re.compile(r"(?<!\bdang )(?<!\bthu )\bky\b(?! hop| niem| luc)|\bsigned\b|\bsigns\b"),
    "speak": re.compile(r"\b(?:phat bieu|spoke|speech)\b"),
    # "Ai chịu trách nhiệm khi chậm giải quyết TTHC?": who bears it, not who spoke of the delay
    "responsible": re.compile(r"\b(?:chiu trach nhiem|co trach nhiem|trach nhiem (?:cua|thuoc)|responsib|accountab)"),
    # "Bộ nào dẫn đầu …?": who ranked first, not who announced the ranking
    "first": re.compile(
        r"\b(?:dan dau|dung dau|cao nhat|quan quan|xep (?:thu )?nhat|xep hang nhat|vi tri (?:so )?1|vi tri thu nhat|"
        r"top(?:s|ped)?|led|leads|leading|highest|first place|ranked first|no\. ?1)\b"
    ),
    "last": re.compile(
        r"\b(?:dung cuoi|xep cuoi|thap nhat|cuoi bang|cuoi cung|bottom|lowest|last place|ranked last)\b"
    ),
    # "Tỉnh nào … giảm nhiều nhất?": whose figure fell, not whose rose the most
    "fell": re.compile(r"\b(?:giam|declin\w*|decreas\w*|fell|drop\w*)\b"),
    "rose": re.compile(r"\b(?:tang|increas\w*|rose|grew|growth)\b"),
    # "… trực thuộc cơ quan nào?": what it reports to, not any body the sentence names
    "under": re.compile(r"\b(?:truc thuoc|thuoc|under|affiliated)\b"),
}
# how a question asks a role where not as a sentence states it: "giảm nhiều nhất", not any "giảm" ("về giảm 50% phí")
_ROLES_ASKED: dict[str, re.Pattern[str]] = {
    "fell": re.compile(r"\bgiam (?:nhieu |manh |sau )?nhat\b|\b(?:fell|declined|decreased|dropped) the most\b"),
    "rose": re.compile(r"\btang (?:nhieu |manh |cao )?nhat\b|\b(?:rose|grew|increased) the most\b"),
    "under": re.compile(r"\b(?:truc thuoc|thuoc) (?:co quan|don vi|bo|nganh|cap)? ?nao\b"),
}
_SIGNED = re.compile(r"(?<!đăng )(?<!thư )\b(?:ký|kí)\b|\bsigned\b|\bsigns\b")  # with marks: not "kỳ", "kỷ"


def asked_event(question: str) -> str | None:
    """The event a date question asks about (passed, signed, in force), if it names exactly one."""
    folded = " ".join(words(fold(question)))
    named = [name for name, pattern in _EVENTS.items() if pattern.search(folded)]
    return named[0] if len(named) == 1 else None


def other_event(event: str | None, sentence: str) -> bool:
    """The sentence dates another event than the asked one, and not the asked one ("có hiệu lực từ 1/7" for
    "thông qua ngày nào")."""
    if event is None:
        return False
    folded = " ".join(words(fold(sentence)))
    return not _EVENTS[event].search(folded) and any(p.search(folded) for p in _EVENTS.values())


def asked_role(question: str) -> str | None:
    """The role a person question asks about ("Ai chủ trì …", "… do ai ký?"), if it names exactly one."""
    folded = " ".join(words(fold(question)))
    named = [
        name
        for name, pattern in _ROLES.items()
        if _ROLES_ASKED.get(name, pattern).search(folded) and not _unsigned(name, question)
    ]
    return named[0] if len(named) == 1 else None


def _unsigned(role: str, text: str) -> bool:
    """Read with its marks, ``text`` does not say "ký" where folded it seemed to ("nhiệm kỳ", "thường kỳ")."""
    return role == "sign" and has_diacritics(text) and not _SIGNED.search(text.lower())


def lacks_role(role: str | None, sentence: str) -> bool:
    """The sentence does not say who had the asked role ("Thủ tướng yêu cầu …" for "Ai chủ trì phiên họp?"). Signing
    is read with the marks where the sentence has them: folded, "nhiệm kỳ" (term of office) is "ký"."""
    if role is None:
        return False
    return _unsigned(role, sentence) or not _ROLES[role].search(" ".join(words(fold(sentence))))


# the groups an index's figures are given for, folded: provinces, ministries, economic regions
_GROUPS: dict[str, re.Pattern[str]] = {
    "provinces": re.compile(r"\b(?:(?:cac|\d+(?:/\d+)?) (?:tinh|dia phuong)|tinh thanh pho|provinces|localities)\b"),
    "ministries": re.compile(r"\b(?:cac|\d+(?:/\d+)?) bo\b|\bco quan ngang bo\b|\bministries\b"),
    "regions": re.compile(r"\bvung\b|\bregions?\b"),
}


def asked_group(question: str) -> str | None:
    """The one group a figure is asked of ("Giá trị trung bình … của các địa phương"), if the question names one."""
    folded = " ".join(words(fold(question)))
    named = [name for name, pattern in _GROUPS.items() if pattern.search(folded)]
    return named[0] if len(named) == 1 else None


def other_group(group: str | None, sentence: str) -> bool:
    """The sentence gives figures of another group than the asked one, and not of that one (a region's average
    for "các địa phương")."""
    if group is None:
        return False
    folded = " ".join(words(fold(sentence)))
    named = {name for name, pattern in _GROUPS.items() if pattern.search(folded)}
    return bool(named) and group not in named


# a penalty asked ("bị phạt bao nhiêu tiền", "mức phạt"), and one stated: a fee ("lệ phí … 35.000 đồng") is not a fine
_PENALTY_ASKED = re.compile(r"\b(?:muc phat|bi phat|xu phat|phat tien|tien phat|phat bao nhieu|phat hanh chinh)\b")
_PENALTY_EN = re.compile(r"\b(?:fined?|fines|penalt\w*|sanction\w*)\b", re.I)


def asks_penalty(question: str) -> bool:
    """The question asks what penalty something carries (read with its marks when it has them: "phát" is not
    "phạt")."""
    if has_diacritics(question) and "phạt" not in question.lower():
        return False
    return bool(_PENALTY_ASKED.search(" ".join(words(fold(question)))))


def states_penalty(sentence: str) -> bool:
    """The sentence states a penalty ("phạt tiền từ …", "bị xử phạt", "fined"), read with its marks when it has
    them."""
    if _PENALTY_EN.search(sentence):
        return True
    return "phạt" in sentence.lower() if has_diacritics(sentence) else "phat" in words(sentence.lower())


# whether something costs money, asked yes or no ("có mất tiền không", "có phải nộp lệ phí không", "mất phí ko"), and
# a sentence that states a charge or its waiver ("miễn lệ phí", "25.000 đồng", "không phải trả phí")
_FEE_ASKED = re.compile(
    r"\b(?:mat|ton|nop|dong|tra|thu|co) (?:them )?(?:tien|phi|le phi|chi phi)\b|\b(?:mien phi|free of charge)\b"
)
# read with marks where the sentence has them: "lưu động", "Hội đồng" are no amount, "lãng phí" no charge
_FEE_STATED = re.compile(
    r"(?<!\w)(?:(?<!lãng )phí|miễn|tiền|free|fees?|charge\w*|costs?)(?!\w)|\d\s*(?:đồng|vnđ|vnd)(?!\w)", re.I
)
_FEE_STATED_FOLDED = re.compile(r"\b(?:(?<!lang )phi|mien|tien|free|fees?|charge\w*|costs?)\b|\d (?:dong|vnd)\b")


def asks_fee(question: str) -> bool:
    """The question asks whether something costs money (a yes-or-no question: "how much" is the money type)."""
    return bool(_FEE_ASKED.search(" ".join(words(fold(question)))))


def states_fee(sentence: str) -> bool:
    """The sentence states a charge, an amount of money or a waiver."""
    if has_diacritics(sentence):
        return bool(_FEE_STATED.search(sentence))
    return bool(_FEE_STATED_FOLDED.search(" ".join(words(fold(sentence)))))


# how long a paper is valid ("phiếu lý lịch tư pháp có giá trị sử dụng trong mấy tháng", "hộ chiếu có thời hạn bao
# lâu"), and a sentence that states a validity — not the time to issue it ("Thời hạn cấp Phiếu … không quá 10 ngày")
_VALIDITY_ASKED = re.compile(
    r"\b(?:(?:co )?gia tri(?: su dung)?|han su dung|co thoi han|hieu luc) (?:\w+ ){0,2}"
    r"(?:bao lau|(?:may|bao nhieu) (?:ngay|thang|nam))\b|\bvalid for how long\b|\bhow long is \w+(?: \w+)* valid\b"
)
_VALIDITY_STATED = re.compile(r"\b(?:gia tri|han su dung|co thoi han|thoi han su dung|hieu luc|valid\w*|expir\w*)\b")


def asks_validity(question: str) -> bool:
    """The question asks how long something is valid (not how long it takes to get)."""
    return bool(_VALIDITY_ASKED.search(" ".join(words(fold(question)))))


def states_validity(sentence: str) -> bool:
    """The sentence says how long something is valid ("có giá trị 6 tháng", "có thời hạn 10 năm", "valid for")."""
    return bool(_VALIDITY_STATED.search(" ".join(words(fold(sentence)))))


def statements_required(question: str, open_question: bool) -> tuple[Callable[[str], bool], ...]:
    """What a sentence must state to answer ``question``, each a test of the sentence: a penalty when one is asked
    ("bị phạt bao nhiêu tiền": a fee does not answer), a validity ("có giá trị trong mấy tháng": not the time to
    issue), a charge or its waiver when an open question asks whether something costs money ("có mất tiền không";
    "how much" is the money type)."""
    asked = [(asks_penalty, states_penalty), (asks_validity, states_validity)]
    if open_question:
        asked.append((asks_fee, states_fee))
    return tuple(states for asks, states in asked if asks(question))


# "not" in a sentence, with its marks where the sentence has them ("chưa", not "chứa"); folded in a question
_DENIALS = frozenset({"không", "chưa", "chẳng", "chả"})
_DENIALS_FOLDED = frozenset({"khong", "chua", "ko", "hok", "hong", "chang"})
_NOT_DENYING = frozenset({"chi", "nhung", "ngung", "it", "khoi", "ke"})  # "không chỉ … mà còn", "không ngừng"


@lru_cache(maxsize=256)  # read once per question, not once per candidate sentence
def _asked_pairs(question: str) -> frozenset[tuple[str, str]]:
    """The question's folded word pairs that are not two stop words; none when the question holds a "not"."""
    asked = words(fold(question))
    if (_DENIALS & set(words(question))) if has_diacritics(question) else (_DENIALS_FOLDED & set(asked)):
        return frozenset()
    return frozenset((a, b) for a, b in itertools.pairwise(asked) if not (a in STOP_WORDS and b in STOP_WORDS))


def denies_asked(question: str, sentence: str) -> bool:
    """The sentence says something the question asks of only with a "not" before it, and the question has no "not"
    ("… không bắt buộc phải thu thập mống mắt" for "Khi nào bắt buộc phải thu thập mống mắt?", "thông tin … không có
    sẵn" for "thông tin có sẵn thì mấy ngày"). A yes/no question ("… có bắt buộc không?") may be answered by a
    "not": it is never read so."""
    pairs = _asked_pairs(question)
    if not pairs:
        return False
    marked = has_diacritics(sentence)
    said, denials = (words(sentence), _DENIALS) if marked else (words(fold(sentence)), _DENIALS_FOLDED)
    folded = [fold(w) for w in said]
    denied: set[tuple[str, str]] = set()
    affirmed: set[tuple[str, str]] = set()
    for i, pair in enumerate(itertools.pairwise(folded)):
        if pair in pairs:
            negated = i > 0 and said[i - 1] in denials and pair[0] not in _NOT_DENYING
            (denied if negated else affirmed).add(pair)
    return bool(denied - affirmed)


# a reader's comment asked for ("Theo bạn đọc, …", "Một bình luận cho rằng …", "bình luận thứ tám"), folded
_COMMENT_ASKED = re.compile(r"\b(?:binh luan|ban doc|y kien ban doc|nguoi doc|comment|commenter|reader)s?\b")
_COMMENT_BEFORE = re.compile(r"\b(?:binh luan|y kien(?: ban doc)?)\s+$")  # "bình luận thứ tám": its number


def asks_comment(question: str) -> bool:
    """The question asks what a reader wrote: only a reader's comment answers it, not the page it comments on."""
    return bool(_COMMENT_ASKED.search(" ".join(words(fold(question)))))


def by_readers(kind: str, title: str, sentence: str) -> bool:
    """A sentence says what readers wrote: a comment's, or one of a page of readers' letters ("Góp ý của bạn đọc
    về …"), or one that says a reader said it ("Bạn đọc Nguyễn Văn A phản ánh …")."""
    return kind == "comment" or asks_comment(title) or asks_comment(sentence)


def comment_number(question: str) -> int | None:
    """The number of the comment a question asks about ("bình luận thứ tám", "bình luận thứ 8"), if it names one."""
    for d in details.extract(question, frozenset({"ordinal"})):
        if _COMMENT_BEFORE.search(fold(question[: d.start])):
            return cast(int, d.value)
    return None


__all__ = [
    "asked_event",
    "asked_group",
    "asked_role",
    "asks_comment",
    "asks_penalty",
    "by_readers",
    "comment_number",
    "denies_asked",
    "lacks_role",
    "other_event",
    "other_group",
    "statements_required",
    "states_penalty",
]
