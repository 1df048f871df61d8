"""`myostream report reliability` keeps working: a few fast cases through the real generator."""

from __future__ import annotations

import re
from pathlib import Path

from myostream.cli import main
from myostream_reports.reliability import EXPECTATIONS, cases, markdown, run_cases

REPO = Path(__file__).resolve().parents[1]
FAST = (
    "stream-duration-negative",
    "replay-db1-as-db2",
    "replay-killed-session",
    "replay-nan-drop",
    "recording-nan",
    "record-out-file",
)


def test_cases_are_well_formed():
    every = cases()
    ids = [c.id for c in every]
    assert len(ids) == len(set(ids)) and len(ids) >= 100
    for c in every:
        assert c.expect in EXPECTATIONS and (c.args is None) != (c.script is None), c.id


def test_fast_cases_pass_and_the_table_has_a_row_each(tmp_path):
    selected = [c for c in cases() if c.id in FAST]
    outcomes, workspace = run_cases(selected, say=lambda _line: None, root=tmp_path / "work")
    assert [o.case.id for o in outcomes] == [c.id for c in selected]
    assert all(o.passed for o in outcomes), [(o.case.id, o.problem, o.message) for o in outcomes if not o.passed]
    by_id = {o.case.id: o for o in outcomes}
    assert by_id["replay-db1-as-db2"].code == 2 and "DB2" in by_id["replay-db1-as-db2"].message
    assert by_id["replay-killed-session"].code == 0 and "cut short" in by_id["replay-killed-session"].message
    table = markdown(outcomes, workspace, "myostream report reliability", 0.1)
    assert f"**{len(FAST)} cases, {len(FAST)} pass, 0 fail.**" in table
    rows = [line for line in table.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) == len(FAST) and str(workspace.root) not in table


def test_a_case_that_fails_is_reported_as_failing(tmp_path):
    """The judge itself: a case expecting refusal of good input must fail (exit code 0)."""
    from dataclasses import replace

    case = next(c for c in cases() if c.id == "stream-duration-negative")
    wrong = replace(case, id="good-input", args=lambda w: ["describe", "list"])
    (outcome,), _ = run_cases([wrong], say=lambda _line: None, root=tmp_path / "work")
    assert not outcome.passed and outcome.problem == "went on with bad input (exit code 0)"


def test_the_command_refuses_an_unknown_case_and_the_committed_report_has_no_failures(capsys):
    assert main(["report", "reliability", "--only", "no-such-case"]) == 2
    assert "No case id contains no-such-case" in capsys.readouterr().err
    text = (REPO / "docs" / "reliability.md").read_text()
    counts = re.search(
        r"\*\*(\d+) cases, (\d+) pass, (\d+) fail\.\*\* Tracebacks: (\d+)\. Silent cases .*: (\d+)\.", text
    )
    assert counts is not None and counts.group(1) == counts.group(2) and counts.groups()[2:] == ("0", "0", "0")
