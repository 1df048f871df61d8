"""Run orchestration end to end: data -> windows -> split -> stage 1/2/3 -> checkpoint -> evaluation."""

from __future__ import annotations

import json
import queue
from pathlib import Path

import numpy as np
import pytest
import torch

from myostream.cli import main
from myostream.model.checkpoint import load_checkpoint
from myostream.stream.devices import load_profile
from myostream.stream.filters import FilterStage
from myostream.stream.simulated import ARMBAND_GESTURES, SimulatedArmband
from myostream.train.data import prepare_split, validation_split
from myostream.train.evaluate import experiment_of, fit_rejection
from myostream.train.experiment import load_experiment
from myostream.train.run import train_run
from myostream.train.textspace import text_space
from tests.train.tiny_runs import simulated_experiment, tiny_bert, trained_checkpoint

ARMBAND = ("rest", *ARMBAND_GESTURES)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp()


def test_train_writes_one_checkpoint_that_the_live_pipeline_runs(root):
    from myostream.stream.pipeline import Pipeline

    ckpt = trained_checkpoint(root)
    model = load_checkpoint(ckpt)
    assert model.class_ids == ARMBAND
    assert model.preprocessing.filter == load_profile("simulated").filter  # live applies what training saw
    assert model.metadata["normaliser"]["fitted_on"] == "training windows only"
    assert len(model.metadata["normaliser"]["std"]) == 8
    assert (ckpt / "text_encoder.json").is_file() and (ckpt / "text_encoder.safetensors").is_file()
    log = [json.loads(line) for line in (ckpt / "train.jsonl").read_text().splitlines()]
    epochs = [r for r in log if "selected" not in r]
    assert [r["stage"] for r in epochs] == ["stage2", "stage3", "stage3"]
    assert [r.get("phase") for r in epochs[1:]] == ["A", "B"]
    assert all("val_acc" in r or "val_r1" in r for r in epochs)
    # validation picks the epoch each stage keeps, and the log says which
    kept = [r for r in log if r.get("selected")]
    assert [r["stage"] for r in kept] == ["stage2", "stage3"]
    # the rejection rule is this model's, fitted on its validation windows (no refit here)
    exp = experiment_of(model, ckpt)
    prepared = prepare_split(exp)
    _, val = validation_split(
        prepared.windows,
        prepared.split.train,
        exp.protocol.validation_fraction,
        exp.protocol.seed,
        by=exp.protocol.validation,
    )
    x, y = prepared.windows.data(val), prepared.windows.y[val]
    assert model.class_ids == prepared.windows.class_ids
    again = fit_rejection(model, torch.from_numpy(x), torch.from_numpy(y), fitted_on=model.rejection.fitted_on)
    assert model.rejection is not None and model.rejection.fitted_on.startswith(f"{len(val)} validation windows")
    assert again.measure == model.rejection.measure and again.n_wrong == model.rejection.n_wrong
    assert again.threshold == pytest.approx(model.rejection.threshold, abs=1e-5)
    assert json.loads((ckpt / "results.json").read_text())["rejection"]["measure"] == model.rejection.measure

    got: queue.Queue = queue.Queue()
    source = SimulatedArmband(user=0, realtime=True)
    with Pipeline(source, model, on_ranking=got.put, smoothing=0.0, device="cpu"):
        rankings = [got.get(timeout=10) for _ in range(3)]
    assert all(r.top[0].class_id in ARMBAND and np.isfinite(r.scores).all() for r in rankings)
    assert rankings[0].true_class == "rest"


def test_same_seed_trains_the_same_weights(root, tmp_path):
    first = trained_checkpoint(root)
    exp = simulated_experiment(tmp_path / "again.toml", tiny_bert(root))
    train_run(load_experiment(exp), tmp_path / "again", device="cpu", progress=False, log=lambda _m: None)
    from safetensors.torch import load_file

    a, b = load_file(str(first / "weights.safetensors")), load_file(str(tmp_path / "again" / "weights.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_cross_class_keeps_held_out_classes_out_of_stage_1(root, tmp_path, monkeypatch):
    import myostream.text.stage1 as stage1

    trained_on = []
    real = stage1._optimise

    def spy(encoder, catalog, config, progress):
        trained_on.append(catalog.ids)
        return real(encoder, catalog, config, progress)

    monkeypatch.setattr(stage1, "_optimise", spy)
    protocol = '[protocol]\nname = "cross-class"\nheld_out_classes = ["fist", "pinch"]\n'
    exp = load_experiment(simulated_experiment(tmp_path / "cc.toml", tiny_bert(root), protocol=protocol))
    record = train_run(exp, tmp_path / "cc", device="cpu", progress=False, log=lambda _m: None)

    rest_of_them = tuple(c for c in ARMBAND if c not in ("fist", "pinch"))
    assert trained_on == [rest_of_them]  # stage 1 optimised on exactly these texts
    assert tuple(record["stage1_trained_classes"]) == rest_of_them
    assert record["held_out_classes"] == ["fist", "pinch"]
    # every class is a candidate at test time; the test windows are the held-out classes only
    assert record["metrics"]["candidates"] == list(ARMBAND)
    assert record["metrics"]["text_to_emg"]["classes"] == 2
    model = load_checkpoint(tmp_path / "cc")
    assert model.class_ids == ARMBAND and model.n_classes == 7  # classifier never saw the held-out classes


def test_stage1_prototypes_are_cached_per_catalog_held_out_set_and_seed(root, tmp_path):
    exp = load_experiment(simulated_experiment(tmp_path / "t.toml", tiny_bert(root)))
    first = text_space(exp.text, ARMBAND, ("fist",), "stage1", 0, tmp_path / "cache", progress=False)
    again = text_space(exp.text, ARMBAND, ("fist",), "stage1", 0, tmp_path / "cache", progress=False)
    other = text_space(exp.text, ARMBAND, ("point",), "stage1", 0, tmp_path / "cache", progress=False)
    assert not first.cached and again.cached and not other.cached
    assert torch.equal(first.prototypes, again.prototypes)
    assert first.prototypes.shape == (9, 256) and "fist" not in first.trained_classes
    label = text_space(exp.text, ARMBAND, (), "label", 0, tmp_path / "cache", progress=False)
    assert label.trained_classes == () and not torch.allclose(label.prototypes, first.prototypes)
    # the catalog's texts are part of the key: an edited description is never served stale prototypes
    from dataclasses import replace

    from myostream.text.catalog import catalog_dir

    edited = tmp_path / "armband.toml"
    edited.write_text(
        (catalog_dir() / "armband.toml")
        .read_text(encoding="utf-8")
        .replace("A closed fist (hand close)", "A tightly closed fist (hand close)"),
        encoding="utf-8",
    )
    changed = text_space(
        replace(exp.text, catalogs=(str(edited),)), ARMBAND, ("fist",), "stage1", 0, tmp_path / "cache", progress=False
    )
    assert not changed.cached and changed.folder != first.folder


def test_every_train_run_reuses_the_shared_text_space(root, tmp_path, capsys):
    """Two runs of one experiment build stage 1 once: the second finds it in the shared cache."""
    from myostream.cli import main

    exp = simulated_experiment(tmp_path / "again.toml", tiny_bert(root), seconds=8.0)
    said = []
    for name in ("a", "b"):
        assert main(["train", str(exp), "--out", str(tmp_path / name), "--torch-device", "cpu", "--quiet"]) == 0
        said.append(next(line for line in capsys.readouterr().out.splitlines() if "text prototypes" in line))
    assert "cached" in said[1] and said[0].split()[-6:] == said[1].split()[-6:]  # the same space, found again
    assert not (tmp_path / "a" / "stage1").exists()  # nothing left next to the checkpoint


def test_db1_smoke_run_on_two_subjects(db1_dir, tmp_path, root):
    from tests.train.tiny_runs import TINY_MODEL

    exp = tmp_path / "db1.toml"
    exp.write_text(
        f"""
name = "tiny-db1"
model = "myosem-ninapro-db1"
[data]
source = "ninapro"
folder = "{db1_dir}"
database = "db1"
exercise = 1
subjects = [1, 2]
hop_ms = 500
rest = false
[protocol]
name = "cross-user"
folds = 2
[text]
model = "{tiny_bert(root)}"
steps = 3
train_layers = 0
{TINY_MODEL}
"""
    )
    record = train_run(load_experiment(exp), tmp_path / "out", device="cpu", progress=False, log=lambda _m: None)
    assert record["class_ids"] == [f"ninapro.A{i:02d}" for i in range(1, 13)]  # rest excluded
    assert len(record["split"]["held_out_subjects"]) == 1 and record["fold"] == 0
    e2t = record["metrics"]["emg_to_text"]
    assert {"R@1", "R@3", "R@5", "MRR", "R@1_std", "MRR_std", "n"} <= set(e2t)
    assert 0 < e2t["n"] == record["windows"]["test"]
    assert load_checkpoint(tmp_path / "out").config.n_channels == 10


def _db2_to_db3_experiment(folder: Path, text_model: Path, with_test_data: bool = True) -> Path:
    """DB2-layout training files (12 electrodes, B01-B03) and a DB3-layout test subject with 10
    electrodes whose exercise includes B04, which no training file has."""
    from tests.data.layouts import write_ninapro_mat
    from tests.train.tiny_runs import TINY_MODEL

    for s in (1, 2):
        write_ninapro_mat(
            folder / "db2" / f"DB2_s{s}" / f"S{s}_E1_A1.mat", [1, 2, 3], reps=3, hold=500, rest=400, subject=s, seed=s
        )
    write_ninapro_mat(
        folder / "db3" / "DB3_s1" / "S1_E1_A1.mat", [1, 2, 4], n_channels=10, reps=2, hold=500, rest=400, seed=9
    )
    test_data = f'[test_data]\nsource = "ninapro"\nfolder = "{folder / "db3"}"\n' if with_test_data else ""
    path = folder / "db2-db3.toml"
    path.write_text(
        f"""
name = "tiny-db2-db3"
model = "myosem-simulated"
[data]
source = "ninapro"
folder = "{folder / "db2"}"
hop_ms = 100
channels = "select"
{test_data}
[protocol]
name = "{"cross-dataset" if with_test_data else "random"}"
[text]
model = "{text_model}"
steps = 3
train_layers = 0
"""
        + TINY_MODEL.replace("[model_overrides]", "[model_overrides]\nn_channels = 10\nrate = 2000.0")
    )
    return path


def test_cross_dataset_trains_on_one_database_and_tests_on_every_window_of_another(root, tmp_path, capsys):
    from myostream.cli import main
    from myostream.data.ninapro import read_ninapro_folder
    from myostream.data.windows import extract_windows

    exp = _db2_to_db3_experiment(tmp_path, tiny_bert(root))
    out = tmp_path / "run"
    assert main(["train", str(exp), "--out", str(out), "--device", "cpu", "--quiet"]) == 0
    assert "test datasets ninapro-db3" in capsys.readouterr().out
    record = json.loads((out / "results.json").read_text())
    split = record["split"]
    assert record["protocol"] == "cross-dataset" and split["channels"] == "select"
    assert split["train_datasets"] == ["ninapro-db2"] and split["test_datasets"] == ["ninapro-db3"]
    # B04 has no training window: held out of stage 1 and of the classifier, still a candidate
    assert record["held_out_classes"] == ["ninapro.B04"] and "ninapro.B04" not in record["stage1_trained_classes"]
    assert "ninapro.B04" in record["metrics"]["candidates"]
    # the test windows are every window of the DB3 recordings, none of DB2
    db3 = extract_windows(read_ninapro_folder(tmp_path / "db3"), 200, 100)
    assert record["windows"]["test"] == split["n_test"] == len(db3)
    assert load_checkpoint(out).config.n_channels == 10  # 12 DB2 electrodes cut to the 10 both have

    # the checkpoint re-evaluates to the same numbers; --data tests it on another folder (12 -> 10 channels)
    assert main(["eval", str(out), "--out", str(tmp_path / "ev"), "--device", "cpu"]) == 0
    again = json.loads((tmp_path / "ev" / "eval-cross-dataset.json").read_text())
    assert again["same_split_as_training"] and again["metrics"] == record["metrics"]
    assert (
        main(
            [
                "eval",
                str(out),
                "--protocol",
                "cross-dataset",
                "--data",
                str(tmp_path / "db2"),
                "--out",
                str(tmp_path / "ev2"),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    other = json.loads((tmp_path / "ev2" / "eval-cross-dataset.json").read_text())
    db2 = extract_windows(read_ninapro_folder(tmp_path / "db2"), 200, 100)
    assert not other["same_split_as_training"] and other["windows"]["test"] == len(db2)
    assert other["split"]["test_datasets"] == ["ninapro-db2"]


def test_cross_dataset_without_test_data_is_one_sentence(root, tmp_path, capsys):
    from myostream.cli import main

    exp = _db2_to_db3_experiment(tmp_path, tiny_bert(root), with_test_data=False)
    assert main(["train", str(exp), "--protocol", "cross-dataset", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "cross-dataset protocol needs the recordings to test on" in err and "--test-data DIR" in err
    assert len(err.splitlines()) == 1


def test_bundled_checkpoint_ranks_clean_fist_windows_first():
    """Windows from the middle of each gesture's hold, for the live default person (user 0,
    never seen in training), filtered as live: the bundled model names the gesture."""
    from myostream.resources import resource_dir

    model = load_checkpoint(resource_dir("models") / "bundled" / "simulated")
    sim = SimulatedArmband(realtime=False, schedule="cycle")  # the live default source
    signal = sim.generate(5.0 * 3)  # rest 2 s + hold 3 s: fist, open_hand, wrist_flexion
    spec = load_profile("simulated").filter
    x = FilterStage(sim.rate, sim.n_channels, spec).process(signal.data)
    n = model.config.window_samples
    for cue, gesture in enumerate(("fist", "open_hand", "wrist_flexion")):
        hold = 5000 * cue + 2000  # first sample of the hold
        starts = [hold + 1200 + 300 * i for i in range(5)]
        windows = np.stack([x[s : s + n] for s in starts])
        assert all(sim.info.label_names[signal.labels[s]] == gesture for s in starts)
        ranking = model.rank(windows, k=3)
        assert [top[0] for top in ranking.class_ids] == [gesture] * 5


def test_validation_on_held_out_people_chooses_the_epochs_then_refits_on_all(root, tmp_path):
    """[protocol] validation = "subjects" holds out whole people; refit trains again on everyone for the chosen epochs."""
    protocol = '[protocol]\nname = "cross-user"\ntest_subjects = ["user3"]\nvalidation = "subjects"\nvalidation_fraction = 0.5\nrefit = true\n'
    exp = simulated_experiment(
        tmp_path / "refit.toml", tiny_bert(root), protocol=protocol, users="[1, 2, 3]", seconds=12.0
    )
    out = tmp_path / "ckpt"
    assert main(["train", str(exp), "--out", str(out), "--device", "cpu", "--quiet"]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["windows"]["validation"] > 0 and record["refit"]["windows"] == (
        record["windows"]["train"] + record["windows"]["validation"]
    )
    assert (
        record["refit"]["stage2_epochs"] == 1
        and record["refit"]["stage3_epochs_a"] + record["refit"]["stage3_epochs_b"] >= 1
    )
    log = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert sum(1 for r in log if r.get("stage") == "stage2" and "selected" not in r) == 2  # selection run + refit
    # the refit trains on the validation windows: the rule comes from the model before it
    rule = load_checkpoint(out).rejection
    assert (
        rule.fitted_on.endswith("before the refit") and rule.n_correct + rule.n_wrong == record["windows"]["validation"]
    )
