import numpy as np
import pytest
from scipy import signal

from myostream.errors import MyostreamError
from myostream.preprocess import FilterSpec
from myostream.stream.devices import load_profile
from myostream.stream.filters import FilterStage, design_sos

RATE = 2000.0


def _noise(n=8000, c=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, c)) + 3.0).astype(np.float32)  # with a DC offset


@pytest.mark.parametrize(
    "spec",
    [
        FilterSpec(highpass=20, lowpass=450, notch=50, harmonics=3),
        FilterSpec(highpass=20),
        FilterSpec(highpass=20, lowpass=450, envelope=5.0),
        FilterSpec(notch=60, harmonics=2),
    ],
)
def test_filtering_in_arbitrary_chunks_equals_filtering_at_once(spec):
    x = _noise()
    whole = FilterStage(RATE, 4, spec).process(x)
    stage = FilterStage(RATE, 4, spec)
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.choice(np.arange(1, len(x)), size=60, replace=False))
    pieces = [stage.process(p) for p in np.split(x, cuts)]
    np.testing.assert_allclose(np.concatenate(pieces), whole, rtol=0, atol=1e-5)


def test_matches_scipy_reference_and_removes_dc_and_mains():
    t = np.arange(20000) / RATE
    x = (5.0 + np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 120 * t))[:, None].astype(np.float32)
    spec = FilterSpec(highpass=20, lowpass=450, notch=50, harmonics=3)
    y = FilterStage(RATE, 1, spec).process(x)
    sos = design_sos(RATE, spec)
    ref = signal.sosfilt(sos, x.astype(np.float64), axis=0, zi=signal.sosfilt_zi(sos)[:, :, None] * x[0])[0]
    np.testing.assert_allclose(y, ref, atol=1e-5)
    tail = y[10000:, 0]
    assert abs(tail.mean()) < 0.01  # DC gone
    amp50 = np.abs(np.fft.rfft(tail))[np.argmin(np.abs(np.fft.rfftfreq(len(tail), 1 / RATE) - 50))]
    amp120 = np.abs(np.fft.rfft(tail))[np.argmin(np.abs(np.fft.rfftfreq(len(tail), 1 / RATE) - 120))]
    assert amp50 < 0.02 * amp120 * 2  # 50 Hz notched, 120 Hz kept


def test_edges_above_nyquist_are_clipped_not_rejected():
    # a 20-450 Hz band-pass on a 200 Hz stream becomes a 20 Hz high-pass with only the 50 Hz notch
    low_rate = design_sos(200.0, FilterSpec(highpass=20, lowpass=450, notch=50, harmonics=3))
    assert len(low_rate) == len(signal.butter(4, 20, "highpass", fs=200, output="sos")) + 1
    with pytest.raises(MyostreamError, match="Nyquist"):
        FilterStage(100.0, 2, FilterSpec(highpass=60))
    with pytest.raises(MyostreamError, match="inverted"):
        FilterStage(RATE, 2, FilterSpec(highpass=300, lowpass=100))


def test_envelope_is_smooth_and_nonnegative_for_a_burst():
    x = np.zeros((6000, 1), np.float32)
    x[2000:4000, 0] = np.random.default_rng(0).standard_normal(2000)
    env = FilterStage(RATE, 1, FilterSpec(highpass=20, envelope=5.0)).process(x)[:, 0]
    assert env[3000:3900].mean() > 5 * env[:1900].mean() + 0.1
    assert env[3000:3900].min() > 0


def test_profile_filter_and_channel_mismatch():
    prof = load_profile("simulated")
    stage = FilterStage.from_profile(prof)
    assert stage.rate == 1000 and not stage.is_identity
    assert FilterStage.from_profile(load_profile("ninapro-db1")).is_identity  # rectified data: no filter
    with pytest.raises(MyostreamError, match="8 channels"):
        stage.process(np.zeros((10, 3), np.float32))
    with pytest.raises(MyostreamError, match="notch"):
        FilterSpec.from_dict({"notch": 55})
