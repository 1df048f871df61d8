import numpy as np
import pytest
from scipy import signal

from myostream.errors import MyostreamError
from myostream.stream.resample import Resampler, resampling_factors

RATIOS = [(200, 1000), (1000, 200), (2000, 200), (250, 200), (500, 200), (100, 200), (2000, 1000), (200, 500)]


def _noise(n, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, c)) + 3.0).astype(np.float32)  # with a DC offset


def _chunkings(n, rng):
    """Split points for chunks of 0, 1 and random sizes, plus one chunk longer than a block."""
    small = np.sort(rng.choice(np.arange(1, n // 2), size=n // 20, replace=False))
    ones = np.arange(n // 2, n // 2 + 7)  # seven 1-sample chunks
    zeros = np.array([n // 2 + 7, n // 2 + 7])  # an empty chunk
    return np.concatenate([small, ones, zeros, [n - 50]])  # ... then one long chunk and a last short one


@pytest.mark.parametrize("rates", RATIOS, ids=[f"{a}->{b}" for a, b in RATIOS])
def test_resampling_in_arbitrary_chunks_equals_resampling_at_once(rates):
    rate_in, rate_out = rates
    n = 6000  # longer than the internal buffer's span, so its history moves at least once
    x = _noise(n)
    ts = 50.0 + np.arange(n) / rate_in
    labels = (np.arange(n) // 97 % 7).astype(np.int16)
    whole = Resampler(rate_in, rate_out, 3).process_chunk(x, ts, labels)
    assert len(whole) == -(-n * rate_out // rate_in)
    delay = 10 / min(rate_in, rate_out)
    np.testing.assert_allclose(whole.timestamps, 50.0 + np.arange(len(whole)) / rate_out - delay, rtol=0, atol=1e-9)

    stage = Resampler(rate_in, rate_out, 3)
    cuts = _chunkings(n, np.random.default_rng(1))
    parts = [stage.process_chunk(x[s], ts[s], labels[s]) for s in np.split(np.arange(n), cuts)]
    np.testing.assert_allclose(np.concatenate([p.data for p in parts]), whole.data, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(np.concatenate([p.timestamps for p in parts]), whole.timestamps)
    np.testing.assert_array_equal(np.concatenate([p.labels for p in parts]), whole.labels)

    plain = Resampler(rate_in, rate_out, 3)  # process() (no stamps) gives the same samples
    pieces = [plain.process(x[s]) for s in np.split(np.arange(n), cuts)]
    np.testing.assert_allclose(np.concatenate(pieces), whole.data, rtol=0, atol=1e-5)


@pytest.mark.parametrize("rates", RATIOS, ids=[f"{a}->{b}" for a, b in RATIOS])
def test_matches_scipy_upfirdn_started_in_steady_state(rates):
    stage = Resampler(*rates, 2)
    x = _noise(10000, 2, seed=3)  # long enough for the history to move to the buffer's front
    # scipy's polyphase filter on the same taps, the signal preceded by its first sample
    # held long enough (a multiple of M inputs, so the output grids line up)
    pad = stage.down * (len(stage.taps) // stage.up + 2)
    held = np.concatenate([np.repeat(x[:1], pad, 0), x]).astype(np.float64)
    ref = signal.upfirdn(stage.taps, held, stage.up, stage.down, axis=0)
    y = stage.process(x)
    start = pad * stage.up // stage.down
    np.testing.assert_allclose(y, ref[start : start + len(y)], atol=1e-5)


@pytest.mark.parametrize("rates", [(200, 1000), (1000, 200), (250, 200), (2000, 1000)])
def test_a_sine_below_both_nyquists_keeps_frequency_amplitude_and_lands_at_its_stamps(rates):
    rate_in, rate_out = rates
    f = 30.0
    n = int(4 * rate_in)
    ts = 10.0 + np.arange(n) / rate_in
    x = np.sin(2 * np.pi * f * (ts - 10.0))[:, None].astype(np.float32)
    stage = Resampler(rate_in, rate_out, 1)
    out = stage.process_chunk(x, ts)
    steady = out.timestamps > 10.0 + 0.2  # past the start-up (a held first sample)
    # the stamps are the times of the content: the output is the input sine at those times
    expected = np.sin(2 * np.pi * f * (out.timestamps[steady] - 10.0))
    # within the passband ripple of a Kaiser beta = 5 design (about 54 dB: 0.2 %)
    np.testing.assert_allclose(out.data[steady, 0], expected, atol=3e-3)
    spectrum = np.abs(np.fft.rfft(out.data[steady, 0] * np.hanning(steady.sum())))
    freqs = np.fft.rfftfreq(steady.sum(), 1 / rate_out)
    assert abs(freqs[spectrum.argmax()] - f) <= freqs[1]
    assert stage.delay_s == pytest.approx(10 / min(rate_in, rate_out))
    # the last output carries content from delay_s before the last input (within one period of the slower rate)
    assert out.timestamps[-1] - (ts[-1] - stage.delay_s) == pytest.approx(0, abs=1 / min(rate_in, rate_out))


def _rms_after_start(y, skip):
    return float(np.sqrt(np.mean(np.square(y[skip:]))))


def test_content_above_the_output_nyquist_is_removed_before_decimation():
    rate_in, rate_out = 1000, 200
    t = np.arange(4000) / rate_in
    for f in (130.0, 170.0, 240.0, 410.0):  # would alias to 70, 30, 40, 10 Hz at 200 Hz
        y = Resampler(rate_in, rate_out, 1).process(np.sin(2 * np.pi * f * t)[:, None].astype(np.float32))
        assert _rms_after_start(y[:, 0], 100) < 0.003  # sine RMS 0.707: more than 47 dB down
    y = Resampler(rate_in, rate_out, 1).process(np.sin(2 * np.pi * 60.0 * t)[:, None].astype(np.float32))
    assert _rms_after_start(y[:, 0], 100) == pytest.approx(np.sqrt(0.5), rel=0.01)  # passband kept


def test_upsampling_leaves_no_images_above_the_input_nyquist():
    rate_in, rate_out = 200, 1000
    t = np.arange(2000) / rate_in
    y = Resampler(rate_in, rate_out, 1).process(np.sin(2 * np.pi * 40.0 * t)[:, None].astype(np.float32))[500:, 0]
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / rate_out)
    assert spectrum[freqs > 120].max() < 3e-3 * spectrum.max()  # images at 160, 240, ... Hz gone


def test_labels_follow_the_content_with_the_delay():
    rate_in, rate_out = 200, 1000
    n = 400
    labels = np.where(np.arange(n) < 200, 0, 1).astype(np.int16)  # class 1 from input sample 200 (t = 1 s)
    stage = Resampler(rate_in, rate_out, 2)
    out = stage.process_chunk(np.zeros((n, 2), np.float32), np.arange(n) / rate_in, labels)
    first_one = int(np.argmax(out.labels == 1))
    # output m carries content from m / 1000 - 0.05 s: class 1 starts at output 1050
    assert first_one == 1050 and out.timestamps[first_one] == pytest.approx(1.0)
    assert np.all(out.labels[:first_one] == 0) and np.all(out.labels[first_one:] == 1)


def test_jittered_timestamps_are_interpolated_monotonically():
    rng = np.random.default_rng(4)
    ts = np.cumsum(rng.uniform(0.5, 1.5, 3000)) / 1000.0
    out = Resampler(1000, 200, 1).process_chunk(np.zeros((3000, 1), np.float32), ts)
    assert np.all(np.diff(out.timestamps) > 0)
    inside = out.timestamps >= ts[0]
    # each stamp lies between the two input stamps it interpolates
    idx = np.searchsorted(ts, out.timestamps[inside], side="right") - 1
    assert np.all(out.timestamps[inside] >= ts[idx]) and np.all(out.timestamps[inside] <= ts[np.minimum(idx + 1, 2999)])


def test_starts_in_steady_state_and_reset_starts_afresh():
    x = np.full((500, 2), [1234.0, -56.0], np.float32)  # raw counts with an offset
    stage = Resampler(200, 1000, 2)
    np.testing.assert_allclose(stage.process(x), np.full((2500, 2), [1234.0, -56.0]), rtol=1e-5)
    y = _noise(800, 2, seed=5)
    stage.reset()
    np.testing.assert_array_equal(stage.process(y), Resampler(200, 1000, 2).process(y))


def test_equal_rates_pass_samples_through_untouched():
    stage = Resampler(1000, 1000, 3)
    x = _noise(50)
    ts = np.arange(50) / 1000.0
    assert stage.is_identity and stage.delay_s == 0.0
    assert stage.process(x) is x
    out = stage.process_chunk(x, ts, np.zeros(50, np.int16))
    assert out.data is x and out.timestamps is ts


def test_small_integer_factors_from_the_rates():
    assert resampling_factors(200, 1000) == (5, 1)
    assert resampling_factors(250, 200) == (4, 5)
    assert resampling_factors(52000 / 27, 2000) == (27, 26)  # Delsys Trigno's 1925.93 Hz
    with pytest.raises(MyostreamError, match="small integers"):
        resampling_factors(1000, 1000 * 1.0001234)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Resampler(0, 200, 8), "input rate is 0"),
        (lambda: Resampler(200, -5, 8), "output rate is -5"),
        (lambda: Resampler(float("nan"), 200, 8), "input rate is nan"),
        (lambda: Resampler(200, 1000, 0), "at least one channel"),
        (lambda: Resampler(200, 1000, 8, half_width=0), "half_width"),
    ],
)
def test_bad_construction_is_one_clear_sentence(make, match):
    with pytest.raises(MyostreamError, match=match):
        make()


def test_bad_chunks_are_refused_and_leave_the_state_as_it_was():
    x = _noise(300, 4)
    reference = Resampler(1000, 200, 4).process(x)
    stage = Resampler(1000, 200, 4)
    first = stage.process(x[:100])
    with pytest.raises(MyostreamError, match="built for 4 channels"):
        stage.process(np.zeros((10, 3), np.float32))
    bad = x[100:110].copy()
    bad[3, 2] = np.nan
    with pytest.raises(MyostreamError, match="NaN or infinite values .*sample 3, channel 2"):
        stage.process(bad)
    with pytest.raises(MyostreamError, match="10 samples with 9 timestamps"):
        stage.process_chunk(x[100:110], np.zeros(9))
    np.testing.assert_array_equal(np.concatenate([first, stage.process(x[100:])]), reference)
