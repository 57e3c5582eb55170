"""The dialogue step's benchmark: labelled messages and two-turn conversations, through the product's ``Engine``.

    python benchmarks/dialogue.py [--split test|dev|heldout] [--parts messages conversations after chains cv]

Store: the team's CCHC corpus (``data/cchc/`` plus the bundled sample, ``data/bench-stores/cchc[-MODEL]``, built
when missing), with ``--corpus heldout`` the held-out 2024–2025 corpus (``data/heldout/``), or with ``--corpus
phapdien`` the pháp điển corpus from ``../shared`` (messages only), with the
settings' embedding model and the extractive generator.

- messages (``data/dialogue/messages.jsonl``, the split's rows; ``heldout``: a later batch of 119 messages written
  before this round's rules and never tuned on, messages only): a non-question is *handled* when it gets our own
  reply of its class (greeting/thanks/capability -> chitchat; off-domain -> the scope answer; abuse and unclear,
  the issue's one "empty or abusive" class -> either of those two replies, or the "empty question" error) and
  never a quote; *no quote* counts any reply without a citation; *off-domain told our scope*: the off-domain
  messages given the scope reply or, when the classifier let one through, the "nothing near" answer (which also
  says what we cover). Policy messages: the share taken as policy.
  Rows added after the first batch carry ``"batch": 2`` to ``8``; each batch's figures are also printed
  apart, and (test, heldout) the non-questions whose text, compared folded, is not also a development row's.
- conversations (``data/dialogue/conversations.jsonl``; with ``--corpus heldout --split heldout`` the 80 of
  ``conversations_heldout.jsonl``, written on the held-out corpus from its documents alone and never tuned on):
  turn 1 is asked, then turn 2 with turn 1 and its answer as history. A new question is right when it is read
  alone (not as a follow-up) and its answer holds an expected fact; a follow-up when it is read with its context
  and its answer holds an expected fact. Both readings are also reported separately (reading / answer).

- chains (``--parts chains``, ``data/dialogue/conversations_chains.jsonl``, 40, written after the condenser learnt
  to follow a chain and never tuned on for it): three turns, the last two each swapping one detail of the first
  question; each earlier turn asked with the ones before it (so in ``conversations`` too, for any history).
- after (``--parts after``): the split's non-questions, each asked after a question (the first turns of the split's
  conversations in turn, with their answers; ``heldout``: the test conversations'): handled as without history,
  never answered as a follow-up.
- cv (``--parts cv``, development split only): the classifier's choices compared by 5-fold cross-validation by group
  on the development rows, each at the trainer's threshold (99% of policy rows and of the typed ones kept): the
  whole message's vector or what follows an opening greeting, the kind of a non-question by the classifier alone or
  with the phrases (an insult or a capability phrase anywhere), one multinomial model or a hierarchical one (policy
  or not, then a model over the non-questions only).

Prints the README's dialogue table and writes ``reports/dialogue/<corpus>-<split>.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reader import engine_for
from bot.answer.options import AskOptions, InputError
from bot.engine import Engine
from bot.eval import holds_answer
from settings import PROJECT_DIR, Settings
from vectorstore.embeddings import Embedder
from workshop.train_dialogue import CONVERSATIONS, MESSAGES, split_rows

NOISE = {"abuse", "unclear"}
DIALOGUE_CORPORA = ("cchc", "heldout", "phapdien")  # messages over any; conversations over the first two
CONVERSATION_FILES = {"cchc": CONVERSATIONS, "heldout": CONVERSATIONS.with_name("conversations_heldout.jsonl")}
CHAINS = CONVERSATIONS.with_name("conversations_chains.jsonl")


def messages(engine: Engine, split: str) -> tuple[dict, list[dict]]:
    records = []
    for row in split_rows(MESSAGES, split):
        started = time.perf_counter()
        try:
            answer = engine.ask(row["text"])
            intent, quoted = getattr(answer, "intent", "policy"), bool(answer.citations)  # (older engines: none)
            reason = answer.refusal.reason if answer.refusal else None
        except InputError:
            intent, quoted, reason = "empty", False, None
        label = row["label"]
        right = intent in (NOISE | {"empty"}) if label in NOISE else intent == label
        records.append({**row, "intent": intent, "quoted": quoted, "handled": right and not quoted,
                        "refusal": reason, "ms": round((time.perf_counter() - started) * 1000, 1)})  # fmt: skip
    by_label: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_label[r["label"]].append(r)
    others = [r for r in records if r["label"] != "policy"]
    figures = {
        "non_questions_handled": _mean(r["handled"] for r in others),
        "non_questions_not_quoted": _mean(not r["quoted"] for r in others),
        "policy_taken_as_policy": _mean(r["intent"] == "policy" for r in by_label["policy"]),
        "n_non_questions": len(others),
        "n_policy": len(by_label["policy"]),
        **{f"handled[{k}]": _mean(r["handled"] for r in v) for k, v in sorted(by_label.items()) if k != "policy"},
        # what the user sees: our scope reply, or for one the classifier let through, the "nothing near" answer
        # that also says what we cover (the handled figure above counts the first only)
        "off_domain_told_our_scope": _mean(
            r["intent"] == "off_domain" or r["refusal"] == "off_topic" for r in by_label["off_domain"]
        ),
    }
    if split != "dev":  # rows whose folded text is also a development row's were trained on: figures without them
        seen = {_key(r["text"]) for r in split_rows(MESSAGES, "dev")}
        unseen = [r for r in records if _key(r["text"]) not in seen and r["label"] != "policy"]
        figures["not in dev: n_non_questions"] = len(unseen)
        figures["not in dev: non_questions_handled"] = _mean(r["handled"] for r in unseen)
        figures["not in dev: non_questions_not_quoted"] = _mean(not r["quoted"] for r in unseen)
    batches = sorted({r.get("batch", 1) for r in records})  # the first batch has none (a previous round measured it)
    groups = [
        (f"batch {b}" if b > 1 else "first batch", [r for r in records if r.get("batch", 1) == b]) for b in batches
    ]
    # the split as it stood before its newest batch: the figures an earlier round reported, on today's classifier
    groups += [(f"before batch {batches[-1]}", [r for r in records if r.get("batch", 1) != batches[-1]])]
    for name, rows in groups if len(batches) > 1 else ():
        others = [r for r in rows if r["label"] != "policy"]
        policy = [r for r in rows if r["label"] == "policy"]
        figures[f"{name}: non_questions_handled"] = _mean(r["handled"] for r in others)
        figures[f"{name}: non_questions_not_quoted"] = _mean(not r["quoted"] for r in others)
        figures[f"{name}: policy_taken_as_policy"] = _mean(r["intent"] == "policy" for r in policy)
        figures[f"{name}: n_non_questions / n_policy"] = f"{len(others)} / {len(policy)}"
    return figures, records


def conversations(engine: Engine, split: str, corpus: str = "cchc") -> tuple[dict, list[dict]]:
    records = []
    for row in split_rows(CONVERSATION_FILES[corpus], split):
        answer = engine.ask(row["question"], AskOptions(history=asked_in_turn(engine, row["history"])))
        # older engines have no follow_up flag: a rewritten question was read as a follow-up
        follow_up = getattr(answer, "follow_up", answer.standalone_question != row["question"])
        reading_right = follow_up == (row["kind"] == "follow_up")
        hit = not answer.refused and holds_answer(answer.answer, row["answers"])
        records.append({**row, "follow_up": follow_up, "reading_right": reading_right, "answer_hit": hit,
                        "right": reading_right and hit, "standalone_read": answer.standalone_question,
                        "answer": answer.answer})  # fmt: skip
    figures: dict = {}
    for kind in ("new", "follow_up"):
        group = [r for r in records if r["kind"] == kind]
        figures[f"{kind}: right"] = _mean(r["right"] for r in group)
        figures[f"{kind}: reading"] = _mean(r["reading_right"] for r in group)
        figures[f"{kind}: answer hit"] = _mean(r["answer_hit"] for r in group)
        figures[f"{kind}: n"] = len(group)
    return figures, records


def asked_in_turn(engine: Engine, questions: list[str]) -> tuple[tuple[str, str], ...]:
    """The conversation so far: each earlier question asked with the ones before it, with its answer."""
    history: tuple[tuple[str, str], ...] = ()
    for question in questions:
        history = (*history, (question, engine.ask(question, AskOptions(history=history)).answer))
    return history


def chains(engine: Engine, split: str) -> tuple[dict, list[dict]]:
    """Three-turn conversations whose last two messages each swap one detail of the first question ("còn Hải
    Phòng?", "Đà Nẵng thì sao?"): the last is right when it is read with its chain and answered with an expected
    fact, or, when the documents do not state it, refused as the policy question it is (not called off-topic)."""
    records = []
    for row in split_rows(CHAINS, split):
        answer = engine.ask(row["question"], AskOptions(history=asked_in_turn(engine, row["history"])))
        if row["answerable"]:
            right = answer.follow_up and not answer.refused and holds_answer(answer.answer, row["answers"])
        else:
            right = answer.refused and answer.intent == "policy" and not answer.citations
        records.append({**row, "follow_up": answer.follow_up, "intent": answer.intent, "right": right,
                        "standalone_read": answer.standalone_question, "answer": answer.answer})  # fmt: skip
    answerable = [r for r in records if r["answerable"]]
    lacking = [r for r in records if not r["answerable"]]
    figures = {
        "answerable: right": _mean(r["right"] for r in answerable),
        "answerable: read with its chain": _mean(r["follow_up"] for r in answerable),
        "not stated: refused as a policy question": _mean(r["right"] for r in lacking),
        "n answerable / not stated": f"{len(answerable)} / {len(lacking)}",
    }
    return figures, records


def after_a_question(engine: Engine, split: str) -> tuple[dict, list[dict]]:
    """The split's non-questions, each asked after a question (the split's conversations' first turns in turn,
    with their answers as history): handled as without history, and never read as a follow-up."""
    conversations = split_rows(CONVERSATIONS, split) or split_rows(CONVERSATIONS, "test")  # heldout: none of its own
    firsts = list(dict.fromkeys(row["history"][0] for row in conversations))
    history = {q: ((q, engine.ask(q).answer),) for q in firsts}
    records = []
    for i, row in enumerate(r for r in split_rows(MESSAGES, split) if r["label"] != "policy"):
        first = firsts[i % len(firsts)]
        try:
            answer = engine.ask(row["text"], AskOptions(history=history[first]))
            intent, quoted = answer.intent, bool(answer.citations)
        except InputError:
            intent, quoted = "empty", False
        right = intent in (NOISE | {"empty"}) if row["label"] in NOISE else intent == row["label"]
        records.append({**row, "after": first, "intent": intent, "quoted": quoted, "handled": right and not quoted})
    figures = {
        "non_questions_handled": _mean(r["handled"] for r in records),
        "non_questions_not_quoted": _mean(not r["quoted"] for r in records),
        "n_non_questions": len(records),
    }
    return figures, records


def cross_validated(engine: Engine) -> tuple[dict, list[dict]]:
    """The classifier's variants on the development rows (never the test split), by 5-fold CV by group."""
    import numpy as np

    from bot.answer.dialogue import after_opening, features, kind_by_phrases, known_intent, what_to_read
    from workshop.train_dialogue import _fit, fold_of, load_rows, policy_threshold, typed_rows, vocabulary_of

    rows = load_rows("dev")
    texts, y = [t for t, _, _ in rows], np.array([label for _, label, _ in rows])
    fold, typed = np.array([fold_of(g) for _, _, g in rows]), typed_rows(rows)
    snapshot, embed = engine.snapshot(), engine.embedder.embed_query
    whole, opened = [], []
    dense = [snapshot.parse(text).dense_text for text in texts]
    read = [what_to_read(text, d) for text, d in zip(texts, dense)]
    vocabulary = vocabulary_of([form for _, form in read])  # (counted over all folds: no label is read)
    for text, d, (rest, form) in zip(texts, dense, read):
        whole.append(features(embed(d), text, vocabulary))
        opened.append(features(embed(rest), form, vocabulary))
    out: dict = {}
    for name, x, hierarchical, by_phrases in (
        ("whole message, classifier's kind", np.stack(whole), False, False),
        ("after an opening, classifier's kind", np.stack(opened), False, False),
        ("after an opening, kind by phrases (shipped)", np.stack(opened), False, True),
        ("hierarchical, after an opening, kind by phrases", np.stack(opened), True, True),
    ):
        p_policy, kind = np.zeros(len(y)), np.empty(len(y), dtype=object)
        for k in range(5):
            train, held = fold != k, fold == k
            target = np.where(y == "policy", "policy", "other") if hierarchical else y
            model = _fit(x[train], target[train])
            probs, labels = model.predict_proba(x[held]), list(model.classes_)
            p_policy[held] = probs[:, labels.index("policy")]
            if hierarchical:
                others = train & (y != "policy")
                model = _fit(x[others], y[others])
                kind[held] = model.classes_[model.predict_proba(x[held]).argmax(axis=1)]
            else:
                probs[:, labels.index("policy")] = -1
                kind[held] = [labels[i] for i in probs.argmax(axis=1)]
        threshold = policy_threshold(p_policy, y == "policy", typed)  # the trainer's rule
        predicted = []
        for i, text in enumerate(texts):
            known = known_intent(text)
            if known is None:
                known = "policy" if p_policy[i] >= threshold else kind[i]
                known = kind_by_phrases(text, known) if by_phrases and known != "policy" else known
            predicted.append(known)
        right = np.array([p in NOISE if lab in NOISE else p == lab for p, lab in zip(predicted, y)])
        pol = y == "policy"
        by_class = {f"handled[{c}]": _mean(right[y == c]) for c in ("chitchat", "off_domain", "abuse", "unclear")}
        opening = pol & np.array([after_opening(t) is not None for t in texts])  # "chào bạn, cho hỏi …"
        out[name] = {"threshold": threshold, "policy_kept": _mean(np.array(predicted)[pol] == "policy"),
                     "policy_after_a_greeting_kept": _mean(np.array(predicted)[opening] == "policy"),
                     "n_policy_after_a_greeting": int(opening.sum()),
                     "non_questions_handled": _mean(right[~pol]), **by_class}  # fmt: skip
    return out, []


def _key(text: str) -> str:
    """A message compared without marks, case, spacing or end punctuation ("Xin chào!" = "xin chao")."""
    from vectorstore.text import fold

    return " ".join(fold(text).split()).strip("?!. ")


def _mean(values) -> float | None:
    values = list(values)
    return round(statistics.mean(map(float, values)), 3) if values else None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=["dev", "test", "heldout"], default="test")
    parser.add_argument("--parts", nargs="*", default=["messages", "conversations", "after", "chains"])
    parser.add_argument("--corpus", choices=DIALOGUE_CORPORA, default="cchc", help="phapdien: needs ../shared")
    args = parser.parse_args()
    settings = Settings.load()
    engine = engine_for(args.corpus, Embedder.from_settings(settings))
    if engine is None:  # the corpus is not here (says why)
        return 0
    engine.warm_up()
    out: dict = {"model": settings.embedding_key, "split": args.split, "corpus": args.corpus}
    over = {"conversations": tuple(CONVERSATION_FILES), "after": ("cchc",), "cv": ("cchc",), "chains": ("cchc",)}
    for part in args.parts:
        if args.corpus not in over.get(part, DIALOGUE_CORPORA):
            continue  # conversations are over our two corpora; "after" and the CV over the CCHC store's
        if part == "cv":
            if args.split != "dev":
                print("--parts cv reads the development split only", file=sys.stderr)
                continue
            figures, records = cross_validated(engine)
        else:
            run = {"messages": messages, "conversations": partial(conversations, corpus=args.corpus),
                   "after": after_a_question, "chains": chains}[part]  # fmt: skip
            figures, records = run(engine, args.split)
        out[part] = {"figures": figures, "records": records}
        print(f"## {part} ({args.split}, {settings.embedding_key}, {args.corpus} store)")
        for key, value in figures.items():
            print(f"- {key}: {value}")
    engine.close()
    target = PROJECT_DIR / "reports" / "dialogue"
    target.mkdir(parents=True, exist_ok=True)
    report = json.dumps(out, ensure_ascii=False, indent=1)
    (target / f"{args.corpus}-{args.split}.json").write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
