"""``myostream train``, ``myostream eval`` and ``myostream adapt``: typed calls the command line makes."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from myostream.errors import MyostreamError
from myostream.paths import check_output_dir, output_dir
from myostream.records import NonFinite
from myostream.torchdevice import resolve_device, set_threads


def command_line() -> str:
    """The command as typed, for the reports that name the command which made them."""
    return "myostream " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def train_command(
    config: str,
    out: str | None = None,
    data: str | None = None,
    device: str = "auto",
    seed: int | None = None,
    protocol: str | None = None,
    test_data: str | None = None,
    fold: int | None = None,
    model: str | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> int:
    """``myostream train``: one run of experiment ``config`` (overrides as given) into ``out``
    (default ``runs/EXPERIMENT/MODEL-PROTOCOL``)."""
    from myostream.train.experiment import load_experiment
    from myostream.train.run import RESULTS_JSON, RESULTS_MD, train_run

    set_threads(threads)
    resolve_device(device)  # before any data is read
    exp = load_experiment(config, data_folder=data)
    if model:
        exp = exp.with_variant(model)
    if test_data:
        exp = exp.with_test_data(test_data)
    if protocol or fold is not None:
        exp = exp.with_protocol(protocol or exp.protocol.name, fold)
    if seed is not None:
        exp = replace(exp, seed=int(seed))
    fold_name = f"-fold{exp.protocol.fold + 1}" if exp.protocol.name == "cross-user" and exp.protocol.folds > 1 else ""
    folder = Path(out or Path("runs") / exp.name / f"{exp.variant.name}-{exp.protocol.name}{fold_name}")
    record = train_run(exp, folder, device=device, progress=progress, log=print)
    if record:
        print(f"checkpoint: {folder}\nresults: {folder / RESULTS_JSON}, {folder / RESULTS_MD}")
    return 0


def eval_command(
    checkpoint: str,
    data: str | None = None,
    protocol: str | None = None,
    fold: int | None = None,
    out: str | None = None,
    device: str = "auto",
    threads: int | None = None,
    live: bool = False,
    seconds: float = 81.0,
) -> int:
    """``myostream eval``: the checkpoint's test metrics both ways into ``out`` (default: the
    checkpoint folder), or with ``live`` the live default through the real pipeline."""
    set_threads(threads)
    resolve_device(device)  # before any data is read
    if live:
        return _eval_live(checkpoint, out, device, seconds)
    from myostream.train.evaluate import evaluate_checkpoint
    from myostream.train.summary import run_markdown

    folder = check_output_dir(out or checkpoint, "the evaluation report")  # before minutes of evaluation
    record = evaluate_checkpoint(checkpoint, data, protocol, fold, device)
    output_dir(folder, "the evaluation report")
    stem = f"eval-{record['protocol']}" + ("" if record["fold"] is None else f"-fold{record['fold'] + 1}")
    record["command"] = command_line()
    (folder / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n")
    text = run_markdown(record)
    if not record["same_split_as_training"]:
        text += (
            "\nNote: this split differs from the one the checkpoint was trained under; "
            "its test windows may include windows the model trained on.\n"
        )
    (folder / f"{stem}.md").write_text(text)
    e2t, t2e = record["metrics"]["emg_to_text"], record["metrics"]["text_to_emg"]
    print(
        f"EMG->text R@1 {e2t['R@1']:.3f} R@3 {e2t['R@3']:.3f} MRR {e2t['MRR']:.3f} (n={e2t['n']}) · "
        f"text->EMG R@1 {t2e['R@1']:.3f} R@3 {t2e['R@3']:.3f} MRR {t2e['MRR']:.3f}"
    )
    print(f"wrote {folder / (stem + '.json')}, {folder / (stem + '.md')}")
    return 0


def _eval_live(checkpoint: str, out: str | None, device: str, seconds: float) -> int:
    from myostream.train.live_check import live_markdown, measure_live

    device = "cpu" if device == "auto" else device
    folder = check_output_dir(out or checkpoint, "the live evaluation report")
    result = measure_live(checkpoint, seconds=seconds, device=device)
    result["command"] = command_line()
    output_dir(folder, "the live evaluation report")
    (folder / "live-default.json").write_text(json.dumps(result, indent=2) + "\n")
    (folder / "live-default.md").write_text(live_markdown(result, result["command"]))
    c = result["criterion"]
    print(
        f"true gesture ranked first for {100 * c['value']:.1f} % of hops >= 1 s after onset "
        f"({'meets' if c['passed'] else 'misses'} the 90 % target); wrote {folder / 'live-default.md'}"
    )
    return 0


def adapt_command(
    sessions: str | None,
    model: str | None = None,
    out: str | None = None,
    holdout_rep: int | None = None,
    epochs: int | None = None,
    normalizer: str = "refit",
    device: str = "cpu",
    threads: int | None = None,
    seed: int = 0,
    nonfinite: NonFinite = "error",
    lda_weight: float | None = None,
    jitter: bool = True,
) -> int:
    """``myostream adapt``: adapt ``model`` (default: the bundled base that fits) to the sessions in ``sessions``."""
    from myostream.train.adapt import adapt_sessions

    set_threads(threads)
    resolve_device(device)  # before any reading or training
    if not sessions:
        raise MyostreamError(
            "myostream adapt needs --sessions DIR (and --model CKPT, else the bundled base that fits)."
        )
    settings: dict[str, Any] = {"normalizer": normalizer, "seed": seed}
    if lda_weight is not None:
        settings["lda_weight"] = lda_weight
    if not jitter:
        settings.update(gain=0.0, noise=0.0)
    if epochs is not None:
        settings["epochs"] = epochs
    # the base's own calibration defaults (its experiment's [adapt]) under what was given here
    adapt_sessions(
        model, sessions, out, holdout_rep=holdout_rep, settings=settings, device=device, nonfinite=nonfinite, say=print
    )
    return 0
