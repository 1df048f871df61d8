from __future__ import annotations

import numpy as np
import pytest
import torch

from myostream.train.metrics import (
    bootstrap_std,
    class_centre_similarity,
    emg_to_text,
    summarize_ranks,
    target_ranks,
    text_to_emg,
    text_to_emg_from_scores,
)


def test_ranks_and_recall_by_hand():
    scores = torch.tensor(
        [
            [0.9, 0.1, 0.0, 0.2, 0.3, 0.4],  # target 0 -> rank 1
            [0.5, 0.4, 0.3, 0.2, 0.1, 0.0],  # target 2 -> rank 3
            [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],  # target 0 -> rank 6
            [0.7, 0.7, 0.0, 0.0, 0.0, 0.0],  # target 1 tied with 0 -> rank 2 (ties count against it)
        ]
    )
    ranks = target_ranks(scores, torch.tensor([0, 2, 0, 1]))
    assert ranks.tolist() == [1, 3, 6, 2]
    m = summarize_ranks(ranks)
    assert m["R@1"] == 0.25 and m["R@3"] == 0.75 and m["R@5"] == 0.75
    assert m["MRR"] == pytest.approx((1 + 1 / 3 + 1 / 6 + 1 / 2) / 4)


def test_collapsed_scores_are_the_worst_case():
    ranks = target_ranks(torch.zeros(3, 4), torch.tensor([0, 1, 2]))
    assert ranks.tolist() == [4, 4, 4]


def test_emg_to_text_uses_cosine_with_prototypes_and_bootstrap():
    p = torch.eye(3)
    z = torch.tensor([[1.0, 0.2, 0.0], [0.0, 0.1, 1.0], [0.3, 1.0, 0.0], [0.0, 1.0, 0.0]])
    y = torch.tensor([0, 2, 1, 0])  # last one: target 0 scores 0 < 1 -> rank 2 (or 3 with the tie at 0)
    out = emg_to_text(z, y, p, n_bootstrap=200)
    assert out["R@1"] == 0.75 and out["n"] == 4
    assert out["MRR"] == pytest.approx((1 + 1 + 1 + 1 / 3) / 4)
    assert 0 < out["R@1_std"] < 0.5 and out["R@3_std"] == 0.0


def test_bootstrap_std_matches_the_binomial_standard_error():
    ranks = np.array([1] * 300 + [2] * 700)
    std = bootstrap_std(ranks, ks=(1,), n_bootstrap=2000, seed=1)["R@1"]
    assert std == pytest.approx(np.sqrt(0.3 * 0.7 / 1000), rel=0.1)


def test_text_to_emg_episodes_by_hand():
    # classes 0, 1, 2; windows 0,1 of class 0, window 2 of class 1, window 3 of class 2.
    y = torch.tensor([0, 0, 1, 2])
    scores = torch.tensor(
        [
            [0.9, 0.1, 0.5, 0.0],  # class 0: window 0 ranks 1st in its episodes, window 1 ranks 3rd
            [0.0, 0.0, 0.8, 0.1],  # class 1: always 1st
            [0.0, 0.0, 0.9, 0.5],  # class 2: always 2nd (behind window 2)
        ]
    )
    out = text_to_emg_from_scores(scores, y, n_episodes=400, seed=0)
    # an episode with window 0: R@1 = (1 + 1 + 0) / 3; with window 1: (0 + 1 + 0) / 3
    assert 1 / 3 < out["R@1"] < 2 / 3 and out["R@1"] == pytest.approx(0.5, abs=0.05)
    assert out["R@1_se"] == pytest.approx((1 / 6) / np.sqrt(400), rel=0.05)
    assert out["R@3"] == 1.0 and out["R@3_se"] == 0.0
    assert out["MRR"] == pytest.approx((0.5 * (1 + 1 + 0.5) + 0.5 * (1 / 3 + 1 + 0.5)) / 3, abs=0.02)
    assert out["episodes"] == 400 and out["classes"] == 3


def test_text_to_emg_is_deterministic_and_perfect_when_separated():
    y = torch.arange(20) % 5
    z = torch.nn.functional.one_hot(y, 5).float() + 0.01 * torch.randn(20, 5)
    a = text_to_emg(z, y, torch.eye(5), seed=3)
    assert a == text_to_emg(z, y, torch.eye(5), seed=3)
    assert a["R@1"] == 1.0 and a["MRR_se"] == 0.0 and a["episodes"] == 100
    with pytest.raises(ValueError, match="no test window"):
        text_to_emg(z[y < 4], y[y < 4], torch.eye(5), classes=[0, 4])


def test_class_centre_similarity():
    z = torch.tensor([[1.0, 0.0], [1.0, 0.2], [1.0, -0.2], [0.0, 3.0]])
    y = torch.tensor([0, 0, 0, 1])
    p = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    sim = class_centre_similarity(z, y, p)
    # class 0's centre points along x (the +-0.2 cancel), class 1's along y; class 2 has no window
    expected = torch.tensor([[1.0, 0.0, 2**-0.5], [0.0, 1.0, 2**-0.5]], dtype=torch.float64)
    assert torch.allclose(sim[:2], expected, atol=1e-6) and torch.isnan(sim[2]).all()
