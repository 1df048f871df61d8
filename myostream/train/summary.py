"""The Markdown summary of one run: ``results.md`` beside a ``myostream train`` checkpoint, ``eval-*.md``.

Numbers are percentages. EMG→text: ± the standard deviation over bootstrap resamples of
the test windows; text→EMG: ± the standard error over 100 balanced episodes. The
comparison across runs (``myostream report results``) is ``myostream_reports.results``,
which shares :func:`metric_table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DIRECTIONS = (("emg_to_text", "EMG→text", "std"), ("text_to_emg", "text→EMG", "se"))
METRICS = ("R@1", "R@3", "R@5", "MRR")


def pct(value: float, spread: float | None = None) -> str:
    if spread is None:
        return f"{100 * value:.1f}"
    return f"{100 * value:.1f} ± {100 * spread:.1f}"


def run_markdown(record: dict[str, Any]) -> str:
    """One run (``myostream train`` / ``myostream eval``) as a short Markdown report."""
    split = record["split"]
    lines = [f"# {record['experiment']} · {record['title']} · {record['protocol']}", ""]
    facts = [
        f"windows: train {record['windows']['train']}, validation {record['windows'].get('validation', 0)}, test {record['windows']['test']}"
    ]
    if split.get("held_out_subjects"):
        facts.append(f"test subjects: {', '.join(split['held_out_subjects'])}")
    if record.get("held_out_classes"):
        facts.append(f"held-out classes (unseen in stage 1, 2 and 3): {', '.join(record['held_out_classes'])}")
    facts.append(f"candidates: {len(record['class_ids'])} classes")
    lines += [f"- {f}" for f in facts] + [""]
    lines += metric_table([("this model", record["metrics"])])
    wall = record.get("wall_s", {})
    if wall:
        lines += ["", "Wall time (s): " + ", ".join(f"{k} {v:g}" for k, v in wall.items()), ""]
    return "\n".join(lines) + "\n"


def metric_table(rows: Sequence[tuple[str, dict[str, Any]]], wall: Sequence[float | None] | None = None) -> list[str]:
    """Rows of (name, metrics) with R@1/3/5 and MRR in both directions."""
    head = ["Model"] + [
        f"{d} {m}" for _, d, _ in DIRECTIONS for m in (METRICS if d == "EMG→text" else ("R@1", "R@3", "MRR"))
    ]
    if wall is not None:
        head.append("wall s")
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, (name, m) in enumerate(rows):
        cells = [name]
        for key, d, spread in DIRECTIONS:
            part = m[key]
            for metric in METRICS if d == "EMG→text" else ("R@1", "R@3", "MRR"):
                cells.append(pct(part[metric], part.get(f"{metric}_{spread}")))
        if wall is not None:
            cells.append("" if wall[i] is None else f"{wall[i]:.0f}")
        out.append("| " + " | ".join(cells) + " |")
    return out
