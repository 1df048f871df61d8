"""``myostream train``, ``myostream eval`` and ``myostream results``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from myostream.errors import MyostreamError
from myostream.paths import check_output_dir, output_dir


def _threads(n: int | None) -> None:
    if n is not None:
        import torch

        if n < 1:
            raise MyostreamError(f"--threads must be at least 1, got {n}.")
        torch.set_num_threads(n)


def _torch_device(name: str) -> str:
    """The torch device named on the command line, checked before any data is read."""
    from myostream.model.device import resolve_device

    resolve_device(name)
    return name


def _command_line() -> str:
    return "myostream " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def train_command(args: argparse.Namespace) -> int:
    from myostream.train.experiment import load_experiment
    from myostream.train.run import RESULTS_JSON, RESULTS_MD, train_run

    _threads(getattr(args, "threads", None))
    _torch_device(args.torch_device)
    exp = load_experiment(args.config, data_folder=args.data)
    if getattr(args, "model", None):
        exp = exp.with_variant(args.model)
    if getattr(args, "test_data", None):
        exp = exp.with_test_data(args.test_data)
    if args.protocol or getattr(args, "fold", None) is not None:
        exp = exp.with_protocol(args.protocol or exp.protocol.name, getattr(args, "fold", None))
    if args.seed is not None:
        exp = replace(exp, seed=int(args.seed))
    fold = f"-fold{exp.protocol.fold + 1}" if exp.protocol.name == "cross-user" and exp.protocol.folds > 1 else ""
    out = Path(args.out or Path("runs") / exp.name / f"{exp.variant.name}-{exp.protocol.name}{fold}")
    record = train_run(exp, out, device=args.torch_device, progress=not getattr(args, "quiet", False), log=print)
    if record:
        print(f"checkpoint: {out}\nresults: {out / RESULTS_JSON}, {out / RESULTS_MD}")
    return 0


def eval_command(args: argparse.Namespace) -> int:
    _threads(getattr(args, "threads", None))
    _torch_device(args.torch_device)
    if getattr(args, "live", False):
        return _eval_live(args)
    from myostream.train.report import run_markdown
    from myostream.train.run import evaluate_checkpoint

    out = check_output_dir(args.out or args.checkpoint, "the evaluation report")  # before minutes of evaluation
    record = evaluate_checkpoint(args.checkpoint, args.data, args.protocol, getattr(args, "fold", None),
                                 args.torch_device)
    output_dir(out, "the evaluation report")
    stem = f"eval-{record['protocol']}" + ("" if record["fold"] is None else f"-fold{record['fold'] + 1}")
    record["command"] = _command_line()
    (out / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n")
    text = run_markdown(record)
    if not record["same_split_as_training"]:
        text += ("\nNote: this split differs from the one the checkpoint was trained under; "
                 "its test windows may include windows the model trained on.\n")
    (out / f"{stem}.md").write_text(text)
    e2t, t2e = record["metrics"]["emg_to_text"], record["metrics"]["text_to_emg"]
    print(f"EMG->text R@1 {e2t['R@1']:.3f} R@3 {e2t['R@3']:.3f} MRR {e2t['MRR']:.3f} (n={e2t['n']}) · "
          f"text->EMG R@1 {t2e['R@1']:.3f} R@3 {t2e['R@3']:.3f} MRR {t2e['MRR']:.3f}")
    print(f"wrote {out / (stem + '.json')}, {out / (stem + '.md')}")
    return 0


def _eval_live(args: argparse.Namespace) -> int:
    from myostream.train.live_check import live_markdown, measure_live

    device = "cpu" if args.torch_device == "auto" else args.torch_device
    out = check_output_dir(args.out or args.checkpoint, "the live evaluation report")
    result = measure_live(args.checkpoint, seconds=args.seconds, device=device)
    result["command"] = _command_line()
    output_dir(out, "the live evaluation report")
    (out / "live-default.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "live-default.md").write_text(live_markdown(result, result["command"]))
    c = result["criterion"]
    print(f"true gesture ranked first for {100 * c['value']:.1f} % of hops >= 1 s after onset "
          f"({'meets' if c['passed'] else 'misses'} the 90 % target); wrote {out / 'live-default.md'}")
    return 0


def results_command(args: argparse.Namespace) -> int:
    from myostream.train.experiment import load_experiment
    from myostream.train.suite import run_suite

    _threads(args.threads)
    _torch_device(args.torch_device)
    exp = load_experiment(args.config, data_folder=args.data)
    out = Path(args.out or Path("docs") / "results" / exp.name)
    check_output_dir(out, "the results report")
    if args.report_only:
        from myostream.train.suite import write_suite

        try:
            summary = json.loads((out / "results.json").read_text())
        except (OSError, ValueError) as exc:
            raise MyostreamError(f"No readable {out / 'results.json'} to redraw the report from ({exc}); run without --report-only first.") from None
        write_suite(summary, out)
        print(f"redrew {out / 'README.md'} and the heatmaps from {out / 'results.json'}")
        return 0
    work = check_output_dir(args.work or Path("runs") / exp.name, "the runs' checkpoints")
    summary = run_suite(exp, out, work, device=args.torch_device, protocols=args.protocol, variants=args.model,
                        progress=not args.quiet, command=_command_line(), jobs=args.jobs)
    print(f"wrote {out / 'README.md'} and {out / 'results.json'} ({summary['total_s'] / 60:.1f} min)")
    return 0
