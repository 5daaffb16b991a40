"""The import structure of ``src/distillery``, read from the source with ``ast`` (nothing is imported).

- no cycle between modules, and none between packages (``distillery.train`` -> ``distillery.export``
  -> ``distillery.train`` ...), function-local imports included;
- no module imports a private (``_name``) name from another distillery module;
- ``runtime/`` (what every scorer wheel vendors) imports only itself, the filter spec, the
  prefilter and the errors module;
- no module over 500 lines.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "distillery"
RUNTIME_MAY_IMPORT = {"distillery.filters.spec", "distillery.filters.prefilter", "distillery.errors"}


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(mod: str, node: ast.ImportFrom, path: Path) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(src: Path = SRC) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """(module -> distillery modules it imports, [(importer, module, private name)])."""
    modules = {module_name(p, src): p for p in src.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    private: list[tuple[str, str, str]] = []
    for mod, path in modules.items():
        graph[mod]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [(a.name, None) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, node, path)
                targets = []
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    targets.append((sub, None) if sub in modules else (base, a.name))
            else:
                continue
            for target, name in targets:
                if not target.startswith("distillery"):
                    continue
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target != mod:
                    graph[mod].add(target)
                if name and name.startswith("_") and not name.startswith("__") and target != mod:
                    private.append((mod, target, name))
    return graph, private


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def package_of(mod: str) -> str:
    parts = mod.split(".")
    return ".".join(parts[:2])  # distillery.<package or top-level module>


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for a, targets in graph.items():
        for b in targets:
            pa, pb = package_of(a), package_of(b)
            if pa != pb and pa != "distillery" and pb != "distillery":
                out[pa].add(pb)
    return out


def test_the_checker_finds_a_cycle_and_a_private_import(tmp_path):
    pkg = tmp_path / "distillery"
    (pkg / "a").mkdir(parents=True)
    (pkg / "b").mkdir()
    for f in ("__init__.py", "a/__init__.py", "b/__init__.py"):
        (pkg / f).write_text("")
    (pkg / "a" / "x.py").write_text("from distillery.b.y import _helper\n")
    (pkg / "b" / "y.py").write_text("def f():\n    from distillery.a import x\n")
    graph, private = import_graph(pkg)
    assert cycles(graph) == [["distillery.a.x", "distillery.b.y"]]
    assert cycles(package_graph(graph)) == [["distillery.a", "distillery.b"]]
    assert private == [("distillery.a.x", "distillery.b.y", "_helper")]


def test_no_module_cycles():
    graph, _ = import_graph()
    assert cycles(graph) == []


def test_no_package_cycles():
    graph, _ = import_graph()
    assert cycles(package_graph(graph)) == []


def test_no_private_names_cross_modules():
    _, private = import_graph()
    assert private == []


def test_runtime_imports_only_what_the_wheel_vendors():
    graph, _ = import_graph()
    bad = {
        m: sorted(t for t in targets if not t.startswith("distillery.runtime") and t not in RUNTIME_MAY_IMPORT)
        for m, targets in graph.items()
        if m.startswith("distillery.runtime")
    }
    assert {m: t for m, t in bad.items() if t} == {}


def test_nothing_imports_upward_into_runtime_from_runtime_users():
    """Every other package may import runtime/, runtime/ imports none of them (checked above); and
    the vendored set is exactly runtime/ + spec + prefilter + errors."""
    from distillery.export.package import VENDORED

    assert set(VENDORED) == {
        "errors.py",
        "filters/spec.py",
        "filters/prefilter.py",
        *(p.relative_to(SRC).as_posix() for p in (SRC / "runtime").glob("*.py")),
    }


@pytest.mark.parametrize("limit", [500])
def test_no_module_over_the_size_limit(limit):
    big = {
        p.relative_to(SRC).as_posix(): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > limit
    }
    assert big == {}
