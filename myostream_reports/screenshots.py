"""``myostream report screenshots``: the calibration recorder and its review view, for the docs.

Records the ``quick`` protocol from the simulated armband (at 3x speed, into a temporary
folder), grabs the recorder during a hold and the review of the finished session, and
writes ``recorder.png`` and ``review.png`` (the command's default folder: ``docs/screenshots``).
Runs headless.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def screenshots_command(out: str | Path, speed: float = 3.0) -> int:
    """Write ``recorder.png`` and ``review.png`` into ``out``, recording with the cues ``speed`` times faster."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PyQt6 import QtWidgets

    from myostream.apps.recorder import RecorderWindow, recording_source
    from myostream.apps.widgets import apply_theme
    from myostream.calibrate import load_protocol
    from myostream.paths import output_dir

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    apply_theme(app)
    out, cwd = Path(out).resolve(), os.getcwd()
    output_dir(out, "the screenshots")  # before minutes of recording
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
            out_dir="sessions", speed=speed,
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
