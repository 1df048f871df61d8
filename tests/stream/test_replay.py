"""ReplaySource: exact samples and labels, drift-free pacing, loop/start, real LSL round trips, `myostream replay`."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from myostream.cli import main
from myostream.errors import MyostreamError
from myostream.records import Recording, opened
from myostream.sources import replay_file
from myostream.stream.lsl import LSLOutlet, LSLSource
from myostream.stream.lslconfig import pylsl_module
from myostream.stream.replay import ReplaySource
from tests.data.layouts import write_ninapro_mat


def recording(n: int = 1000, rate: float = 500.0, n_channels: int = 4, seed: int = 0) -> Recording:
    rng = np.random.default_rng(seed)
    return Recording(
        emg=rng.normal(size=(n, n_channels)).astype(np.float32),
        rate=rate,
        labels=(np.arange(n) // 100 % 3).astype(np.int16),
        label_names=("rest", "fist", "open_hand"),
        channel_names=tuple(f"EMG{i + 1}" for i in range(n_channels)),
        subject="S1",
        source="/data/toy.mat",
    )


def drain(src: ReplaySource, max_reads: int = 100000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data, stamps, labels = [], [], []
    for _ in range(max_reads):
        if src.exhausted:
            break
        c = src.read(timeout=0.5)
        data.append(c.data)
        stamps.append(c.timestamps)
        labels.append(c.labels)
    return np.concatenate(data), np.concatenate(stamps), np.concatenate(labels)


def test_arguments_are_validated() -> None:
    rec = recording()
    for bad in (0.1, 11, -1):
        with pytest.raises(MyostreamError, match="speed .* out of range; use 0.25 to 10"):
            ReplaySource(rec, speed=bad)
    with pytest.raises(MyostreamError, match=r"start 3 s is outside the recording \(0 to 2.00 s\)"):
        ReplaySource(rec, start=3)
    with pytest.raises(MyostreamError, match="chunk_ms must be positive"):
        ReplaySource(rec, chunk_ms=0)
    with pytest.raises(MyostreamError, match="spin_ms must be zero or positive"):
        ReplaySource(rec, spin_ms=-1)
    with pytest.raises(MyostreamError, match="not open"):
        ReplaySource(rec).read()


def test_unthrottled_reproduces_samples_and_labels() -> None:
    rec = recording()
    src = ReplaySource(rec, speed=0)
    assert src.info.label_names == rec.label_names and src.info.rate == 500.0 and src.info.name == "toy"
    with opened(src):
        data, stamps, labels = drain(src)
        np.testing.assert_array_equal(data, rec.emg)
        np.testing.assert_array_equal(labels, rec.labels)
        np.testing.assert_allclose(np.diff(stamps), 1 / 500.0, rtol=1e-6)
        assert src.exhausted and len(src.read()) == 0


def test_start_offset_and_loop() -> None:
    rec = recording()
    src = ReplaySource(rec, speed=0, start=1.5, loop=True)  # plays samples 750..999, then again from 750
    with opened(src):
        got = np.concatenate([src.read().data for _ in range(3)])
    assert len(got) == 3 * 500 and not src.exhausted
    expected = np.concatenate([rec.emg[750:]] * 6)[: len(got)]
    np.testing.assert_array_equal(got, expected)


def test_paced_replay_has_no_drift() -> None:
    rec = recording(n=1000, rate=500.0)  # 2 s at 4x: due to end 0.5 s after open
    src = ReplaySource(rec, speed=4, chunk_ms=20)
    rng = np.random.default_rng(1)
    clock = pylsl_module().local_clock
    data, stamps = [], []
    with opened(src):
        while not src.exhausted:
            time.sleep(rng.uniform(0, 0.03))  # an irregular, sometimes late reader
            c = src.read(timeout=0.1)
            if len(c):
                assert clock() >= c.timestamps[-1]  # a block is released only once its last sample is due
                data.append(c.data)
                stamps.append(c.timestamps)
        t0 = src.t0
        ended = clock() - t0
    data, stamps = np.concatenate(data), np.concatenate(stamps)
    np.testing.assert_array_equal(data, rec.emg)  # nothing lost or repeated by late reads
    # every stamp is on the schedule t0 + k / (rate * speed): errors never accumulate
    np.testing.assert_allclose(stamps - t0, np.arange(1000) / 2000.0, atol=1e-9)
    assert 0.45 < ended < 3.0  # sanity only: the replay ends about when scheduled


@pytest.mark.parametrize("spin_ms", [0.0, 2.0])
def test_paced_loop_wraps_exactly_while_waiting(spin_ms: float) -> None:
    """Blocks built ahead of their due time (while the reader waits) wrap around the loop seam exactly."""
    rec = recording(n=1000, rate=500.0)
    src = ReplaySource(
        rec, speed=10, chunk_ms=30, start=1.9, loop=True, spin_ms=spin_ms
    )  # 50-sample pass, 15-sample blocks
    clock = pylsl_module().local_clock
    got = []
    with opened(src):
        while sum(map(len, got)) < 160:
            c = src.read(timeout=0.1)
            assert len(c) == 0 or clock() >= c.timestamps[-1]
            got.append(c.data)
    got_all = np.concatenate(got)
    np.testing.assert_array_equal(got_all, np.concatenate([rec.emg[950:]] * 4)[: len(got_all)])


def test_real_db1_file_with_offset(db1_dir: Path) -> None:
    src = replay_file(db1_dir / "S1_A1_E1.mat", speed=0, start=10.0)
    assert src.info.rate == 100.0 and src.info.n_channels == 10 and src.info.label_names[1] == "ninapro.A01"
    with opened(src):
        c = src.read()
    np.testing.assert_array_equal(c.data, src.recording.emg[1000:1100])
    np.testing.assert_array_equal(c.labels, src.recording.labels[1000:1100])


def test_lsl_round_trip_is_exact(stream_name: str) -> None:
    rec = recording(n=3000, rate=1000.0, n_channels=6)
    src = ReplaySource(rec, speed=0)
    with opened(src):
        t0 = src.t0
        outlet = LSLOutlet(src.info, name=stream_name)
        inlet = LSLSource(name=stream_name, timeout=10)
        with opened(inlet):
            assert outlet.wait_for_consumers(10)
            while not src.exhausted:
                outlet.push(src.read())
            got, stamps = [], []
            deadline = time.monotonic() + 10
            while sum(map(len, got)) < rec.n_samples and time.monotonic() < deadline:
                c = inlet.read(timeout=0.2)
                got.append(c.data)
                stamps.append(c.timestamps)
            assert inlet.info.channel_names == rec.channel_names
        outlet.close()
    np.testing.assert_array_equal(np.concatenate(got), rec.emg)
    np.testing.assert_allclose(np.concatenate(stamps) - t0, np.arange(3000) / 1000.0, atol=1e-4)


def test_replay_command_publishes_emg_and_label_markers(stream_name: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "DB2_s1" / "S1_E1_A1.mat"
    write_ninapro_mat(path, list(range(1, 18)), reps=1, hold=300, rest=100, seed=5)  # 2 kHz, 3.5 s
    from myostream.data.ninapro import read_ninapro

    rec = read_ninapro(path)
    argv = ["replay", str(path), "--lsl", stream_name, "--speed", "1", "--loop", "--duration", "3"]
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(main(argv)))
    runner.start()
    try:
        inlet = LSLSource(name=stream_name, markers=f"{stream_name}-markers", timeout=10)
        data, stamps, markers = [], [], []
        with opened(inlet):
            assert inlet.info.rate == 2000.0 and inlet.info.n_channels == 12
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                c = inlet.read(timeout=0.1)
                data.append(c.data)
                stamps.append(c.timestamps)
                markers += c.markers
    finally:
        runner.join(20)
    assert result == [0]
    data, stamps = np.concatenate(data), np.concatenate(stamps)
    assert len(data) > 1000
    # the received block is the recording itself, from wherever the reader joined
    offset = int(np.flatnonzero((rec.emg == data[0]).all(axis=1))[0])
    np.testing.assert_array_equal(data, np.concatenate([rec.emg, rec.emg])[offset : offset + len(data)])
    # markers carry class ids, stamped with the first sample of each new label
    matched = 0
    for t, text in markers:
        i = int(np.argmin(np.abs(stamps - t)))
        if 0 < i and abs(stamps[i] - t) < 1e-4:
            k = (offset + i) % rec.n_samples
            assert rec.label_names[rec.labels[k]] == text and rec.labels[k - 1] != rec.labels[k]
            matched += 1
    assert matched >= 3
    out = capsys.readouterr()
    assert f"as LSL stream {stream_name!r}" in out.err
    # the once-a-second status line names the label playing then (rest or a movement, by timing)
    assert any(f"label {name}" in out.out for name in rec.label_names)


def test_lazy_emg2pose_file_replays_exactly(tmp_path: Path) -> None:
    from tests.data.layouts import write_emg2pose

    ts = write_emg2pose(tmp_path, "session-1", "HandClapping", "u3", n=5000)
    src = replay_file(tmp_path / "session-1.hdf5", speed=0, start=0.5)
    assert src.info.label_names == ("emg2pose.HandClapping",) and src.info.n_channels == 16
    with opened(src):
        data, _, labels = drain(src)
    np.testing.assert_array_equal(data, ts["emg"][1000:])
    assert not labels.any()


def test_replay_command_bad_input_is_one_sentence(tmp_path: Path, capsys) -> None:
    assert main(["replay", str(tmp_path / "absent.mat")]) == 2
    assert main(["replay", str(tmp_path / "absent.mat"), "--speed", "50"]) == 2
    write_ninapro_mat(tmp_path / "S1_E1_A1.mat", [1, 2], reps=1, hold=5, rest=3)  # 12 electrodes, no DB token
    assert main(["replay", str(tmp_path / "S1_E1_A1.mat"), "--speed", "50"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("myostream replay: Recording ") and "absent.mat' does not exist." in err[0]
    assert "cannot tell which NinaPro database" in err[2] and "--database" in err[2]
    assert main(["replay", str(tmp_path / "S1_E1_A1.mat"), "--database", "db2", "--speed", "50"]) == 2
    assert "speed 50.0 is out of range" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "S1_E1_A1.mat"), "--database", "db2", "--spin-ms", "-1"]) == 2
    assert "argument --spin-ms: must be zero or a positive number, not '-1'" in capsys.readouterr().err


def held_gestures(rate: float = 200.0) -> Recording:
    """Two rounds of rest, fist, open hand, one second each, with repetitions (like Myo gesture files)."""
    names = ("rest", "fist", "open_hand")
    labels = np.repeat(np.tile([0, 1, 2], 2), int(rate)).astype(np.int16)
    reps = np.repeat([1, 1, 1, 2, 2, 2], int(rate)).astype(np.int16)
    emg = np.arange(len(labels) * 2, dtype=np.float32).reshape(-1, 2)  # each sample says where it came from
    return Recording(
        emg=emg, rate=rate, labels=labels, label_names=names, channel_names=("a", "b"), subject="p", repetition=reps
    )


def test_a_cued_replay_performs_the_next_recorded_hold_of_each_cue():
    from myostream.stream.replay import CuedReplaySource

    rec = held_gestures()
    src = CuedReplaySource(rec, speed=10.0)
    assert src.schedule == "manual" and src.gestures == ("rest", "fist", "open_hand")

    def play(seconds: float) -> tuple[np.ndarray, np.ndarray]:
        data, labels, n = [], [], int(seconds * rec.rate)
        while sum(len(d) for d in data) < n:
            chunk = src.read(timeout=0.05)
            data.append(chunk.data)
            labels.append(chunk.labels)
        return np.concatenate(data)[:n, 0] / 2, np.concatenate(labels)[:n]

    with opened(src):
        where, labels = play(1.5)
        assert set(labels) == {0} and where[0] == 0 and where[250] == 50  # the first rest hold, looped
        src.set_gesture("fist")
        where, labels = play(0.5)
        fist = np.flatnonzero(labels == 1)[0]  # from the next block on
        assert fist <= 4 and (labels[fist:] == 1).all()
        np.testing.assert_array_equal(where[fist:], 200 + np.arange(len(where) - fist))  # from its start
        src.set_gesture("fist")  # asked again: the second repetition
        where, labels = play(0.5)
        assert where[-1] >= 800 and where[-1] < 1000 and labels[-1] == 1
        with pytest.raises(MyostreamError, match="holds no 'pinch'; it can perform rest, fist, open_hand"):
            src.set_gesture("pinch")
    with pytest.raises(MyostreamError, match="not unthrottled"):
        CuedReplaySource(rec, speed=0)
