"""``myostream report screenshots``: the recorder, its review view and calibrating from the live
window, for the README and the docs.

Runs headless on the simulated armband. ``recorder``: records the ``quick`` protocol (cues
``speed`` times faster, into a temporary folder), grabs the recorder during a hold and the
review of the finished session → ``recorder.png``, ``review.png``. ``calibrate``: opens the
live window with the bundled model, presses Calibrate…, records ``quick`` as person "Ada",
lets the person model be made in the background: the form, a cue, the score before → after with
the model live, back to the rankings with Ada's model → ``calibrate-1-form.png`` …
``calibrate-4-live.png``; the person model and the session go to a temporary data folder,
never the user's own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from myostream_reports.headless import Wait, Waiter, offscreen_app, scratch_user_data

#: the screenshot sets, in the order they are made
SETS = ("recorder", "calibrate")


def screenshots_command(out: str | Path, speed: float = 3.0, which: Sequence[str] = SETS) -> int:
    """Write the screenshot sets ``which`` into ``out``, recording with the cues ``speed`` times faster."""
    from myostream.paths import output_dir

    app = offscreen_app()
    out = Path(out).resolve()
    output_dir(out, "the screenshots")  # before minutes of recording
    make = {"recorder": _recorder, "calibrate": _calibrate}
    for name in which:
        written = make[name](out, speed, Waiter(app))
        print(f"wrote {', '.join(written)} to {out}")
    return 0


def _recorder(out: Path, speed: float, wait: Wait) -> list[str]:
    from myostream.apps.recorder import RecorderWindow, recording_source

    from myostream.calibrate import load_protocol

    protocol = load_protocol("quick")
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the form shows the default relative folder, as a user would see it
        try:
            window = RecorderWindow(
                recording_source("simulated", [protocol]),
                protocol,
                device="simulated",
                subject="S01",
                out_dir="sessions",
                speed=speed,
            )
            window.resize(1280, 820)
            window.show()
            wait.until(window.start_button.isEnabled, 30)
            window.start_recording()
            wait.until(lambda: window.run.state(0).completed >= 4 and window.run.phase == "hold", 120)
            wait.settle(0.8)  # most of the way into the hold: the traces show the contraction
            window.grab().save(str(out / "recorder.png"))
            wait.until(lambda: window.review is not None, 300)
            review = window.review
            review.plot.getPlotItem().setXRange(0.0, 16.0, padding=0.0)  # zoomed in: captions fit
            review.select(5)
            wait.settle(0.5)
            window.grab().save(str(out / "review.png"))
            window.close()
        finally:
            os.chdir(cwd)
    return ["recorder.png", "review.png"]


def _calibrate(out: Path, speed: float, wait: Wait) -> list[str]:
    names = ["calibrate-1-form.png", "calibrate-2-record.png", "calibrate-3-model.png", "calibrate-4-live.png"]
    with scratch_user_data():  # keep Ada's model out of the user's own data folder
        from myostream.apps.live import TRACE_SECONDS, LiveWindow

        window = LiveWindow(device="cpu")
        window.resize(1440, 880)
        window.show()
        window.start()
        try:
            # the traces span their whole five seconds before the first picture
            wait.until(
                lambda: (
                    window.rankings.updates > 20
                    and window.pipeline.ring.count >= TRACE_SECONDS * window.pipeline.info.rate
                ),
                60,
            )
            panel = window.calibration
            window.calibrate(protocol="quick", person="Ada", speed=speed)
            wait.settle(0.5)
            window.grab().save(str(out / names[0]))
            panel.start()
            wait.until(
                lambda: (
                    panel.recorder is not None
                    and panel.recorder.state().completed >= 3
                    and panel.recorder.state().phase == "hold"
                ),
                120,
            )
            wait.settle(0.6)
            window.grab().save(str(out / names[1]))
            wait.until(lambda: "live_s" in panel.timings, 600)
            wait.settle(1.0)
            window.grab().save(str(out / names[2]))  # the score before -> after, the person's model ranking
            seen = window.rankings.updates
            panel.back_button.click()
            wait.until(lambda: window.rankings.updates > seen + 20, 60)  # ranked by Ada's model a while
            wait.settle(1.0)
            window.grab().save(str(out / names[3]))
        finally:
            window.close()
    return names
