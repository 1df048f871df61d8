"""Calibration protocols, trial schedules, the cue run, cue labels and signal checks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from myostream.calibrate import (
    CalibrationRun,
    channel_quality,
    labels_from_cues,
    list_protocols,
    load_protocol,
    trial_schedule,
)
from myostream.errors import MyostreamError
from myostream.records import CueEvent
from myostream.stream.simulated import ARMBAND_GESTURES, SimulatedArmband
from myostream.text.catalog import load_catalogs


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = """
name = "two"
gestures = ["rest", "fist", "open_hand"]
repetitions = 3
hold_s = 2.0
rest_s = 1.0
lead_in_s = 4.0
order = "interleaved"
"""


def test_shipped_protocols_load_and_use_catalog_class_ids():
    assert {"basic-armband", "ninapro-exercise-a", "quick"} <= set(list_protocols())
    catalog = load_catalogs()
    basic = load_protocol("basic-armband")
    assert basic.gestures == ("rest", *ARMBAND_GESTURES)
    assert basic.label_names[0] == "rest"
    ninapro = load_protocol("ninapro-exercise-a")
    assert ninapro.gestures == tuple(f"ninapro.A{i:02d}" for i in range(1, 13))
    assert ninapro.label_names == ("rest", *ninapro.gestures)
    quick = load_protocol("quick")
    assert 100 <= quick.duration_s <= 140  # a two-minute calibration
    assert set(quick.gestures) == set(basic.gestures)
    for protocol in (basic, ninapro, quick):
        for gesture in protocol.gestures:
            assert gesture in catalog
            cue = protocol.cue(gesture)
            # Label and canonical description come from the catalog, the instruction from the protocol.
            assert cue.text == catalog[gesture].t2
            assert cue.label.lower() == catalog[gesture].t0.lower()
            assert cue.instruction == protocol.cues[gesture].text


def test_protocol_by_path_and_own_cue_text_for_unknown_classes(tmp_path):
    path = write(
        tmp_path,
        GOOD.replace('"open_hand"]', '"open_hand", "my.wave"]')
        + '[cues]\n"my.wave" = { label = "Wave", text = "Wave." }\n',
    )
    protocol = load_protocol(path)
    assert protocol.name == "two" and protocol.path == path
    assert protocol.cue("my.wave").label == "Wave" and protocol.cue("my.wave").text == "Wave."
    assert protocol.duration_s == pytest.approx(4.0 + 4 * 3 * 3.0)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda s: s.replace("repetitions = 3\n", ""), "lacks the key 'repetitions'"),
        (lambda s: s.replace("repetitions = 3", "repetitions = 0"), "repetitions must be a whole number >= 1, got 0"),
        (lambda s: s.replace("hold_s = 2.0", "hold_s = 0"), "hold_s must be a positive number, got 0"),
        (lambda s: s.replace("rest_s = 1.0", 'rest_s = "long"'), "rest_s must be a number >= 0, got 'long'"),
        (lambda s: s.replace('"interleaved"', '"shuffled"'), "order must be one of blocked, interleaved, random"),
        (lambda s: s + "holds = 3\n", "has unknown key 'holds'"),
        (lambda s: s.replace('"open_hand"]', '"open_hand", "fist"]'), "'gestures' lists 'fist' twice"),
        (lambda s: s.replace('["rest", "fist", "open_hand"]', "[]"), "gestures must be a non-empty list"),
        (lambda s: s.replace('"open_hand"]', '"open_hand", "my.wave"]'), "cues.my.wave"),
        (lambda s: s + '[cues]\npinch = { label = "P", text = "p" }\n', "cues.pinch"),
        (lambda s: s + "[cues]\nfist = 3\n", "cues.fist must be a table, got 3"),
        (lambda s: s.replace("lead_in_s = 4.0", "lead_in_s = ["), "not valid TOML"),
    ],
)
def test_bad_protocol_names_file_and_key(tmp_path, change, key):
    path = write(tmp_path, change(GOOD))
    with pytest.raises(MyostreamError) as err:
        load_protocol(path)
    assert str(path) in str(err.value) and key in str(err.value)


def test_unknown_and_missing_protocol(tmp_path):
    with pytest.raises(MyostreamError, match="Unknown calibration protocol 'nope'.*quick"):
        load_protocol("nope")
    with pytest.raises(MyostreamError, match="does not exist"):
        load_protocol(tmp_path / "absent.toml")


def test_schedule_orders_and_timing(tmp_path):
    protocol = load_protocol(write(tmp_path, GOOD))
    interleaved = trial_schedule(protocol)
    assert [(t.gesture, t.repetition) for t in interleaved[:4]] == [
        ("rest", 1),
        ("fist", 1),
        ("open_hand", 1),
        ("rest", 2),
    ]
    assert interleaved[0].start_s == 4.0
    for a, b in zip(interleaved, interleaved[1:]):
        assert b.start_s == pytest.approx(a.end_s)
    assert interleaved[-1].end_s == pytest.approx(protocol.duration_s)

    blocked = trial_schedule(load_protocol(write(tmp_path, GOOD.replace("interleaved", "blocked"), "b.toml")))
    assert [(t.gesture, t.repetition) for t in blocked[:4]] == [("rest", 1), ("rest", 2), ("rest", 3), ("fist", 1)]

    randomised = load_protocol(write(tmp_path, GOOD.replace("interleaved", "random"), "r.toml"))
    a, b = trial_schedule(randomised, seed=1), trial_schedule(randomised, seed=1)
    assert a == b  # seeded
    orders = {tuple(t.gesture for t in trial_schedule(randomised, seed=s)) for s in range(10)}
    assert len(orders) > 1
    for rep in (1, 2, 3):  # every round still holds every gesture once
        assert sorted(t.gesture for t in a if t.repetition == rep) == sorted(randomised.gestures)
    assert Counter((t.gesture, t.repetition) for t in a) == Counter((t.gesture, t.repetition) for t in interleaved)


def test_speed_scales_every_time(tmp_path):
    fast = load_protocol(write(tmp_path, GOOD)).at_speed(4.0)
    assert (fast.hold_s, fast.rest_s, fast.lead_in_s) == (0.5, 0.25, 1.0)
    with pytest.raises(MyostreamError, match="speed"):
        fast.at_speed(0)


# ------------------------------------------------------------------------------ the run


def _run(tmp_path: Path) -> CalibrationRun:
    protocol = load_protocol(write(tmp_path, GOOD.replace('"rest", ', "")))  # fist, open_hand x 3
    return CalibrationRun(trial_schedule(protocol), protocol.lead_in_s, ready_s=0.5)


def test_run_walks_the_schedule(tmp_path):
    run = _run(tmp_path)
    events = run.start(100.0)
    t = 100.0
    while not run.finished:
        t += 0.05
        events += run.advance(t)
    kinds = [e.kind for e in events]
    assert kinds == ["start"] + ["hold", "rest"] * 6 + ["end"]
    holds = [e for e in events if e.kind == "hold"]
    assert [(e.gesture, e.repetition) for e in holds] == [
        ("fist", 1),
        ("open_hand", 1),
        ("fist", 2),
        ("open_hand", 2),
        ("fist", 3),
        ("open_hand", 3),
    ]
    assert holds[0].time == pytest.approx(104.0, abs=0.051)
    rests = [e for e in events if e.kind == "rest"]
    assert all(r.time - h.time == pytest.approx(2.0, abs=0.051) for h, r in zip(holds, rests))
    assert run.state(t).completed == 6


def test_run_pause_resume_redo_abort(tmp_path):
    run = _run(tmp_path)
    run.start(0.0)
    assert not run.can_redo  # nothing held yet
    assert [e.kind for e in run.advance(4.0)] == ["hold"]
    assert run.pause(5.0)[-1].kind == "pause"
    assert run.state(9.0).remaining_s == pytest.approx(1.0)  # time stands still while paused
    assert [e.kind for e in run.resume(10.0)] == ["resume"]
    assert run.phase == "ready"
    hold = run.advance(10.5)
    assert [(e.kind, e.gesture, e.repetition) for e in hold] == [("hold", "fist", 1)]  # the cut-short hold again
    run.advance(12.5)  # rest
    assert run.phase == "rest" and run.can_redo
    redo = run.redo(12.7)
    assert [(e.kind, e.gesture, e.repetition) for e in redo] == [("redo", "fist", 1)]
    assert not run.can_redo  # one redo per hold
    again = run.advance(13.2)
    assert [(e.kind, e.gesture) for e in again] == [("hold", "fist")]
    assert run.abort(14.0)[0].kind == "abort"
    assert run.finished and run.state(14.0).aborted
    assert run.abort(15.0) == [] and run.advance(20.0) == []


def test_labels_from_cues():
    names = ("rest", "fist", "open_hand")
    events = [
        CueEvent(1.0, "start"),
        CueEvent(2.0, "hold", "fist", 1),
        CueEvent(3.0, "rest", "fist", 1),
        CueEvent(4.0, "hold", "open_hand", 1),
        CueEvent(4.5, "pause"),  # cuts the hold short: discarded
        CueEvent(5.0, "resume"),
        CueEvent(5.5, "hold", "open_hand", 1),
        CueEvent(6.5, "rest", "open_hand", 1),
        CueEvent(7.0, "redo", "open_hand", 1),  # discards the hold and the rest after it
        CueEvent(7.5, "hold", "open_hand", 1),
        CueEvent(8.5, "rest", "open_hand", 1),
        CueEvent(9.0, "hold", "fist", 2),
        CueEvent(9.5, "abort"),
    ]
    ts = np.arange(0.0, 10.0, 0.25)
    labels, rep = labels_from_cues(ts, events, names)
    expect = {
        0.5: (-1, 0),
        1.0: (0, 0),
        2.0: (1, 1),
        2.75: (1, 1),
        3.0: (0, 0),
        4.25: (-1, 0),
        4.75: (-1, 0),
        5.25: (0, 0),
        5.5: (-1, 0),
        6.75: (-1, 0),
        7.25: (0, 0),
        7.5: (2, 1),
        8.5: (0, 0),
        9.25: (-1, 0),
        9.75: (-1, 0),
    }
    for t, value in expect.items():
        i = int(round(t / 0.25))
        assert (labels[i], rep[i]) == value, t
    # Any suffix gets the same labels (the recorder relabels the tail after a redo).
    tail_labels, tail_rep = labels_from_cues(ts[17:], events, names)
    assert (tail_labels == labels[17:]).all() and (tail_rep == rep[17:]).all()
    with pytest.raises(MyostreamError, match="pinch"):
        labels_from_cues(ts, [CueEvent(1.0, "hold", "pinch", 1)], names)


# ------------------------------------------------------------------------ signal checks


def test_channel_quality_flags_bad_electrodes():
    src = SimulatedArmband(realtime=False, hum=50.0, schedule="cycle", hold_s=0.5, rest_s=0.5)
    src.open()
    for _ in range(4):  # rest and gestures alike: a healthy armband raises no warning
        assert channel_quality(src.generate(0.5).data, src.rate) == ["ok"] * 8
    x = src.generate(1.0).data.astype(np.float64)
    t = np.arange(len(x)) / src.rate
    x[:, 0] = 0.3  # lifted electrode: constant
    x[:, 1] = np.clip(x[:, 1] * 50, -0.05, 0.05)  # amplifier clipping
    x[:, 2] += 0.5 * np.sin(2 * np.pi * 50 * t)  # mains pickup
    x[:, 3] += 3.0 * np.sin(2 * np.pi * 1.5 * t)  # movement artefact
    assert channel_quality(x, src.rate) == ["flat", "saturated", "mains", "noisy", "ok", "ok", "ok", "ok"]
    assert channel_quality(x[:3], src.rate) == ["ok"] * 8  # too short to judge
