"""The reader's training helpers: labels, rates and the threshold rule (no store, no scikit-learn)."""

from workshop.train_reader import choose_threshold, is_answering, rates

EVIDENCE = "Bộ Tư pháp dẫn đầu bảng Chỉ số cải cách hành chính năm 2023, đạt 89,95%."


def test_a_candidate_is_the_answer_when_it_is_holds_or_is_a_large_part_of_the_evidence():
    assert is_answering(EVIDENCE, EVIDENCE)
    assert is_answering("Theo đó, " + EVIDENCE, EVIDENCE)
    assert is_answering("Bộ Tư pháp dẫn đầu bảng Chỉ số cải cách hành chính năm 2023", EVIDENCE)
    assert not is_answering("Quảng Ninh dẫn đầu khối tỉnh.", EVIDENCE)
    assert not is_answering("năm 2023", EVIDENCE)  # a fragment is not the answer


def test_the_threshold_refuses_most_unanswerable_within_the_false_refusal_cap():
    results = [
        {"answerable": True, "gated": False, "p": p, "correct": True}
        for p in (0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.1)
    ] + [{"answerable": False, "gated": False, "p": p, "correct": False} for p in (0.42, 0.2, 0.05)]
    t = choose_threshold(results)
    assert rates(results, t)["false_refusals"] <= 0.10
    # at most one answerable question (0.1) may be refused: up to 0.30; the 0.2 and 0.05 unanswerable ones are
    # refused from 0.21 on, and of equally good thresholds the lowest is kept
    assert t == 0.21 and rates(results, t)["unanswerable_refused"] == 2 / 3
    assert rates(results, 0.5)["unanswerable_refused"] == 1.0 and rates(results, 0.5)["false_refusals"] == 0.5


def test_a_foreign_candidates_word_signals_come_from_its_nearest_same_language_twin_or_the_fitted_line():
    from bot.answer.reader import FEATURES, ReaderModel, impute_word_signals
    from workshop.train_reader import Example, fit_imputation, impute

    def row(semantic: float, lexical: float, foreign: float = 0.0) -> list[float]:
        values = dict.fromkeys(FEATURES, 0.0) | {"semantic": semantic, "lexical": lexical, "foreign": foreign}
        values |= {"title": lexical / 2, "missing": 1.0 - lexical}
        return [values[f] for f in FEATURES]

    same_language = [row(z, 0.2 + 0.1 * z) for z in (-2.0, -1.0, 0.0, 1.0, 2.0)]
    examples = [Example("q", True, False, [*same_language, row(1.8, 0.0, foreign=1.0)], [0] * 6, [False] * 6)]
    imputed = fit_imputation(examples)  # the line through the same-language candidates: 0.2 + 0.1 z
    assert abs(imputed["lexical"][0] - 0.2) < 1e-9 and abs(imputed["lexical"][1] - 0.1) < 1e-9
    twin = dict(zip(FEATURES, impute(examples, imputed)[0].features[-1]))
    assert abs(twin["lexical"] - 0.4) < 1e-9 and abs(twin["missing"] - 0.6) < 1e-9  # the z=2 candidate's values
    assert impute(examples, imputed)[0].features[:5] == same_language  # same-language candidates keep theirs
    alone = [dict(zip(FEATURES, row(1.8, 0.0, foreign=1.0)))]  # an English-only corpus: the fitted line
    impute_word_signals(alone, imputed)
    assert abs(alone[0]["lexical"] - 0.38) < 1e-9
    assert ReaderModel.load().imputed.keys() == {"lexical", "title", "missing"}  # the shipped weights carry it


def test_the_topic_floor_keeps_all_but_one_percent_of_the_answerable_questions():
    from workshop.train_reader import MIN_IN_TOPIC, choose_topic_floor

    closeness = [0.30] + [0.50 + i / 1000 for i in range(199)]  # one far outlier in 200
    floor = choose_topic_floor(closeness)
    assert sum(c >= floor for c in closeness) / len(closeness) >= MIN_IN_TOPIC
    assert floor == 0.5  # the outlier is let go; 0.51 would refuse ten more
    assert choose_topic_floor([0.30, 0.31, *[0.6] * 98]) == 0.31  # two of 100 below 0.6: only one may go
