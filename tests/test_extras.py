"""Optional extras: a command that needs a package the user did not install names the extra
that brings it, in one sentence (a real process with the package made unimportable)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from myostream.extras import EXTRAS, missing_extra

BLOCK = """
import sys
sys.modules[{name!r}] = None  # as if the extra were not installed: importing it raises ModuleNotFoundError
from myostream.cli import main
sys.exit(main({argv!r}))
"""


def run_without(name: str, argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK.format(name=name, argv=argv)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("name", "argv", "extra"),
    [
        ("PyQt6", ["live"], "gui"),
        ("torch", ["eval", "models/bundled/simulated"], "torch"),
        ("brainflow", ["stream", "--source", "brainflow-synthetic", "--duration", "1"], "brainflow"),
    ],
)
def test_a_command_without_its_extra_names_the_extra(name, argv, extra):
    done = run_without(name, argv)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert f"pip install 'myostream[{extra}]'" in lines[0] and name in lines[0]


def test_devices_says_which_boards_need_the_brainflow_extra():
    done = run_without("brainflow", ["devices"])
    assert done.returncode == 0, done.stderr
    synthetic = next(line for line in done.stdout.splitlines() if line.startswith("brainflow-synthetic"))
    assert " no " in synthetic and "myostream[brainflow]" in synthetic


def test_every_extra_named_exists_in_pyproject():
    import tomllib
    from pathlib import Path

    extras = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert {extra for extra, _ in EXTRAS.values()} <= set(extras)


def test_other_missing_modules_are_not_explained_away():
    assert missing_extra(ModuleNotFoundError("No module named 'nothing_like_it'", name="nothing_like_it")) is None
