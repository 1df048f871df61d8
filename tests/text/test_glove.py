"""Glove-derived process text: synthetic joints and the real NinaPro DB1 CyberGlove recordings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from myostream.errors import MyostreamError
from myostream.text.catalog import catalog_dir
from myostream.text.glove import CYBERGLOVE_22, describe_glove, glove_texts, repetition_deltas

NAMES = ("rest", "bend", "lift")


def _session(moves: dict[int, dict[int, float]], reps: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rest/move cycles: label -> {column: raw change}, with sensor noise."""
    rng = np.random.default_rng(seed)
    rest = rng.uniform(60, 160, 22)
    glove, labels = [], []
    for _ in range(reps):
        for label, change in moves.items():
            posture = rest.copy()
            for column, delta in change.items():
                posture[column] += delta
            glove += [rest] * 30 + [posture] * 40
            labels += [0] * 30 + [label] * 40
    glove = np.asarray(glove) + rng.normal(0, 1.5, (len(glove), 22))
    return glove.astype(np.float32), np.asarray(labels, np.int16)


def test_synthetic_index_flexion_and_little_extension_are_named():
    glove, labels = _session({1: {4: 25.0, 5: 60.0}, 2: {15: -30.0, 16: -35.0}})
    texts = glove_texts([(glove, labels, NAMES)])
    bend, lift = texts["bend"], texts["lift"]
    assert bend.repetitions == lift.repetitions == 6
    assert bend.text.startswith(
        "From a relaxed hand, the index finger flexes at its base (MCP) and middle (PIP) joints"
    )
    assert "the thumb and the other fingers stay still" in bend.text and "bent toward the palm" in bend.text
    assert "the little finger extends" in lift.text and "straightened and lifted" in lift.text
    assert "index" not in lift.text


def test_sensors_without_a_known_sign_give_no_text():
    glove, labels = _session({1: {20: 40.0}, 2: {4: 30.0}})  # wrist flexion sensor only
    texts = glove_texts([(glove, labels, NAMES)])
    assert texts["bend"].text is None and texts["bend"].movers == ()
    assert "index finger flexes" in texts["lift"].text


def test_repetitions_need_rest_before_them_and_bad_input_is_refused():
    glove, labels = _session({1: {5: 60.0}}, reps=3)
    assert repetition_deltas(glove, labels, NAMES)["bend"].shape == (3, 22)
    with pytest.raises(MyostreamError, match="no 'rest' class"):
        repetition_deltas(glove, labels, ("idle", "bend", "lift"))
    glove[5, 3] = np.nan
    with pytest.raises(MyostreamError, match="NaN"):
        repetition_deltas(glove, labels, NAMES)
    with pytest.raises(MyostreamError, match="one label per sample"):
        repetition_deltas(glove[:10], labels, NAMES)
    with pytest.raises(MyostreamError, match=r"\[repetitions, 22\]"):
        describe_glove(np.zeros((3, 10)), "x")


@pytest.fixture(scope="module")
def db1_texts(db1_dir):
    from myostream.data.ninapro import read_ninapro_folder

    recordings = read_ninapro_folder(db1_dir)
    return glove_texts((r.glove, r.labels, r.label_names) for r in recordings)


FINGERS = {
    "A01": "index",
    "A02": "index",
    "A03": "middle",
    "A04": "middle",
    "A05": "ring",
    "A06": "ring",
    "A07": "little",
    "A08": "little",
}


def test_db1_glove_text_names_the_moving_digit_and_direction(db1_texts):
    assert len(db1_texts) == 12
    for movement, finger in FINGERS.items():
        text = db1_texts[f"ninapro.{movement}"].text
        verb = "flexes" if int(movement[1:]) % 2 else "extends"
        assert text.startswith(f"From a relaxed hand, the {finger} finger {verb}"), (movement, text)
        others = {"index", "middle", "ring", "little"} - {finger}
        if movement != "A06":  # ring extension drags the little finger along (shared extensor tendons)
            assert not any(f"the {o} finger {v}" in text for o in others for v in ("flexes", "extends")), text
    assert db1_texts["ninapro.A11"].text.startswith("From a relaxed hand, the thumb flexes")
    assert db1_texts["ninapro.A12"].text.startswith("From a relaxed hand, the thumb extends")
    for movement, side in (("A09", "toward"), ("A10", "away from")):
        text = db1_texts[f"ninapro.{movement}"].text
        assert text.startswith("From a relaxed hand, the thumb") and f"moves {side} the index finger" in text
    for movement in ("A09", "A10", "A11", "A12"):
        assert "the fingers stay still" in db1_texts[f"ninapro.{movement}"].text


def test_shipped_glove_file_is_what_the_db1_data_give(db1_texts):
    shipped = json.loads((catalog_dir() / "glove" / "ninapro_db1.json").read_text())["classes"]
    assert {c: e["text"] for c, e in shipped.items()} == {c: g.text for c, g in db1_texts.items()}


def test_layout_covers_the_22_cyberglove_sensors():
    assert [s.column for s in CYBERGLOVE_22] == list(range(22))
    described = {(s.digit, s.joint) for s in CYBERGLOVE_22 if s.polarity}
    for finger in ("index", "middle", "ring", "little"):
        assert {(finger, "MCP"), (finger, "PIP")} <= described
