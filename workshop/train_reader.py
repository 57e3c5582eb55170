"""Retrain the reader's answerability model on the team's development questions.

    [CCHC_EMBEDDING_MODEL=...] python -m workshop.train_reader [--questions data/questions/reader_dev.jsonl]
                                                               [--out FILE] [--ablate]

Each question is read against the store of its corpus (``set``: ``cchc`` -> the bundled sample plus
``data/cchc/``, ingested into ``data/bench-stores/cchc[-MODEL]`` when empty; ``phapdien`` -> ``.../phapdien[-MODEL]``,
built by ``benchmarks/retrieval.py phapdien``; rows of a missing store are skipped with a message). A candidate is
a positive when it is (or holds, or lies inside) the labelled answering sentence. A logistic regression
(scikit-learn, the ``train`` extra) is fitted on every candidate; the refusal threshold is then chosen on the same
development questions: the one whose false refusals stay at or under 10% and which refuses the most
unanswerable questions. ``--ablate`` prints, for each signal, the cross-validated effect of leaving it out.
The test split is never read here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np

from bot.answer.reader import (
    ANSWER_FEATURES,
    FEATURES,
    WORD_SIGNALS,
    ReaderModel,
    impute_word_signals,
    model_file,
)
from bot.engine import Engine
from bot.eval import bench_store
from settings import PROJECT_DIR, SAMPLE_DIR, Settings
from vectorstore.embeddings import Embedder
from vectorstore.text import content_words, fold, normalize, words

CCHC_CORPUS = PROJECT_DIR / "data" / "cchc"
MIN_IN_TOPIC = 0.99  # the topic floor keeps this share of the answerable development questions
MAX_FALSE_REFUSALS = 0.10  # at 0.05 the gate refused 22% of unanswerable dev questions; see README

log = logging.getLogger(__name__)


@dataclass
class Example:
    """One question read: its candidates' features and labels, and what the gates decided."""

    qid: str
    answerable: bool
    gated: bool  # refused before the reader (no sources, a named detail missing)
    features: list[list[float]]
    labels: list[int]
    holds_answer: list[bool]  # the candidate holds one of the expected facts
    closeness: float | None = None  # the reading's highest cosine (None: no candidate)


def is_answering(candidate: str, evidence: str) -> bool:
    """Whether a candidate is the labelled answering sentence (or holds it, or is the clause of it)."""
    c, e = " ".join(words(fold(candidate))), " ".join(words(fold(normalize(evidence))))
    if not c or not e:
        return False
    if e in c or (c in e and len(c) >= 0.4 * len(e)):
        return True
    wc, we = set(content_words(candidate)), set(content_words(evidence))
    return bool(wc and we) and len(wc & we) / len(wc | we) >= 0.6


def engines(embedder: Embedder, sets: Iterable[str], base: Settings | None = None) -> dict[str, Engine]:
    """An engine per corpus the questions are asked over (the CCHC store is built here when empty)."""
    from ingest.pipeline import Ingestor

    out = {}
    for name in sorted(set(sets)):
        settings = base or Settings.load()
        store = bench_store(name, settings)
        settings = settings.model_copy(update={"store_dir": store})
        if name == "cchc":
            engine = Engine(settings, embedder=embedder)
            Ingestor(settings, embedder=embedder, store=engine.store).run([SAMPLE_DIR, CCHC_CORPUS])
        elif (store / "documents.sqlite3").is_file():
            engine = Engine(settings, embedder=embedder)
        else:
            print(f"skipping the '{name}' questions: no store at {store} (python benchmarks/retrieval.py {name})",
                  file=sys.stderr)  # fmt: skip
            continue
        out[name] = engine
    return out


def read_examples(rows: list[dict[str, Any]], by_set: dict[str, Engine]) -> list[Example]:
    examples = []
    for row in rows:
        engine = by_set.get(row.get("set", "cchc"))
        if engine is None:
            continue
        turn = engine.read(row["question"])
        gated = turn.refusal is not None and turn.refusal.reason != "no_answer"
        candidates = turn.reading.candidates if turn.reading else []
        answers = [fold(normalize(a)) for a in row.get("answers") or []]
        examples.append(Example(
            qid=row["id"],
            answerable=bool(row.get("answerable", not row.get("unanswerable"))),
            gated=gated,
            features=[[c.features[f] for f in FEATURES] for c in candidates],
            labels=[int(bool(row.get("evidence")) and is_answering(c.text, row["evidence"])) for c in candidates],
            holds_answer=[any(a in fold(c.text) for a in answers) for c in candidates],
            closeness=turn.reading.closeness if turn.reading and candidates else None,
        ))  # fmt: skip
    return examples


def closeness_of(texts: Iterable[str], engine: Engine) -> list[float]:
    """How near the store comes to each message read as a policy question (as the dialogue step lets it through)."""
    out = []
    for text in texts:
        if engine.dialogue is None:
            turn = engine.read(text)
        else:
            with patch.object(engine.dialogue, "classify", return_value="policy"):
                turn = engine.read(text)
        if turn.reading is not None and turn.reading.candidates:
            out.append(turn.reading.closeness)
    return out


def choose_topic_floor(in_topic: list[float]) -> float:
    """The highest floor (0.01 steps) that keeps at least :data:`MIN_IN_TOPIC` of ``in_topic`` at or above it."""
    values = np.asarray(in_topic)
    grid = [round(float(t), 2) for t in np.arange(0.0, 1.0, 0.01)]
    return max(t for t in grid if (values >= t).mean() >= MIN_IN_TOPIC)


def topic_floor_of(examples: list[Example], engine: Engine | None) -> tuple[float, str]:
    """The topic floor, chosen on the answerable development questions (:data:`MIN_IN_TOPIC` of them stay above
    it), and what it does to the development split's messages when the dialogue step lets them through: its
    non-questions (greetings, off-domain requests, abuse) and its policy messages (some on procedures the store
    does not hold: refused either way)."""
    from workshop.train_dialogue import MESSAGES, split_rows

    answerable = [e.closeness for e in examples if e.answerable and e.closeness is not None]
    floor = choose_topic_floor(answerable)
    unanswerable = _below((e.closeness for e in examples if not e.answerable), floor)
    notes = (
        f"topic floor {floor}: keeps {1 - _below(answerable, floor):.3f} of {len(answerable)} answerable development "
        f"questions; {unanswerable:.3f} of the unanswerable"
    )
    if engine is not None:
        messages = [r for r in split_rows(MESSAGES, "dev") if words(r["text"])]
        for name, policy in (("non-questions", False), ("policy messages", True)):
            found = closeness_of([r["text"] for r in messages if (r["label"] == "policy") == policy], engine)
            notes += f"; {_below(found, floor):.3f} of {len(found)} development {name}"
    return floor, notes + " fall below it"


def _below(values: Iterable[float | None], floor: float) -> float:
    kept = [v for v in values if v is not None]
    return sum(v < floor for v in kept) / max(1, len(kept))


def fit_imputation(examples: list[Example]) -> dict[str, tuple[float, float]]:
    """Each word signal as a linear function of the semantic signal, fitted on the same-language candidates (what a
    foreign candidate's word signals would be expected to be, see ``ReaderModel.imputed``)."""
    semantic, foreign = FEATURES.index("semantic"), FEATURES.index("foreign")
    rows = np.array([r for e in examples for r in e.features if not r[foreign]])
    out = {}
    for name in WORD_SIGNALS:
        slope, intercept = np.polyfit(rows[:, semantic], rows[:, FEATURES.index(name)], 1)
        out[name] = (float(intercept), float(slope))
    return out


def impute(examples: list[Example], imputed: dict[str, tuple[float, float]]) -> list[Example]:
    """``examples`` with each foreign candidate's word signals replaced as the reader replaces them."""
    out = []
    for e in examples:
        rows = [dict(zip(FEATURES, row)) for row in e.features]
        impute_word_signals(rows, imputed)
        out.append(replace(e, features=[[row[f] for f in FEATURES] for row in rows]))
    return out


def _lr(x: np.ndarray, y: np.ndarray) -> tuple[list[float], float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    model.fit(x, y)
    return [float(w) for w in model.coef_[0]], float(model.intercept_[0])


def fit_candidates(examples: list[Example], features: tuple[str, ...] = FEATURES) -> tuple[dict[str, float], float]:
    """Which candidate answers: every candidate of every question, labelled by the answering sentence."""
    idx = [FEATURES.index(f) for f in features]
    x = np.array([[row[i] for i in idx] for e in examples for row in e.features])
    y = np.array([label for e in examples for label in e.labels])
    weights, bias = _lr(x, y)
    return dict(zip(features, weights)), bias


def best_rows(examples: list[Example], weights: dict[str, float], bias: float) -> list[dict[str, float] | None]:
    """Each question's question-level signals (None when it has no candidate) under a candidate model."""
    model = ReaderModel(weights, bias, {}, 0.0, 0.5)
    conflict = FEATURES.index("conflict")
    out: list[dict[str, float] | None] = []
    for e in examples:  # the reader's order: conflicting candidates last, then by probability
        scored = sorted(((model.probability(dict(zip(FEATURES, row))), i) for i, row in enumerate(e.features)),
                        key=lambda pi: (e.features[pi[1]][conflict], -pi[0], pi[1]))  # fmt: skip
        if not scored:
            out.append(None)
            continue
        (p, i), runner_up = scored[0], scored[1][0] if len(scored) > 1 else 0.0
        out.append({**dict(zip(FEATURES, e.features[i])), "best": p, "margin": p - runner_up, "index": float(i)})
    return out


def fit(examples: list[Example], features: tuple[str, ...] = FEATURES, folds: int = 5) -> ReaderModel:
    """Both models. The question-level one learns from candidate scores cross-fitted over ``folds`` (scores of
    questions the candidate model did not see), so it does not trust an over-fitted best score."""
    order = sorted(range(len(examples)), key=lambda i: examples[i].qid)
    rows: list[dict[str, float] | None] = [None] * len(examples)
    for k in range(folds):
        train = [examples[i] for n, i in enumerate(order) if n % folds != k]
        held = [i for n, i in enumerate(order) if n % folds == k]
        weights, bias = fit_candidates(train, features)
        for i, row in zip(held, best_rows([examples[i] for i in held], weights, bias)):
            rows[i] = row
    answer_features = (*features, *ANSWER_FEATURES[len(FEATURES) :])  # + the best score and its margin
    usable = [(r, e) for r, e in zip(rows, examples) if r is not None and not e.gated]
    x = np.array([[r[f] for f in answer_features] for r, _ in usable])
    y = np.array([int(e.answerable) for _, e in usable])
    answer_weights, answer_bias = _lr(x, y)
    weights, bias = fit_candidates(examples, features)
    return ReaderModel(weights, bias, dict(zip(answer_features, answer_weights)), answer_bias, 0.5)


def outcomes(examples: list[Example], model: ReaderModel) -> list[dict[str, Any]]:
    """Per question: the answerability, whether the best candidate holds the answer, and the gates' verdict."""
    out = []
    for e, row in zip(examples, best_rows(examples, model.weights, model.bias)):
        best = int(row["index"]) if row else -1
        p = model.answerability(row) if row is not None and not row["conflict"] else 0.0  # conflicting: refused
        out.append({"answerable": e.answerable, "gated": e.gated, "p": p,
                    "correct": best >= 0 and (e.labels[best] == 1 or e.holds_answer[best])})  # fmt: skip
    return out


def rates(results: list[dict[str, Any]], threshold: float) -> dict[str, float]:
    answerable = [r for r in results if r["answerable"]]
    unanswerable = [r for r in results if not r["answerable"]]

    def refused(r: dict[str, Any]) -> bool:
        return bool(r["gated"] or r["p"] < threshold)

    return {
        "false_refusals": sum(map(refused, answerable)) / max(1, len(answerable)),
        "unanswerable_refused": sum(map(refused, unanswerable)) / max(1, len(unanswerable)),
        "answer_hit": sum(r["correct"] and not refused(r) for r in answerable) / max(1, len(answerable)),
    }


def choose_threshold(results: list[dict[str, Any]]) -> float:
    """The threshold refusing the most unanswerable questions while false refusals stay within
    :data:`MAX_FALSE_REFUSALS` (ties: the lower threshold)."""
    grid = [round(float(t), 2) for t in np.arange(0.05, 0.96, 0.01)]
    feasible = [t for t in grid if rates(results, t)["false_refusals"] <= MAX_FALSE_REFUSALS] or [grid[0]]
    return max(feasible, key=lambda t: (rates(results, t)["unanswerable_refused"], -t))


def cross_validated(examples: list[Example], features: tuple[str, ...], folds: int = 5) -> dict[str, float]:
    """Train on 4/5 of the questions, measure on the rest (threshold chosen on the training part)."""
    order = sorted(examples, key=lambda e: e.qid)
    results: list[dict[str, Any]] = []
    for k in range(folds):
        train = [e for i, e in enumerate(order) if i % folds != k]
        test = [e for i, e in enumerate(order) if i % folds == k]
        model = fit(train, features)
        threshold = choose_threshold(outcomes(train, model))
        results += [{**r, "p": r["p"] - threshold + 0.5} for r in outcomes(test, model)]
    return rates(results, 0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop.train_reader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=PROJECT_DIR / "data/questions/reader_dev.jsonl")
    parser.add_argument("--out", type=Path, help="default: the configured embedding model's weights file")
    parser.add_argument("--ablate", action="store_true", help="report each signal's cross-validated contribution")
    parser.add_argument("--floor-only", action="store_true",
                        help="keep the file's weights and threshold; choose only its topic floor")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    if any(r.get("split") == "test" for r in rows):
        raise SystemExit("Lỗi: tệp câu hỏi chứa phần kiểm tra (split=test); chỉ huấn luyện trên phần phát triển.")
    embedder = Embedder.from_settings(Settings.load())
    args.out = args.out or model_file(Settings.load().embedding_space)
    by_set = engines(embedder, (r.get("set", "cchc") for r in rows))
    for engine in by_set.values():  # the raw word signals: imputation is fitted here
        engine.reader.model = replace(engine.reader.model, imputed={})
    raw = read_examples(rows, by_set)
    topic_floor, floor_notes = topic_floor_of(raw, by_set.get("cchc"))
    print(floor_notes)
    if args.floor_only:
        data = json.loads(args.out.read_text(encoding="utf-8"))
        data.update(topic_floor=topic_floor, topic_notes=floor_notes)
        args.out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        for engine in by_set.values():
            engine.close()
        return 0
    imputed = fit_imputation(raw)
    examples = impute(raw, imputed)
    model = fit(examples)
    results = outcomes(examples, model)
    threshold = choose_threshold(results)
    dev = rates(results, threshold)
    notes = (f"two logistic regressions on {sum(len(e.labels) for e in examples)} candidates of {len(examples)} "
             f"questions ({args.questions.name}); threshold {threshold} chosen there: "
             + ", ".join(f"{k} {v:.3f}" for k, v in dev.items()))  # fmt: skip
    schema = {
        "features": list(FEATURES),
        "answer_features": list(ANSWER_FEATURES),
        "embedder": Settings.load().embedding_space,
        "training": {"split": "dev", "questions": args.questions.name, "n_questions": len(examples)},
    }
    data = {"schema": schema, "weights": model.weights, "bias": model.bias, "answer_weights": model.answer_weights,
            "answer_bias": model.answer_bias, "threshold": threshold, "imputed": imputed, "notes": notes,
            "topic_floor": topic_floor, "topic_notes": floor_notes}  # fmt: skip
    args.out.write_text(json.dumps(_rounded(data), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(notes)
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        print(f"  threshold {t}: {_fmt(rates(results, t))}")
    if args.ablate:
        base = cross_validated(examples, FEATURES)
        print(f"\n5-fold cross-validation on the development questions: all signals {_fmt(base)}")
        for feature in FEATURES:
            kept = tuple(f for f in FEATURES if f != feature)
            print(f"  without {feature:<14} {_fmt(cross_validated(examples, kept))}")
    for engine in by_set.values():
        engine.close()
    return 0


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return round(value, 4) if isinstance(value, float) else value


def _fmt(m: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in m.items())


if __name__ == "__main__":
    sys.exit(main())
