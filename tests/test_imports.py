"""How the package's modules depend on each other, read from their source (ast), and what the runtime imports.

- no import circle between modules (an import inside a function counts: it is an edge all the same);
- one convention for command-line handlers: ``myostream/cli.py`` declares the arguments and turns
  argparse's Namespace into typed calls, so no other module imports argparse;
- the runtime does not import the report writers (``myostream_reports``) or matplotlib.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_modules() -> dict[str, Path]:
    """Every module of the distribution (``myostream``, its mapped folders, ``myostream_reports``) -> its file."""
    mapped = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    folders = {"myostream": ROOT / "myostream", "myostream_reports": ROOT / "myostream_reports",
               **{name: ROOT / folder for name, folder in mapped.items()}}
    modules = {}
    for package, folder in folders.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if all(p.isidentifier() for p in parts):
                modules.setdefault(".".join((package, *parts)), path)
    return modules


def imported_names(module: str, path: Path, tree: ast.Module) -> list[str]:
    """The dotted names ``module`` imports (relative imports resolved; ``from X import y`` gives X.y and X)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names += [f"{base}.{a.name}" for a in node.names] + [base]
    return names


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges = set()
        for name in imported_names(module, path, ast.parse(path.read_text(encoding="utf-8"))):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                edges.add(name)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_module_walk_sees_the_package_and_its_mapped_folders():
    graph = import_graph()
    assert {"myostream.cli", "myostream.apps.live", "myostream_reports.transfer",
            "myostream_reports.benchmarks.ring"} <= set(graph)
    assert "myostream.train.adapt" in graph["myostream_reports.transfer"]
    assert "myostream.apps.widgets" in graph["myostream.apps.recorder"]  # apps' own edges are seen


def test_no_import_circle_between_modules():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_cli_uses_argparse():
    """Library functions take typed arguments; the Namespace never leaves ``myostream/cli.py``."""
    offenders = []
    for module, path in package_modules().items():
        if module == "myostream.cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(n == "argparse" or n.startswith("argparse.") for n in imported_names(module, path, tree)):
            offenders.append(f"{module} imports argparse")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                    if arg.annotation is not None and "Namespace" in ast.unparse(arg.annotation):
                        offenders.append(f"{module}.{node.name}({arg.arg}: {ast.unparse(arg.annotation)})")
    assert offenders == []


def test_the_runtime_does_not_import_the_report_writers():
    code = (
        "import json, sys\n"
        "import myostream, myostream.runtime, myostream.stream.pipeline, myostream.train.run\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('myostream_reports', 'matplotlib'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
