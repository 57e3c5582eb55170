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
