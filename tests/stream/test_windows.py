import numpy as np
import pytest

from myostream.errors import MyostreamError
from myostream.stream.windows import Windower, ms_to_samples


def _feed(w: Windower, x, sizes, labels=None):
    out, pos = [], 0
    for n in sizes:
        lab = None if labels is None else labels[pos : pos + n]
        for win in w.push(x[pos : pos + n], np.arange(pos, pos + n) / 1000.0, pos, lab):
            out.append((win.data.copy(), win.counter, win.timestamp, win.label()))
        pos += n
    return out


def test_windows_are_the_same_whatever_the_chunking():
    x = np.arange(1000 * 2, dtype=np.float32).reshape(1000, 2)
    a = _feed(Windower(100, 25, 2), x, [1000])
    b = _feed(Windower(100, 25, 2), x, [7, 13, 1, 300, 79, 600])
    assert len(a) == len(b) == (1000 - 100) // 25 + 1
    for (da, ca, ta, _), (db, cb, tb, _) in zip(a, b):
        assert ca == cb and ta == tb and (da == db).all()
    data, counter, ts, _ = a[3]
    assert counter == 100 - 1 + 3 * 25 and ts == counter / 1000.0
    assert (data[:, 0] == np.arange(counter - 99, counter + 1) * 2).all()


def test_window_label_is_the_majority_and_gap_restarts():
    x = np.zeros((300, 1), np.float32)
    labels = np.r_[np.full(160, 2), np.full(140, 5)].astype(np.int16)
    wins = _feed(Windower(100, 100, 1), x, [300], labels)
    assert [w[3] for w in wins] == [2, 2, 5]  # samples 100-199: 60 of label 2, 40 of label 5
    w = Windower(100, 50, 1)
    assert len(list(w.push(x[:80], np.zeros(80), 0))) == 0
    # a gap: the next samples do not continue the counter, so the partial window is dropped
    got = [win.counter for win in w.push(x[:120], np.zeros(120), 500)]
    assert got == [599]


def test_bad_sizes():
    assert ms_to_samples(200, 1000) == 200 and ms_to_samples(200, 100) == 20
    with pytest.raises(MyostreamError):
        Windower(0, 10, 2)
    with pytest.raises(MyostreamError, match="2 channels"):
        list(Windower(10, 5, 2).push(np.zeros((5, 3), np.float32), np.zeros(5), 0))


def test_live_and_offline_windows_share_one_label_rule():
    """The live Windower and extract_windows label the same windows identically, ties included."""
    from myostream.data.windows import extract_windows
    from myostream.records import Recording
    from myostream.stream.windows import Windower, majority_label

    assert majority_label(np.array([2, 2, 1, 1])) == 1  # a tie goes to the later label
    assert majority_label(np.array([1, 1, 2, 2, 1, 1, 2, 2])) == 2
    assert majority_label(np.array([-1, -1, -1, 3])) == -1  # mostly unlabelled: unknown
    rng = np.random.default_rng(0)
    runs = rng.integers(1, 12, 400)  # short runs make ties and three-run windows common
    labels = np.repeat(rng.integers(-1, 4, len(runs)), runs).astype(np.int16)
    emg = rng.normal(size=(len(labels), 2)).astype(np.float32)
    rec = Recording(
        emg=emg,
        rate=100.0,
        labels=np.where(labels < 0, -1, labels).astype(np.int16),
        label_names=("a", "b", "c", "d"),
        channel_names=("x", "y"),
        subject="s",
    )
    offline = extract_windows([rec], 100.0, 30.0, classes=("a", "b", "c", "d"))
    w = Windower(10, 3, 2)
    live = {win.counter - 9: win.label() for win in w.push(emg, np.arange(len(emg), dtype=float), 0, rec.labels)}
    compared = 0
    for start, y in zip(offline.start, offline.y):
        assert live[int(start)] == y
        compared += 1
    dropped = set(live) - set(offline.start.tolist())
    assert all(live[s] == -1 for s in dropped)  # what offline drops is what live calls unknown
    assert compared > 300
