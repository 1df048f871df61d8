import numpy as np
import pytest

from myostream.errors import MyostreamError
from myostream.stream.gaps import GapCounter

RATE = 200.0


def _stamps(idx) -> np.ndarray:
    return 1000.0 + np.asarray(idx, dtype=np.float64) / RATE


def test_regular_and_jittered_stamps_lose_nothing():
    rng = np.random.default_rng(0)
    gaps = GapCounter(RATE)
    t = _stamps(np.arange(400)) + rng.uniform(-0.25, 0.25, 400) / RATE  # steps stay within 0.5..1.5 periods
    assert sum(gaps.count(block) for block in np.split(t, 8)) == 0


def test_a_gap_is_counted_once_within_and_across_blocks():
    gaps = GapCounter(RATE)
    assert gaps.count(_stamps(range(0, 20))) == 0
    assert gaps.count(_stamps(range(27, 40))) == 7  # 20..26 missing, between blocks
    assert gaps.count(_stamps([*range(40, 50), *range(53, 60)])) == 3  # 50..52 missing, inside a block
    assert gaps.count(_stamps(range(60, 80))) == 0


def test_device_clock_off_its_nominal_rate_is_not_loss():
    gaps = GapCounter(RATE)
    for rate_error in (0.97, 1.03):
        t = 1000.0 + np.arange(2000) / (RATE * rate_error)
        assert sum(gaps.count(b) for b in np.split(t, 20)) == 0
        gaps = GapCounter(RATE)


def test_bursts_stamped_on_arrival_are_not_loss_before_or_after_the_long_step():
    # a bridge stamping 10-sample Bluetooth packets on arrival: 10 equal stamps, then a 10-period step
    arrival = np.repeat(_stamps(np.arange(0, 200, 10)), 10)
    gaps = GapCounter(RATE)
    assert sum(gaps.count(b) for b in np.split(arrival, 5)) == 0
    # a generator that stalled 14 periods and then caught up with a burst
    stalled = _stamps([*range(0, 10), *([23.4] * 14), *range(24, 40)])
    assert GapCounter(RATE).count(stalled) == 0


def test_real_gap_after_bursts_still_counts():
    gaps = GapCounter(RATE)
    assert gaps.count(np.repeat(_stamps(np.arange(0, 50, 10)), 10)) == 0
    assert gaps.count(_stamps(range(50, 60))) == 0
    # seconds later the stream resumes 100 samples on; earlier burst credit has faded
    assert gaps.count(_stamps(range(560, 570))) == 500


def test_rate_must_be_positive():
    with pytest.raises(MyostreamError, match="positive sampling rate"):
        GapCounter(0.0)


def test_a_late_stamp_followed_by_an_early_one_is_jitter_even_across_blocks():
    gaps = GapCounter(RATE)
    assert gaps.count(_stamps([*range(0, 10), 10.65])) == 0  # 1.65 periods late
    assert gaps.count(_stamps(range(11, 30))) == 0  # next stamp back on the grid (0.35 periods later)


def test_late_stamps_paid_back_by_slightly_early_ones_do_not_add_up():
    # stamps 0.3 periods late every 7th sample, each followed by an on-grid one: steps 1.3 / 0.7
    late = np.where(np.arange(700) % 7 == 3, 0.3, 0.0)
    # and a couple of 0.65-period-late stamps: steps 1.65 then 0.35
    late[100] = late[400] = 0.65
    gaps = GapCounter(RATE)
    t = _stamps(np.arange(700) + late)
    assert sum(gaps.count(b) for b in np.split(t, 70)) == 0


def test_find_gaps_places_and_measures_each_loss_in_a_whole_recording():
    from myostream.stream.gaps import find_gaps

    rng = np.random.default_rng(1)
    kept = np.concatenate([np.arange(0, 300), np.arange(350, 800), np.arange(801, 1000)])  # 50 lost, then 1
    assert find_gaps(_stamps(kept), RATE) == [(300, 50), (750, 1)]
    # jitter of +-0.2 periods: the live counter pays some of it off against the room (49);
    # measured against the grid on either side the gap is exactly 50
    t = _stamps(kept[:700]) + rng.uniform(-0.2, 0.2, 700) / RATE
    gaps = GapCounter(RATE)
    assert sum(gaps.count(b) for b in np.array_split(t, 35)) < 50
    assert find_gaps(t, RATE) == [(300, 50)]
    assert find_gaps(_stamps(np.arange(1000)), RATE) == []
    assert find_gaps(t[:1], RATE) == [] and find_gaps(t[:0], RATE) == []
