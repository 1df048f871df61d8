"""The public API on one page: every name resolves, ``docs/api.md`` shows it and its cells run,
and importing the package stays light."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import myostream

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_every_public_name_resolves():
    for name in myostream.__all__:
        assert getattr(myostream, name) is not None, name


def test_importing_the_package_imports_neither_torch_nor_qt():
    code = "import sys, myostream; print(sorted(m for m in ('torch', 'PyQt6', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _blocks() -> list[tuple[str, str]]:
    """(fence info, code) of every fenced block of docs/api.md."""
    return re.findall(r"^```([^\n]*)\n(.*?)^```", API_PAGE.read_text(encoding="utf-8"), flags=re.M | re.S)


def test_the_api_page_shows_every_public_name_and_only_those():
    text = API_PAGE.read_text(encoding="utf-8")
    shown = set(re.findall(r"\bmyostream\.([A-Za-z_]\w*)", text))
    shown |= {name for code in re.findall(r"`([A-Za-z_]\w*)[(`]", text) for name in [code] if name in myostream.__all__}
    assert sorted(n for n in myostream.__all__ if n != "__version__" and n not in shown) == []
    assert sorted(n for n in shown if n not in myostream.__all__) == []
    assert any(info.strip() == "python" for info, _ in _blocks())


def test_the_api_page_runs_as_a_notebook(tmp_path, monkeypatch, capsys):
    """The ``python`` blocks, one after the other in one namespace (``python no-run`` ones need data or minutes)."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "api_page"}
    for info, code in _blocks():
        if info.strip() == "python":
            exec(compile(code, f"{API_PAGE}:block", "exec"), namespace)  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    assert "does not exist" in out or "no/such/file.mat" in out  # the error cell printed its sentence
    assert namespace["hop"].best.class_id in namespace["model"].class_ids
