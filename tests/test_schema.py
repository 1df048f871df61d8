"""The schema layer: every TOML file kind says what is wrong in one sentence naming file, table and key."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest

from myostream.calibrate import load_protocol
from myostream.cli import main
from myostream.data.sidecar import load_sidecar
from myostream.errors import MyostreamError
from myostream.model.config import load_config
from myostream.resources import resource_dir
from myostream.schema import Count, Number, PositiveNumber, Table, Text, read_toml, validate
from myostream.stream.devices import load_profile
from myostream.text.catalog import load_catalog
from myostream.train.experiment import ProtocolSpec, ProtocolTable, load_experiment

# ----------------------------------------------------------------------------- the layer itself


class Filter(Table):
    highpass: Number | None = None
    order: Count = 4


class Settings(Table):
    rate: PositiveNumber
    channels: Count = 1
    mode: Literal["fast", "slow"] = "fast"
    names: list[Text] = []
    on: bool = False
    filter: Filter = Filter()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"rate": "fast"}, "X rate must be a positive number, got 'fast'."),
        ({"rate": True}, "X rate must be a positive number, got True."),
        ({"rate": float("nan")}, "X rate must be a positive number, got nan."),
        ({"rate": 0}, "X rate must be a positive number, got 0."),
        ({"rate": 1, "channels": 2.0}, "X channels must be a whole number >= 1, got 2.0."),
        ({"rate": 1, "channels": True}, "X channels must be a whole number >= 1, got True."),
        ({"rate": 1, "mode": "medium"}, "X mode must be one of fast, slow, got 'medium'."),
        ({"rate": 1, "names": ["a", " "]}, "X names must be a list of non-empty texts, got ['a', ' ']."),
        ({"rate": 1, "on": 1}, "X on must be true or false, got 1."),
        ({"rate": 1, "filter": 3}, "X filter must be a table, got 3."),
        ({"rate": 1, "filter": {"order": "4"}}, "X [filter] order must be a whole number >= 1, got '4'."),
        (
            {"rate": 1, "colour": 1, "size": 2},
            "X has unknown keys 'colour', 'size'; allowed keys are channels, filter, mode, names, on, rate.",
        ),
        (
            {"rate": 1, "filter": {"cutoff": 3}},
            "X [filter] has unknown key 'cutoff'; allowed keys are highpass, order.",
        ),
        ({}, "X lacks the key 'rate'; add it."),
        # a typo is the likely cause of the missing key: the unknown key is named first
        ({"rte": 1}, "X has unknown key 'rte'; allowed keys are channels, filter, mode, names, on, rate."),
    ],
)
def test_validate_says_one_sentence_naming_table_and_key(data, says):
    with pytest.raises(MyostreamError) as err:
        validate(Settings, data, "X")
    assert str(err.value) == says


def test_validate_takes_toml_types_at_their_word():
    s = validate(Settings, {"rate": 200, "names": [" a "]}, "X", at=("data",))
    assert s.rate == 200.0 and isinstance(s.rate, float) and s.names == ["a"]
    assert s.given() == {"rate": 200.0, "names": ["a"]}  # unset keys keep the dataclass defaults
    with pytest.raises(MyostreamError, match=r"^X \[data\.filter\] highpass must be a number, got '20'\.$"):
        validate(Settings, {"rate": 200, "filter": {"highpass": "20"}}, "X", at=("data",))


def test_read_toml_names_the_file(tmp_path):
    path = tmp_path / "x.toml"
    with pytest.raises(MyostreamError, match=r"^Thing '.*x\.toml' does not exist\.$"):
        read_toml(path, "Thing")
    path.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(MyostreamError, match=r"^Thing '.*x\.toml' is not UTF-8 text \(byte 11 is b'\\xe9'\); save it"):
        read_toml(path, "Thing")
    path.write_text("name = [unclosed\n")
    with pytest.raises(
        MyostreamError,
        match=r"^Thing '.*x\.toml' is not valid TOML \(Invalid value \(at line 1, "
        r"column 9\)\); fix the syntax\.$",
    ):
        read_toml(path, "Thing")
    path.write_text('name = "caf\u00e9"\n', encoding="utf-8")
    assert read_toml(path, "Thing") == {"name": "caf\u00e9"}


def test_protocol_table_has_every_protocol_setting():
    assert set(ProtocolTable.model_fields) == {f.name for f in dataclasses.fields(ProtocolSpec)}


# ----------------------------------------------------------------------------- every file kind


def _shipped(folder: str, name: str) -> str:
    return (resource_dir(folder) / name).read_text(encoding="utf-8")


CATALOG = """[catalog]
name = "test"

[[class]]
id = "a"
T0 = "alpha"
T1 = "process alpha"
T2 = "canonical alpha"
T3 = ["one a", "two a", "three a"]
labels = { myo_armband = [1] }
"""
EXPERIMENT = 'name = "e"\nmodel = "myosem-simulated"\n\n[data]\nsource = "simulated"\nusers = 2\nseconds = 5\n'


@dataclasses.dataclass
class Kind:
    """A file kind: its loader, a good file, and a wrong-type and an unknown-key change with what they say."""

    name: str
    load: Callable[[Path], Any]
    good: str
    file: str
    wrong_type: tuple[str, str, str]  # (old, new, says)
    unknown_key: tuple[str, str, str]


KINDS = [
    Kind(
        "model config",
        load_config,
        _shipped("models", "myosem-simulated.toml"),
        "m.toml",
        ("n_layers = 2", 'n_layers = "2"', "[model] n_layers must be a whole number, got '2'."),
        ("[stage2]\n", "[stage2]\nepoch = 3\n", "[stage2] has unknown key 'epoch'; allowed keys are batch_size, "),
    ),
    Kind(
        "device profile",
        load_profile,
        _shipped("devices", "simulated.toml"),
        "d.toml",
        ("highpass = 20.0", 'highpass = "20"', "[filter] highpass must be a number, got '20'."),
        ("[filter]\n", "[filter]\ncutoff = 3\n", "[filter] has unknown key 'cutoff'; allowed keys are envelope, "),
    ),
    Kind(
        "calibration protocol",
        load_protocol,
        _shipped("calibration", "quick.toml"),
        "c.toml",
        ('fist = { label = "Fist",', "fist = { label = 3,", "[cues.fist] label must be a text in quotes, got 3."),
        (
            'fist = { label = "Fist",',
            'fist = { colour = "red", label = "Fist",',
            "[cues.fist] has unknown key 'colour'; allowed keys are label, text.",
        ),
    ),
    Kind(
        "experiment",
        load_experiment,
        EXPERIMENT,
        "e.toml",
        ("seconds = 5", 'seconds = "twenty"', "[data] seconds must be a positive number, got 'twenty'."),
        (
            "[data]\n",
            '[protocol]\nnmae = "random"\n[data]\n',
            "[protocol] has unknown key 'nmae'; allowed keys are fold, folds, ",
        ),
    ),
    Kind(
        "description catalog",
        load_catalog,
        CATALOG,
        "cat.toml",
        ('T3 = ["one a", "two a", "three a"]', 'T3 = "one a"', "class 'a' T3 must be a list of non-empty texts"),
        ('T0 = "alpha"', 'T0 = "alpha"\nT4 = "x"', "class 'a' has unknown key 'T4'; allowed keys are T0, T1, T2, T3"),
    ),
    Kind(
        "sidecar",
        load_sidecar,
        "rate = 500\n[columns]\nheader = true\n",
        "dataset.toml",
        ("header = true", 'header = "yes"', "[columns] header must be true or false, got 'yes'."),
        (
            "[columns]\n",
            '[xdf]\nstream = "EMG"\n[columns]\n',
            "[xdf] has unknown key 'stream'; allowed keys are emg, ignore, markers, stop.",
        ),
    ),
]


def _write(tmp_path: Path, kind: Kind, text: str) -> Path:
    path = tmp_path / kind.file
    path.write_text(text, encoding="utf-8")
    return path


def _one_sentence(load: Callable[[Path], Any], path: Path) -> str:
    with pytest.raises(MyostreamError) as err:
        load(path)
    message = str(err.value)
    assert "\n" not in message and message.endswith(".") and repr(str(path)) in message
    return message


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_file_kind_names_file_table_and_key(tmp_path, kind):
    assert kind.load(_write(tmp_path, kind, kind.good))
    for old, new, says in (kind.wrong_type, kind.unknown_key):
        assert old in kind.good
        assert says in _one_sentence(kind.load, _write(tmp_path, kind, kind.good.replace(old, new, 1)))
    path = _write(tmp_path, kind, kind.good)
    path.write_bytes(b"# \xff\xfe not UTF-8\n" + path.read_bytes())
    assert "is not UTF-8 text (byte 2 is b'\\xff'); save it as UTF-8" in _one_sentence(kind.load, path)
    _write(tmp_path, kind, kind.good + "\nbroken = [1, 2\n")
    assert "is not valid TOML (" in _one_sentence(kind.load, path)


def _cli_fails(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.count("\n") == 0
    return err


def _cli(kind: Kind, path: Path, tmp_path: Path) -> list[str]:
    if kind.name in ("model config", "experiment"):
        return ["train", str(path), "--out", str(tmp_path / "run"), "--quiet"]
    if kind.name == "device profile":
        return ["stream", "--source", str(path), "--duration", "0.1"]
    if kind.name == "calibration protocol":
        return ["record", "--protocol", str(path), "--out", str(tmp_path / "sessions")]
    if kind.name == "description catalog":
        return ["describe", "show", str(path)]
    (tmp_path / "s.csv").write_text("t,a,b\n0,1,2\n1,3,4\n")
    return ["replay", str(tmp_path / "s.csv"), "--duration", "0.1"]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_the_command_line_says_it_with_exit_code_2(tmp_path, capsys, kind):
    old, new, says = kind.wrong_type
    path = _write(tmp_path, kind, kind.good.replace(old, new, 1))
    err = _cli_fails(_cli(kind, path, tmp_path), capsys)
    assert says in err and repr(str(path)) in err
    path.write_bytes(b"\xff" + kind.good.encode())
    assert "is not UTF-8 text" in _cli_fails(_cli(kind, path, tmp_path), capsys)
    assert not (tmp_path / "run").exists() and not (tmp_path / "sessions").exists()


def test_an_experiment_s_adapt_table_is_checked_and_recorded(tmp_path):
    """``[adapt]``: the calibration defaults a base carries into ``myostream adapt``."""
    path = tmp_path / "e.toml"
    path.write_text(EXPERIMENT + '\n[adapt]\nmode = "finetune"\nlda_weight = 0\ngain = 0.2\n', encoding="utf-8")
    exp = load_experiment(path)
    assert exp.adapt == {"mode": "finetune", "lda_weight": 0, "gain": 0.2}
    assert exp.to_dict()["adapt"] == exp.adapt  # what the checkpoint records
    assert load_experiment(_write(tmp_path, KINDS[3], EXPERIMENT)).adapt == {}
    for line, says in (
        ("anchor_weight = 2", "[adapt] anchor_weight must be a number >= 0 and <= 1, got 2."),
        ('mode = "fine"', "[adapt] mode must be one of"),
        ("lda = 1", "[adapt] has unknown key 'lda'"),
        ("noise = -0.1", "[adapt] noise must be"),
    ):
        path.write_text(EXPERIMENT + f"\n[adapt]\n{line}\n", encoding="utf-8")
        assert says in _one_sentence(load_experiment, path)
