"""The project's import graph, file by file, read from the code (nothing is imported or run).

    .venv/bin/python bench/import_graph.py [--root DIR]

Prints the import edges that cross from one part of the house to another (an app,
the engine ``marketsync/sync``, the adapters ``marketsync/marketplaces``, …) counted
per pair, every import cycle that joins files of two parts, the adapter files that
import an app, and the files outside the engine that import the wiring table.
``tests/test_architecture.py`` holds the same figures at zero. Imports inside
functions count as much as those at the top of a file.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter
from pathlib import Path

APPS = ("connections", "orders", "offers", "listings", "inventory", "backship")
SKIP_PARTS = {"tests", "migrations", ".venv", "bench", "var", "node_modules", ".git"}
WIRING = "marketsync.sync.wiring"


def project_modules(root: Path) -> dict[str, Path]:
    modules = {}
    for path in root.rglob("*.py"):
        relative = path.relative_to(root)
        if SKIP_PARTS & set(relative.parts):
            continue
        name = ".".join(relative.with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def file_imports(path: Path, module: str, modules: dict[str, Path]) -> set[str]:
    """The project modules a file imports (``from a.b import c`` is ``a.b.c`` when that is a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = project_modules(root)
    return {module: file_imports(path, module, modules) for module, path in modules.items()}


def room(module: str) -> str:
    """Which part of the house a module belongs to: an app, the engine, the adapters, another marketsync package."""
    parts = module.split(".")
    if parts[0] == "marketsync" and len(parts) > 1:
        return "marketsync." + parts[1]
    return parts[0]


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def crossing_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles whose files sit in more than one part of the house."""
    return [sorted(c) for c in strongly_connected(graph) if len({room(m) for m in c}) > 1]


def adapter_app_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((m, t) for m, targets in graph.items() if m.startswith("marketsync.marketplaces")
                  for t in targets if room(t) in APPS)


def wiring_importers_outside_engine(graph: dict[str, set[str]]) -> list[str]:
    return sorted(m for m, targets in graph.items() if WIRING in targets and not m.startswith("marketsync.sync."))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    graph = import_graph(args.root)
    edges = Counter((room(m), room(t)) for m, targets in graph.items() for t in targets if room(m) != room(t))
    print(f"files: {len(graph)}; import edges: {sum(len(t) for t in graph.values())}; "
          f"crossing parts of the house: {sum(edges.values())}")
    for (source, target), count in sorted(edges.items()):
        back = edges.get((target, source), 0)
        print(f"  {source:28s} -> {target:28s} {count:3d}{'   (and back: ' + str(back) + ')' if back else ''}")
    cycles = crossing_cycles(graph)
    print(f"import cycles joining two parts: {len(cycles)}")
    for cycle in cycles:
        print("  " + " <-> ".join(cycle))
    offenders = adapter_app_imports(graph)
    print(f"adapter files importing an app: {len({m for m, _ in offenders})} ({len(offenders)} imports)")
    for module, target in offenders:
        print(f"  {module} -> {target}")
    outside = wiring_importers_outside_engine(graph)
    print(f"files outside the engine importing the wiring table: {len(outside)}")
    for module in outside:
        print(f"  {module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
