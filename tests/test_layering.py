"""Imports run one way: base ← schema (graph) and worker (jobs) ← api.

The module import graph of api/, graph/ and jobs/ is read with `ast`, counting
every import: at module level, inside functions, and under `if TYPE_CHECKING:`
(a type-only import still ties two modules together). The rules:

- the shared base (`graph.settings`, `graph.errors`, `graph.sources.*`, the task
  contract `graph.taskqueue.*`) imports nothing but the base;
- nothing in `graph` imports `jobs` or `api`;
- `jobs` imports only the base of `graph`, never its schema modules, and never `api`;
- nothing outside `api` imports `api`;
- no import cycle among `graph`'s modules but Match ⇄ Region (`graph.matches` ⇄
  `graph.regions`, which `strawberry.lazy` handles: a graph schema's own cycle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "graph", "jobs")
BASE = ("graph.settings", "graph.errors", "graph.sources", "graph.taskqueue")
ALLOWED_CYCLES = [frozenset({"graph.matches", "graph.regions"})]

ImportGraph = Mapping[str, frozenset[str]]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules one import statement names (every `a.b` of `from a import b`
    that is a module, else `a`)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:  # relative: resolve against this module's package
        package = module.split(".")
        if not is_package:
            package.pop()
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([base] if base else [])])
    names = {f"{base}.{alias.name}" for alias in node.names}
    modules = {name for name in names if name in known}
    return modules if len(modules) == len(names) else modules | {base}


def import_graph(root: Path = ROOT) -> dict[str, frozenset[str]]:
    """Each module of api/, graph/ and jobs/ and the project modules it imports."""
    files = [f for package in PACKAGES for f in sorted((root / package).rglob("*.py"))]
    known = {module_name(f, root) for f in files}
    graph: dict[str, frozenset[str]] = {}
    for path in files:
        module = module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for node in ast.walk(tree):  # every level: functions and TYPE_CHECKING blocks too
            if isinstance(node, ast.Import | ast.ImportFrom):
                found = _imported(node, module, path.name == "__init__.py", known)
                targets |= {t for t in found if _within(t, PACKAGES)}
        graph[module] = frozenset(targets - {module})
    return graph


def violations(graph: ImportGraph) -> list[str]:
    """Every import that runs the wrong way, as `importer -> imported: rule`."""
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            rule = _broken_rule(module, target)
            if rule:
                found.append(f"{module} -> {target}: {rule}")
    return found


def _broken_rule(module: str, target: str) -> str | None:
    if _within(target, ["api"]) and not _within(module, ["api"]):
        return "nothing outside api imports api"
    if _within(module, BASE) and not _within(target, BASE):
        return "the shared base imports only the base"
    if _within(module, ["graph"]) and _within(target, ["jobs"]):
        return "graph never imports jobs"
    if _within(module, ["jobs"]) and _within(target, ["graph"]) and not _within(target, BASE):
        return "jobs imports only graph's base, never its schema modules"
    return None


def cycles(graph: ImportGraph, within: str = "graph") -> list[frozenset[str]]:
    """The import cycles (strongly connected components of 2+ modules) among `within`'s
    modules (Tarjan)."""
    nodes = sorted(m for m in graph if _within(m, [within]))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if not _within(target, [within]) or target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in nodes:
        if node not in index:
            visit(node)
    return found


def unexpected_cycles(graph: ImportGraph) -> list[list[str]]:
    return [sorted(c) for c in cycles(graph) if c not in ALLOWED_CYCLES]


def test_the_graph_is_read_from_every_package() -> None:
    graph = import_graph()
    assert {"api.app", "graph.schema", "graph.taskqueue.client", "jobs.worker"} <= set(graph)
    # Imports inside functions and under TYPE_CHECKING are edges too.
    assert "jobs.worker" in graph["api.cli"]  # imported inside a function
    assert "graph.regions" in graph["graph.matches"]  # imported under TYPE_CHECKING


def test_imports_run_one_way() -> None:
    assert violations(import_graph()) == []


def test_no_import_cycle_in_graph_but_match_and_region() -> None:
    graph = import_graph()
    assert unexpected_cycles(graph) == []
    assert ALLOWED_CYCLES[0] in cycles(graph)  # the checker does see the one that is there


def _with_edge(graph: ImportGraph, module: str, target: str) -> dict[str, frozenset[str]]:
    fake = dict(graph)
    fake[module] = fake.get(module, frozenset()) | {target}
    return fake


def test_a_back_edge_is_caught() -> None:
    """Each rule fails on a synthetic module map that breaks it."""
    graph = import_graph()
    for module, target, rule in [
        ("graph.sources.catalog", "graph.matches", "the shared base imports only the base"),
        ("graph.taskqueue.client", "graph.context", "the shared base imports only the base"),
        ("graph.live", "jobs.worker", "graph never imports jobs"),
        ("graph.tasks", "jobs.predict", "graph never imports jobs"),
        ("jobs.predict", "graph.tasks", "jobs imports only graph's base"),
        ("jobs.worker", "api.app", "nothing outside api imports api"),
        ("graph.settings", "api.cli", "nothing outside api imports api"),
    ]:
        found = violations(_with_edge(graph, module, target))
        assert len(found) == 1, (module, target, found)
        assert found[0].startswith(f"{module} -> {target}: {rule}")


def test_a_new_cycle_is_caught() -> None:
    graph = import_graph()
    # Context building the concrete loaders again: context -> batching -> matches -> context.
    fake = _with_edge(graph, "graph.context", "graph.batching")
    assert unexpected_cycles(fake)
    # A synthetic map of three modules in a circle, and the allowed pair alone.
    tiny = {
        "graph.a": frozenset({"graph.b"}),
        "graph.b": frozenset({"graph.c"}),
        "graph.c": frozenset({"graph.a"}),
        "graph.matches": frozenset({"graph.regions"}),
        "graph.regions": frozenset({"graph.matches"}),
    }
    assert unexpected_cycles(tiny) == [["graph.a", "graph.b", "graph.c"]]


def test_a_back_edge_written_in_a_file_is_caught(tmp_path: Path) -> None:
    """The reader counts function-level and TYPE_CHECKING imports of a real tree."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "graph" / "sources").mkdir()
    (tmp_path / "graph" / "sources" / "__init__.py").write_text("")
    (tmp_path / "graph" / "matches.py").write_text("")
    (tmp_path / "jobs" / "worker.py").write_text("")
    (tmp_path / "graph" / "sources" / "x.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from graph import matches\n"
    )
    (tmp_path / "graph" / "live.py").write_text("def f():\n    import jobs.worker\n")
    assert violations(import_graph(tmp_path)) == [
        "graph.live -> jobs.worker: graph never imports jobs",
        "graph.sources.x -> graph.matches: the shared base imports only the base",
    ]
