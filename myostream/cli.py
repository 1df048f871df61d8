"""The ``myostream`` command.

Each subcommand's arguments are declared here; its work lives in the module that owns
the concern (imported lazily, so ``myostream devices`` does not import torch).
Bad input raises :class:`MyostreamError`, printed as one sentence with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from myostream.errors import MyostreamError


def _cmd_devices(args: argparse.Namespace) -> int:
    from myostream.stream.commands import devices_command

    return devices_command()


def _cmd_stream(args: argparse.Namespace) -> int:
    from myostream.stream.commands import stream_command

    return stream_command(
        device=args.device,
        lsl=args.lsl,
        brainflow=args.brainflow,
        publish=args.publish,
        duration=args.duration,
        seed=args.seed,
        timeout=args.timeout,
    )


def _cmd_bench(args: argparse.Namespace) -> int:
    from myostream.bench import bench_command

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
    )


def _cmd_describe(args: argparse.Namespace) -> int:
    from myostream.text.commands import describe_command

    return describe_command(args)


def _cmd_train(args: argparse.Namespace) -> int:
    from myostream.train.commands import train_command

    return train_command(args)


def _cmd_eval(args: argparse.Namespace) -> int:
    from myostream.train.commands import eval_command

    return eval_command(args)


def _cmd_results(args: argparse.Namespace) -> int:
    from myostream.train.commands import results_command

    return results_command(args)


def _cmd_export(args: argparse.Namespace) -> int:
    from myostream.edge.export import export_command

    return export_command(args)


def _cmd_live(args: argparse.Namespace) -> int:
    from myostream.apps.live import live_command

    return live_command(args)


def _cmd_record(args: argparse.Namespace) -> int:
    from myostream.apps.recorder import record_command

    return record_command(args)


def _cmd_adapt(args: argparse.Namespace) -> int:
    from myostream.train.adapt import adapt_command

    return adapt_command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="myostream",
        description="Real-time wearable EMG: stream, filter, replay, and rank natural-language descriptions of hand actions.",
    )
    from myostream import __version__

    parser.add_argument("--version", action="version", version=f"myostream {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        return p

    add("devices", _cmd_devices, "List device profiles and whether each can run on this machine now.")

    p = add("stream", _cmd_stream, "Open a source and print a live status line (rate, channels, lost samples, RMS).")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--device", default=None, help="device profile name (default: simulated)")
    src.add_argument("--lsl", metavar="NAME", help="read an LSL stream by name (or type=EMG, source_id=ID)")
    src.add_argument("--brainflow", metavar="BOARD", help="BrainFlow board name or id (e.g. SYNTHETIC_BOARD)")
    p.add_argument("--publish", metavar="NAME", help="also publish the samples as an LSL outlet called NAME")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated armband")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for an LSL stream to appear")

    p = add("replay", _cmd_replay,
            "Replay a recording (NinaPro .mat, emg2pose .hdf5, Myo .dat, session .h5, LabRecorder .xdf, "
            "table with dataset.toml) as a live LSL stream.")
    p.add_argument("file", help="recording file")
    p.add_argument("--lsl", metavar="NAME", default=None, help="LSL stream name (default: the file's stem)")
    p.add_argument("--speed", type=float, default=1.0, help="speed factor 0.25-10, or 0 for unthrottled")
    p.add_argument("--loop", action="store_true", help="start again at the end")
    p.add_argument("--start", type=float, default=0.0, help="start offset in seconds")
    p.add_argument("--database", default=None, help="NinaPro database when the file name does not say (db1, db2, ...)")
    p.add_argument("--stream", default=None, help="the EMG stream of an .xdf file that holds several")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds of wall time")
    p.add_argument("--spin-ms", type=float, default=None,
                   help="wait the last this many ms before each block by spinning instead of sleeping "
                        "(default 2; the block period, e.g. 20, never sleeps: tightest timing, one core busy)")

    p = add("describe", _cmd_describe, "Show description catalogs, encode text, or run stage-1 text training and its report.")
    p.add_argument("action", nargs="?", default="list", help="list | show CATALOG | encode TEXT... | glove PATH... | report")
    p.add_argument("rest", nargs="*", help="arguments of the action")
    p.add_argument("--catalog", action="append", default=None, help="catalog name or .toml (repeatable; default: all)")
    p.add_argument("--model", default=None, help="encode: folder with a stage-1 text encoder and prototypes")
    p.add_argument("--top", type=int, default=5, help="encode: how many classes to list")
    p.add_argument("--out", default=None, help="glove: JSON file to write; report: folder (default docs/results/text)")
    p.add_argument("--steps", type=int, default=None, help="report: stage-1 training steps (default: the stage-1 default)")
    p.add_argument("--seed", type=int, default=0, help="report: seed of stage-1 training")
    p.add_argument("--device", default="cpu", help="report: torch device (cpu | cuda)")

    p = add("train", _cmd_train, "Train MyoSem (stage 1 text, stage 2 encoder, stage 3 alignment) from a config.")
    p.add_argument("config", help="experiment (models/experiments/) or model config name, or a .toml path")
    p.add_argument("--out", default=None, help="checkpoint folder (default runs/EXPERIMENT/MODEL-PROTOCOL)")
    p.add_argument("--data", default=None, help="dataset folder (overrides the config)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--seed", type=int, default=None, help="training seed (model init, batches, stage 1; the split keeps its own)")
    p.add_argument("--protocol", default=None, help="random | cross-user | cross-class | repetition | cross-dataset")
    p.add_argument("--test-data", default=None, metavar="DIR",
                   help="cross-dataset: train on the config's data, test on every window of the recordings in DIR")
    p.add_argument("--fold", type=int, default=None, help="cross-user fold to test (0-based; the config sets folds)")
    p.add_argument("--model", default=None,
                   help="myosem | tcn | cnn_bilstm | atzori_cnn | hudgins_linear | no_descriptors | no_queries | no_stage1 | text_baseline")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (the per-epoch log stays)")

    p = add("eval", _cmd_eval, "Evaluate a checkpoint both ways (EMG->text, text->EMG) under a protocol, or live (--live).")
    p.add_argument("checkpoint", help="checkpoint folder")
    p.add_argument("--data", default=None, help="dataset folder (default: the one it was trained on)")
    p.add_argument("--protocol", default=None,
                   help="test split of this protocol (default: the training protocol's); cross-dataset tests every window of --data")
    p.add_argument("--fold", type=int, default=None, help="cross-user fold (0-based)")
    p.add_argument("--out", default=None, help="folder for eval-PROTOCOL.json/.md or live-default.json/.md (default: the checkpoint)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--live", action="store_true",
                   help="measure the live default instead: simulated armband through the real Pipeline in real time")
    p.add_argument("--seconds", type=float, default=81.0, help="--live: seconds of live signal (default: two gesture cycles)")

    p = add("results", _cmd_results, "Train and evaluate MyoSem, baselines and ablations under every protocol; write the report.")
    p.add_argument("config", help="experiment name or .toml path with a [results] table (e.g. myosem-ninapro-db1)")
    p.add_argument("--out", default=None, help="report folder (default docs/results/EXPERIMENT)")
    p.add_argument("--work", default=None, help="folder for the runs' checkpoints (default runs/EXPERIMENT)")
    p.add_argument("--data", default=None, help="dataset folder (overrides the config)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--protocol", action="append", default=None, help="only this protocol (repeatable)")
    p.add_argument("--model", action="append", default=None, help="only this model variant (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs trained at once in worker processes, each with --threads (same numbers, less wall time)")
    p.add_argument("--report-only", action="store_true", help="redraw README.md and the heatmaps from the folder's results.json")

    p = add("bench", _cmd_bench, "Measure performance side by side with a baseline; writes a report.")
    p.add_argument("what", choices=["stream", "data", "model", "live", "resample", "size", "all"],
                   help="which benchmarks (all: every group but size, which installs two virtual environments)")
    p.add_argument("--out", default=None, help="folder for the JSON + Markdown report")
    p.add_argument("--quick", action="store_true", help="shorter runs (noisier numbers)")
    p.add_argument("--model", metavar="CKPT", default=None,
                   help="bench resample: also measure this checkpoint folder on the Myo data, beside the LDA baseline")

    p = add("export", _cmd_export,
            "Export a checkpoint for the edge runtime: ONNX graphs and a manifest that run on onnxruntime without torch.")
    p.add_argument("checkpoint", help="checkpoint folder")
    p.add_argument("--onnx", metavar="DIR", required=True,
                   help="folder to write (new or empty, or an earlier export, which is replaced)")
    p.add_argument("--text", action="store_true",
                   help="also export the checkpoint's text encoder and tokenizer (free-text queries without torch)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")

    p = add("live", _cmd_live, "Open the live retrieval window (default: simulated armband + bundled model).")
    p.add_argument("--source", default="simulated", help="simulated | lsl:NAME | brainflow:BOARD | replay:FILE")
    p.add_argument("--model", default=None, help="checkpoint or exported folder (default: the bundled model)")
    p.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                   help="torch (a checkpoint), onnx (a folder `myostream export --onnx` wrote, on onnxruntime), "
                        "auto (by the --model folder; default)")
    p.add_argument("--device", default="auto", help="torch device: auto | cpu | cuda")
    p.add_argument("--duration", type=float, default=None, help="close after this many seconds")
    p.add_argument("--query", action="append", default=[], metavar="TEXT",
                   help="a free-text description to trace against the live EMG (repeatable)")
    p.add_argument("--screenshot", metavar="PNG", default=None,
                   help="save a screenshot of the window to PNG when it closes (with --duration: docs, bug reports)")

    p = add("record", _cmd_record, "Record and label a calibration session, cue by cue.")
    p.add_argument("--device", default="simulated", help="device profile or lsl:NAME | brainflow:BOARD | replay:FILE")
    p.add_argument("--protocol", default="quick", help="calibration protocol name or .toml path")
    p.add_argument("--subject", default=None)
    p.add_argument("--session", default="1", help="session label (default: 1)")
    p.add_argument("--out", default="sessions", help="folder for session files")
    p.add_argument("--speed", type=float, default=1.0, help="run the cue timing this many times faster (demos, tests)")
    p.add_argument("--autostart", action="store_true", help="start recording as soon as the source streams (needs --subject)")
    p.add_argument("--review", metavar="FILE", default=None, help="open the label review of a recorded session instead")

    p = add("adapt", _cmd_adapt, "Fine-tune a model to a user's calibration sessions.")
    p.add_argument("--model", default=None, help="checkpoint folder (with --report: a base model to reuse)")
    p.add_argument("--sessions", default=None,
                   help="folder of session .h5 files (or .xdf files, tables with a dataset.toml), "
                        "or one recording file")
    p.add_argument("--out", default=None, help="adapted checkpoint folder (default: <model>-adapted-<subject>); "
                   "with --report: the report folder (default docs/results/adaptation)")
    p.add_argument("--holdout-rep", type=int, default=None, help="repetition held out for before/after scores (default: the last)")
    p.add_argument("--epochs", type=int, default=None, help="adaptation epochs in all (default 20: 12 head-only, 8 with the last encoder layer)")
    p.add_argument("--normalizer", choices=["refit", "keep"], default="refit",
                   help="re-fit the per-channel input statistics on the sessions (default) or keep the trained ones")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", choices=["simulated", "myo"], default=None,
                   help="regenerate a results report instead (docs/results/adaptation)")
    p.add_argument("--data", default=None, help="--report myo: the Myo armband dataset folder")
    p.add_argument("--work", default=None, help="--report: folder for base models and sessions (default runs/adaptation)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except MyostreamError as exc:
        print(f"myostream {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
