"""Session files: incremental HDF5 writing, reading, relabelling without touching samples, bad files."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from myostream.calibrate import labels_from_cues
from myostream.data.session import (
    Segment,
    SessionWriter,
    is_session_file,
    labels_from_segments,
    read_session,
    recover_session,
    save_labels,
    segments_from_labels,
    session_filename,
)
from myostream.errors import MyostreamError
from myostream.records import CueEvent
from myostream.stream.simulated import SimulatedArmband

NAMES = ("rest", "fist", "open_hand")


def record(path: Path, seconds: float = 3.0, close: bool = True) -> tuple[SessionWriter, np.ndarray]:
    """A short cue-labelled session from the (offline) simulated armband."""
    src = SimulatedArmband(realtime=False, schedule="manual", gestures=("fist", "open_hand"), seed=3)
    src.open()
    writer = SessionWriter(
        path,
        rate=src.rate,
        channel_names=src.info.channel_names,
        label_names=NAMES,
        subject="S01",
        session="2",
        unit="mV",
        device="simulated",
        protocol="test",
        source_label_names=src.info.label_names,
    )
    events = [
        CueEvent(0.0, "start"),
        CueEvent(0.5, "hold", "fist", 1),
        CueEvent(1.5, "rest", "fist", 1),
        CueEvent(2.0, "hold", "open_hand", 1),
        CueEvent(2.6, "rest", "open_hand", 1),
    ]
    for e in events:
        writer.add_event(e)
    chunks = []
    base = None
    for _ in range(int(seconds / 0.02)):
        chunk = src.read()
        base = chunk.timestamps[0] if base is None else base
        ts = chunk.timestamps - base  # seconds since the start, like the cue events above
        labels, rep = labels_from_cues(ts, events, NAMES)
        writer.append(chunk.data, ts, labels, rep, chunk.labels)
        chunks.append(chunk.data)
    if close:
        writer.close()
    return writer, np.concatenate(chunks)


def emg_storage(path: Path) -> tuple[str, list[tuple[int, int]]]:
    """Checksum of the EMG dataset's raw chunks and where they lie in the file."""
    digest = hashlib.sha256()
    places = []
    with h5py.File(path, "r") as f:
        ds = f["emg"]
        for i in range(ds.id.get_num_chunks()):
            info = ds.id.get_chunk_info(i)
            _, raw = ds.id.read_direct_chunk(info.chunk_offset)
            digest.update(raw)
            places.append((info.byte_offset, info.size))
    return digest.hexdigest(), places


def test_write_and_read_roundtrip(tmp_path):
    path = tmp_path / session_filename("S01", "2", "test")
    assert path.name.startswith("sub-S01_ses-2_test_") and path.suffix == ".h5"
    _, emg = record(path)
    rec = read_session(path)
    assert rec.n_samples == len(emg) == 3000 and rec.rate == 1000.0
    np.testing.assert_array_equal(rec.emg, emg)
    assert rec.emg.dtype == np.float32
    assert rec.label_names == NAMES and rec.channel_names == tuple(f"EMG{i}" for i in range(1, 9))
    assert (rec.subject, rec.session, rec.exercise, rec.unit) == ("S01", "2", "test", "mV")
    ts = rec.meta["timestamps"]
    assert ts.dtype == np.float64 and np.all(np.diff(ts) > 0)
    # Labels follow the cues sample by sample.
    assert (rec.labels[(ts >= 0.5) & (ts < 1.5)] == 1).all() and (rec.labels[(ts >= 2.0) & (ts < 2.6)] == 2).all()
    assert (rec.labels[ts < 0.5] == 0).all() and (rec.repetition[(ts >= 0.5) & (ts < 1.5)] == 1).all()
    assert [e.kind for e in rec.meta["events"]] == ["start", "hold", "rest", "hold", "rest"]
    assert rec.meta["events"][1] == CueEvent(0.5, "hold", "fist", 1)
    assert rec.meta["complete"] is True and rec.meta["software_version"]
    assert rec.meta["device"] == "simulated" and rec.meta["start_time"][:2] == "20"
    # The simulated armband's own truth is kept next to the cue labels.
    assert rec.meta["source_label_names"] == ["rest", "fist", "open_hand"]
    assert set(np.unique(rec.meta["source_labels"])) == {0}  # never cued, so it stayed at rest
    assert is_session_file(path)


def test_readable_while_recording_after_each_flush(tmp_path):
    path = tmp_path / "live.h5"
    writer, _ = record(path, seconds=1.0, close=False)
    writer.flush()
    rec = read_session(path)  # a second reader while the writer is open (SWMR)
    assert rec.n_samples == 1000 and rec.meta["complete"] is False
    writer.close()
    assert read_session(path).meta["complete"] is True


def test_relabel_rewrites_labels_only(tmp_path):
    path = tmp_path / "s.h5"
    record(path)
    before = emg_storage(path)
    ts_before = read_session(path).meta["timestamps"]
    rec = read_session(path)
    segments = segments_from_labels(rec.labels, rec.repetition)
    assert [(s.label, s.repetition) for s in segments] == [(1, 1), (2, 1)]
    fist, hand = segments
    edited = [Segment(fist.start + 100, fist.stop, 1, 1), Segment(hand.start, hand.stop, -1, 0)]
    save_labels(path, *labels_from_segments(rec.n_samples, edited))
    after = read_session(path)
    assert segments_from_labels(after.labels, after.repetition) == edited
    assert (after.labels[fist.start : fist.start + 100] == 0).all()
    assert emg_storage(path) == before  # same bytes at the same place: the samples were not rewritten
    np.testing.assert_array_equal(after.meta["timestamps"], ts_before)
    assert "labels_edited" in after.meta
    with pytest.raises(MyostreamError, match="3000 samples but 10 labels"):
        save_labels(path, np.zeros(10, np.int16), np.zeros(10, np.int16))


def test_segments_roundtrip():
    labels = np.array([0, 0, 1, 1, 1, 0, -1, -1, 0, 2, 2, 0, 0], np.int16)
    rep = np.array([0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0], np.int16)  # rest held as repetition 1 at the end
    segments = segments_from_labels(labels, rep)
    assert segments == [Segment(2, 5, 1, 1), Segment(6, 8, -1, 0), Segment(9, 11, 2, 1), Segment(11, 12, 0, 1)]
    new_labels, new_rep = labels_from_segments(len(labels), segments)
    np.testing.assert_array_equal(new_labels, labels)
    np.testing.assert_array_equal(new_rep, rep)
    assert segments_from_labels(np.zeros(0, np.int16), np.zeros(0, np.int16)) == []


def test_recover_killed_session_keeps_samples(tmp_path):
    """A file whose writer never closed (as after SIGKILL) reads, and relabelling recovers it first."""
    path = tmp_path / "killed.h5"
    writer, emg = record(path, close=False)
    writer.flush()
    shutil.copy(path, tmp_path / "copy.h5")  # a snapshot of the open file = what a killed process leaves
    writer.close()
    copy = tmp_path / "copy.h5"
    with pytest.raises(OSError):
        h5py.File(copy, "r+")  # HDF5 refuses to modify it in place
    rec = read_session(copy)
    assert rec.n_samples == 3000 and rec.meta["complete"] is False
    labels = rec.labels.copy()
    labels[:10] = -1
    save_labels(copy, labels, rec.repetition)
    after = read_session(copy)
    np.testing.assert_array_equal(after.emg, emg)
    assert (after.labels[:10] == -1).all() and after.meta["recovered"] is True
    recover_session(copy)  # already a closed file: copying again changes nothing
    np.testing.assert_array_equal(read_session(copy).emg, emg)


def test_never_overwrites_a_recording(tmp_path):
    path = tmp_path / "s.h5"
    record(path, seconds=0.2)
    with pytest.raises(MyostreamError, match="already exists"):
        SessionWriter(path, rate=100, channel_names=["a"], label_names=["rest"], subject="x")


def test_append_checks_channel_count(tmp_path):
    writer = SessionWriter(tmp_path / "s.h5", rate=100, channel_names=["a", "b"], label_names=["rest"], subject="x")
    with pytest.raises(MyostreamError, match="2 channels"):
        writer.append(np.zeros((5, 3), np.float32), np.arange(5.0), np.zeros(5, np.int16), np.zeros(5, np.int16))
    writer.close()


def test_malformed_and_foreign_files(tmp_path):
    with pytest.raises(MyostreamError, match="does not exist"):
        read_session(tmp_path / "absent.h5")

    text = tmp_path / "text.h5"
    text.write_bytes(b"this is not HDF5 at all" * 10)
    with pytest.raises(MyostreamError, match="not a readable HDF5 file"):
        read_session(text)

    foreign = tmp_path / "emg2pose.hdf5"
    with h5py.File(foreign, "w") as f:
        g = f.create_group("emg2pose")
        g.create_dataset("timeseries", data=np.zeros(10, [("time", "f8"), ("emg", "f4", (16,))]))
    with pytest.raises(MyostreamError, match="not a myostream session"):
        read_session(foreign)
    assert not is_session_file(foreign) and not is_session_file(text)

    good = tmp_path / "good.h5"
    record(good, seconds=0.5)
    damaged = tmp_path / "damaged.h5"
    shutil.copy(good, damaged)
    with h5py.File(damaged, "r+") as f:
        del f["labels"]
    with pytest.raises(MyostreamError, match="lacks 'labels'"):
        read_session(damaged)

    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(MyostreamError, match=str(truncated.name)):
        read_session(truncated)

    newer = tmp_path / "newer.h5"
    shutil.copy(good, newer)
    with h5py.File(newer, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(MyostreamError, match="update myostream"):
        read_session(newer)

    bad_labels = tmp_path / "bad_labels.h5"
    shutil.copy(good, bad_labels)
    with h5py.File(bad_labels, "r+") as f:
        f["labels"][0] = 7
    with pytest.raises(MyostreamError, match="labels outside"):
        read_session(bad_labels)


def killed_copy(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """What a recorder killed mid-session leaves: a snapshot of the file while its writer had it open."""
    path = tmp_path / "open.h5"
    writer, emg = record(path, close=False)
    writer.flush()
    copy = tmp_path / "sub-K1_ses-1_killed.h5"
    shutil.copy(path, copy)
    writer.close()
    return copy, emg


def test_a_session_cut_short_reads_everywhere_and_says_so(tmp_path, caplog, capsys):
    from myostream.cli import main
    from myostream.data.readers import detect_format, read_recording
    from myostream.sources import replay_file

    copy, emg = killed_copy(tmp_path)
    assert detect_format(copy) == "session"  # was "truncated or corrupted"
    with caplog.at_level("WARNING", logger="myostream"):
        rec = read_recording(copy)
    assert rec.n_samples == 3000 and rec.meta["complete"] is False
    np.testing.assert_array_equal(rec.emg, emg)
    assert any(
        "was cut short" in r.getMessage() and "reading the 3.0 s it saved" in r.getMessage() for r in caplog.records
    )
    assert replay_file(copy, speed=0).recording.n_samples == 3000
    assert main(["replay", str(copy), "--speed", "10", "--duration", "0.2"]) == 0
    err = capsys.readouterr().err
    assert f"myostream replay: Session {str(copy)!r} was cut short" in err and "Traceback" not in err


def test_rows_announced_but_never_written_are_left_out(tmp_path, caplog):
    """A write that failed mid-flush can leave rows the file announces but never got: they read as zeros."""
    copy, emg = killed_copy(tmp_path)
    recovered = tmp_path / "grown.h5"
    shutil.copy(copy, recovered)
    recover_session(recovered)
    with h5py.File(recovered, "r+") as f:
        for key in ("emg", "timestamps", "labels", "repetition", "source_labels"):
            f[key].resize(3500, axis=0)  # 500 rows of fill values
        f.attrs["complete"] = False
    rec = read_session(recovered)
    assert rec.n_samples == 3000
    np.testing.assert_array_equal(rec.emg, emg)


def test_the_writer_stops_cleanly_before_the_disk_is_full(tmp_path):
    """Less room than the reserve: the file is closed complete with what it has, and one sentence says why."""
    path = tmp_path / "full.h5"
    free = shutil.disk_usage(tmp_path).free
    writer = SessionWriter(
        path,
        rate=100,
        channel_names=["a", "b"],
        label_names=["rest"],
        subject="x",
        flush_s=0.0,
        reserve_bytes=free + 2**30,
    )
    with pytest.raises(
        MyostreamError, match=r"no room left for the session file .*full.h5.*MB left on its disk.*recording stopped"
    ):
        writer.append(np.zeros((10, 2), np.float32), np.arange(10.0) + 1, np.zeros(10), np.zeros(10))
    rec = read_session(path)
    assert rec.meta["complete"] is True and rec.n_samples == 0
    with pytest.raises(MyostreamError, match="is closed"):
        writer.append(np.zeros((10, 2), np.float32), np.arange(10.0) + 1, np.zeros(10), np.zeros(10))
    writer.close()  # safe after the stop


FAILED_WRITE = """
import sys
import numpy as np
from myostream.data.session import SessionWriter
from myostream.errors import MyostreamError
writer = SessionWriter(sys.argv[1], rate=1000, channel_names=[f"c{i}" for i in range(8)], label_names=["rest"],
                       subject="x", flush_s=0.0, reserve_bytes=-2**40)  # no guard: the write itself fails
try:
    for i in range(100000):
        writer.append(np.ones((100, 8), np.float32), 1 + i / 10 + np.arange(100) / 1000, np.zeros(100), np.zeros(100))
except MyostreamError as exc:
    print(exc)
writer.close()
"""


def test_a_write_that_fails_anyway_is_one_sentence_and_no_crash(tmp_path):
    """A file-size limit makes HDF5's writes fail (as a disk filled by another program would); HDF5 used to
    crash the process at exit (segfault) after printing tracebacks."""
    import resource
    import signal
    import subprocess
    import sys

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    path = tmp_path / "limited.h5"
    done = subprocess.run(
        [sys.executable, "-c", FAILED_WRITE, str(path)], capture_output=True, text=True, preexec_fn=limit, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert done.stdout.startswith(f"Could not write the session file {str(path)!r} (File too large); recording stopped")
