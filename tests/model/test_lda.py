import numpy as np
import pytest

from myostream.errors import MyostreamError
from myostream.model.lda import HudginsLDA, ShrinkageLDA, ledoit_wolf_covariance


def _blobs(n=600, f=12, k=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centres = rng.normal(0, 1.5, (k, f))
    mixing = rng.normal(0, 1, (f, f)) * rng.uniform(0.1, 3, f)  # correlated features on different scales
    return centres[y] + rng.standard_normal((n, f)) @ mixing, y


def test_matches_scikit_learns_lsqr_auto_shrinkage_lda():
    discriminant = pytest.importorskip("sklearn.discriminant_analysis")
    covariance = pytest.importorskip("sklearn.covariance")
    x, y = _blobs()
    ours = ShrinkageLDA().fit(x[:400], y[:400])
    ref = discriminant.LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(x[:400], y[:400])
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(x[400:]), ref.predict(x[400:]))
    z = (x - x.mean(0)) / x.std(0)
    np.testing.assert_allclose(ledoit_wolf_covariance(z), covariance.ledoit_wolf(z)[0], rtol=1e-6, atol=1e-9)


def test_hudgins_lda_tells_apart_windows_that_differ_in_amplitude_and_frequency():
    rng = np.random.default_rng(1)
    t = np.arange(52)

    def windows(cls, n):
        amp = [1.0, 3.0, 1.0][cls]
        freq = [0.05, 0.05, 0.3][cls]  # cycles per sample: class 2 crosses zero far more often
        phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
        base = amp * np.sin(2 * np.pi * freq * t[None, :, None] + phase)
        return (base + 0.3 * rng.standard_normal((n, 52, 4))).astype(np.float32)

    y = np.repeat([0, 1, 2], 100)
    train = np.concatenate([windows(c, 100) for c in range(3)])
    test = np.concatenate([windows(c, 100) for c in range(3)])
    model = HudginsLDA().fit(train, y)
    assert model.features(test).shape == (300, 16)
    assert np.mean(model.predict(test) == y) > 0.95


def test_bad_training_data_is_one_clear_sentence():
    with pytest.raises(MyostreamError, match="at least two classes"):
        ShrinkageLDA().fit(np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(MyostreamError, match="windows \\[n, samples >= 3, channels\\]"):
        HudginsLDA().fit(np.zeros((5, 52)), np.zeros(5))
