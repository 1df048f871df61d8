"""The simulated armband: determinism, schedules, separability, spectrum, hum, validation."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from scipy import signal

from myostream.errors import MyostreamError
from myostream.records import Source, opened
from myostream.stream.lslconfig import pylsl_module
from myostream.stream.simulated import ARMBAND_GESTURES, SimulatedArmband

RATE = 1000.0
CYCLE_S = len(ARMBAND_GESTURES) * (3.0 + 2.0)


def offline(**kwargs) -> SimulatedArmband:
    return SimulatedArmband(realtime=False, **kwargs)


def read_samples(sim: SimulatedArmband, n: int) -> tuple[np.ndarray, np.ndarray]:
    data, labels, got = [], [], 0
    with opened(sim):
        while got < n:
            chunk = sim.read()
            data.append(chunk.data)
            labels.append(chunk.labels)
            got += len(chunk)
    return np.concatenate(data)[:n], np.concatenate(labels)[:n]


def runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """Run-length encoding: [(label, length), ...]."""
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts, stops = np.r_[0, edges], np.r_[edges, len(labels)]
    return [(int(labels[a]), int(b - a)) for a, b in zip(starts, stops)]


def rms_windows(data: np.ndarray, labels: np.ndarray, rate: float = RATE) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel RMS of 200 ms windows, skipping each cue's first 0.5 s (the ramp)."""
    win, settle = round(0.2 * rate), round(0.5 * rate)
    feats, classes, start = [], [], 0
    for label, length in runs(labels):
        for a in range(start + settle, start + length - win + 1, win):
            feats.append(np.sqrt(np.mean(data[a : a + win] ** 2, axis=0)))
            classes.append(label)
        start += length
    return np.array(feats), np.array(classes)


def nearest_centroid_accuracy(train, test) -> float:
    (x_tr, y_tr), (x_te, y_te) = train, test
    classes = np.unique(y_tr)
    centroids = np.stack([x_tr[y_tr == c].mean(axis=0) for c in classes])
    predicted = classes[np.argmin(((x_te[:, None] - centroids[None]) ** 2).sum(axis=-1), axis=1)]
    return float(np.mean(predicted == y_te))


_cycles: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def one_cycle(user: int, session: int) -> tuple[np.ndarray, np.ndarray]:
    """RMS windows of one full cycle (rest + 8 gestures) of a user's session, cached."""
    if (user, session) not in _cycles:
        chunk = offline(user=user, session=session, hum=None).generate(CYCLE_S)
        _cycles[user, session] = rms_windows(chunk.data, chunk.labels)
    return _cycles[user, session]


def test_is_a_source_with_labelled_chunks():
    sim = offline(n_channels=16, rate=2000.0, gestures=("fist", "my_own_gesture"), chunk_ms=10)
    assert isinstance(sim, Source)
    assert sim.info.rate == 2000.0 and sim.info.n_channels == 16 and sim.info.unit == "mV"
    assert sim.info.label_names == ("rest", "fist", "my_own_gesture")
    with opened(sim):
        chunk = sim.read()
    assert chunk.data.shape == (20, 16) and chunk.data.dtype == np.float32
    assert chunk.labels is not None and len(chunk.labels) == 20
    assert np.all(np.diff(chunk.timestamps) > 0)


@pytest.mark.parametrize("schedule", ["cycle", "random"])
def test_same_arguments_give_the_same_samples_for_any_chunking(schedule):
    n = 6500  # crosses several cue boundaries with hold 1 s, rest 0.5 s
    kwargs = dict(seed=3, user=2, session=1, schedule=schedule, hold_s=1.0, rest_s=0.5)
    block = offline(**kwargs).generate(n / RATE)
    for chunk_ms in (7, 20, 333):
        data, labels = read_samples(offline(chunk_ms=chunk_ms, **kwargs), n)
        np.testing.assert_array_equal(data, block.data)
        np.testing.assert_array_equal(labels, block.labels)


def test_seeds_users_and_sessions_give_different_signals():
    base = offline().generate(1.0).data
    for kwargs in (dict(seed=1), dict(user=1), dict(session=1)):
        other = offline(**kwargs).generate(1.0).data
        assert not np.allclose(base, other)
    np.testing.assert_array_equal(base, offline().generate(1.0).data)


def test_realtime_delivers_samples_as_wall_time_passes_and_matches_offline():
    sim = SimulatedArmband(seed=5, chunk_ms=10)
    before = pylsl_module().local_clock()
    with opened(sim):
        time.sleep(0.3)
        first = sim.read()
        later = sim.read(timeout=1.0)
        elapsed = pylsl_module().local_clock() - before
    n = len(first)
    # At least 0.3 s minus one 10 ms packet is due; never more than the wall time allows.
    assert 0.28 * RATE <= n <= elapsed * RATE + 1
    assert len(later) > 0  # read(timeout) waits for the next packet
    stamps = np.concatenate([first.timestamps, later.timestamps])
    assert before <= stamps[0] <= before + elapsed
    np.testing.assert_allclose(np.diff(stamps), 1.0 / RATE, rtol=1e-6)
    both = np.concatenate([first.data, later.data])
    np.testing.assert_array_equal(both, offline(seed=5).generate(len(both) / RATE).data)


def test_cycle_schedule_follows_hold_and_rest_times():
    sim = offline(schedule="cycle", hold_s=0.5, rest_s=0.3)
    chunk = sim.generate(2 * 8 * 0.8)
    expected = [(label, length) for g in range(1, 9) for label, length in ((0, 300), (g, 500))] * 2
    assert runs(chunk.labels) == expected
    assert sim.current_gesture == "point"


def test_random_schedule_shuffles_every_cycle_deterministically():
    sim = offline(schedule="random", hold_s=0.2, rest_s=0.1, seed=4)
    labels = sim.generate(4 * 8 * 0.3).labels
    holds = [label for label, _ in runs(labels) if label != 0]
    cycles = [holds[i : i + 8] for i in range(0, 32, 8)]
    assert all(sorted(c) == list(range(1, 9)) for c in cycles)
    assert len({tuple(c) for c in cycles}) > 1
    again = offline(schedule="random", hold_s=0.2, rest_s=0.1, seed=4).generate(4 * 8 * 0.3).labels
    np.testing.assert_array_equal(labels, again)


def test_manual_schedule_follows_set_gesture():
    sim = offline(schedule="manual", hum=None)
    rest = sim.generate(1.0)
    assert set(rest.labels) == {0} and sim.current_gesture == "rest"
    sim.set_gesture("fist")
    assert sim.current_gesture == "fist"
    fist = sim.generate(1.0)
    assert set(fist.labels) == {1}
    sim.set_gesture("rest")
    back = sim.generate(1.0)
    assert set(back.labels) == {0}
    steady = slice(500, None)
    strength = [np.sqrt(np.mean(c.data[steady] ** 2)) for c in (rest, fist, back)]
    assert strength[1] > 5 * strength[0] and strength[1] > 5 * strength[2]

    with pytest.raises(MyostreamError, match="open_hand"):
        sim.set_gesture("thumbs_up")
    with pytest.raises(MyostreamError, match="manual"):
        offline(schedule="cycle").set_gesture("fist")


def test_a_scheduled_armband_follows_cues_for_a_while_then_rejoins_its_schedule():
    """A calibration cues a simulated person who was running the cycle schedule, then lets them go on."""
    sim = offline(schedule="cycle", hold_s=1.0, rest_s=1.0, hum=None)
    reference = offline(schedule="cycle", hold_s=1.0, rest_s=1.0, hum=None).generate(8.0).labels
    first = sim.generate(2.5).labels  # rest, then gesture 1 from 1.0 s
    sim.set_schedule("manual")
    sim.set_gesture("pinch")
    cued = sim.generate(2.0).labels
    sim.set_schedule("cycle")
    after = sim.generate(3.5).labels
    np.testing.assert_array_equal(first, reference[:2500])
    assert set(cued) == {sim.info.label_names.index("pinch")}
    np.testing.assert_array_equal(after, reference[4500:8000])  # the schedule's own gestures, on its own clock
    with pytest.raises(MyostreamError, match="schedule is 'sometimes'"):
        sim.set_schedule("sometimes")


def test_set_gesture_from_another_thread_while_reading():
    sim = offline(schedule="manual", chunk_ms=5)
    cues = ["fist", "pinch", "open_hand", "rest", "point"]
    done = threading.Event()

    def cue_loop():
        for cue in cues * 20:
            sim.set_gesture(cue)
        done.set()

    labels = []
    with opened(sim):
        worker = threading.Thread(target=cue_loop)
        worker.start()
        while not done.is_set():
            labels.append(sim.read().labels)
        worker.join()
        labels.append(sim.read().labels)
    assert set(np.concatenate(labels)) <= set(range(9))
    assert sim.current_gesture == "point" and labels[-1][-1] == sim.info.label_names.index("point")


def test_gestures_are_separable_across_sessions_of_a_user():
    for user in (0, 1, 2):
        accuracy = nearest_centroid_accuracy(one_cycle(user, 0), one_cycle(user, 1))
        print(f"user {user}: session 0 -> session 1 nearest-centroid accuracy {accuracy:.3f} (9 classes)")
        assert accuracy >= 0.9


def test_cross_user_accuracy_is_above_chance():
    pairs = [(u, v) for u in range(4) for v in range(4) if u != v]
    accuracies = [nearest_centroid_accuracy(one_cycle(u, 0), one_cycle(v, 0)) for u, v in pairs]
    print(f"cross-user nearest-centroid accuracy: mean {np.mean(accuracies):.3f}, min {np.min(accuracies):.3f}")
    assert np.mean(accuracies) > 3 / 9


def test_sessions_of_a_user_are_closer_than_other_users():
    def signature(user: int, session: int) -> np.ndarray:
        x, y = one_cycle(user, session)
        return np.stack([np.log(x[y == c]).mean(axis=0) for c in range(9)])

    for user in range(3):
        same = np.linalg.norm(signature(user, 0) - signature(user, 1))
        others = [np.linalg.norm(signature(user, 0) - signature(v, 0)) for v in range(4) if v != user]
        assert same < min(others)


def test_spectrum_lies_mostly_in_the_emg_band():
    chunk = offline(hum=None, hold_s=3.0, rest_s=1.0).generate(4.0)
    fist = chunk.data[chunk.labels == 1][500:]
    freqs, psd = signal.welch(fist, fs=RATE, nperseg=256, axis=0)
    band = (freqs >= 20) & (freqs <= 250)
    fraction = psd[band].sum(axis=0) / psd.sum(axis=0)
    assert np.all(fraction > 0.7), fraction


def hum_ratio(data: np.ndarray, at: float) -> float:
    """Power at ``at`` Hz over the median power 5-15 Hz away from it (all channels together)."""
    freqs, psd = signal.welch(data, fs=RATE, nperseg=1000, axis=0)
    total = psd.sum(axis=1)
    near = (np.abs(freqs - at) >= 5) & (np.abs(freqs - at) <= 15)
    return float(total[np.argmin(np.abs(freqs - at))] / np.median(total[near]))


def test_mains_hum_present_when_enabled_and_absent_with_none():
    rest_only = dict(hold_s=1.0, rest_s=5.0)  # the first 5 s are rest
    for seed in (0, 1, 2):
        assert hum_ratio(offline(seed=seed, hum=50.0, **rest_only).generate(4.0).data, 50.0) > 5
        assert hum_ratio(offline(seed=seed, hum=60.0, **rest_only).generate(4.0).data, 60.0) > 5
        assert hum_ratio(offline(seed=seed, hum=None, **rest_only).generate(4.0).data, 50.0) < 2


def test_rest_is_much_weaker_than_a_fist_and_amplitudes_are_plausible():
    chunk = offline(hum=None, hold_s=3.0, rest_s=2.0).generate(5.0)
    rest = chunk.data[chunk.labels == 0][500:]
    fist = chunk.data[chunk.labels == 1][500:]
    rest_rms, fist_rms = np.sqrt(np.mean(rest**2, axis=0)), np.sqrt(np.mean(fist**2, axis=0))
    assert rest_rms.max() < 0.15 * fist_rms.max()
    assert 0.005 < rest_rms.mean() < 0.1  # mV: tens of µV at rest
    assert 0.2 < fist_rms.max() < 2.0  # up to about 1 mV in a strong contraction


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(rate=0),
        dict(rate=-1000.0),
        dict(rate=float("nan")),
        dict(n_channels=0),
        dict(n_channels=2.5),
        dict(gestures=()),
        dict(gestures="fist"),
        dict(gestures=("fist", "fist")),
        dict(gestures=("fist", 3)),
        dict(gestures=("rest", "fist")),
        dict(hold_s=0),
        dict(rest_s=-1.0),
        dict(schedule="shuffle"),
        dict(hum=600.0),
        dict(seed=-1),
        dict(chunk_ms=0),
    ],
)
def test_bad_arguments_raise_one_clear_error(kwargs):
    with pytest.raises(MyostreamError):
        SimulatedArmband(**kwargs)


def test_read_before_open_raises():
    with pytest.raises(MyostreamError, match="open"):
        offline().read()


def test_streams_longer_than_ten_minutes_without_error():
    """Regression: the drift cache was cleared while filling, failing after ~8.5 min of signal."""
    sim = SimulatedArmband(n_channels=2, realtime=False, hum=None)
    sim.open()
    try:
        first = sim.generate(330.0)
        second = sim.generate(330.0)  # crosses the old failure point (511.6 s)
    finally:
        sim.close()
    assert len(first) + len(second) == 660_000
    assert np.isfinite(second.data).all() and second.labels.min() >= 0
