"""``myostream train / eval / results`` on the command line: outputs and one-sentence errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from myostream.cli import main
from tests.train.tiny_runs import simulated_experiment, tiny_bert, trained_checkpoint

E2T_KEYS = {"R@1", "R@3", "R@5", "MRR", "R@1_std", "R@3_std", "R@5_std", "MRR_std", "n"}
T2E_KEYS = {"R@1", "R@3", "R@5", "MRR", "R@1_se", "R@3_se", "R@5_se", "MRR_se", "episodes", "classes"}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp()


def test_eval_writes_json_and_markdown_with_both_directions(root, tmp_path, capsys):
    ckpt = trained_checkpoint(root)
    assert main(["eval", str(ckpt), "--out", str(tmp_path), "--device", "cpu"]) == 0
    record = json.loads((tmp_path / "eval-cross-user.json").read_text())
    assert E2T_KEYS <= set(record["metrics"]["emg_to_text"])
    assert T2E_KEYS <= set(record["metrics"]["text_to_emg"])
    assert record["metrics"]["text_to_emg"]["episodes"] == 100
    assert record["same_split_as_training"] and record["split"]["held_out_subjects"] == ["simulated/user2"]
    # the saved checkpoint evaluates exactly as the training run did on its test split
    trained = json.loads((ckpt / "results.json").read_text())
    assert record["metrics"] == trained["metrics"]
    md = (tmp_path / "eval-cross-user.md").read_text()
    assert "EMG→text R@1" in md and "text→EMG MRR" in md
    assert "EMG->text R@1" in capsys.readouterr().out


def test_eval_on_another_protocol_says_the_split_differs(root, tmp_path):
    ckpt = trained_checkpoint(root)
    assert main(["eval", str(ckpt), "--protocol", "random", "--out", str(tmp_path), "--device", "cpu"]) == 0
    record = json.loads((tmp_path / "eval-random.json").read_text())
    assert record["protocol"] == "random" and not record["same_split_as_training"]
    assert "differs from the one the checkpoint was trained under" in (tmp_path / "eval-random.md").read_text()


def test_eval_live_scores_hops_through_the_real_pipeline(root, tmp_path):
    ckpt = trained_checkpoint(root)
    # 4.5 s of the cycle schedule: rest 0-2 s, fist from 2 s; hops >= 1 s after onset: 1-2 s (rest), 3-4.5 s (fist)
    assert main(["eval", str(ckpt), "--live", "--seconds", "4.5", "--out", str(tmp_path), "--device", "cpu"]) == 0
    result = json.loads((tmp_path / "live-default.json").read_text())
    runs = result["runs"]
    assert set(runs) == {"smoothing 0.5", "smoothing 0"}
    for r in runs.values():
        assert r["per_class"]["fist"]["hops"] > 10 and r["per_class"]["rest"]["hops"] > 10
        assert r["per_class"]["open_hand"]["hops"] == 0
        assert r["pipeline"]["lost"] == 0
    assert result["criterion"]["value"] == runs["smoothing 0.5"]["gestures"]["fraction"]
    assert "Live default" in (tmp_path / "live-default.md").read_text()


def test_results_command_writes_the_comparison_report(root, tmp_path):
    exp = simulated_experiment(
        tmp_path / "suite.toml",
        tiny_bert(root),
        protocol='[protocol]\nname = "random"\n[results]\nprotocols = ["random"]\n'
        'variants = ["myosem", "hudgins_linear"]\n',
    )
    out = tmp_path / "report"
    assert (
        main(["results", str(exp), "--out", str(out), "--work", str(tmp_path / "work"), "--device", "cpu", "--quiet"])
        == 0
    )
    summary = json.loads((out / "results.json").read_text())
    assert [(r["protocol"], r["variant"]) for r in summary["runs"]] == [
        ("random", "myosem"),
        ("random", "hudgins_linear"),
    ]
    readme = (out / "README.md").read_text()
    assert "Main table" in readme and "Hudgins TD + linear" in readme and "Does MyoSem lead" in readme
    assert (out / "similarity-random.png").stat().st_size > 10_000

    # two runs at once in worker processes: the same numbers, in the same order
    assert (
        main(
            [
                "results",
                str(exp),
                "--out",
                str(tmp_path / "report2"),
                "--work",
                str(tmp_path / "work2"),
                "--device",
                "cpu",
                "--quiet",
                "--jobs",
                "2",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    parallel = json.loads((tmp_path / "report2" / "results.json").read_text())
    assert parallel["machine"]["jobs"] == 2
    assert [r["variant"] for r in parallel["runs"]] == ["myosem", "hudgins_linear"]
    assert [r["metrics"] for r in parallel["runs"]] == [r["metrics"] for r in summary["runs"]]
    assert all(0 <= r["span_s"][0] < r["span_s"][1] <= parallel["total_s"] + 0.1 for r in parallel["runs"])
    readme2 = (tmp_path / "report2" / "README.md").read_text()
    assert "on the wall clock with 2 runs at a time" in readme2 and "stage-1 text training, done once" in readme2


def _fails(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    return err


def test_bad_configs_fail_with_one_sentence(root, tmp_path, capsys):
    missing = tmp_path / "no-data.toml"
    missing.write_text('model = "myosem-simulated"\n[protocol]\nname = "random"\n')
    assert "names no data" in _fails(["train", str(missing)], capsys)

    good = simulated_experiment(tmp_path / "good.toml", tiny_bert(root))
    assert "Unknown protocol 'leave-one-out'" in _fails(["train", str(good), "--protocol", "leave-one-out"], capsys)

    typo = tmp_path / "typo.toml"
    typo.write_text(good.read_text().replace("[protocol]", "[protocl]"))
    assert "has unknown key 'protocl'; allowed keys are adapt, augment, data," in _fails(["train", str(typo)], capsys)

    no_folder = tmp_path / "db1.toml"
    no_folder.write_text('model = "myosem-ninapro-db1"\n[data]\nsource = "ninapro"\nfolder = "/nowhere/db1"\n')
    assert "Data folder '/nowhere/db1' does not exist" in _fails(
        ["train", str(no_folder), "--out", str(tmp_path / "x")], capsys
    )
    assert "does not exist" in _fails(["train", "myosem-simulated", "--data", str(tmp_path / "missing")], capsys)
    assert "Unknown config 'nonsense'" in _fails(["train", "nonsense"], capsys)
    assert "Unknown model variant 'resnet'" in _fails(["train", str(good), "--model", "resnet"], capsys)
    assert "fold 3 does not exist" in _fails(["train", str(good), "--fold", "3"], capsys)
    assert "does not exist" in _fails(["eval", str(tmp_path / "no-checkpoint")], capsys)


@pytest.mark.slow
def test_train_runs_under_torchrun_with_two_cpu_processes(root, tmp_path):
    """DDP (gloo): both processes train their shard; the first writes one checkpoint that evaluates."""
    import os
    import subprocess
    import sys

    exp = simulated_experiment(tmp_path / "ddp.toml", tiny_bert(root))
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "myostream.cli",
        "train",
        str(exp),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--quiet",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("checkpoint:") == 1  # only the first process reports and writes
    record = json.loads((out / "results.json").read_text())
    log = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in log if "selected" not in r] == ["stage2", "stage3", "stage3"]
    assert E2T_KEYS <= set(record["metrics"]["emg_to_text"])


SIMULATED = 'name = "{name}"\nmodel = "myosem-simulated"\n{extra}\n[data]\nsource = "simulated"\nusers = 2\nseconds = 5\n{data}\n'


@pytest.mark.parametrize(
    ("data", "extra", "says"),
    [
        ('hold_s = "long"', "", "[data] hold_s must be a positive number, got 'long'"),
        ("sessions = 1.5", "", "[data] sessions must be a whole number >= 1, got 1.5"),
        ('nonfinite = "maybe"', "", "[data] nonfinite must be one of error, drop, interpolate, got 'maybe'"),
        ("", '[stage3]\nlr = "fast"', "[stage3] lr must be a number, got 'fast'"),
        ("", '[protocol]\nseed = "zero"', "[protocol] seed must be a whole number >= 0, got 'zero'"),
        ("", "[text]\nsteps = 1.5", "[text] steps must be a whole number, got 1.5"),
    ],
)
def test_wrong_value_types_in_an_experiment_are_one_sentence(tmp_path, capsys, data, extra, says):
    """`seconds = "twenty"` or `subjects = ["S1"]` used to end in a ValueError traceback."""
    path = tmp_path / "typed.toml"
    path.write_text(SIMULATED.format(name="typed", data=data, extra=extra))
    assert "Traceback" not in (err := _fails(["train", str(path), "--out", str(tmp_path / "run")], capsys))
    assert says in err and str(path) in err
    assert not (tmp_path / "run").exists()


def test_ninapro_subjects_by_name_is_one_sentence(tmp_path, capsys):
    path = tmp_path / "names.toml"
    path.write_text(
        f'model = "myosem-ninapro-db1"\n[data]\nsource = "ninapro"\nfolder = "{tmp_path}"\nsubjects = ["S1"]\n'
    )
    assert "[data] subjects must be a list of whole numbers (NinaPro subject numbers), got ['S1']" in _fails(
        ["train", str(path)], capsys
    )


def test_unwritable_outputs_and_data_found_bad_later_leave_no_folder(tmp_path, read_only_dir, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert "is a file, not a folder" in _fails(["train", "myosem-simulated", "--out", str(blocker)], capsys)
    assert "is not writable" in _fails(["train", "myosem-simulated", "--out", str(read_only_dir / "run")], capsys)
    huge = tmp_path / "huge.toml"
    huge.write_text(SIMULATED.format(name="huge", data="", extra="[model_overrides]\nwindow_ms = 100000"))
    err = _fails(["train", str(huge), "--out", str(tmp_path / "huge-run"), "--quiet"], capsys)
    assert "Windows of 100000 ms are longer than every recording" in err
    assert not (tmp_path / "huge-run").exists()  # used to be left behind, empty
