"""``myostream report results EXPERIMENT``: protocols × models (MyoSem, baselines, ablations, text baseline).

Runs every (protocol, variant[, cross-user fold]) of the experiment's ``[results]`` table
through the same :func:`~myostream.train.run.train_run` path (same windows, splits,
candidates and metrics), then writes ``results.json``, ``README.md`` (tables in the
paper's layout, the claim check, wall times) and the class-centre × prototype heatmaps of
MyoSem before and after stage 3.

Numbers are percentages (the per-run tables are :mod:`myostream.train.summary`'s). Cross-user
folds partition the subjects, so their EMG→text metrics are pooled (weighted by test
windows, std combined as for a mean of independent parts) and text→EMG episodes are
averaged over folds.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from myostream.errors import MyostreamError
from myostream.paths import check_output_dir
from myostream.torchdevice import resolve_device, set_threads
from myostream.train.commands import command_line
from myostream.train.data import Prepared, prepare_split, prepare_windows
from myostream.train.experiment import VARIANTS, Experiment, load_experiment
from myostream.train.run import RESULTS_JSON, Log, train_run
from myostream.train.summary import DIRECTIONS, METRICS, metric_table, pct
from myostream.train.textspace import text_space

DEFAULT_PROTOCOLS = ("random", "cross-user", "cross-class")
PROTOCOL_TITLES = {
    "random": "random",
    "cross-user": "cross-user",
    "cross-class": "cross-class",
    "repetition": "repetition",
    "cross-dataset": "cross-dataset",
}


def results_command(
    config: str,
    out: str | Path | None = None,
    work: str | Path | None = None,
    data: str | None = None,
    device: str = "auto",
    threads: int | None = None,
    protocols: list[str] | None = None,
    variants: list[str] | None = None,
    progress: bool = True,
    jobs: int = 1,
    report_only: bool = False,
) -> int:
    """Run the comparison of experiment ``config`` (or with ``report_only`` redraw it from its
    ``results.json``) into ``out`` (the command's default: ``docs/results/EXPERIMENT``), the runs'
    checkpoints into ``work`` (default ``runs/EXPERIMENT``)."""
    set_threads(threads)
    resolve_device(device)  # before any data is read
    exp = load_experiment(config, data_folder=data)
    out = Path(out or Path("docs") / "results" / exp.name)
    check_output_dir(out, "the results report")
    if report_only:
        try:
            summary = json.loads((out / "results.json").read_text())
        except (OSError, ValueError) as exc:
            raise MyostreamError(
                f"No readable {out / 'results.json'} to redraw the report from ({exc}); run without --report-only first."
            ) from None
        write_suite(summary, out)
        print(f"redrew {out / 'README.md'} and the heatmaps from {out / 'results.json'}")
        return 0
    work = check_output_dir(work or Path("runs") / exp.name, "the runs' checkpoints")
    summary = run_suite(
        exp,
        out,
        work,
        device=device,
        protocols=protocols,
        variants=variants,
        progress=progress,
        command=command_line(),
        jobs=jobs,
    )
    print(f"wrote {out / 'README.md'} and {out / 'results.json'} ({summary['total_s'] / 60:.1f} min)")
    return 0


def run_suite(
    exp: Experiment,
    report_dir: str | Path,
    work_dir: str | Path,
    device: str = "auto",
    protocols: list[str] | None = None,
    variants: list[str] | None = None,
    progress: bool = True,
    log: Log = print,
    command: str = "",
    jobs: int = 1,
) -> dict[str, Any]:
    """Train and evaluate every run of the comparison, then write the report.

    ``jobs`` > 1 trains that many runs at once in worker processes, each with this
    process's torch thread count (on a CPU, ``--threads 1 --jobs 2`` keeps two cores busy
    where one run with two threads does not); the numbers do not change, only the wall time.
    """
    if jobs < 1:
        raise MyostreamError(f"--jobs must be at least 1, got {jobs}.")
    report_dir, work_dir = Path(report_dir), Path(work_dir)
    protocols = list(protocols or exp.results.get("protocols") or DEFAULT_PROTOCOLS)
    variants = list(variants or exp.results.get("variants") or VARIANTS)
    for p in protocols:
        exp.with_protocol(p)  # validate every protocol before hours of work
    for v in variants:
        exp.with_variant(v)
    started = time.perf_counter()
    t = time.perf_counter()
    # the [data] windows are read once; a split is made once per (protocol, fold) and shared by the models
    windows = prepare_windows(exp, check=protocols != ["cross-dataset"])
    data_s = round(time.perf_counter() - t, 1)
    log(
        f"[{exp.name}] {len(windows.recordings)} recordings, {len(windows)} windows ({data_s:g} s); "
        f"{len(protocols)} protocols x {len(variants)} models"
    )
    records: list[dict[str, Any] | None] = []
    todo: list[tuple[int, Experiment, Path, Prepared]] = []
    for p in protocols:
        folds = exp.protocol.folds if p == "cross-user" else 1
        prepared: dict[int, Prepared] = {}
        for v in variants:
            for k in range(folds):
                run = exp.with_protocol(p, fold=k).with_variant(v)
                out = work_dir / p / (v + (f"-fold{k + 1}" if folds > 1 else ""))
                done = _finished(out, run)
                if done is not None:
                    log(f"[{exp.name}] {v} · {p}{f' fold {k + 1}' if folds > 1 else ''}: reusing {out / RESULTS_JSON}")
                    records.append({**done, "reused": True})
                    continue
                if k not in prepared:
                    prepared[k] = prepare_split(run, windows)
                records.append(None)
                todo.append((len(records) - 1, run, out, prepared[k]))
    cache = work_dir / "stage1"
    clock0 = time.time()  # wall clock, comparable across worker processes
    stage1_s = None
    if jobs == 1 or len(todo) < 2:
        for i, run, out, prep in todo:
            begun = time.time()
            record = train_run(run, out, device=device, progress=progress, cache=cache, log=log, prepared=prep)
            record["span_s"] = [begun, time.time()]
            records[i] = record
    else:
        stage1_s = _run_parallel(todo, records, jobs, device, cache, progress, log)
    runs = [r for r in records if r is not None]
    for r in runs:
        if "span_s" in r and not r.get("reused"):  # seconds since the first run started, for the protocol spans
            r["span_s"] = [round(t - clock0, 1) for t in r["span_s"]]
    total_s = round(time.perf_counter() - started, 1)
    summary = {
        "experiment": exp.name,
        "command": command,
        "config": exp.to_dict(),
        "protocols": protocols,
        "variants": variants,
        "data_s": data_s,
        "total_s": total_s,
        "stage1_s": stage1_s,
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "jobs": jobs,
            "device": runs[0]["device"] if runs else device,
        },
        "runs": runs,
    }
    write_suite(summary, report_dir)
    return summary


def _run_parallel(
    todo: list[tuple[int, Experiment, Path, Prepared]],
    records: list[dict[str, Any] | None],
    jobs: int,
    device: str,
    cache: Path,
    progress: bool,
    log: Log,
) -> float:
    """The runs of ``todo`` in ``jobs`` worker processes; their records go to ``records``.
    Returns the seconds spent on stage 1 before the workers start."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # Stage 1 here, once per text space, so that the workers only read the cache (two
    # workers writing one cache folder would race).
    t = time.perf_counter()
    for _, run, _, prep in todo:
        text_space(
            run.text,
            prep.windows.class_ids,
            prep.split.held_out_classes,
            run.variant.prototypes,
            run.seed,
            cache,
            progress,
        )
    stage1_s = round(time.perf_counter() - t, 1)
    threads = torch.get_num_threads()
    # spawn, not fork: a forked child of a process that ran OpenMP threads can deadlock
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_worker_run, run, out, device, cache, threads): i for i, run, out, _ in todo}
        for future in as_completed(futures):
            records[futures[future]] = future.result()
    return stage1_s


def _worker_run(run: Experiment, out: Path, device: str, cache: Path, threads: int) -> dict[str, Any]:
    """One run in a worker process (reads its own data; log lines say which run they belong to)."""
    torch.set_num_threads(threads)
    fold = f" fold {run.protocol.fold + 1}" if run.protocol.name == "cross-user" and run.protocol.folds > 1 else ""
    tag = f"[{run.variant.name} · {run.protocol.name}{fold}]"
    begun = time.time()
    record = train_run(
        run, out, device=device, progress=False, cache=cache, log=lambda m: print(f"{tag} {m.strip()}", flush=True)
    )
    return {**record, "span_s": [begun, time.time()]}


def _finished(out: Path, run: Experiment) -> dict[str, Any] | None:
    """The record of a run already trained with exactly this experiment (an interrupted
    report resumes instead of retraining), else None."""
    try:
        record = json.loads((out / RESULTS_JSON).read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("run") == json.loads(json.dumps(run.to_dict())) else None


def write_suite(summary: dict[str, Any], report_dir: Path) -> list[Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    runs = summary["runs"]
    protocols, variants = summary["protocols"], summary["variants"]
    rows = [(v, VARIANTS[v].title, VARIANTS[v].group) for v in _ordered(variants)]
    pooled: dict[tuple[str, str], dict[str, Any]] = {}
    wall: dict[tuple[str, str], float] = {}
    for p in protocols:
        for v in variants:
            mine = [r for r in runs if r["protocol"] == p and r["variant"] == v]
            if mine:
                pooled[(p, v)] = pool_folds([r["metrics"] for r in mine])
                wall[(p, v)] = sum(r["wall_s"]["total"] for r in mine)
    paths = []
    pngs = {}
    for p in protocols:
        ours = next((r for r in runs if r["protocol"] == p and r["variant"] == "myosem"), None)
        if ours is not None:
            name = f"similarity-{p}.png"
            fold = f" (fold {ours['fold'] + 1})" if ours.get("fold") is not None else ""
            similarity_png(
                report_dir / name,
                ours["similarity"]["before_stage3"],
                ours["similarity"]["after_stage3"],
                ours["class_ids"],
                f"MyoSem, {p}{fold}: EMG class centre x text prototype cosine",
            )
            pngs[p] = name
            paths.append(report_dir / name)
    (report_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    paths.append(report_dir / "results.json")
    (report_dir / "README.md").write_text(suite_markdown(summary, rows, pooled, wall, pngs))
    paths.append(report_dir / "README.md")
    return paths


def _ordered(variants: list[str]) -> list[str]:
    """Baselines, text baseline, ablations, then MyoSem (the paper's table order)."""
    rank = {"baseline": 0, "text baseline": 1, "ablation": 2, "ours": 3}
    return sorted(variants, key=lambda v: (rank[VARIANTS[v].group], list(VARIANTS).index(v)))


def suite_markdown(
    summary: dict[str, Any],
    rows: list[tuple[str, str, str]],
    pooled: dict[tuple[str, str], dict[str, Any]],
    wall: dict[tuple[str, str], float],
    pngs: dict[str, str],
) -> str:
    cfg = summary["config"]
    runs = summary["runs"]
    protocols = summary["protocols"]
    first = runs[0]
    data, prot, model = cfg["data"], cfg["protocol"], cfg["model"]
    lines = [
        f"# {summary['experiment']}: EMG ↔ text retrieval results",
        "",
        f"Generated by `{summary['command']}` in {summary['total_s'] / 60:.1f} min "
        f"({summary['machine']['device']}, {summary['machine']['threads']} torch thread(s)"
        + (f" per run, {summary['machine']['jobs']} runs at a time" if summary["machine"].get("jobs", 1) > 1 else "")
        + f", {summary['machine']['platform']}). "
        "Every number below comes from `results.json` next to this file."
        + (
            f" {sum(1 for r in runs if r.get('reused'))} of {len(runs)} runs were reused from an earlier, interrupted "
            "invocation (same settings); their wall times are their own."
            if any(r.get("reused") for r in runs)
            else ""
        ),
        "",
        "## Setup",
        "",
        f"- data: {data['source']} "
        + (
            f"`{data['folder']}`"
            if data["folder"]
            else f"users {data['users']} x {data['sessions']} session(s) x {data['seconds']:g} s"
        )
        + (
            f", database {data['database']}, exercise file(s) {', '.join(str(e) for e in data['exercises'])}"
            if data.get("database")
            else ""
        )
        + f"; {len(first['class_ids'])} classes ({', '.join(first['class_ids'])})",
        f"- rest: {'included as a class' if data['rest'] else 'excluded (rest windows are dropped; the 12 movements are the candidates)'}",
        f"- windows: {data['window_ms']:g} ms every {data['hop_ms']:g} ms, label = {data['label']}; filter: {data['filter_name']}",
        f"- model config: `{model}`; stage-1 text settings {cfg['text']['stage1'] or 'defaults'} on catalogs {', '.join(cfg['text']['catalogs'])}",
        f"- validation: {100 * prot['validation_fraction']:.0f} % of the training runs (stratified by class) are held out of "
        "training as a validation split; the per-epoch log reports it. Nothing was tuned on the test split; all settings were "
        "fixed before the test metrics were computed.",
    ]
    for p in protocols:
        r = next(r for r in runs if r["protocol"] == p)
        s = r["split"]
        if p == "random":
            lines.append(
                f"- random: {100 * s.get('test_fraction', 0):.0f} % of each class's labelled runs (repetitions) test, seed {s['seed']}"
            )
        elif p == "cross-user":
            folds = [x for x in runs if x["protocol"] == p and x["variant"] == r["variant"]]
            lines.append(
                f"- cross-user: {len(folds)} folds of disjoint subjects (seeded order, seed {s['seed']}): "
                + "; ".join(
                    f"fold {i + 1} tests {', '.join(x['split']['held_out_subjects'])}" for i, x in enumerate(folds)
                )
            )
        elif p == "cross-class":
            lines.append(
                f"- cross-class: held-out movements {', '.join(r['held_out_classes'])} (seeded choice, seed {s['seed']}): "
                "no window of them trains stage 2 or 3, their descriptions are excluded from stage-1 text training "
                "and encoded afterwards only; candidates = all classes. Test windows are the held-out classes' "
                f"only, so a text→EMG episode holds {len(r['held_out_classes'])} windows and its R@3 is trivially 100 %"
            )
        elif p == "cross-dataset":
            test_data = cfg.get("test_data") or {}
            lines.append(
                f"- cross-dataset: trains on {', '.join(s.get('train_datasets', []))} (`{data.get('folder')}`), tests on every "
                f"window of {', '.join(s.get('test_datasets', []))} (`{test_data.get('folder')}`); channels: "
                f"{s.get('channels', 'error')}"
                + (
                    f"; test classes without training windows (held out of stage 1): {', '.join(r['held_out_classes'])}"
                    if r["held_out_classes"]
                    else ""
                )
            )
    lines += [
        "- metrics: EMG→text ranks all candidate prototypes for each test window (± bootstrap std over 1000 resamples); "
        "text→EMG: 100 balanced episodes of one test window per class, each class prototype ranks the episode's windows "
        "(± standard error over episodes). Recall = R@3 as in the paper. Cross-user folds are pooled (see "
        "`myostream_reports/results.py`).",
        "- text baseline: prototypes = the untrained text encoder's embedding of the short label alone (a zero-shot "
        "class-name prompt); w/o stage-1: the full four-view prototypes from the untrained encoder. Both keep the MyoSem EMG side.",
        "",
        "## Main table (paper layout: Recall = R@3, MRR; %)",
        "",
    ]
    lines += paper_table(protocols, rows, pooled)
    misses, holds = claim_check(protocols, rows, pooled)
    lines += ["", "## Does MyoSem lead every baseline and ablation?", ""]
    lines += standings(protocols, rows, pooled) + [""]
    if holds:
        lines.append("Yes: on every protocol, in both directions, MyoSem's R@1, R@3 and MRR are above every other row.")
    else:
        lines.append(
            f"No, not everywhere. The paper's claim does not hold in {len(misses)} of the comparisons "
            "(R@1, R@3, MRR × both directions × each protocol):"
        )
        lines.append("")
        lines += [f"- {m}" for m in misses]
    for p in protocols:
        lines += ["", f"## {p}: all metrics (%)", ""]
        table_rows = [(t, pooled[(p, v)]) for v, t, _ in rows if (p, v) in pooled]
        lines += metric_table(table_rows, wall=[wall.get((p, v)) for v, _, _ in rows if (p, v) in pooled])
        if p in pngs:
            lines += ["", f"![class-centre x prototype similarity, {p}]({pngs[p]})"]
    lines += [
        "",
        "## Wall time",
        "",
        "Per run: everything after reading the data (split, stage 1 when not cached, stages 2 and 3, evaluation). "
        "Stage 1 trains once per held-out set (random and cross-user share one) and is cached for the other rows.",
        "",
        "| protocol | model | runs | wall s | of which stage-1 text s |",
        "|---|---|---|---|---|",
    ]
    for p in protocols:
        for v, t, _ in rows:
            if (p, v) in wall:
                mine = [r for r in runs if r["protocol"] == p and r["variant"] == v]
                text_s = sum(r["wall_s"].get("stage1", 0.0) for r in mine)
                lines.append(f"| {p} | {t} | {len(mine)} | {wall[(p, v)]:.0f} | {text_s:.0f} |")
    lines.append("")
    jobs = summary["machine"].get("jobs", 1)
    for p in protocols:
        total = sum(w for (q, _), w in wall.items() if q == p)
        spans = [r["span_s"] for r in runs if r["protocol"] == p and "span_s" in r and not r.get("reused")]
        clock = max(b for _, b in spans) - min(a for a, _ in spans) if spans else None
        lines.append(
            f"- {p}, all models: {total / 60:.1f} min of run time"
            + (
                f", {clock / 60:.1f} min on the wall clock with {jobs} runs at a time (first start to last finish, "
                "so it includes runs of neighbouring protocols sharing the cores)"
                if jobs > 1 and clock is not None
                else ""
            )
            + (f"; MyoSem alone: {wall.get((p, 'myosem'), 0) / 60:.1f} min" if (p, "myosem") in wall else "")
        )
    if summary.get("stage1_s") is not None:
        lines.append(
            f"- stage-1 text training, done once per text space before the parallel runs (so not in their wall "
            f"times): {summary['stage1_s']:g} s"
        )
    lines.append(
        f"- reading and windowing the data once: {summary['data_s']:g} s; sum of all runs: "
        f"{sum(wall.values()) / 60:.1f} min; whole command: {summary['total_s'] / 60:.1f} min"
    )
    lines.append("")
    return "\n".join(lines)


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
                        misses.append(
                            f"{p}: {title} {'ties' if a == b else 'beats'} MyoSem on {d} {metric} ({_apart(a, b)})"
                        )
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


def similarity_png(
    path: Path, before: dict[str, Any], after: dict[str, Any], class_ids: Sequence[str], title: str
) -> Path:
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
