"""The public API on one page: every name resolves, and importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import myostream


def test_every_public_name_resolves():
    for name in myostream.__all__:
        assert getattr(myostream, name) is not None, name


def test_importing_the_package_imports_neither_torch_nor_qt():
    code = "import sys, myostream; print(sorted(m for m in ('torch', 'PyQt6', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
