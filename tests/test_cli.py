"""One spelling per concept on the command line: --source for the EMG source, --torch-device for torch.

The old spellings stay as hidden aliases with their old meaning per command, so scripts keep working.
"""

from __future__ import annotations

import pytest

from myostream.cli import build_parser, main


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("command", ["live", "record", "stream"])
def test_every_command_that_opens_a_source_takes_source(command):
    assert parse(command).source == "simulated"
    assert parse(command, "--source", "lsl:MyEMG").source == "lsl:MyEMG"


@pytest.mark.parametrize("command", [["live"], ["train", "cfg"], ["eval", "ckpt"], ["adapt"], ["results", "cfg"]])
def test_every_command_that_uses_torch_takes_torch_device(command):
    assert parse(*command, "--torch-device", "cpu").torch_device == "cpu"
    assert parse(*command, "--device", "cpu").torch_device == "cpu"  # the old spelling, same meaning
    assert not hasattr(parse(*command), "source") or command == ["live"]


def test_old_source_spellings_keep_their_meaning():
    assert parse("record", "--device", "myo-lsl").source == "myo-lsl"
    assert parse("stream", "--device", "brainflow-synthetic").source == "brainflow-synthetic"
    assert parse("stream", "--lsl", "MyEMG").source == "lsl:MyEMG"
    assert parse("stream", "--brainflow", "SYNTHETIC_BOARD").source == "brainflow:SYNTHETIC_BOARD"


def test_aliases_are_hidden_and_the_help_names_the_new_flags():
    for command in ("live", "record", "stream", "train", "adapt"):
        text = build_parser()._subparsers._group_actions[0].choices[command].format_help()
        assert "--device" not in text and "--lsl " not in text and "--brainflow" not in text
        assert ("--source" in text) == (command in ("live", "record", "stream"))
        assert ("--torch-device" in text) == (command in ("live", "train", "adapt"))


def test_two_sources_and_bad_numbers_are_one_argparse_sentence(capsys):
    assert main(["stream", "--source", "simulated", "--lsl", "X"]) == 2
    assert "argument --lsl: give the source once (already given by --source)" in capsys.readouterr().err
    for argv, flag in (
        (["stream", "--duration", "nan"], "--duration"),
        (["replay", "f.mat", "--speed", "-1"], "--speed"),
        (["train", "cfg", "--threads", "0"], "--threads"),
        (["live", "--duration", "0"], "--duration"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"argument {flag}: must be" in err and "Traceback" not in err


def test_empty_sources_are_one_sentence_not_the_simulator(capsys):
    """`stream --lsl ""` used to stream the simulated armband."""
    for argv in (
        ["stream", "--lsl", ""],
        ["stream", "--source", ""],
        ["stream", "--source", "lsl:"],
        ["stream", "--source", "replay:"],
    ):
        assert main([*argv, "--duration", "0.5"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("myostream stream: ") and err.count("\n") == 1
    assert main(["stream", "--device", "simulated", "--duration", "0.5"]) == 0  # an old spelling that works


def test_torch_devices_are_checked_before_any_work(tmp_path, capsys):
    assert main(["train", "myosem-simulated", "--torch-device", "tpu", "--out", str(tmp_path / "run")]) == 2
    assert "Unknown torch device 'tpu'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
