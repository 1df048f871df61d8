import threading

import numpy as np
import pytest

from myostream.errors import MyostreamError
from myostream.stream.ring import RingBuffer


def _chunk(start: int, n: int, c: int = 3):
    idx = np.arange(start, start + n)
    data = np.repeat(idx[:, None], c, axis=1).astype(np.float32)
    return data, idx.astype(np.float64) / 100.0, (idx % 7).astype(np.int16)


def test_latest_and_since_return_written_samples_in_order():
    ring = RingBuffer(50, 3)
    for start in range(0, 40, 10):
        ring.write(*_chunk(start, 10))
    span = ring.latest(15)
    assert (span.data[:, 0] == np.arange(25, 40)).all()
    assert (span.timestamps == np.arange(25, 40) / 100.0).all()
    assert (span.labels == np.arange(25, 40) % 7).all()
    assert span.start == 25 and span.end == 40 and ring.count == 40
    since = ring.since(33)
    assert (since.data[:, 1] == np.arange(33, 40)).all() and since.lost == 0


def test_wraparound_keeps_every_sample_exact():
    ring = RingBuffer(16, 2)
    reader, seen = 0, []
    for start in range(0, 1000, 7):  # chunk size does not divide the capacity
        ring.write(*_chunk(start, 7, 2))
        span = ring.since(reader)
        assert span.lost == 0
        seen.append(span.data[:, 0])
        reader = span.end
    assert (np.concatenate(seen) == np.arange(0, 1001 // 7 * 7 + 7)[: len(np.concatenate(seen))]).all()
    assert reader == ring.count


def test_slow_reader_is_told_how_many_samples_it_lost():
    ring = RingBuffer(20, 1)
    for start in range(0, 100, 10):
        ring.write(*_chunk(start, 10, 1))
    span = ring.since(30)
    assert span.lost == 100 - 20 - 30
    assert span.start == 80 and (span.data[:, 0] == np.arange(80, 100)).all()


def test_chunk_larger_than_capacity_keeps_the_newest():
    ring = RingBuffer(8, 1)
    ring.write(*_chunk(0, 30, 1))
    assert ring.count == 30
    assert (ring.latest(8).data[:, 0] == np.arange(22, 30)).all()
    assert ring.since(0).lost == 22


def test_missing_labels_are_unknown_and_max_samples_limits_a_read():
    ring = RingBuffer(10, 1)
    data, ts, _ = _chunk(0, 6, 1)
    ring.write(data, ts)
    assert (ring.latest(6).labels == -1).all()
    assert len(ring.since(0, max_samples=4)) == 4


def test_wrong_channel_count_is_a_clear_error():
    ring = RingBuffer(10, 4)
    with pytest.raises(MyostreamError, match="4 channels"):
        ring.write(np.zeros((3, 5), np.float32), np.zeros(3))
    with pytest.raises(MyostreamError, match="ahead"):
        ring.since(5)


def test_concurrent_writer_never_blocks_and_readers_see_consistent_data():
    ring = RingBuffer(64, 4)
    total = 40_000
    errors: list[str] = []
    counts = {"read": 0, "lost": 0}

    def writer():
        for start in range(0, total, 10):
            ring.write(*_chunk(start, 10, 4))

    def reader():
        pos = 0
        while pos < total:
            span = ring.since(pos)
            # every sample copied out must be exactly the one its counter names
            if len(span) and not (span.data[:, 3] == np.arange(span.start, span.end)).all():
                errors.append(f"torn read at {span.start}")
            counts["read"] += len(span)
            counts["lost"] += span.lost
            pos = span.end

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert counts["read"] + counts["lost"] == total
