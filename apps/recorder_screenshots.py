"""Screenshots of the calibration recorder and its review view, for the docs.

``python -m myostream.apps.recorder_screenshots --out docs/screenshots`` records the
``quick`` protocol from the simulated armband (at 3x speed, into a temporary folder),
grabs the recorder during a hold and the review of the finished session, and writes
``recorder.png`` and ``review.png``. Runs headless.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/screenshots", help="folder for recorder.png and review.png")
    parser.add_argument("--speed", type=float, default=3.0, help="cue speed-up while recording")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PyQt6 import QtWidgets

    from myostream.calibrate import load_protocol

    from .recorder import RecorderWindow, recording_source
    from .widgets import apply_theme

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    apply_theme(app)
    out, cwd = Path(args.out).resolve(), os.getcwd()
    out.mkdir(parents=True, exist_ok=True)
    protocol = load_protocol("quick")

    def wait(condition, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("the recorder did not get there in time")
            app.processEvents()
            time.sleep(0.005)

    def settle(seconds: float) -> None:
        end = time.monotonic() + seconds
        wait(lambda: time.monotonic() > end, seconds + 1)

    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the form shows the default relative folder, as a user would see it
        window = RecorderWindow(
            recording_source("simulated", [protocol]), protocol, device="simulated", subject="S01",
            out_dir="sessions", speed=args.speed,
        )
        window.resize(1280, 820)
        window.show()
        wait(window.start_button.isEnabled, 30)
        window.start_recording()
        wait(lambda: window.run.state(0).completed >= 4 and window.run.phase == "hold", 120)
        settle(0.8)  # most of the way into the hold: the traces show the contraction
        window.grab().save(str(out / "recorder.png"))
        wait(lambda: window.review is not None, 300)
        review = window.review
        review.plot.getPlotItem().setXRange(0.0, 16.0, padding=0.0)  # zoomed in: captions fit
        review.select(5)
        settle(0.5)
        window.grab().save(str(out / "review.png"))
        window.close()
        os.chdir(cwd)
    print(f"wrote {out / 'recorder.png'} and {out / 'review.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
