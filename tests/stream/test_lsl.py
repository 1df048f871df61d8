"""Real LSL outlets and inlets on the loopback configuration (see tests/conftest.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from myostream.errors import MyostreamError
from myostream.records import Chunk, StreamInfo, opened
from myostream.stream.devices import DeviceProfile, load_profile
from myostream.stream.lsl import LSLMarkerOutlet, LSLOutlet, LSLSource, list_streams, publish
from myostream.stream.lslconfig import pylsl_module

RATE = 100.0
LABELS = ("flexor", "extensor", "radial", "ulnar")


def _info(name: str, **kw) -> StreamInfo:
    return StreamInfo(name=name, rate=RATE, channel_names=LABELS, unit="uV", source_id=f"{name}-sid", **kw)


def _block(start: int, n: int, t0: float, c: int = 4) -> Chunk:
    """Samples whose values encode their index, stamped on a regular RATE grid from t0."""
    idx = np.arange(start, start + n)
    data = (idx[:, None] * 10 + np.arange(c)).astype(np.float32)
    return Chunk(data, t0 + idx / RATE)


def _read_n(src: LSLSource, n: int) -> Chunk:
    """Read until n samples arrived (bounded), concatenated, with the lost counts summed."""
    chunks = []
    for _ in range(100):
        chunks.append(src.read(timeout=0.2))
        if sum(len(c) for c in chunks) >= n:
            break
    return Chunk(
        np.concatenate([c.data for c in chunks]),
        np.concatenate([c.timestamps for c in chunks]),
        lost=sum(c.lost for c in chunks),
        markers=[m for c in chunks for m in c.markers],
    )


def _raw_outlet(name: str, n: int, rate: float, fmt: str = "float32"):
    pylsl = pylsl_module()
    info = pylsl.StreamInfo(name, "EMG", n, rate, getattr(pylsl, f"cf_{fmt}"), f"{name}-raw")
    return pylsl.StreamOutlet(info)


def test_outlet_to_source_reproduces_samples_timestamps_and_channel_labels(stream_name):
    pylsl = pylsl_module()
    outlet = LSLOutlet(_info(stream_name))
    with opened(LSLSource(name=stream_name, timeout=5.0)) as src:
        assert outlet.wait_for_consumers(5.0)
        t0 = pylsl.local_clock()
        sent = [_block(i, 25, t0) for i in (0, 25, 50)]
        for chunk in sent:
            outlet.push(chunk)
        got = _read_n(src, 75)
        info = src.info
    outlet.close()
    assert info.channel_names == LABELS and info.unit == "uV" and info.rate == RATE
    assert info.source_id == f"{stream_name}-sid" and info.kind == "EMG"
    np.testing.assert_array_equal(got.data, np.concatenate([c.data for c in sent]))
    # Same host: clock synchronisation leaves the sender's stamps within microseconds.
    np.testing.assert_allclose(got.timestamps, np.concatenate([c.timestamps for c in sent]), atol=1e-3, rtol=0)
    assert got.lost == 0


@pytest.mark.parametrize("by", ["name", "type", "source_id", "all three"])
def test_resolves_by_name_type_or_source_id(stream_name, by):
    outlet = LSLOutlet(_info(stream_name, kind=f"EMG-{stream_name}"))
    query = {"name": stream_name, "type": f"EMG-{stream_name}", "source_id": f"{stream_name}-sid"}
    if by != "all three":
        query = {by: query[by]}
    with opened(LSLSource(**query, timeout=5.0)) as src:
        assert src.info.name == stream_name and src.info.n_channels == 4
    outlet.close()


def test_not_found_names_the_query_the_timeout_and_the_visible_streams(stream_name):
    outlet = LSLOutlet(_info(stream_name))
    src = LSLSource(name=stream_name, type="Markers", timeout=0.3)
    with pytest.raises(MyostreamError) as err:
        src.open()
    outlet.close()
    text = str(err.value)
    assert f"name='{stream_name}' and type='Markers'" in text and "0.3 s" in text
    assert f"'{stream_name}' (EMG, 4 ch, 100 Hz" in text  # the stream that *is* there


def test_list_streams_shows_a_published_stream(stream_name):
    outlet = LSLOutlet(_info(stream_name))
    found = [s for s in list_streams(timeout=1.0) if s.name == stream_name]
    outlet.close()
    assert len(found) == 1
    s = found[0]
    assert (s.type, s.n_channels, s.rate, s.channel_format, s.source_id) == (
        "EMG",
        4,
        RATE,
        "float32",
        f"{stream_name}-sid",
    )


def test_outlet_that_drops_and_returns_is_recovered_and_the_gap_counted(stream_name):
    pylsl = pylsl_module()
    first = LSLOutlet(_info(stream_name))
    with opened(LSLSource(name=stream_name, timeout=5.0)) as src:
        assert first.wait_for_consumers(5.0)
        t0 = pylsl.local_clock()
        first.push(_block(0, 20, t0))
        before = _read_n(src, 20)
        first.close()
        assert len(src.read(timeout=0.3)) == 0
        # The device restarts under the same source_id; 50 samples went by meanwhile.
        second = LSLOutlet(_info(stream_name))
        assert second.wait_for_consumers(10.0), "the inlet did not reconnect to the restarted outlet"
        second.push(_block(70, 20, t0))
        after = _read_n(src, 20)
        second.close()
    assert before.lost == 0 and len(after) == 20
    assert after.lost == 50
    np.testing.assert_array_equal(after.data, _block(70, 20, t0).data)


@pytest.mark.timeout(30, method="thread")  # a hang inside liblsl cannot be interrupted by a signal
def test_outlet_gone_before_the_first_read_neither_blocks_the_reader_nor_loses_its_last_samples(stream_name):
    # liblsl blocks forever in an inlet's first pull when its outlet vanished before it;
    # a short replay published and closed before the reader got to it is exactly that case.
    pylsl = pylsl_module()
    outlet = LSLOutlet(_info(stream_name))
    with opened(LSLSource(name=stream_name, timeout=5.0)) as src:
        sent = _block(0, 5, pylsl.local_clock())
        outlet.push(sent)
        outlet.close()
        got = _read_n(src, 5)
        assert len(src.read(timeout=0.2)) == 0
    np.testing.assert_array_equal(got.data, sent.data)


def test_without_recovery_a_lost_stream_is_one_clear_error(stream_name):
    outlet = LSLOutlet(_info(stream_name))
    src = LSLSource(name=stream_name, timeout=5.0, recover=False)
    src.open()
    outlet.close()
    with pytest.raises(MyostreamError, match="was lost"):
        for _ in range(100):
            src.read(timeout=0.1)
    src.close()


def test_stream_without_channel_description_gets_default_names_and_int16_becomes_float32(stream_name):
    pylsl = pylsl_module()
    outlet = _raw_outlet(stream_name, 8, 200.0, "int16")
    with opened(LSLSource(name=stream_name, timeout=5.0)) as src:
        assert outlet.wait_for_consumers(5.0)
        sent = np.arange(-40, 40, dtype=np.int16).reshape(10, 8)
        outlet.push_chunk(sent, pylsl.local_clock())
        got = _read_n(src, 10)
        assert src.info.channel_names == tuple(f"EMG{i}" for i in range(1, 9)) and src.info.unit == "a.u."
    assert got.data.dtype == np.float32
    np.testing.assert_array_equal(got.data, sent.astype(np.float32))


def test_nan_rows_from_a_stream_are_dropped_and_counted_as_lost(stream_name):
    pylsl = pylsl_module()
    outlet = _raw_outlet(stream_name, 2, RATE)
    with opened(LSLSource(name=stream_name, timeout=5.0)) as src:
        assert outlet.wait_for_consumers(5.0)
        data = np.arange(20, dtype=np.float32).reshape(10, 2)
        data[4:6, 1] = np.nan
        t0 = pylsl.local_clock()
        outlet.push_chunk(data, list(t0 + np.arange(10) / RATE))
        got = _read_n(src, 8)
    assert len(got) == 8 and np.isfinite(got.data).all()
    assert got.lost == 2
    np.testing.assert_array_equal(got.data, np.delete(data, [4, 5], axis=0))


def test_string_irregular_and_wrong_channel_count_streams_are_refused(stream_name):
    markers = LSLMarkerOutlet(f"{stream_name}-m")
    irregular = _raw_outlet(f"{stream_name}-irr", 4, 0.0)
    eight = _raw_outlet(f"{stream_name}-8", 8, 200.0)
    with pytest.raises(MyostreamError, match="carries strings"):
        LSLSource(name=f"{stream_name}-m", timeout=2.0).open()
    with pytest.raises(MyostreamError, match="irregular rate"):
        LSLSource(name=f"{stream_name}-irr", timeout=2.0).open()
    with pytest.raises(MyostreamError, match="has 8 channels but 16 were expected"):
        LSLSource(name=f"{stream_name}-8", timeout=2.0, expect_channels=16).open()
    markers.close()
    del irregular, eight


def test_outlet_refuses_wrong_channel_count_and_nan(stream_name):
    outlet = LSLOutlet(_info(stream_name))
    with pytest.raises(MyostreamError, match="has 4 channels but got a chunk with 3"):
        outlet.push(Chunk(np.zeros((5, 3), np.float32), np.arange(5.0)))
    bad = np.zeros((5, 4), np.float32)
    bad[2, 1] = np.nan
    with pytest.raises(MyostreamError, match="NaN or infinite values .*sample 2, channel 1"):
        outlet.push(Chunk(bad, np.arange(5.0)))
    outlet.close()
    with pytest.raises(MyostreamError, match="is closed"):
        outlet.push(Chunk(np.zeros((1, 4), np.float32), np.zeros(1)))


def test_source_misuse_is_explained():
    with pytest.raises(MyostreamError, match="needs a stream name, type or source_id"):
        LSLSource()
    src = LSLSource(name="never-opened")
    with pytest.raises(MyostreamError, match="call open"):
        _ = src.info
    with pytest.raises(MyostreamError, match="call open"):
        src.read()
    src.close()
    src.close()


class _LabelledSource:
    """A finite labelled source (as a replayed recording is): one 20-sample block per read."""

    def __init__(self, name: str, labels: np.ndarray, go: threading.Event, paced: bool = False) -> None:
        self.info = StreamInfo(name, RATE, LABELS, "uV", label_names=("rest", "fist", "open_hand"))
        self.labels = labels
        self.go = go
        #: give each block its duration, as a replay does (else all of it goes out in one burst)
        self.paced = paced
        self.pos = 0
        self.closed = False

    def open(self) -> None:
        self.t0 = pylsl_module().local_clock()

    def read(self, timeout: float = 0.0) -> Chunk:
        self.go.wait(10.0)  # hold the first block until the test's reader is connected
        n = min(20, len(self.labels) - self.pos)
        if self.paced and self.pos:
            time.sleep(n / RATE)
        block = _block(self.pos, n, self.t0)
        block.labels = self.labels[self.pos : self.pos + n]
        self.pos += n
        return block

    def close(self) -> None:
        self.closed = True


def test_publish_pushes_samples_and_label_changes_as_class_ids(stream_name):
    labels = np.repeat(np.array([0, 1, 0, 2, -1, 2], np.int16), [15, 30, 10, 25, 5, 15])
    go = threading.Event()
    source = _LabelledSource(stream_name, labels, go)
    result: list[int] = []
    seen: list[int] = []
    worker = threading.Thread(
        target=lambda: result.append(
            publish(source, stream_name, duration=90 / RATE, on_chunk=lambda c: seen.append(len(c)))
        )
    )
    worker.start()
    try:
        reader = LSLSource(name=stream_name, timeout=5.0, markers=f"{stream_name}-markers")
        with opened(reader):
            assert reader.info.channel_names == LABELS
            go.set()
            got = _read_n(reader, 90)
            for _ in range(5):  # markers may trail the last samples by a moment
                got.markers += reader.read(timeout=0.1).markers
    finally:
        go.set()
        worker.join(10.0)
    assert result == [90] and sum(seen) == 90 and source.closed
    np.testing.assert_array_equal(got.data, _block(0, 90, source.t0).data)
    # unknown (-1) at 80 is not announced; the return to class 2 at 85 is
    assert [text for _, text in got.markers] == ["rest", "fist", "rest", "open_hand", "open_hand"]
    change_at = [0, 15, 45, 55, 85]
    np.testing.assert_allclose([t for t, _ in got.markers], source.t0 + np.array(change_at) / RATE, atol=1e-3)


def test_marker_outlet_events_arrive_with_their_timestamps(stream_name):
    pylsl = pylsl_module()
    data_outlet = LSLOutlet(_info(stream_name))
    markers = LSLMarkerOutlet(f"{stream_name}-cues", type="Markers")
    with opened(LSLSource(name=stream_name, timeout=5.0, markers=f"{stream_name}-cues")) as src:
        assert markers.wait_for_consumers(5.0)
        t = pylsl.local_clock()
        markers.push("fist", t)
        markers.push("rest")
        got = []
        for _ in range(20):
            got += src.read(timeout=0.05).markers
            if len(got) == 2:
                break
    markers.close()
    data_outlet.close()
    assert [text for _, text in got] == ["fist", "rest"]
    assert got[0][0] == pytest.approx(t, abs=1e-3) and got[1][0] >= got[0][0]


def test_profile_names_the_stream_and_its_channel_count_is_checked(stream_name):
    myo = LSLSource.from_profile(load_profile("myo-lsl"))
    assert myo.query == {"name": "Myo", "type": "EMG"} and myo.expect_channels == 8
    outlet = LSLOutlet(_info(stream_name))
    profile = DeviceProfile(
        "my-8ch-lsl", "", "lsl", RATE, tuple(f"c{i}" for i in range(8)), "uV", options={"lsl": {"name": stream_name}}
    )
    with pytest.raises(MyostreamError, match=f"LSL stream '{stream_name}' has 4 channels but 8 were expected"):
        LSLSource.from_profile(profile, timeout=2.0).open()
    outlet.close()


def test_lsl_source_spec_reads_the_marker_stream_as_labels(stream_name):
    """`lsl:NAME` reads NAME-markers when it exists: a replay's class ids become per-sample labels."""
    from myostream.sources import make_source

    labels = np.repeat(np.array([0, 1, 0, 2], np.int16), [20, 40, 20, 40])
    go = threading.Event()
    source = _LabelledSource(stream_name, labels, go, paced=True)
    worker = threading.Thread(target=publish, args=(source, stream_name), kwargs={"duration": len(labels) / RATE})
    worker.start()
    try:
        reader = make_source(f"lsl:{stream_name}")
        with opened(reader):
            assert reader.info.label_names == ("rest", "fist", "open_hand")
            go.set()
            got = []
            for _ in range(100):
                got.append(reader.read(timeout=0.2))
                if sum(len(c) for c in got) >= len(labels):
                    break
    finally:
        go.set()
        worker.join(10.0)
    read = np.concatenate([c.labels for c in got])
    assert len(read) == len(labels)
    # A class marker can trail its samples (it travels on its own stream; more so on a loaded
    # machine): a sample read before its marker keeps the label before (-1 at first). So a sample's
    # label is its own class or that of an earlier segment, never a later one, and the changes come
    # in the replay's order.
    segment = np.cumsum(np.concatenate(([0], labels[1:] != labels[:-1])))
    order = [0, 1, 0, 2]
    for i, k in enumerate(read):
        assert k == -1 or k in order[: segment[i] + 1], (i, k)
    runs = [int(k) for k in read[np.concatenate(([True], read[1:] != read[:-1]))] if k >= 0]
    remaining = iter(order)  # the labels seen are the replay's, in order (a marker late past its whole
    assert all(k in remaining for k in runs), runs  # segment skips that segment: the last one may come
    assert len(runs) >= 2, runs  # after the last sample was read on a loaded machine)


def test_lsl_source_spec_without_a_marker_stream_opens_unlabelled(stream_name):
    from myostream.sources import make_source

    outlet = LSLOutlet(_info(stream_name))
    reader = make_source(f"lsl:{stream_name}", timeout=5.0)
    with opened(reader):
        assert reader.info.label_names == ()
        outlet.push(_block(0, 10, pylsl_module().local_clock()))
        assert reader.read(timeout=1.0).labels is None
    outlet.close()


def test_missing_stream_waits_the_timeout_given(stream_name):
    """liblsl's one-shot resolve could return 5 s late: --timeout 5 took 10 s for a missing stream."""
    import time

    start = time.monotonic()
    with pytest.raises(MyostreamError, match=r"appeared within 1.5 s"):
        LSLSource(name=stream_name, timeout=1.5).open()
    assert time.monotonic() - start < 1.5 + 2.5  # not the 5 s extra of a one-shot resolve


def test_stream_names_that_lsl_cannot_carry_are_one_sentence():
    import os

    info = _info("ok")
    with pytest.raises(MyostreamError, match="is not valid UTF-8 text"):
        LSLOutlet(info, name=os.fsdecode(b"emg\xff"))
    with pytest.raises(MyostreamError, match="LSL stream name is empty"):
        LSLOutlet(info, name="")
    with pytest.raises(MyostreamError, match="marker stream name is empty"):
        LSLMarkerOutlet(" ")


def test_outlets_listen_on_loopback_only(stream_name):
    """Every socket an outlet opens (TCP data port, UDP service port, multicast responder) is on 127.0.0.1."""
    import os

    from myostream.stream.lslconfig import lsl_scope
    from myostream_reports.reliability import process_sockets

    before = set(process_sockets(os.getpid()))
    outlet = LSLOutlet(_info(stream_name))
    markers = LSLMarkerOutlet(f"{stream_name}-markers", classes=("rest", "fist"))
    opened_now = set(process_sockets(os.getpid())) - before
    outlet.close()
    markers.close()
    listening = [s for s in opened_now if s[0].startswith("udp") or s[3] == "LISTEN"]
    assert sum(s[0] == "tcp" and s[3] == "LISTEN" for s in listening) == 2  # one data port per outlet
    assert sum(s[0] == "udp" for s in listening) >= 2  # and their service ports
    assert {s[1] for s in listening} == {"127.0.0.1"}, listening
    assert "outlets listen on 127.0.0.1 only" in lsl_scope()


@pytest.mark.parametrize("network", [False, True])
def test_replay_command_outlets_stay_on_loopback_unless_asked(stream_name, tmp_path, network):
    """The real `myostream replay` process: sockets as `ss -ltnup` would list them (from /proc).

    With --lsl-network the data ports listen on every interface (discovery stays as the
    test configuration says: on this machine)."""
    import subprocess
    import sys
    import time

    from myostream_reports.reliability import process_sockets
    from tests.data.layouts import write_ninapro_mat

    path = tmp_path / "DB2_s1" / "S1_E1_A1.mat"
    write_ninapro_mat(path, [1, 2], reps=2, hold=2000, rest=1000)
    flags = ["--lsl-network"] if network else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "myostream.cli", *flags, "replay", str(path), "--lsl", stream_name, "--duration", "60"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert "replaying" in proc.stderr.readline()
        for _ in range(100):  # both outlets exist once the first block went out
            sockets = [s for s in process_sockets(proc.pid) if s[0].startswith("udp") or s[3] == "LISTEN"]
            if sum(s[0].startswith("tcp") for s in sockets) >= 2:
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    addresses = {s[1] for s in sockets if s[0].startswith("tcp")}
    if network:
        assert addresses & {"0.0.0.0", "::"}, sockets  # the user asked for the network
    else:
        assert addresses == {"127.0.0.1"} and {s[1] for s in sockets} == {"127.0.0.1"}, sockets
