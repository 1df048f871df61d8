"""Exported ONNX folders for the edge, pipeline and live-app tests (made once per test run)."""

from __future__ import annotations

import functools
from pathlib import Path

from myostream.edge.export import export_onnx
from myostream.runtime import bundled_checkpoint


@functools.cache
def bundled_export(root: Path) -> Path:
    """The bundled simulated-armband checkpoint exported with its text encoder."""
    return export_onnx(bundled_checkpoint(), root / "bundled-onnx", text=True).path
