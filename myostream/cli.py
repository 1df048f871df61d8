"""The ``myostream`` command.

Each subcommand's arguments are declared here; its work lives in the module that owns
the concern (imported lazily, so ``myostream devices`` does not import torch).
Bad input raises :class:`MyostreamError`, printed as one sentence with exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from myostream.errors import MyostreamError
from myostream.records import NONFINITE

#: What ``--nonfinite`` may ask a reader to do with NaN or infinite samples.
NONFINITE_CHOICES = NONFINITE
#: Where ``myostream report text`` (and its old spelling ``describe report``) writes by default.
TEXT_REPORT_DIR = "docs/results/text"
#: the screenshot sets of ``myostream report screenshots`` (myostream_reports.screenshots.SETS; the
#: runtime does not import the reports package to declare its arguments)
SCREENSHOT_SETS = ("recorder", "calibrate")


# -- argument types: bad numbers are one argparse sentence (exit code 2) before any work ---------


def _number(text: str, low: float, low_included: bool, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < low or (value == low and not low_included):
        raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
    return value


def positive(text: str) -> float:
    """A finite number above zero (seconds, speed factors)."""
    return _number(text, 0.0, False, "a positive number")


def non_negative(text: str) -> float:
    """A finite number of zero or more (offsets, margins; 0 has its own meaning)."""
    return _number(text, 0.0, True, "zero or a positive number")


def positive_int(text: str) -> int:
    """A whole number of one or more (threads, jobs, epochs)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def channel_map(text: str) -> list[int]:
    """Source channel numbers, comma-separated, in the model's order (``--channels 0,1,2``)."""
    try:
        channels = [int(part) for part in text.split(",")]
    except ValueError:
        channels = []
    if not channels or min(channels) < 0 or len(set(channels)) < len(channels):
        raise argparse.ArgumentTypeError(
            f"must be distinct source channel numbers from 0, separated by commas (e.g. 0,1,2,3), not {text!r}"
        )
    return channels


class _SourceAlias(argparse.Action):
    """An old source flag (``--device NAME``, ``--lsl NAME``, ``--brainflow BOARD``) kept as a
    hidden alias of ``--source``: it stores the spec the old flag meant."""

    def __init__(self, option_strings: Sequence[str], dest: str, prefix: str = "", **kw: Any) -> None:
        super().__init__(option_strings, dest, **kw)
        self.prefix = prefix

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given = getattr(namespace, "_source_flag", None)
        if given is not None and given != option_string:
            parser.error(f"argument {option_string}: give the source once (already given by {given})")
        namespace._source_flag = option_string
        setattr(namespace, self.dest, f"{self.prefix}{values}")


def _source_flag(p: argparse.ArgumentParser, default: str, aliases: dict[str, str]) -> None:
    """``--source SPEC`` and the old spellings of this command as hidden aliases (old flag → spec prefix)."""
    p.add_argument(
        "--source",
        action=_SourceAlias,
        default=default,
        metavar="SPEC",
        help=f"simulated | device profile | lsl:NAME | brainflow:BOARD | replay:FILE (default: {default})",
    )
    for flag, prefix in aliases.items():
        p.add_argument(
            flag, action=_SourceAlias, dest="source", prefix=prefix, default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )


def _torch_device_flag(p: argparse.ArgumentParser, default: str, alias: bool = True) -> None:
    """``--torch-device`` (and the old ``--device`` as a hidden alias where it meant the torch device)."""
    p.add_argument(
        "--torch-device",
        default=default,
        metavar="DEVICE",
        help=f"torch device: auto | cpu | cuda (default: {default})",
    )
    if alias:
        p.add_argument("--device", dest="torch_device", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _results_arguments(p: argparse.ArgumentParser) -> None:
    """``myostream report results`` (and its old spelling ``myostream results``)."""
    p.add_argument("config", help="experiment name or .toml path with a [results] table (e.g. myosem-ninapro-db1)")
    p.add_argument("--out", default=None, help="report folder (default docs/results/EXPERIMENT)")
    p.add_argument("--work", default=None, help="folder for the runs' checkpoints (default runs/EXPERIMENT)")
    p.add_argument("--data", default=None, help="dataset folder (overrides the config)")
    _torch_device_flag(p, "auto")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    p.add_argument("--protocol", action="append", default=None, help="only this protocol (repeatable)")
    p.add_argument("--model", action="append", default=None, help="only this model variant (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        help="runs trained at once in worker processes, each with --threads (same numbers, less wall time)",
    )
    p.add_argument(
        "--report-only", action="store_true", help="redraw README.md and the heatmaps from the folder's results.json"
    )


def _bench_arguments(p: argparse.ArgumentParser) -> None:
    """``myostream report bench`` (and its old spelling ``myostream bench``)."""
    p.add_argument(
        "what",
        choices=["stream", "data", "model", "live", "resample", "size", "all"],
        help="which benchmarks (all: every group but size, which installs two virtual environments)",
    )
    p.add_argument(
        "--out",
        default="benchmarks/results",
        help="folder for the JSON + Markdown report (default: benchmarks/results)",
    )
    p.add_argument("--quick", action="store_true", help="shorter runs (noisier numbers)")
    p.add_argument(
        "--model",
        metavar="CKPT",
        default=None,
        help="bench resample: also measure this checkpoint folder on the Myo data, beside the LDA baseline",
    )


def _cmd_devices(args: argparse.Namespace) -> int:
    from myostream.stream.commands import devices_command

    return devices_command()


def _cmd_stream(args: argparse.Namespace) -> int:
    from myostream.stream.commands import stream_command

    return stream_command(
        source=args.source,
        publish=args.publish,
        duration=args.duration,
        seed=args.seed,
        timeout=args.timeout,
    )


def _cmd_bench(args: argparse.Namespace) -> int:
    from myostream_reports.bench import bench_command

    return bench_command(args.what, out=args.out, quick=args.quick, model=args.model)


def _cmd_replay(args: argparse.Namespace) -> int:
    from myostream.data.commands import replay_command

    return replay_command(
        path=args.file,
        lsl=args.lsl,
        speed=args.speed,
        loop=args.loop,
        start=args.start,
        database=args.database,
        duration=args.duration,
        spin_ms=args.spin_ms,
        stream=args.stream,
        nonfinite=args.nonfinite,
    )


def _cmd_describe(args: argparse.Namespace) -> int:
    if args.action == "report":  # the old spelling of `myostream report text`
        if args.rest:
            raise MyostreamError(f"describe report takes no positional arguments, got {' '.join(args.rest)}.")
        return _cmd_report_text(args)
    from myostream.text.commands import describe_command

    return describe_command(args.action, args.rest, catalogs=args.catalog, model=args.model, top=args.top, out=args.out)


def _cmd_train(args: argparse.Namespace) -> int:
    from myostream.train.commands import train_command

    return train_command(
        args.config,
        out=args.out,
        data=args.data,
        device=args.torch_device,
        seed=args.seed,
        protocol=args.protocol,
        test_data=args.test_data,
        fold=args.fold,
        model=args.model,
        threads=args.threads,
        progress=not args.quiet,
    )


def _cmd_eval(args: argparse.Namespace) -> int:
    from myostream.train.commands import eval_command

    return eval_command(
        args.checkpoint,
        data=args.data,
        protocol=args.protocol,
        fold=args.fold,
        out=args.out,
        device=args.torch_device,
        threads=args.threads,
        live=args.live,
        seconds=args.seconds,
    )


def _cmd_export(args: argparse.Namespace) -> int:
    from myostream.edge.export import export_command

    return export_command(args.checkpoint, args.onnx, text=args.text, opset=args.opset)


def _cmd_live(args: argparse.Namespace) -> int:
    from myostream.apps.live import live_command

    return live_command(
        args.source,
        model=args.model,
        backend=args.backend,
        device=args.torch_device,
        duration=args.duration,
        queries=args.query,
        screenshot=args.screenshot,
        channels=args.channels,
        self_calibrate=not args.no_self_calibration,
    )


def _cmd_record(args: argparse.Namespace) -> int:
    from myostream.apps.recorder import record_command

    return record_command(
        args.source,
        protocol=args.protocol,
        subject=args.subject,
        session=args.session,
        out=args.out,
        speed=args.speed,
        autostart=args.autostart,
        review=args.review,
    )


def _cmd_adapt(args: argparse.Namespace) -> int:
    from myostream.train.commands import adapt_command

    return adapt_command(
        args.sessions,
        model=args.model,
        out=args.out,
        holdout_rep=args.holdout_rep,
        epochs=args.epochs,
        normalizer=args.normalizer,
        device=args.torch_device,
        threads=args.threads,
        seed=args.seed,
        nonfinite=args.nonfinite,
        lda_weight=args.lda_weight,
        jitter=not args.no_jitter,
    )


def _cmd_report_reliability(args: argparse.Namespace) -> int:
    from myostream_reports.reliability import reliability_command

    return reliability_command(args.out, only=args.only)


def _cmd_report_transfer(args: argparse.Namespace) -> int:
    from myostream_reports.transfer import report_transfer

    report_transfer(
        args.data, args.out, args.work, datasets=tuple(args.dataset or ("myo", "db1")), validate=not args.no_validation
    )
    return 0


def _cmd_report_rejection(args: argparse.Namespace) -> int:
    from myostream_reports.rejection import report_rejection

    report_rejection(args.data, args.out, args.work, datasets=tuple(args.dataset or ("db1", "myo")))
    return 0


def _cmd_report_calibration(args: argparse.Namespace) -> int:
    from myostream_reports.calibration import calibration_command

    return calibration_command(args.data, args.out, speed=args.speed)


def _cmd_report_results(args: argparse.Namespace) -> int:
    from myostream_reports.results import results_command

    return results_command(
        args.config,
        out=args.out,
        work=args.work,
        data=args.data,
        device=args.torch_device,
        threads=args.threads,
        protocols=args.protocol,
        variants=args.model,
        progress=not args.quiet,
        jobs=args.jobs,
        report_only=args.report_only,
    )


def _cmd_report_text(args: argparse.Namespace) -> int:
    from myostream_reports.text import text_command

    return text_command(
        args.out or TEXT_REPORT_DIR, catalogs=args.catalog, steps=args.steps, seed=args.seed, device=args.torch_device
    )


def _cmd_report_screenshots(args: argparse.Namespace) -> int:
    from myostream_reports.screenshots import screenshots_command

    return screenshots_command(args.out, speed=args.speed, which=args.which or SCREENSHOT_SETS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="myostream",
        description="Real-time wearable EMG: stream, filter, replay, and rank natural-language descriptions of hand actions.",
    )
    from myostream import __version__

    parser.add_argument("--version", action="version", version=f"myostream {__version__}")
    parser.add_argument(
        "--lsl-network",
        action="store_true",
        help="let LSL reach other computers: discovery on the local network and outlets listening on "
        "every interface (default: this machine only)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], int] | None, help: str, listed: bool = True
    ) -> argparse.ArgumentParser:
        """A command; an old spelling (``listed=False``) parses as before but is not listed in --help."""
        p = sub.add_parser(name, help=help, description=help) if listed else sub.add_parser(name, description=help)
        p.set_defaults(handler=handler)
        return p

    add("devices", _cmd_devices, "List device profiles and whether each can run on this machine now.")

    p = add("stream", _cmd_stream, "Open a source and print a live status line (rate, channels, lost samples, RMS).")
    _source_flag(p, "simulated", {"--device": "", "--lsl": "lsl:", "--brainflow": "brainflow:"})
    p.add_argument("--publish", metavar="NAME", help="also publish the samples as an LSL outlet called NAME")
    p.add_argument(
        "--duration", type=positive, default=None, help="stop after this many seconds (default: until Ctrl-C)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated armband")
    p.add_argument("--timeout", type=positive, default=5.0, help="seconds to wait for an LSL stream to appear")

    p = add(
        "replay",
        _cmd_replay,
        "Replay a recording (NinaPro .mat, emg2pose .hdf5, Myo .dat, session .h5, LabRecorder .xdf, "
        "table with dataset.toml) as a live LSL stream.",
    )
    p.add_argument("file", help="recording file")
    p.add_argument("--lsl", metavar="NAME", default=None, help="LSL stream name (default: the file's stem)")
    p.add_argument("--speed", type=non_negative, default=1.0, help="speed factor 0.25-10, or 0 for unthrottled")
    p.add_argument("--loop", action="store_true", help="start again at the end")
    p.add_argument("--start", type=non_negative, default=0.0, help="start offset in seconds")
    p.add_argument("--database", default=None, help="NinaPro database when the file name does not say (db1, db2, ...)")
    p.add_argument("--stream", default=None, help="the EMG stream of an .xdf file that holds several")
    p.add_argument("--duration", type=positive, default=None, help="stop after this many seconds of wall time")
    p.add_argument(
        "--nonfinite",
        choices=NONFINITE_CHOICES,
        default="error",
        help="NaN or infinite samples in the file: stop with the first one named (default), "
        "drop those samples, or interpolate them linearly",
    )
    p.add_argument(
        "--spin-ms",
        type=non_negative,
        default=None,
        help="wait the last this many ms before each block by spinning instead of sleeping "
        "(default 2; the block period, e.g. 20, never sleeps: tightest timing, one core busy)",
    )

    p = add(
        "describe",
        _cmd_describe,
        "Show description catalogs, encode text, or run stage-1 text training and its report.",
    )
    p.add_argument(
        "action",
        nargs="?",
        default="list",
        help="list | show CATALOG | encode TEXT... | glove PATH... | report (= myostream report text)",
    )
    p.add_argument("rest", nargs="*", help="arguments of the action")
    p.add_argument("--catalog", action="append", default=None, help="catalog name or .toml (repeatable; default: all)")
    p.add_argument("--model", default=None, help="encode: folder with a stage-1 text encoder and prototypes")
    p.add_argument("--top", type=positive_int, default=5, help="encode: how many classes to list")
    p.add_argument("--out", default=None, help=f"glove: JSON file to write; report: folder (default {TEXT_REPORT_DIR})")
    p.add_argument(
        "--steps", type=int, default=None, help="report: stage-1 training steps (default: the stage-1 default)"
    )
    p.add_argument("--seed", type=int, default=0, help="report: seed of stage-1 training")
    _torch_device_flag(p, "cpu")

    p = add("train", _cmd_train, "Train MyoSem (stage 1 text, stage 2 encoder, stage 3 alignment) from a config.")
    p.add_argument("config", help="experiment (models/experiments/) or model config name, or a .toml path")
    p.add_argument("--out", default=None, help="checkpoint folder (default runs/EXPERIMENT/MODEL-PROTOCOL)")
    p.add_argument("--data", default=None, help="dataset folder (overrides the config)")
    _torch_device_flag(p, "auto")
    p.add_argument(
        "--seed", type=int, default=None, help="training seed (model init, batches, stage 1; the split keeps its own)"
    )
    p.add_argument("--protocol", default=None, help="random | cross-user | cross-class | repetition | cross-dataset")
    p.add_argument(
        "--test-data",
        default=None,
        metavar="DIR",
        help="cross-dataset: train on the config's data, test on every window of the recordings in DIR",
    )
    p.add_argument("--fold", type=int, default=None, help="cross-user fold to test (0-based; the config sets folds)")
    p.add_argument(
        "--model",
        default=None,
        help="myosem | tcn | cnn_bilstm | atzori_cnn | hudgins_linear | no_descriptors | no_queries | no_stage1 | text_baseline",
    )
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (the per-epoch log stays)")

    p = add(
        "eval", _cmd_eval, "Evaluate a checkpoint both ways (EMG->text, text->EMG) under a protocol, or live (--live)."
    )
    p.add_argument("checkpoint", help="checkpoint folder")
    p.add_argument("--data", default=None, help="dataset folder (default: the one it was trained on)")
    p.add_argument(
        "--protocol",
        default=None,
        help="test split of this protocol (default: the training protocol's); cross-dataset tests every window of --data",
    )
    p.add_argument("--fold", type=int, default=None, help="cross-user fold (0-based)")
    p.add_argument(
        "--out",
        default=None,
        help="folder for eval-PROTOCOL.json/.md or live-default.json/.md (default: the checkpoint)",
    )
    _torch_device_flag(p, "auto")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    p.add_argument(
        "--live",
        action="store_true",
        help="measure the live default instead: simulated armband through the real Pipeline in real time",
    )
    p.add_argument(
        "--seconds", type=positive, default=81.0, help="--live: seconds of live signal (default: two gesture cycles)"
    )

    _results_arguments(add("results", _cmd_report_results, "Old spelling of `myostream report results`.", listed=False))
    _bench_arguments(add("bench", _cmd_bench, "Old spelling of `myostream report bench`.", listed=False))

    p = add(
        "export",
        _cmd_export,
        "Export a checkpoint for the edge runtime: ONNX graphs and a manifest that run on onnxruntime without torch.",
    )
    p.add_argument("checkpoint", help="checkpoint folder")
    p.add_argument(
        "--onnx",
        metavar="DIR",
        required=True,
        help="folder to write (new or empty, or an earlier export, which is replaced)",
    )
    p.add_argument(
        "--text",
        action="store_true",
        help="also export the checkpoint's text encoder and tokenizer (free-text queries without torch)",
    )
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")

    p = add("live", _cmd_live, "Open the live retrieval window (default: simulated armband + bundled model).")
    _source_flag(p, "simulated", {})
    p.add_argument("--model", default=None, help="checkpoint or exported folder (default: the bundled model)")
    p.add_argument(
        "--backend",
        choices=["auto", "torch", "onnx"],
        default="auto",
        help="torch (a checkpoint), onnx (a folder `myostream export --onnx` wrote, on onnxruntime), "
        "auto (by the --model folder; default)",
    )
    _torch_device_flag(p, "auto")
    p.add_argument("--duration", type=positive, default=None, help="close after this many seconds")
    p.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="TEXT",
        help="a free-text description to trace against the live EMG (repeatable)",
    )
    p.add_argument(
        "--screenshot",
        metavar="PNG",
        default=None,
        help="save a screenshot of the window to PNG when it closes (with --duration: docs, bug reports)",
    )
    p.add_argument(
        "--channels",
        type=channel_map,
        default=None,
        metavar="0,1,...",
        help="the source channels the model sees, in the model's order (e.g. 8 of a 16-channel band: "
        "0,2,4,6,8,10,12,14; default: all, and the counts must match)",
    )
    p.add_argument(
        "--no-self-calibration",
        action="store_true",
        help="rank with the base model as trained; by default, on a ring band, it self-calibrates to the "
        "wearer from their first 35 s on the labels it gives them itself (no labels asked)",
    )

    p = add("record", _cmd_record, "Record and label a calibration session, cue by cue.")
    _source_flag(p, "simulated", {"--device": ""})
    p.add_argument("--protocol", default="quick", help="calibration protocol name or .toml path")
    p.add_argument("--subject", default=None)
    p.add_argument("--session", default="1", help="session label (default: 1)")
    p.add_argument("--out", default="sessions", help="folder for session files")
    p.add_argument(
        "--speed",
        type=positive,
        default=1.0,
        help="run the cue timing this many times faster (demos, tests; at most 20)",
    )
    p.add_argument(
        "--autostart", action="store_true", help="start recording as soon as the source streams (needs --subject)"
    )
    p.add_argument("--review", metavar="FILE", default=None, help="open the label review of a recorded session instead")

    p = add("adapt", _cmd_adapt, "Fine-tune a model to a user's calibration sessions.")
    p.add_argument("--model", default=None, help="checkpoint folder (default: the bundled base that fits the sessions)")
    p.add_argument(
        "--sessions",
        default=None,
        help="folder of session .h5 files (or .xdf files, tables with a dataset.toml), or one recording file",
    )
    p.add_argument("--out", default=None, help="adapted checkpoint folder (default: <model>-adapted-<subject>)")
    p.add_argument(
        "--holdout-rep",
        type=positive_int,
        default=None,
        help="repetition held out for before/after scores (default: the last)",
    )
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="adaptation epochs in all (default 20: 12 head-only, 8 with the last encoder layer)",
    )
    p.add_argument(
        "--normalizer",
        choices=["refit", "keep"],
        default="refit",
        help="re-fit the per-channel input statistics on the sessions (default) or keep the trained ones",
    )
    p.add_argument(
        "--lda-weight",
        type=non_negative,
        default=None,
        help="weight of the person's LDA (Hudgins features) fused into the class scores; 0 ranks by the "
        "embedding alone (default 0.5, chosen on validation people)",
    )
    p.add_argument(
        "--no-jitter",
        action="store_true",
        help="fine-tune on the windows as recorded (default: each batch's channel gains jittered and noise "
        "added, as chosen on validation people)",
    )
    _torch_device_flag(p, "cpu")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--nonfinite",
        choices=NONFINITE_CHOICES,
        default="error",
        help="NaN or infinite samples in a session: stop with the first one named (default), drop or interpolate them",
    )

    p = add("report", None, "Regenerate a committed report (each names the command that made it).")
    reports = p.add_subparsers(dest="what", required=True, metavar="WHAT")

    def report(name: str, handler: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        r = reports.add_parser(name, help=help, description=help)
        r.set_defaults(handler=handler)
        return r

    r = report("reliability", _cmd_report_reliability, "Every bad input we know of as a real process, and its message.")
    r.add_argument("--out", default="docs/reliability.md", help="Markdown file (default: docs/reliability.md)")
    r.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="CASE",
        help="run only the cases whose id contains CASE (repeatable; prints results, writes no table)",
    )

    r = report(
        "transfer",
        _cmd_report_transfer,
        "Zero- and few-shot transfer to new people, MyoSem against the per-person LDA.",
    )
    r.add_argument("--out", default="docs/results/transfer", help="folder (default: docs/results/transfer)")
    r.add_argument("--data", default="../shared/data", help="the shared data folder (default: ../shared/data)")
    r.add_argument(
        "--work", default="runs/transfer", help="folder for the trained bases (default: runs/transfer; reused)"
    )
    r.add_argument(
        "--dataset",
        action="append",
        choices=["myo", "db1"],
        default=None,
        help="only this dataset (repeatable; default both)",
    )
    r.add_argument(
        "--no-validation",
        action="store_true",
        help="skip choosing the settings on validation people (use the defaults)",
    )

    r = report(
        "rejection",
        _cmd_report_rejection,
        '"No confident match": accuracy of the accepted hops vs acceptance on held gestures, transitions, '
        "rest and gestures the model never saw, beside the per-person LDA.",
    )
    r.add_argument("--out", default="docs/results/rejection", help="folder (default: docs/results/rejection)")
    r.add_argument("--data", default="../shared/data", help="the shared data folder (default: ../shared/data)")
    r.add_argument(
        "--work", default="runs/rejection", help="folder for the trained models (default: runs/rejection; reused)"
    )
    r.add_argument(
        "--dataset",
        action="append",
        choices=["myo", "db1"],
        default=None,
        help="only this dataset (repeatable; default both)",
    )

    r = report(
        "calibration",
        _cmd_report_calibration,
        "Calibrating from the live window end to end: a simulated person and a replayed real Myo person, "
        "live top-1 before and after, and the time from Calibrate to live.",
    )
    r.add_argument("--out", default="docs/results/calibration", help="folder (default: docs/results/calibration)")
    r.add_argument("--data", default="../shared/data", help="the shared data folder (default: ../shared/data)")
    r.add_argument(
        "--speed",
        type=positive,
        default=10.0,
        help="how much faster than real time the Myo sessions replay, cues included (default: 10)",
    )

    _results_arguments(
        report(
            "results", _cmd_report_results, "Train and evaluate MyoSem, baselines and ablations under every protocol."
        )
    )

    r = report("text", _cmd_report_text, "Stage-1 text training per catalog: the text space before and after.")
    r.add_argument("--out", default=TEXT_REPORT_DIR, help=f"folder (default: {TEXT_REPORT_DIR})")
    r.add_argument("--catalog", action="append", default=None, help="catalog name or .toml (repeatable; default: all)")
    r.add_argument("--steps", type=int, default=None, help="stage-1 training steps (default: the stage-1 default)")
    r.add_argument("--seed", type=int, default=0, help="seed of stage-1 training")
    _torch_device_flag(r, "cpu")

    _bench_arguments(report("bench", _cmd_bench, "Measure performance side by side with a baseline."))

    r = report(
        "screenshots",
        _cmd_report_screenshots,
        "Screenshots of the recorder, its review view and calibrating from the live window, for the docs.",
    )
    r.add_argument("--out", default="docs/screenshots", help="folder for the PNG files (default: docs/screenshots)")
    r.add_argument(
        "--which",
        action="append",
        choices=SCREENSHOT_SETS,
        default=None,
        help="only this set (repeatable; default: all)",
    )
    r.add_argument("--speed", type=positive, default=3.0, help="cue speed-up while recording (default: 3)")
    return parser


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (a host or a test may swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr)
        except Exception:  # logging must never take the command down
            self.handleError(record)


def _log_to_stderr(command: str) -> None:
    """Warnings from the library (a session cut short, samples dropped) reach the terminal as one line each."""
    log = logging.getLogger("myostream")
    handler = next((h for h in log.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler(logging.WARNING)
        log.addHandler(handler)
    handler.setFormatter(logging.Formatter(f"myostream {command}: %(message)s"))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse said it (usage error: exit code 2; --help, --version: 0)
        return exc.code if isinstance(exc.code, int) else 2
    if args.lsl_network:
        from myostream.stream.lslconfig import NETWORK_ENV

        os.environ[NETWORK_ENV] = "1"  # read before the first LSL call, here and in worker processes
    _log_to_stderr(args.command)
    try:
        return int(args.handler(args) or 0)
    except MyostreamError as exc:
        print(f"myostream {args.command}: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an optional extra the command needs is not installed
        from myostream.extras import missing_extra

        said = missing_extra(exc)
        if said is None:
            raise
        print(f"myostream {args.command}: {said}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
