"""What the reports that drive a window headless share: the offscreen Qt application, a waiter
that runs its event loop until the window gets somewhere, and a scratch user data folder (person
models and calibration sessions made for a report never land in the user's own)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class Wait(Protocol):
    """Drives the window while a report waits: the :class:`Waiter` here, or a test's qtbot."""

    def until(self, condition: Callable[[], bool], seconds: float) -> None: ...

    def settle(self, seconds: float) -> None: ...


def offscreen_app() -> Any:
    """The Qt application (offscreen unless a display was chosen), themed as the apps are."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from myostream.apps.widgets import apply_theme
    from PyQt6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    apply_theme(app)
    return app


class Waiter:
    """Runs the Qt event loop until a condition holds (headless: nothing else drives it)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def until(self, condition: Callable[[], bool], seconds: float) -> None:
        end = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("the window did not get there in time")
            self.app.processEvents()
            time.sleep(0.005)

    def settle(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        self.until(lambda: time.monotonic() > end, seconds + 1)


@contextmanager
def scratch_user_data() -> Iterator[str]:
    """A temporary user data folder for the duration (platformdirs' on Linux follows XDG_DATA_HOME)."""
    previous = os.environ.get("XDG_DATA_HOME")
    with tempfile.TemporaryDirectory() as data:
        os.environ["XDG_DATA_HOME"] = data
        try:
            yield data
        finally:
            if previous is None:
                os.environ.pop("XDG_DATA_HOME", None)
            else:
                os.environ["XDG_DATA_HOME"] = previous
