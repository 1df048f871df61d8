"""Screenshots of calibrating from the live window, for the README's "with your own armband" steps.

``python -m myostream.apps.live_screenshots --out docs/screenshots`` opens the live window on
the simulated armband with the bundled model, presses Calibrate…, records the ``quick``
protocol (at 3x speed) as person "Ada", lets the person model be made in the background and
go live, and writes ``calibrate-1-form.png``, ``calibrate-2-record.png``,
``calibrate-3-model.png`` and ``calibrate-4-live.png``. Runs headless; the person model and
the session go to a temporary data folder, never the user's own.
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
    parser.add_argument("--out", default="docs/screenshots", help="folder for the calibrate-*.png files")
    parser.add_argument("--speed", type=float, default=3.0, help="cue speed-up while recording")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as data:
        os.environ["XDG_DATA_HOME"] = data  # platformdirs' user data folder on Linux: keep Ada's model out of yours
        from PyQt6 import QtWidgets

        from .live import LiveWindow
        from .widgets import apply_theme

        app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
        apply_theme(app)

        def wait(condition, seconds: float) -> None:
            end = time.monotonic() + seconds
            while not condition():
                if time.monotonic() > end:
                    raise TimeoutError("the window did not get there in time")
                app.processEvents()
                time.sleep(0.005)

        def shot(name: str, settle: float = 0.5) -> None:
            end = time.monotonic() + settle
            wait(lambda: time.monotonic() > end, settle + 1)
            window.grab().save(str(out / name))

        window = LiveWindow(device="cpu")
        window.resize(1440, 880)
        window.show()
        window.start()
        wait(lambda: window.rankings.updates > 20, 60)
        panel = window.calibration
        window.calibrate(protocol="quick", person="Ada", speed=args.speed)
        shot("calibrate-1-form.png")
        panel.start()
        wait(lambda: panel.recorder is not None and panel.recorder.state().completed >= 3
             and panel.recorder.state().phase == "hold", 120)
        shot("calibrate-2-record.png", 0.6)
        wait(lambda: panel.page == "model" and panel.model_bar.value() > 300, 600)
        shot("calibrate-3-model.png", 0.1)
        wait(lambda: "live_s" in panel.timings, 600)
        shot("calibrate-4-live.png", 1.5)
        window.close()
    print(f"wrote calibrate-1-form.png … calibrate-4-live.png to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
