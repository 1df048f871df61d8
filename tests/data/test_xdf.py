"""LabRecorder .xdf files (written in the published layout by tests/data/xdf_writer.py) read as Recordings."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from myostream.cli import main
from myostream.data import read_dataset, read_recording
from myostream.data.xdf import read_xdf
from myostream.errors import MyostreamError
from tests.data.xdf_writer import XdfStream, write_xdf

RATE = 1000.0
T0 = 5000.0  # the armband's own clock at its first sample
OFFSET = 0.5  # recorder clock minus armband clock, as LabRecorder measures it
KEPT = np.concatenate([np.arange(0, 3000), np.arange(3050, 6000)])  # 50 samples (3.000-3.049 s) lost in transit
CHANNELS = ("FDS", "FDP", "FCU", "ECU", "ECR", "EDC", "FCR", "PL")
# class-id markers as `myostream replay` publishes them, in the recorder's clock: (armband time, class id)
CUES = [(0.0, "rest"), (1.0, "fist"), (2.0, "rest"), (3.02, "open_hand"), (4.0, "fist"), (5.0, "rest")]


def emg_stream(stream_id: int = 1, name: str = "TestBand", seed: int = 0) -> XdfStream:
    rng = np.random.default_rng(seed)
    offsets = [(T0 + OFFSET + 2.0 * k, OFFSET) for k in range(4)]
    return XdfStream(
        stream_id,
        name,
        "EMG",
        "float32",
        RATE,
        rng.normal(0, 50, (len(KEPT), 8)).astype(np.float32),
        T0 + KEPT / RATE,
        channels=[{"label": c, "unit": "microvolts", "type": "EMG"} for c in CHANNELS],
        clock_offsets=offsets,
    )


def marker_stream(stream_id: int, name: str, cues: list[tuple[float, str]]) -> XdfStream:
    return XdfStream(
        stream_id,
        name,
        "Markers",
        "string",
        0.0,
        [c for _, c in cues],
        np.array([T0 + OFFSET + t for t, _ in cues]),
        clock_offsets=[(T0, 0.0), (T0 + 4.0, 0.0)],
    )


def imu_stream(stream_id: int) -> XdfStream:
    rng = np.random.default_rng(7)
    return XdfStream(
        stream_id,
        "TestBand-imu",
        "ACC",
        "int16",
        50.0,
        rng.integers(-500, 500, (300, 3)),
        T0 + np.arange(300) / 50.0,
        clock_offsets=[(T0 + OFFSET, OFFSET), (T0 + OFFSET + 4.0, OFFSET)],
    )


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, XdfStream]:
    """A LabRecorder-style file: EMG at 1000 Hz (float32, a gap, clock offset), an IMU at 50 Hz, class-id markers."""
    emg = emg_stream()
    folder = tmp_path / "sub-P01" / "ses-2"
    folder.mkdir(parents=True)
    path = write_xdf(
        folder / "sub-P01_ses-2_task-grasp_run-001_emg.xdf",
        [emg, imu_stream(2), marker_stream(3, "TestBand-markers", CUES)],
    )
    return path, emg


def expected_labels(names: tuple[str, ...], cues: list[tuple[float, str | None]]) -> np.ndarray:
    t = KEPT / RATE
    out = np.full(len(t), -1)
    for start, cls in cues:
        out[t >= start - 1e-9] = -1 if cls is None else names.index(cls)
    return out


def test_emg_stream_with_offset_gap_channels_and_class_id_markers(recorded, caplog) -> None:
    path, emg = recorded
    with caplog.at_level(logging.WARNING, logger="myostream.data.xdf"):
        rec = read_recording(path)
    assert "lost 50 samples in 1 gap(s)" in caplog.text
    np.testing.assert_array_equal(rec.emg, emg.values)  # stored samples, none filled in
    assert rec.rate == RATE and rec.channel_names == CHANNELS and rec.unit == "microvolts"
    assert (rec.subject, rec.session, rec.exercise, rec.dataset) == ("P01", "2", "grasp", "xdf")
    # the armband's clock offset is applied: its stamps land in the recorder's clock
    np.testing.assert_allclose(rec.meta["timestamps"], T0 + OFFSET + KEPT / RATE, atol=1e-6)
    assert rec.meta["clock_offsets"] == 4 and rec.meta["stream"] == "TestBand"
    # the gap is counted where it is, and kept: the sample after it is the one recorded 50 ms later
    assert rec.meta["gaps"] == [{"sample": 3000, "time": pytest.approx(T0 + OFFSET + 3.05), "missing": 50}]
    assert rec.meta["lost"] == 50 and rec.n_samples == 5950
    # markers label by time, across the gap (open_hand begins at 3.02 s, inside it: at the first sample after)
    assert rec.label_names == ("rest", "fist", "open_hand") and rec.meta["marker_stream"] == "TestBand-markers"
    np.testing.assert_array_equal(rec.labels, expected_labels(rec.label_names, CUES))
    assert rec.labels[2999] == 0 and rec.labels[3000] == 2
    fist = rec.labels == 1
    assert set(rec.repetition[fist]) == {1, 2} and not rec.repetition[rec.labels == 0].any()


def test_clock_offsets_align_markers_recorded_on_another_machine(tmp_path: Path) -> None:
    """Without the offset every label would sit 500 samples late; a drifting offset is fitted too."""
    emg = emg_stream()
    # the armband clock runs 100 ppm fast: offsets fall by 0.1 ms per second
    emg.clock_offsets = [(T0 + OFFSET + k, OFFSET - 1e-4 * k) for k in range(7)]
    path = write_xdf(tmp_path / "drift.xdf", [emg, marker_stream(2, "TestBand-markers", CUES)])
    rec = read_recording(path)
    truth = T0 + KEPT / RATE + OFFSET - 1e-4 * (KEPT / RATE)
    np.testing.assert_allclose(rec.meta["timestamps"], truth, atol=2e-5)
    assert (rec.labels == expected_labels(rec.label_names, CUES)).mean() > 0.999


def test_plain_string_markers_through_a_sidecar_table(tmp_path: Path) -> None:
    cues = [(0.2, "trial_start"), (0.5, "cue_fist"), (1.5, "stop"), (2.0, "cue_open"), (2.8, "relax"), (4.0, "stop")]
    write_xdf(tmp_path / "s1.xdf", [emg_stream(), marker_stream(2, "PsychoPyMarkers", cues)])
    (tmp_path / "dataset.toml").write_text(
        'dataset = "grip-study"\n[labels]\ncue_fist = "fist"\ncue_open = "open_hand"\nrelax = "rest"\n'
        '[xdf]\nstop = ["stop"]\nignore = ["trial_start"]\n'
    )
    rec = read_recording(tmp_path / "s1.xdf")
    assert rec.dataset == "grip-study" and rec.label_names == ("fist", "open_hand", "rest")
    assert rec.meta["marker_stream"] == "PsychoPyMarkers"  # the file's only marker stream
    want = expected_labels(
        rec.label_names, [(0.0, None), (0.5, "fist"), (1.5, None), (2.0, "open_hand"), (2.8, "rest"), (4.0, None)]
    )
    np.testing.assert_array_equal(rec.labels, want)
    # the argument replaces the sidecar's table; a marker neither maps is named
    with pytest.raises(
        MyostreamError, match=r"holds label\(s\) 'cue_open', 'relax' that \[labels\] in .* does not map"
    ):
        read_xdf(tmp_path / "s1.xdf", label_map={"cue_fist": "fist"})
    (tmp_path / "dataset.toml").write_text('[xdf]\nstop = ["stop"]\n')
    with pytest.raises(
        MyostreamError,
        match=r"'PsychoPyMarkers' .* holds plain markers \('trial_start', 'cue_fist', "
        r"'stop', 'cue_open', 'relax'\); map them to class ids with a \[labels\] table",
    ):
        read_recording(tmp_path / "s1.xdf")


def test_several_emg_streams_one_recording_each(tmp_path: Path) -> None:
    myo = XdfStream(
        2,
        "Myo",
        "EMG",
        "int16",
        200.0,
        np.arange(2400, dtype=np.int16).reshape(300, 8),
        T0 + np.arange(300) / 200.0,
        clock_offsets=[(T0, OFFSET)],
    )
    path = write_xdf(tmp_path / "two.xdf", [emg_stream(), myo, marker_stream(3, "TestBand-markers", CUES)])
    recs = read_xdf(path)
    assert [(r.meta["stream"], r.rate, r.n_channels) for r in recs] == [("TestBand", 1000.0, 8), ("Myo", 200.0, 8)]
    assert recs[1].channel_names == tuple(f"EMG{i}" for i in range(1, 9)) and recs[1].unit == "a.u."
    np.testing.assert_array_equal(recs[1].emg, np.arange(2400, dtype=np.float32).reshape(300, 8))
    # a stream without its own NAME-markers takes the file's only marker stream (the session's cues)
    assert recs[1].meta["marker_stream"] == "TestBand-markers"
    with pytest.raises(MyostreamError, match=r"holds 2 EMG streams \('TestBand', 'Myo'\); choose one with stream=NAME"):
        read_recording(path)
    assert read_recording(path, stream="Myo").rate == 200.0
    assert [r.meta["stream"] for r in read_dataset(tmp_path)] == ["TestBand", "Myo"]


def test_bad_xdf_input_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "fake.xdf").write_bytes(b"NOPE" + b"\x00" * 20)
    with pytest.raises(MyostreamError, match=r"fake\.xdf' is not a readable XDF file"):
        read_recording(tmp_path / "fake.xdf")
    only_imu = write_xdf(tmp_path / "imu.xdf", [imu_stream(1)])
    with pytest.raises(
        MyostreamError, match=r"no stream of type EMG \(it holds 'TestBand-imu' \(ACC, 50 Hz\)\); name the one"
    ):
        read_recording(only_imu)
    assert read_recording(only_imu, stream="TestBand-imu").n_samples == 300  # any regular numeric stream, by name
    with pytest.raises(MyostreamError, match="has no stream named 'EMG'"):
        read_recording(only_imu, stream="EMG")
    two = write_xdf(tmp_path / "m.xdf", [emg_stream(), marker_stream(2, "A", CUES), marker_stream(3, "B", CUES)])
    with pytest.raises(MyostreamError, match="2 marker streams .* choose one with markers=NAME"):
        read_recording(two)
    with pytest.raises(
        MyostreamError, match=r"Marker stream 'B' .* holds plain markers \('rest', 'fist', 'open_hand'\)"
    ):
        read_recording(two, markers="B")  # not the project's NAME-markers: a table must say what they mean
    identity = {c: c for c in ("rest", "fist", "open_hand")}
    assert read_recording(two, markers="B", label_map=identity).meta["marker_stream"] == "B"
    with pytest.raises(MyostreamError, match="no marker stream 'C'"):
        read_recording(two, markers="C")
    unlabelled = read_recording(write_xdf(tmp_path / "u.xdf", [emg_stream()]))
    assert unlabelled.label_names == () and (unlabelled.labels == -1).all()


def test_replay_live_and_dataset_paths_take_xdf(recorded, stream_name: str, capsys) -> None:
    from myostream.records import opened
    from myostream.sources import make_source
    from myostream.stream.replay import ReplaySource

    path, emg = recorded
    src = make_source(f"replay:{path}", speed=0)  # what `myostream live --source replay:FILE.xdf` opens
    assert isinstance(src, ReplaySource) and src.info.channel_names == CHANNELS
    with opened(src):
        chunk = src.read()
    np.testing.assert_array_equal(chunk.data, emg.values[:1000])
    assert main(["replay", str(path), "--lsl", stream_name, "--speed", "0"]) == 0
    assert "published 5950 samples" in capsys.readouterr().err
    with pytest.raises(MyostreamError, match="is a file, not a dataset folder; read one recording with read_recording"):
        read_dataset(path)
    assert [r.subject for r in read_dataset(path.parents[2])] == ["P01"]  # a BIDS tree, found below the root


def test_train_data_folder_and_adapt_sessions_take_xdf(recorded) -> None:
    from myostream.train.adapt import read_sessions
    from myostream.train.data import prepare_windows
    from myostream.train.experiment import load_experiment

    path, _ = recorded
    root = path.parents[2]
    exp = load_experiment("myosem-simulated", data_folder=str(root))  # `myostream train myosem-simulated --data DIR`
    assert exp.data.source == "xdf"
    windows = prepare_windows(exp)  # read, filtered and windowed as training does (8 ch at 1 kHz fit the model)
    assert set(windows.class_ids) == {"rest", "fist", "open_hand"} and len(windows) > 50
    assert set(windows.repetition.tolist()) == {1, 2}  # fist twice: enough for adapt's held-out repetition
    assert [r.meta["stream"] for r in read_sessions(path)] == ["TestBand"]  # `myostream adapt --sessions FILE.xdf`
    assert len(read_sessions(root)) == 1
