"""Reports computed from the project itself (not trained): ``myostream report WHAT``.

Each report is a module with a ``main(args) -> int``; the generated file is committed and
names the command that made it.
"""

from __future__ import annotations

import argparse


def report_command(args: argparse.Namespace) -> int:
    """``myostream report reliability [--out FILE] [--only CASE]``."""
    from myostream_reports import reliability

    reports = {"reliability": reliability.main}
    return reports[args.what](args)
