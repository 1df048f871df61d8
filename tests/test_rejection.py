"""The rejection rule: fitted thresholds meet their false-accept rate on new windows, and it says no."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from myostream.errors import MyostreamError
from myostream.rejection import MEASURES, Rejection, auroc, confidence, far_threshold, top1_correct


def synthetic_scores(n: int, seed: int, classes: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Cosine-like scores: every window scores all classes around a window-level offset; its true
    class stands out by a window-level evidence that is often weak, so many top-1s are wrong."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, n)
    scores = rng.normal(0.0, 0.08, (n, classes)) + rng.normal(0.3, 0.15, (n, 1))
    scores[np.arange(n), truth] += rng.exponential(0.08, n)
    return scores, truth


@pytest.mark.parametrize("target", [0.05, 0.1, 0.2])
def test_fit_meets_its_false_accept_rate_on_new_windows(target):
    scores, truth = synthetic_scores(4000, seed=1)
    rule = Rejection.fit(scores, top1_correct(scores, truth), target)
    new, new_truth = synthetic_scores(40000, seed=2)
    ok = top1_correct(new, new_truth)
    accepted = rule.accept(new)
    far = accepted[~ok].mean()
    assert abs(far - target) < 0.02, (rule.measure, far)
    # accepted hops are right more often than all hops, and a rule that keeps something
    assert accepted[ok].mean() > 0.2
    assert ok[accepted].mean() > ok.mean() + 0.05
    assert rule.n_wrong == int((~top1_correct(scores, truth)).sum()) > 0
    # the curve records the kept measure at other rates too, the target's point being the rule itself
    (point,) = [p for p in rule.curve if p["far"] == target]
    assert point["threshold"] == rule.threshold and point["accepted_correct"] == round(rule.accepted_correct, 4)
    kept = [p["accepted_correct"] for p in rule.curve]
    assert kept == sorted(kept) and len(kept) >= 6  # a higher false-accept rate keeps more correct windows


def test_fit_keeps_the_measure_that_separates_best():
    # the window-level offset makes the top-1 score meaningless; the margin ignores it
    scores, truth = synthetic_scores(3000, seed=3)
    rule = Rejection.fit(scores, top1_correct(scores, truth), 0.1)
    assert rule.measure != "top1"
    assert set(rule.comparison) == set(MEASURES)
    kept = rule.comparison[rule.measure]["accepted_correct"]
    assert all(kept >= v["accepted_correct"] for v in rule.comparison.values())
    assert rule.comparison["top1"]["auroc"] < rule.comparison["margin"]["auroc"]
    only_top1 = Rejection.fit(scores, top1_correct(scores, truth), 0.1, measures=("top1",))
    assert only_top1.measure == "top1" and only_top1.accepted_correct < rule.accepted_correct


def test_measures_and_accept_as_documented():
    s = np.array([[0.5, 0.3, 0.1], [0.4, 0.39, 0.0]])
    np.testing.assert_allclose(confidence(s, "top1"), [0.5, 0.4])
    np.testing.assert_allclose(confidence(s, "margin"), [0.2, 0.01])
    p = np.exp(s[0] / 0.1) / np.exp(s[0] / 0.1).sum()
    np.testing.assert_allclose(confidence(s[0], "softmax", 0.1), p[0])
    rule = Rejection("margin", threshold=0.05)
    assert rule.accept(s).tolist() == [True, False]
    assert bool(rule.accept(s[0])) is True and bool(rule.accept(s[1])) is False  # one window: a 0-d answer
    assert bool(Rejection("margin", threshold=0.2).accept(s[0])) is False  # strictly above the threshold


def test_threshold_from_few_or_no_wrong_windows():
    # 8 wrong windows cannot promise 10 % (1 / 9): the most confident wrong one is the bar anyway
    assert far_threshold(np.arange(8.0), 0.1) == 7.0
    # 9 wrong windows: the largest (1 / 10); 19: the 2nd largest (2 / 20)
    assert far_threshold(np.arange(9.0), 0.1) == 8.0
    assert far_threshold(np.arange(19.0), 0.1) == 17.0
    assert not Rejection("margin", 7.0, n_wrong=8).meets_target and Rejection("margin", 8.0, n_wrong=9).meets_target
    assert far_threshold(np.array([]), 0.1) == -math.inf
    scores = np.array([[0.9, 0.1], [0.8, 0.2]])
    rule = Rejection.fit(scores, np.array([True, True]), 0.1)
    assert rule.n_wrong == 0 and rule.threshold == -math.inf and rule.accept(scores).all()


def test_auroc():
    assert auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert auroc(np.array([1.0]), np.array([1.0])) == 0.5
    assert math.isnan(auroc(np.array([]), np.array([1.0])))


def test_json_round_trip_and_refit():
    scores, truth = synthetic_scores(500, seed=4)
    rule = Rejection.fit(scores, top1_correct(scores, truth), 0.05, temperature=0.1, fitted_on="validation")
    back = Rejection.from_dict(json.loads(json.dumps(rule.to_dict())))
    assert back == rule
    everything = Rejection("softmax", -math.inf)
    assert Rejection.from_dict(json.loads(json.dumps(everything.to_dict()))).threshold == -math.inf
    person, person_truth = synthetic_scores(300, seed=5)
    mine = rule.refit(person, top1_correct(person, person_truth), fitted_on="repetition 4")
    assert (mine.measure, mine.target_far, mine.temperature) == (rule.measure, 0.05, 0.1)
    assert mine.fitted_on == "repetition 4" and list(mine.comparison) == [rule.measure]


def test_bad_rules_and_inputs_are_one_sentence():
    with pytest.raises(MyostreamError, match="unknown"):
        Rejection("entropy", 0.1)
    with pytest.raises(MyostreamError, match="between 0 and 1"):
        Rejection("margin", 0.1, target_far=1.5)
    with pytest.raises(MyostreamError, match="unknown keys"):
        Rejection.from_dict({"measure": "margin", "threshold": 0.1, "colour": "red"})
    with pytest.raises(MyostreamError, match="malformed"):
        Rejection.from_dict({"measure": "margin", "threshold": "high"})
    with pytest.raises(MyostreamError, match="one correct flag per window"):
        Rejection.fit(np.zeros((3, 2)), np.ones(2, bool))
    with pytest.raises(MyostreamError, match="NaN"):
        Rejection.fit(np.full((3, 2), np.nan), np.ones(3, bool))
