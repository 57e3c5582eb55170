"""The dialogue trainer's threshold rule: it keeps the policy questions citizens type, not only the easy ones."""

import numpy as np

from workshop.train_dialogue import MIN_POLICY_KEPT, choose_threshold


def test_the_threshold_keeps_the_typed_policy_messages_too() -> None:
    rng = np.random.default_rng(0)
    easy = rng.normal(3.0, 0.5, size=(400, 2))  # the team's well-formed questions: far from the chit-chat
    typed = rng.normal(0.8, 0.8, size=(60, 2))  # citizens' messages: near it
    chitchat = rng.normal(-2.0, 0.8, size=(200, 2))
    x = np.vstack([easy, typed, chitchat])
    y = np.array(["policy"] * 460 + ["chitchat"] * 200)
    groups = [f"g{i}" for i in range(len(y))]
    is_typed = np.zeros(len(y), dtype=bool)
    is_typed[400:460] = True
    overall, _ = choose_threshold(x, y, groups, np.ones(len(y), dtype=bool))  # every row counts alike
    strict, report = choose_threshold(x, y, groups, is_typed)
    assert strict < overall  # 99% of 460 can drop typed rows; 99% of the typed 60 cannot
    assert report["typed_policy_kept"] >= MIN_POLICY_KEPT and report["policy_kept"] >= MIN_POLICY_KEPT
