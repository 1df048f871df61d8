"""Training and evaluating on recordings held in memory, labelled by a dataset the project does not know."""

from __future__ import annotations

import numpy as np
import pytest

from myostream.cli import main
from myostream.data.sidecar import relabel
from myostream.errors import MyostreamError
from myostream.model.checkpoint import load_checkpoint
from myostream.records import Recording
from myostream.stream.simulated import SimulatedArmband
from myostream.train.recordings import evaluate_on_recordings, train_on_recordings
from tests.train.tiny_runs import TINY_MODEL, tiny_bert

#: a lab's own label names for the simulated armband's gestures
LAB = {
    "REST": "rest",
    "FIST": "fist",
    "OPEN": "open_hand",
    "FLEX": "wrist_flexion",
    "EXT": "wrist_extension",
    "RAD": "radial_deviation",
    "ULN": "ulnar_deviation",
    "PINCH": "pinch",
    "POINT": "point",
}


def lab_recording(user: int, seconds: float = 20.0) -> Recording:
    sim = SimulatedArmband(user=user, hold_s=1.5, rest_s=1.0, realtime=False)
    chunk = sim.generate(seconds)
    own = {v: k for k, v in LAB.items()}
    return Recording(
        emg=chunk.data,
        rate=sim.info.rate,
        labels=chunk.labels.astype(np.int16),
        label_names=tuple(own[n] for n in sim.info.label_names),
        channel_names=sim.info.channel_names,
        subject=f"p{user}",
        dataset="my-lab",
    )


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    root = tmp_path_factory.getbasetemp()
    path = root / "memory.toml"
    path.write_text(f"""
name = "memory"
model = "myosem-simulated"

[data]
hop_ms = 100
filter = "simulated"
normalisation = "channel"

[protocol]
name = "cross-user"

[text]
catalogs = ["armband"]
model = "{tiny_bert(root)}"
steps = 5
batch_classes = 4
{TINY_MODEL}
""")
    return path


def test_relabel_maps_a_lab_s_labels_onto_class_ids():
    rec = lab_recording(1, 5.0)
    mapped = relabel(rec, LAB)
    assert set(mapped.label_names) <= set(LAB.values())
    assert [mapped.label_names[i] for i in mapped.labels[:50]] == [LAB[rec.label_names[i]] for i in rec.labels[:50]]
    partial = relabel(rec, {"FIST": "fist"})
    assert partial.label_names == ("fist",) and set(np.unique(partial.labels)) <= {-1, 0}
    with pytest.raises(MyostreamError, match="names none of"):
        relabel(rec, {"WAVE": "rest"})
    with pytest.raises(MyostreamError, match="must map values to class ids"):
        relabel(rec, {"FIST": "a fist!"})


def test_train_and_evaluate_on_recordings_in_memory(experiment, tmp_path, capsys):
    recordings = [lab_recording(u) for u in (1, 2, 3)]
    out = tmp_path / "ckpt"
    record = train_on_recordings(
        recordings,
        out,
        config=experiment,
        labels=LAB,
        protocol_settings={"test_subjects": ["p3"]},
        device="cpu",
        progress=False,
        log=lambda s: None,
    )
    assert record["split"]["held_out_subjects"] == ["my-lab/p3"]
    model = load_checkpoint(out)
    trained = model.metadata["trained_on"]
    assert sorted(r["subject"] for r in trained) == ["p1", "p2"] and all(len(r["sha1"]) == 16 for r in trained)
    assert model.preprocessing.normalisation == "channel" and model.preprocessing.prior_scale is not None
    scores = evaluate_on_recordings(out, [lab_recording(4)], labels=LAB)
    assert scores["windows"] > 50 and 0.0 <= scores["metrics"]["emg_to_text"]["R@1"] <= 1.0
    # on the command line: the data are not on disk, and the message says what to do
    assert main(["eval", str(out)]) == 2
    err = capsys.readouterr().err
    assert "held in memory" in err and "Traceback" not in err
