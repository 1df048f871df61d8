"""Per-user normalisation: one level statistic offline and live, robust to rest."""

from __future__ import annotations

import numpy as np
import pytest

from myostream.errors import MyostreamError
from myostream.preprocess import FilterSpec, Preprocessing, user_scale
from myostream.stream.normalise import RunningUserScale

RATE = 200.0


def person(gains: np.ndarray, rest_s: float, move_s: float, after_rest_s: float = 0.0, seed: int = 0) -> np.ndarray:
    """Noise-level rest, then movement scaled by per-channel ``gains``, then rest again."""
    rng = np.random.default_rng(seed)
    parts = [
        rng.normal(0, 1, (int(rest_s * RATE), len(gains))),
        rng.normal(0, 30, (int(move_s * RATE), len(gains))) * gains,
        rng.normal(0, 1, (int(after_rest_s * RATE), len(gains))),
    ]
    return np.concatenate(parts).astype(np.float32)


def test_the_level_is_the_movements_and_ignores_rest():
    gains = np.linspace(0.5, 2.0, 8)
    short, long = person(gains, 5, 20), person(gains, 5, 20, after_rest_s=300)
    a, b = user_scale(short, RATE, "channel"), user_scale(long, RATE, "channel")
    np.testing.assert_allclose(a, 30 * gains, rtol=0.1)  # the movement's RMS, not diluted by rest
    np.testing.assert_allclose(b, a, rtol=0.05)  # five minutes of rest change nothing
    g = user_scale(short, RATE, "global")
    assert np.ptp(g) == 0 and g[0] == pytest.approx(np.sqrt(np.mean(a**2)), rel=1e-4)
    assert (user_scale(short, RATE, "none") == 1).all()


def test_no_signal_is_no_level():
    with pytest.raises(MyostreamError, match="No signal to estimate the wearer's level"):
        user_scale(np.zeros((2000, 4), np.float32), RATE, "channel")


@pytest.mark.parametrize("chunk", [3, 64])
def test_live_level_settles_on_the_offline_level_and_holds_through_rest(chunk):
    gains = np.linspace(0.5, 2.0, 8)
    x = person(gains, rest_s=30, move_s=20, after_rest_s=200)
    running = RunningUserScale(RATE, 8, "channel", prior=np.full(8, 20.0))  # the population's level
    move_start, move_end = int(30 * RATE), int(50 * RATE)
    out = []
    for i in range(0, len(x), chunk):
        before = running.scale.copy()
        out.append(running.process(x[i : i + chunk]))
        if i + chunk <= move_start:
            # rest only: the prior stays, and rest is never taken for the wearer's level
            assert not running.settled and (running.scale == 20.0).all()
        np.testing.assert_allclose(out[-1], x[i : i + chunk] / before, rtol=1e-6)  # scaled by the level so far
    offline = user_scale(x[move_start:move_end], RATE, "channel")
    assert running.settled and running.active_seconds == pytest.approx(20.0, abs=0.2)
    np.testing.assert_allclose(running.scale, offline, rtol=0.1)


def test_a_known_level_starts_settled():
    running = RunningUserScale(RATE, 2, "global", prior=[3.0, 3.0])
    running.start_settled()
    assert running.settled
    np.testing.assert_allclose(running.process(np.full((4, 2), 6.0, np.float32)), 2.0)
    assert RunningUserScale(RATE, 2, "none").settled


def test_preprocessing_round_trip_and_checks():
    pre = Preprocessing(
        rate=200.0,
        n_channels=2,
        window_ms=260.0,
        hop_ms=65.0,
        filter=FilterSpec(highpass=10.0),
        normalisation="channel",
        prior_scale=(1.5, 2.5),
        ring=True,
        channel_names=("a", "b"),
    )
    assert Preprocessing.from_dict(pre.to_dict()) == pre and pre.window_samples == 52
    with pytest.raises(MyostreamError, match="Normalisation 'zscore' is unknown"):
        Preprocessing(rate=200.0, n_channels=2, window_ms=260.0, hop_ms=65.0, normalisation="zscore")
    with pytest.raises(MyostreamError, match="prior_scale has 1 values for 2 channels"):
        Preprocessing(rate=200.0, n_channels=2, window_ms=260.0, hop_ms=65.0, prior_scale=(1.0,))
    with pytest.raises(MyostreamError, match="unknown keys \\['gain'\\]"):
        Preprocessing.from_dict({**pre.to_dict(), "gain": 2})
