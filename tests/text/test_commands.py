"""`myostream describe` end to end through the CLI entry point."""

from __future__ import annotations

import json
import textwrap

import pytest

from myostream.cli import main
from myostream.text.stage1 import Stage1Config
from myostream_reports.text import write_report


def test_list_and_show(capsys):
    assert main(["describe", "list"]) == 0
    listed = capsys.readouterr().out
    assert "armband" in listed and "ninapro" in listed and "emg2pose" in listed
    assert main(["describe", "show", "armband"]) == 0
    shown = capsys.readouterr().out
    assert "radial_deviation" in shown and "T3 make a fist" in shown


def test_bad_describe_input_exits_2_with_one_sentence(capsys):
    assert main(["describe", "show", "no-such-catalog"]) == 2
    err = capsys.readouterr().err
    assert "Unknown description catalog 'no-such-catalog'" in err and "Traceback" not in err
    assert main(["describe", "fly"]) == 2
    assert "Unknown describe action 'fly'" in capsys.readouterr().err
    assert main(["describe", "encode"]) == 2


def test_encode_ranks_the_right_class_first(capsys, monkeypatch, minilm_base):
    from myostream.text import encoder

    monkeypatch.setattr(encoder.TextEncoder, "from_pretrained", classmethod(lambda cls, *a, **k: minilm_base))
    assert main(["describe", "encode", "make", "a", "fist", "--catalog", "armband", "--top", "3"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[1].split()[2] == "fist" and len(rows) == 4


def test_glove_command_writes_the_catalog_format(db1_dir, tmp_path, capsys):
    out = tmp_path / "glove.json"
    assert main(["describe", "glove", str(db1_dir / "S1_A1_E1.mat"), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["files"] == 1 and set(data["classes"]) == {f"ninapro.A{i:02d}" for i in range(1, 13)}
    assert "index finger" in data["classes"]["ninapro.A01"]["text"]


def test_report_writes_json_markdown_and_heatmaps(tmp_path, minilm):
    catalog = tmp_path / "mini.toml"
    catalog.write_text(
        textwrap.dedent("""
        [catalog]
        name = "mini"
        [[class]]
        id = "fist"
        T0 = "fist"
        T1 = "the fingers curl into the palm and the thumb wraps over them"
        T2 = "a closed hand with all fingers flexed"
        T3 = ["make a fist", "clench the hand", "squeeze the fingers shut", "close the hand tight"]
        [[class]]
        id = "open_hand"
        T0 = "open hand"
        T1 = "the fingers straighten and spread apart"
        T2 = "an open hand with all fingers extended"
        T3 = ["open the hand", "spread the fingers", "stretch the fingers out", "show an open palm"]
        [[class]]
        id = "wrist_flexion"
        T0 = "wrist flexion"
        T1 = "the hand bends down at the wrist toward the palm side"
        T2 = "the wrist flexes so the palm approaches the forearm"
        T3 = ["bend the wrist down", "flex the wrist", "curl the hand at the wrist", "drop the hand at the wrist"]
    """)
    )
    paths = write_report(
        tmp_path / "out", [str(catalog)], Stage1Config(steps=3, train_layers=0), progress=False, encoder=minilm
    )
    assert {p.name for p in paths} == {"report.json", "report.md", "heatmap_mini.png"}
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    entry = report["catalogs"]["mini"]
    assert entry["before"]["retrieval"]["queries"] == 3 and "recall@1" in entry["after"]["retrieval"]
    assert "cross_class" not in entry  # every fourth class: none among three
    assert (tmp_path / "out" / "heatmap_mini.png").read_bytes()[:4] == b"\x89PNG"
    assert "| mini | 3 | before |" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize("args", [["describe", "report", "extra"], ["describe", "glove"]])
def test_describe_argument_errors(args, capsys):
    assert main(args) == 2


def test_encode_needs_text_and_uses_a_checkpoints_own_text_space(capsys):
    """`describe encode ""` ranked anyway; `--model <checkpoint>` said "run stage 1 first" for the bundled model."""
    from myostream.runtime import bundled_checkpoint

    assert main(["describe", "encode", "  "]) == 2
    assert "takes the text to rank" in capsys.readouterr().err
    assert (
        main(["describe", "encode", "squeeze the hand shut", "--model", str(bundled_checkpoint()), "--top", "3"]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["rank", "cosine", "class"] and len(out) == 4
    assert out[1].split()[2] == "fist"
