"""Install size: the torch-free edge runtime vs the full install, in two real virtual environments.

Both environments are made in a temporary folder from this checkout's wheel, with
``constraints.txt`` (as the README's commands install):

- edge: numpy, scipy, pylsl, onnxruntime and myostream itself without its other
  dependencies (``pip install --no-deps``): what ``myostream live --backend onnx`` and the
  pipeline need on a board. To show it is enough, the edge environment then runs the real
  pipeline on the simulated armband with the bundled checkpoint exported to ONNX (exported
  here, in the full environment), and must rank without torch installed. ``tokenizers`` is
  added afterwards and measured on its own: free-text queries on the board need it.
- full: ``pip install myostream`` with every dependency (torch, transformers, PyQt6, ...).

Size is the apparent size of each environment's ``site-packages`` (the bytes of its files,
as ``du --apparent-size``), so it does not depend on the file system. Slow (minutes: the full
install unpacks torch) and it needs the package index pip is configured with, so it is its own
group, ``myostream report bench size``, outside ``bench all``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from myostream.errors import MyostreamError
from myostream_reports.bench import Measurement

#: what the board installs besides myostream (the pipeline, the ranker, LSL)
EDGE_PACKAGES = ("numpy", "scipy", "pylsl", "onnxruntime")
#: added for free-text queries on the board
TEXT_PACKAGES = ("tokenizers",)

SMOKE = """
import json, sys
from myostream.runtime import make_pipeline
pipeline = make_pipeline("simulated", sys.argv[1])
got = []
with pipeline:
    while len(got) < 10:
        ranking = pipeline.queue.get(timeout=30.0)
        if ranking is None:
            raise SystemExit(f"no ranking: {pipeline.error!r}")
        got.append(ranking)
try:
    import torch  # noqa: F401
    has_torch = True
except ImportError:
    has_torch = False
print(json.dumps({"rankings": len(got), "best": got[-1].best.class_id, "torch_installed": has_torch}))
"""


def _checkout() -> Path:
    """The source checkout this myostream runs from (the size benchmark builds its wheel)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "pyproject.toml").is_file() or not (root / "constraints.txt").is_file():
        raise MyostreamError(
            "`myostream report bench size` builds myostream from its source checkout; "
            "run it from a clone of the repository."
        )
    return root


def _run(args: list[str], what: str) -> str:
    # in the temporary folder: from a checkout, `python -c` would import the checkout's myostream
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(args, capture_output=True, text=True, cwd=tempfile.gettempdir(), env=env)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise MyostreamError(f"{what} failed ({last[0]}); check that pip can reach its package index.")
    return done.stdout


def _venv(path: Path) -> Path:
    """A fresh virtual environment with pip; returns its python."""
    _run([sys.executable, "-m", "venv", str(path)], f"Creating the virtual environment {path.name}")
    return path / "bin" / "python"


def _pip(python: Path, *args: str, constraints: Path) -> None:
    command = [str(python), "-m", "pip", "install", "--quiet", "-c", str(constraints), *args]
    _run(command, f"pip install {' '.join(args)}")


def _site_packages(python: Path) -> Path:
    script = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(_run([str(python), "-c", script], "Finding site-packages").strip())


def _size_mb(folder: Path) -> float:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                total += os.lstat(path).st_size
    return total / 1e6


def _distributions(python: Path) -> dict[str, tuple[str, int]]:
    """Each distribution of an environment: its version and size in bytes (by its RECORD file)."""
    script = textwrap.dedent("""
        import json, os
        from importlib import metadata
        out = {}
        for d in metadata.distributions():
            files = [d.locate_file(f) for f in d.files or []]
            out[d.metadata["Name"]] = (d.version, sum(os.path.getsize(p) for p in files if os.path.isfile(p)))
        print(json.dumps(out))
    """)
    return {k: (v[0], v[1]) for k, v in json.loads(_run([str(python), "-c", script], "Listing distributions")).items()}


def _largest(dists: dict[str, tuple[str, int]], n: int = 6) -> str:
    top = sorted(dists.items(), key=lambda kv: -kv[1][1])[:n]
    return ", ".join(f"{name} {size / 1e6:.0f} MB" for name, (_, size) in top)


def run(quick: bool = False) -> list[Measurement]:
    from myostream.edge.export import export_onnx
    from myostream.runtime import bundled_checkpoint

    root = _checkout()
    constraints = root / "constraints.txt"
    with tempfile.TemporaryDirectory(prefix="myostream-size-") as tmp:
        tmp_path = Path(tmp)
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "-w",
                str(tmp_path / "wheels"),
                str(root),
            ],
            "Building the myostream wheel",
        )
        wheel = next((tmp_path / "wheels").glob("myostream-*.whl"))

        edge = _venv(tmp_path / "edge")
        _pip(edge, *EDGE_PACKAGES, constraints=constraints)
        _pip(edge, "--no-deps", str(wheel), constraints=constraints)
        edge_mb = _size_mb(_site_packages(edge))
        exported = export_onnx(bundled_checkpoint(), tmp_path / "onnx").path
        smoke = json.loads(
            _run([str(edge), "-c", SMOKE, str(exported)], "The pipeline in the edge environment")
            .strip()
            .splitlines()[-1]
        )
        if smoke["torch_installed"] or smoke["rankings"] < 10:
            raise MyostreamError(f"The edge environment did not rank on its own: {smoke}.")
        edge_dists = _distributions(edge)
        _pip(edge, *TEXT_PACKAGES, constraints=constraints)
        text_mb = _size_mb(_site_packages(edge)) - edge_mb

        full = _venv(tmp_path / "full")
        _pip(full, str(wheel), constraints=constraints)
        full_mb = _size_mb(_site_packages(full))
        full_dists = _distributions(full)
    versions = ", ".join(f"{p} {edge_dists[p][0]}" for p in EDGE_PACKAGES)
    return [
        Measurement(
            name="installed size, torch-free edge runtime (numpy, scipy, pylsl, onnxruntime, myostream)",
            value=edge_mb,
            unit="MB",
            baseline="full install",
            baseline_value=full_mb,
            details=(
                f"site-packages of two fresh virtual environments built from this checkout's wheel with "
                f"constraints.txt (apparent size; pip, setuptools and the venv's own files included in both); "
                f"edge: {versions} and myostream --no-deps; largest: {_largest(edge_dists)}. It ran the real "
                f"pipeline on the simulated armband with the bundled checkpoint exported to ONNX, torch not "
                f"installed: {smoke['rankings']} rankings. Free-text queries add tokenizers: +{text_mb:.1f} MB. "
                f"Full: pip install myostream; largest: {_largest(full_dists)}"
            ),
        ),
        Measurement(
            name="full install / torch-free edge runtime, installed size",
            value=full_mb / edge_mb,
            unit="x",
            details="the two sizes of the line above, measured in the same run",
        ),
    ]
