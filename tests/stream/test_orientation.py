"""How a ring band sits: the one ring map, and estimating it from a wearer's windows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from myostream.errors import MyostreamError
from myostream.stream.orientation import Orientation, estimate_orientation, level_profile, ring_matrix

C = 8


def test_ring_matrix_turns_mirrors_and_interpolates():
    x = np.arange(C, dtype=float)
    assert (x @ ring_matrix(C, 1, False).T).tolist() == [7, 0, 1, 2, 3, 4, 5, 6]
    assert (x @ ring_matrix(C, 0, True).T).tolist() == [0, 7, 6, 5, 4, 3, 2, 1]
    assert (x @ ring_matrix(C, 0.5, False).T).tolist() == [3.5, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5]
    for o in (Orientation(3, False), Orientation(5, True)):
        m = o.matrix(C)
        assert np.allclose(m.sum(axis=1), 1) and np.allclose(m @ m.T, np.eye(C))  # whole turns: permutations


class PatternRanker:
    """Ranks windows by how well their channel RMS pattern matches each class's pattern (a real,
    if simple, ranker: the pipeline's protocol, numpy only)."""

    def __init__(self, patterns: np.ndarray) -> None:
        self.patterns = patterns / np.linalg.norm(patterns, axis=1, keepdims=True)

    def rank(self, windows: np.ndarray, k: int = 1):
        rms = np.sqrt((windows**2).mean(axis=1))
        rms /= np.linalg.norm(rms, axis=1, keepdims=True)
        return SimpleNamespace(all_scores=rms @ self.patterns.T)


def wearer(rng, patterns: np.ndarray, n: int = 200) -> np.ndarray:
    """Windows of a wearer doing each class in turn: noise shaped by the class's pattern."""
    classes = rng.integers(0, len(patterns), n)
    return (rng.normal(size=(n, 20, C)) * patterns[classes][:, None, :]).astype(np.float32)


@pytest.mark.parametrize("worn", [Orientation(3, False), Orientation(0, True), Orientation(6, True), Orientation()])
def test_the_estimate_undoes_how_the_band_was_worn(worn):
    rng = np.random.default_rng(0)
    # four gestures, each strong on its own side of the forearm, and unevenly strong muscles
    angles = 2 * np.pi * np.arange(C) / C
    patterns = np.stack([1.2 + np.cos(angles - a) for a in (0.3, 1.9, 3.4, 4.9)]) * np.linspace(1.5, 0.8, C)
    ranker = PatternRanker(patterns)
    windows = worn.apply(wearer(rng, patterns))
    level = np.sqrt((windows**2).mean(axis=(0, 1)))
    reference = level_profile(np.sqrt((wearer(rng, patterns) ** 2).mean(axis=(0, 1))))
    for lv, ref in ((level, reference), (None, None)):  # with the anatomy term, and confidence alone
        fix, evidence = estimate_orientation(ranker, windows, lv, ref)
        undone = fix.matrix(C) @ worn.matrix(C)
        assert np.allclose(undone, np.eye(C)), (worn, fix, evidence)
        assert len(evidence["confidence"]) == 32 and evidence["chosen"] == (fix.shift, fix.mirror)


def test_no_windows_no_estimate():
    with pytest.raises(MyostreamError, match="needs some windows"):
        estimate_orientation(PatternRanker(np.eye(C)), np.zeros((0, 20, C)))


def test_a_turn_must_beat_the_band_as_worn_by_the_margin():
    rng = np.random.default_rng(1)
    angles = 2 * np.pi * np.arange(C) / C
    patterns = np.stack([1.2 + np.cos(angles - a) for a in (0.3, 1.9, 3.4, 4.9)])
    worn = Orientation(3, False)
    windows = worn.apply(wearer(rng, patterns))
    fix, evidence = estimate_orientation(PatternRanker(patterns), windows, margin=0.0)
    assert not fix.identity
    confidence = np.asarray(evidence["confidence"])
    z = (confidence - confidence.mean()) / confidence.std()
    lead = float(z.max() - z[0])  # how far the winner's evidence beats the band as worn
    assert estimate_orientation(PatternRanker(patterns), windows, margin=0.9 * lead)[0] == fix
    assert estimate_orientation(PatternRanker(patterns), windows, margin=1.1 * lead)[0].identity


def test_a_person_s_fused_lda_does_not_weigh_the_turns():
    """The person's LDA is sure of some class however the band sits; only the embedding weighs turns."""
    from myostream.model.fusion import LDAFusion
    from myostream.runtime import bundled_checkpoint, load_model

    model = load_model(bundled_checkpoint("myo-armband"))
    rng = np.random.default_rng(2)
    angles = 2 * np.pi * np.arange(C) / C
    patterns = np.stack([1.2 + np.cos(angles - a) for a in (0.3, 1.9, 3.4, 4.9)])
    classes = rng.integers(0, len(patterns), 120)
    windows = (rng.normal(size=(120, model.config.window_samples, C)) * patterns[classes][:, None, :]).astype(
        np.float32
    )
    plain = estimate_orientation(model, windows)
    # an LDA fitted on the band turned by two electrodes and flipped: confident on that turn
    turned = Orientation(2, True).apply(windows)
    model.fusion = LDAFusion.fit(turned, classes, model.class_ids, 5.0, model.config.stage3.temperature)
    assert not np.allclose(model.rank(windows).all_scores, model.embedding_scores(windows))  # the LDA does count
    assert estimate_orientation(model, windows) == plain
