"""Reports computed from the project itself (not trained): ``myostream report WHAT``.

Each report is a module with a ``main(args) -> int``; the generated file is committed and
names the command that made it.
"""

from __future__ import annotations

import argparse


def report_command(args: argparse.Namespace) -> int:
    """``myostream report reliability [--out FILE] [--only CASE]``, ``myostream report transfer [--data DIR]`` or
    ``myostream report rejection [--data DIR]``."""
    if args.what == "rejection":
        from myostream_reports.rejection import report_rejection

        report_rejection(args.data or "../shared/data", args.out or "docs/results/rejection",
                         args.work or "runs/rejection", datasets=tuple(args.dataset or ("db1", "myo")))
        return 0
    if args.what == "transfer":
        from myostream_reports.transfer import report_transfer

        report_transfer(args.data or "../shared/data", args.out or "docs/results/transfer", args.work or "runs/transfer",
                        datasets=tuple(args.dataset or ("myo", "db1")), validate=not args.no_validation)
        return 0
    from myostream_reports import reliability

    return reliability.main(args)
