"""Readable results: Markdown tables in the paper's layout, JSON, and similarity heatmaps.

Numbers are percentages. EMG→text: ± the standard deviation over bootstrap resamples of
the test windows; text→EMG: ± the standard error over 100 balanced episodes. Cross-user
folds partition the subjects, so their EMG→text metrics are pooled (weighted by test
windows, std combined as for a mean of independent parts) and text→EMG episodes are
averaged over folds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DIRECTIONS = (("emg_to_text", "EMG→text", "std"), ("text_to_emg", "text→EMG", "se"))
METRICS = ("R@1", "R@3", "R@5", "MRR")
PROTOCOL_TITLES = {"random": "random", "cross-user": "cross-user", "cross-class": "cross-class", "repetition": "repetition",
                   "cross-dataset": "cross-dataset"}


def pct(value: float, spread: float | None = None) -> str:
    if spread is None:
        return f"{100 * value:.1f}"
    return f"{100 * value:.1f} ± {100 * spread:.1f}"


def run_markdown(record: dict[str, Any]) -> str:
    """One run (``myostream train`` / ``myostream eval``) as a short Markdown report."""
    split = record["split"]
    lines = [f"# {record['experiment']} · {record['title']} · {record['protocol']}", ""]
    facts = [f"windows: train {record['windows']['train']}, validation {record['windows'].get('validation', 0)}, test {record['windows']['test']}"]
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
    head = ["Model"] + [f"{d} {m}" for _, d, _ in DIRECTIONS for m in (METRICS if d == "EMG→text" else ("R@1", "R@3", "MRR"))]
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


def pool_folds(metrics: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Cross-user folds → one result (see the module docstring)."""
    if len(metrics) == 1:
        return metrics[0]
    e2t = [m["emg_to_text"] for m in metrics]
    n = [e["n"] for e in e2t]
    total = sum(n)
    pooled_e: dict[str, Any] = {"n": total}
    for metric in METRICS:
        pooled_e[metric] = sum(e[metric] * k for e, k in zip(e2t, n)) / total
        pooled_e[f"{metric}_std"] = math.sqrt(sum((e[f"{metric}_std"] * k / total) ** 2 for e, k in zip(e2t, n)))
    t2e = [m["text_to_emg"] for m in metrics]
    pooled_t: dict[str, Any] = {"episodes": sum(t["episodes"] for t in t2e), "classes": t2e[0]["classes"]}
    for metric in ("R@1", "R@3", "R@5", "MRR"):
        pooled_t[metric] = sum(t[metric] for t in t2e) / len(t2e)
        pooled_t[f"{metric}_se"] = math.sqrt(sum(t[f"{metric}_se"] ** 2 for t in t2e)) / len(t2e)
    return {"emg_to_text": pooled_e, "text_to_emg": pooled_t, "folds": len(metrics)}


def paper_table(
    protocols: Sequence[str], variants: Sequence[tuple[str, str, str]], pooled: dict[tuple[str, str], dict[str, Any]]
) -> list[str]:
    """The paper's layout: rows are methods (grouped), columns Recall (R@3) and MRR of
    both directions under each protocol."""
    head = ["Group", "Method"]
    for p in protocols:
        for _, d, _ in DIRECTIONS:
            head += [f"{PROTOCOL_TITLES[p]} {d} Recall", f"{PROTOCOL_TITLES[p]} {d} MRR"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, title, group in variants:
        cells = [group, f"**{title}**" if name == "myosem" else title]
        for p in protocols:
            m = pooled.get((p, name))
            for key, _, spread in DIRECTIONS:
                for metric in ("R@3", "MRR"):
                    cells.append("–" if m is None else pct(m[key][metric], m[key].get(f"{metric}_{spread}")))
        out.append("| " + " | ".join(cells) + " |")
    return out


def claim_check(
    protocols: Sequence[str], variants: Sequence[tuple[str, str, str]], pooled: dict[tuple[str, str], dict[str, Any]]
) -> tuple[list[str], bool]:
    """Where MyoSem is not ahead of a baseline or ablation (R@1, R@3 and MRR, both directions)."""
    misses = []
    for p in protocols:
        ours = pooled.get((p, "myosem"))
        if ours is None:
            continue
        for name, title, _ in variants:
            other = pooled.get((p, name))
            if name == "myosem" or other is None:
                continue
            for key, d, _ in DIRECTIONS:
                for metric in ("R@1", "R@3", "MRR"):
                    a, b = other[key][metric], ours[key][metric]
                    if a >= b:
                        misses.append(f"{p}: {title} {'ties' if a == b else 'beats'} MyoSem on {d} {metric} ({_apart(a, b)})")
    return misses, not misses


def _apart(a: float, b: float) -> str:
    """``a vs b`` in percent with enough decimals to show that they differ (2 to 4)."""
    for places in (2, 3, 4):
        x, y = f"{100 * a:.{places}f}", f"{100 * b:.{places}f}"
        if x != y or a == b:
            break
    return f"{x} vs {y}"


def standings(
    protocols: Sequence[str], variants: Sequence[tuple[str, str, str]], pooled: dict[tuple[str, str], dict[str, Any]]
) -> list[str]:
    """Per protocol and direction: MyoSem's place among all rows by MRR, and the best row."""
    out = []
    for p in protocols:
        rows = [(name, title) for name, title, _ in variants if (p, name) in pooled]
        if not any(name == "myosem" for name, _ in rows):
            continue
        parts = []
        for key, d, _ in DIRECTIONS:
            order = sorted(rows, key=lambda r: -pooled[(p, r[0])][key]["MRR"])
            place = 1 + [name for name, _ in order].index("myosem")
            best_name, best_title = order[0]
            best = pooled[(p, best_name)][key]["MRR"]
            ours = pooled[(p, "myosem")][key]["MRR"]
            lead = "best" if place == 1 else f"best: {best_title} {100 * best:.1f}"
            parts.append(f"{d} MRR {100 * ours:.1f}, place {place} of {len(order)} ({lead})")
        out.append(f"- {p}: " + "; ".join(parts))
    return out


def similarity_png(path: Path, before: dict[str, Any], after: dict[str, Any], class_ids: Sequence[str], title: str) -> Path:
    """Heatmaps of class-centre × prototype cosine before and after stage 3 (paper Fig. 3c)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    short = [c.split(".")[-1] for c in class_ids]
    # one symmetric colour scale for both panels, so "before" and "after" compare directly
    limit = max(float(np.abs(np.array(d["matrix"])).max()) for d in (before, after))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), constrained_layout=True)
    for ax, data, name in ((axes[0], before, "before stage 3"), (axes[1], after, "after stage 3")):
        m = np.array(data["matrix"])
        im = ax.imshow(m, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_xticks(range(len(short)), short, rotation=90, fontsize=7)
        ax.set_yticks(range(len(data["rows"])), [short[r] for r in data["rows"]], fontsize=7)
        ax.set_xlabel("text prototype")
        ax.set_ylabel("EMG class centre (test windows)")
        ax.set_title(name)
        fig.colorbar(im, ax=ax, shrink=0.8, label="cosine")
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
