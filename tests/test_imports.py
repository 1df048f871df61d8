"""How the package's modules depend on each other, read from their source (ast), and what the runtime imports.

- no import circle between modules (an import inside a function counts: it is an edge all the same);
- no module imports a higher layer (:data:`LAYERS`): the shared records on the ground floor, the
  command-line interface on top;
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
    folders = {
        "myostream": ROOT / "myostream",
        "myostream_reports": ROOT / "myostream_reports",
        **{name: ROOT / folder for name, folder in mapped.items()},
    }
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


#: The package's layers, lowest first: a module may import its own layer and the ones below, never one above.
#: A module belongs to the longest prefix that names it (``myostream`` alone is the package's root module).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "ground floor: records, errors, extras, paths, file schema, shipped data folders",
        (
            "myostream",
            "myostream.errors",
            "myostream.extras",
            "myostream.records",
            "myostream.paths",
            "myostream.resources",
            "myostream.schema",
            "myostream.torchdevice",
            "myostream.devices",
            "myostream.models",
            "myostream.calibration",
        ),
    ),
    ("what a model's windows went through and when it is confident", ("myostream.preprocess", "myostream.rejection")),
    ("streaming", ("myostream.stream",)),
    ("recorded data", ("myostream.data",)),
    ("model and language", ("myostream.model", "myostream.text")),
    ("edge runtime", ("myostream.edge",)),
    ("sources by name, models by path, pipelines ready to run", ("myostream.sources", "myostream.runtime")),
    ("training, evaluation, adaptation", ("myostream.train",)),
    (
        "calibration sessions and person models",
        ("myostream.calibrate", "myostream.recorder", "myostream.person_models"),
    ),
    (
        "command handlers and apps",
        (
            "myostream.stream.commands",
            "myostream.data.commands",
            "myostream.text.commands",
            "myostream.train.commands",
            "myostream.apps",
        ),
    ),
    ("reports", ("myostream_reports",)),
    ("command line", ("myostream.cli",)),
)


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of ``module``'s longest matching prefix; -1 when none names it."""
    best, found = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            named = module == prefix or (prefix != "myostream" and module.startswith(prefix + "."))
            if named and len(prefix) > best:
                best, found = len(prefix), i
    return found


def test_the_module_walk_sees_the_package_and_its_mapped_folders():
    graph = import_graph()
    assert {
        "myostream.cli",
        "myostream.apps.live",
        "myostream_reports.transfer",
        "myostream_reports.benchmarks.ring",
    } <= set(graph)
    assert "myostream.train.adapt" in graph["myostream_reports.transfer"]
    assert "myostream.apps.widgets" in graph["myostream.apps.recorder"]  # apps' own edges are seen


def test_no_import_circle_between_modules():
    assert cycles(import_graph()) == []


def test_every_module_has_a_layer():
    assert [m for m in import_graph() if layer_of(m) < 0] == []


def test_no_module_imports_a_higher_layer():
    """Streaming never imports recorded data, the model never imports training, the runtime never the apps."""
    upward = [
        f"{m} ({LAYERS[layer_of(m)][0]}) -> {e} ({LAYERS[layer_of(e)][0]})"
        for m, edges in import_graph().items()
        for e in sorted(edges)
        if layer_of(m) >= 0 and layer_of(e) > layer_of(m)
    ]  # a module with no layer fails the test above
    assert upward == []


def test_the_layer_check_sees_an_upward_import():
    assert layer_of("myostream.stream.replay") < layer_of("myostream.data.readers")
    assert layer_of("myostream.stream.commands") > layer_of("myostream.data.readers") > layer_of("myostream.records")
    assert layer_of("myostream") == 0 and layer_of("myostream.cli") == len(LAYERS) - 1


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
