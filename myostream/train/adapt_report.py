"""Measurements of per-user adaptation, written to ``docs/results/adaptation/``.

``myostream adapt --report simulated``: the bundled model (trained by ``myostream train
myosem-simulated`` on simulated people 1-8, sessions 0 and 1) is adapted, through the
real ``myostream adapt`` path, to two-minute ``quick`` calibration sessions recorded
from the simulated armband cued by the protocol's trial schedule: a third session
(band put on again: rotation, gain, impedance drift) of a training person, and people
it never saw, among them person 0, whom ``myostream live`` simulates by default.
Before/after on the held-out last repetition, and the wall time of the whole command.

``myostream adapt --report myo``: the Côté-Allard Myo armband data. The base model is
trained by ``myostream train myosem-myo`` on the PreTrainingDataset people
(``models/experiments/myosem-myo.toml``), then adapted per EvaluationDataset person on
``training0`` and tested on ``Test0``/``Test1`` (recorded on other occasions): before,
after re-fitting the normaliser only, and after adaptation with the normaliser kept or
re-fitted.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from myostream.calibrate import CueEvent, Protocol, labels_from_cues, load_protocol, trial_schedule
from myostream.data.prepare import prepare_recordings
from myostream.errors import MyostreamError
from myostream.model.checkpoint import load_checkpoint
from myostream.resources import resource_dir
from myostream.train.adapt import (
    AdaptOptions,
    Say,
    adapt,
    adapt_sessions,
    model_windows,
    retrieval_scores,
)

REPORTS = ("simulated", "myo")
DEFAULT_OUT = Path("docs/results/adaptation")
#: (what, simulated person, session): the bundled model trained on people 1-8, sessions 0 and 1
SIMULATED_CASES: tuple[tuple[str, int, int], ...] = (
    ("training person 1, new session 2", 1, 2),
    ("new person 0 (the live default)", 0, 0),
    ("new person 11", 11, 0),
    ("new person 12", 12, 0),
)


# ---------------------------------------------------------------------- simulated sessions


def simulate_session(
    path: str | Path,
    protocol: Protocol | str = "quick",
    *,
    user: int,
    session: int,
    seed: int = 0,
    rate: float = 1000.0,
    subject: str | None = None,
) -> Path:
    """Record a calibration session from the simulated armband without the GUI.

    The armband (``schedule="manual"``) is cued by the protocol's trial schedule exactly
    as the recorder cues it; labels come from the cue events (:func:`labels_from_cues`)
    and the file is written by the session writer, so it is what ``myostream record``
    would have written for a participant who follows every cue.
    """
    from myostream.data.session import SessionWriter
    from myostream.stream.simulated import SimulatedArmband

    protocol = load_protocol(protocol) if isinstance(protocol, str) else protocol
    sim = SimulatedArmband(rate=rate, seed=seed, user=user, session=session, schedule="manual", realtime=False)
    trials = trial_schedule(protocol)
    events = [CueEvent(0.0, "start")]
    for t in trials:
        events += [CueEvent(t.start_s, "hold", t.gesture, t.repetition),
                   CueEvent(t.start_s + t.hold_s, "rest", t.gesture, t.repetition)]
    events.append(CueEvent(trials[-1].end_s, "end"))
    writer = SessionWriter(
        path,
        rate=rate,
        channel_names=sim.info.channel_names,
        label_names=protocol.label_names,
        subject=subject or f"sim-user{user}",
        session=str(session),
        unit=sim.info.unit,
        device="simulated",
        protocol=protocol.name,
        source_label_names=sim.info.label_names,
    )
    try:
        for event, following in zip(events, events[1:]):
            gesture = event.gesture if event.kind == "hold" and event.gesture in sim.info.label_names else "rest"
            sim.set_gesture(gesture)
            n = round(following.time * rate) - round(event.time * rate)
            if n <= 0:
                continue
            chunk = sim.generate(n / rate)
            labels, repetition = labels_from_cues(chunk.timestamps, events, protocol.label_names)
            writer.append(chunk.data, chunk.timestamps, labels, repetition, chunk.labels)
        for event in events:
            writer.add_event(event)
    finally:
        writer.close()
    return Path(path)


# ------------------------------------------------------------------------------ reports


def simulated_report(
    out: Path,
    work: Path,
    *,
    base: str | Path | None = None,
    cases: Sequence[tuple[str, int, int]] = SIMULATED_CASES,
    device: str = "cpu",
    command: str = "myostream adapt --report simulated",
    say: Say = print,
) -> dict[str, Any]:
    """Adapt ``base`` (default: the bundled model) to a quick session of each case's person and session."""
    base = Path(base) if base is not None else resource_dir("models") / "bundled" / "simulated"
    rows = []
    for name, user, session in cases:
        folder = work / f"sessions-user{user}-session{session}"
        for f in folder.glob("*.h5"):
            f.unlink()  # a fresh recording each time (the writer never overwrites)
        simulate_session(folder / f"sub-user{user}_ses-{session}_quick.h5", "quick", user=user, session=session,
                         subject=f"user{user}")
        say(f"{name}:")
        result, _ = adapt_sessions(base, folder, work / f"adapted-user{user}-session{session}", device=device,
                                   progress=False, say=lambda s: say(f"  {s}"))
        (held,) = result.before
        rows.append({"case": name, "user": user, "session": session, "before": result.before[held],
                     "after": result.after[held], "seconds": round(result.seconds, 1),
                     "n_adapt_windows": result.n_adapt, "n_test_windows": result.n_test})
    report = {
        "command": command,
        "what": "myostream adapt on two-minute 'quick' calibration sessions of the simulated armband "
                "(9 classes, 3 repetitions); held out: the last repetition.",
        "base": _base_record(base),
        "protocol": "quick",
        "options": dataclasses.asdict(AdaptOptions()),
        "rows": rows,
        "mean": _means(rows),
        "machine": _machine(device),
    }
    _write(out, "simulated", report, _simulated_markdown(report))
    return report


def myo_report(
    data: Path,
    out: Path,
    work: Path,
    *,
    base: str | Path | None = None,
    hop_ms: float = 50.0,
    device: str = "cpu",
    command: str = "myostream adapt --report myo --data DIR",
    say: Say = print,
) -> dict[str, Any]:
    """Train on PreTrainingDataset, adapt on each evaluation person's training0, test on Test0/Test1."""
    from myostream.data.myo import read_myo_folder

    pre, evaluation = data / "PreTrainingDataset", data / "EvaluationDataset"
    if not pre.is_dir() or not evaluation.is_dir():
        raise MyostreamError(
            f"{str(data)!r} is not the Myo armband dataset folder (it lacks PreTrainingDataset/EvaluationDataset)."
        )
    if base is None:
        from myostream.train.experiment import load_experiment
        from myostream.train.run import train_run

        base = work / "myo-base"
        say(f"training the base model: myostream train myosem-myo --data {pre} --out {base}")
        train_run(load_experiment("myosem-myo", data_folder=str(pre)), base, device=device, log=say)
    base_model = load_checkpoint(base)
    subjects = sorted(p.name for p in evaluation.iterdir() if (p / "training0").is_dir())
    variants = {
        "adapted (normaliser kept)": AdaptOptions(normalizer="keep", hop_ms=hop_ms),
        "adapted (normaliser re-fitted)": AdaptOptions(normalizer="refit", hop_ms=hop_ms),
    }
    rows = []
    for subject in subjects:
        say(f"{subject}:")
        windows = {}
        for session in ("training0", "Test0", "Test1"):
            recordings = read_myo_folder(evaluation / subject / session)
            ws, _ = model_windows(base_model, prepare_recordings(recordings, base_model.preprocessing), hop_ms)
            windows[session] = (torch.from_numpy(ws.x), torch.from_numpy(ws.y).long())
        tests = {s: windows[s] for s in ("Test0", "Test1")}
        row: dict[str, Any] = {"subject": subject, "n_adapt_windows": int(len(windows["training0"][1]))}
        row["before"] = {s: retrieval_scores(base_model, *tests[s]) for s in tests}
        renorm = copy.deepcopy(base_model)
        renorm.fit_input_stats(windows["training0"][0])
        row["normaliser re-fitted only"] = {s: retrieval_scores(renorm, *tests[s]) for s in tests}
        for name, options in variants.items():
            result = adapt(copy.deepcopy(base_model), *windows["training0"], tests, options, device=device,
                           progress=False, say=lambda s: say(f"  {name}: {s}"))
            row[name] = result.after
            row[f"{name} seconds"] = round(result.seconds, 1)
        rows.append(row)
    columns = ["before", "normaliser re-fitted only", *variants]
    report = {
        "command": command,
        "what": "Myo armband (Cote-Allard): base model trained on PreTrainingDataset people; per EvaluationDataset "
                "person adapted on training0 (all 4 cycles of the 7 gestures), tested on Test0 and Test1.",
        "base": _base_record(base),
        "window_hop_ms": hop_ms,
        "options": {name: dataclasses.asdict(o) for name, o in variants.items()},
        "columns": columns,
        "rows": rows,
        "mean": {c: _mean_scores([r[c] for r in rows]) for c in columns},
        "machine": _machine(device),
    }
    _write(out, "myo", report, _myo_markdown(report))
    return report


def _base_record(path: str | Path) -> dict[str, Any]:
    """What a report says about its base model: where it is, its config and how it was trained."""
    model = load_checkpoint(path)
    meta = model.metadata
    experiment = meta.get("experiment") or {}
    cfg = model.config
    data = experiment.get("data") or {}
    keys = ("source", "hop_ms", *(("users", "sessions", "seconds") if data.get("source") == "simulated" else ("folder",)))
    return {
        "checkpoint": _shown(Path(path)),
        "config": cfg.name,
        "experiment": experiment.get("name"),
        "data": {k: data.get(k) for k in keys if data.get(k) is not None},
        "epochs": {"stage2": cfg.stage2.epochs, "stage3_a": cfg.stage3.epochs_a, "stage3_b": cfg.stage3.epochs_b},
        "split": meta.get("split"),
        "window_ms": cfg.window_ms,
        "windows": meta.get("windows"),
        "filter": meta.get("filter"),
        "wall_s": meta.get("wall_s"),
        "own_test": _own_test(Path(path)),
    }


def _shown(path: Path) -> str:
    """A path as a report shows it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _own_test(checkpoint: Path) -> dict[str, float] | None:
    """EMG->text scores ``myostream train`` wrote for the base on its own test split, if any."""
    try:
        e2t = json.loads((checkpoint / "results.json").read_text())["metrics"]["emg_to_text"]
        return {"R@1": e2t["R@1"], "MRR": e2t["MRR"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _how(base: dict[str, Any]) -> str:
    e = base["epochs"]
    folder = base["data"].get("folder")
    trained = (f"trained by `myostream train {base['experiment']}{f' --data {folder}' if folder else ''}`"
               if base["experiment"] else f"from `{base['checkpoint']}`")
    return (f"`{base['config']}` {trained} (stage 2: {e['stage2']} epochs, stage 3: {e['stage3_a']} + "
            f"{e['stage3_b']} epochs)")


def _mean_scores(per_row: list[dict[str, dict[str, float]]]) -> dict[str, float]:
    """Mean over rows and test sets of R@1 and MRR."""
    flat = [s for d in per_row for s in d.values()]
    return {m: float(np.mean([s[m] for s in flat])) for m in ("R@1", "MRR", "R@3", "text_to_emg_R@1")}


def _means(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: {m: float(np.mean([r[k][m] for r in rows])) for m in ("R@1", "MRR")} for k in ("before", "after")}


def _machine(device: str) -> dict[str, Any]:
    return {"device": device, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            # other work on the machine slows the timings: say how busy it was
            "load_average_1min": round(os.getloadavg()[0], 2),
            "processor": platform.processor() or platform.machine(), "python": platform.python_version(),
            "torch": torch.__version__}


def _write(out: Path, name: str, report: dict[str, Any], markdown: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown)


def _simulated_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Adaptation on the simulated armband",
        "",
        f"Generated by `{report['command']}`. Base model: {_how(report['base'])}, on simulated "
        f"people {report['base']['data'].get('users', '?')} (sessions 0-{report['base']['data'].get('sessions', 1) - 1}; "
        f"{', '.join(report['base']['split']['held_out_subjects'])} were its test people). Each case records a "
        "two-minute `quick` calibration session (9 classes, 3 repetitions) from the simulated armband cued by the "
        "protocol's trial schedule and runs `myostream adapt` on it with the default options; scores are "
        "EMG->text retrieval on the held-out last repetition (classes capped at the median class count). "
        "Seconds: the whole command (read, filter, window, score, adapt, score, write) on "
        f"{report['machine']['torch_threads']} CPU thread(s) of a shared machine (1-min load average "
        f"{report['machine']['load_average_1min']} on {report['machine']['cpu_count']} cores).",
        "",
        "| case | R@1 before | R@1 after | MRR before | MRR after | adapt windows | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        b, a = r["before"], r["after"]
        lines.append(f"| {r['case']} | {b['R@1']:.3f} | {a['R@1']:.3f} | {b['MRR']:.3f} | {a['MRR']:.3f} | "
                     f"{r['n_adapt_windows']} | {r['seconds']} |")
    m = report["mean"]
    lines += [f"| **mean** | {m['before']['R@1']:.3f} | {m['after']['R@1']:.3f} | {m['before']['MRR']:.3f} | "
              f"{m['after']['MRR']:.3f} | | |", ""]
    return "\n".join(lines)


def _myo_markdown(report: dict[str, Any]) -> str:
    cols = report["columns"]
    lines = [
        "# Adaptation on the Myo armband dataset",
        "",
        f"Generated by `{report['command']}`. "
        f"Base: {_how(report['base'])} on the PreTrainingDataset people{_held_out(report['base'])}. "
        "Per EvaluationDataset person (other people, three sessions each) the base is adapted on `training0` "
        "(4 cycles of the 7 gestures) and tested on `Test0` and `Test1` (recorded on other occasions). "
        "EMG->text R@1 / MRR over the 7 classes, each cell the mean of Test0 and Test1; every column starts "
        f"from the same base. Windows of {report['base'].get('window_ms', 260)} ms every {report['window_hop_ms']:g} ms, "
        "through the base's causal filter. Default options apart from the normaliser mode "
        "(see `myo.json`).",
        "",
        "| subject | " + " | ".join(cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for r in report["rows"]:
        cells = [f"{np.mean([s['R@1'] for s in r[c].values()]):.3f} / {np.mean([s['MRR'] for s in r[c].values()]):.3f}"
                 for c in cols]
        lines.append(f"| {r['subject']} | " + " | ".join(cells) + " |")
    m = report["mean"]
    lines.append("| **mean** | " + " | ".join(f"**{m[c]['R@1']:.3f} / {m[c]['MRR']:.3f}**" for c in cols) + " |")
    secs = [r[f"{c} seconds"] for r in report["rows"] for c in cols if f"{c} seconds" in r]
    lines += ["", f"Cells: R@1 / MRR. Adaptation wall time per person (scoring included; CPU, "
              f"{report['machine']['torch_threads']} thread(s) of a shared machine, 1-min load average "
              f"{report['machine']['load_average_1min']} on {report['machine']['cpu_count']} cores; "
              f"{report['rows'][0]['n_adapt_windows']} windows): {min(secs):.0f}-{max(secs):.0f} s.", ""]
    return "\n".join(lines)


def _held_out(base: dict[str, Any]) -> str:
    people = (base.get("split") or {}).get("held_out_subjects") or []
    if not people:
        return ""
    own = base.get("own_test")
    score = f"; R@1 {own['R@1']:.3f} / MRR {own['MRR']:.3f} on them" if own else ""
    return f" (its own test people, not trained on: {', '.join(p.split('/')[-1] for p in people)}{score})"


def report_command(args: argparse.Namespace) -> int:
    """``myostream adapt --report simulated|myo [--data DIR] [--out DIR] [--model BASE]``."""
    if args.report not in REPORTS:
        raise MyostreamError(f"Unknown adaptation report {args.report!r}; use one of {', '.join(REPORTS)}.")
    out = Path(args.out) if args.out else DEFAULT_OUT
    work = Path(args.work) if getattr(args, "work", None) else Path("runs") / "adaptation"
    command = "myostream " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if args.report == "simulated":
        simulated_report(out, work, base=args.model, device=args.torch_device, command=command)
    else:
        if not args.data:
            raise MyostreamError("--report myo needs --data DIR, the Myo armband dataset folder (e.g. ../shared/data/myo-armband).")
        myo_report(Path(args.data), out, work, base=args.model, device=args.torch_device, command=command)
    print(f"wrote {out}")
    return 0
