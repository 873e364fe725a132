"""The layers DESIGN.md describes, held by reading every import of the project's own files.

- Adapters only fetch: ``marketsync/marketplaces/`` imports no app and no model.
- The wiring table is read only inside the engine (``marketsync/sync/``).
- No import cycle joins files of two different apps, or the engine and an app.

Imports inside functions count as much as those at the top of a file.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("connections", "orders", "offers", "listings", "inventory", "backship")
SKIP_PARTS = {"tests", "migrations", ".venv", "bench", "var", "node_modules"}


def _project_modules() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if SKIP_PARTS & set(relative.parts):
            continue
        name = ".".join(relative.with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


MODULES = _project_modules()


def _imports(path: Path, module: str) -> set[str]:
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
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


GRAPH = {module: _imports(path, module) for module, path in MODULES.items()}


def _room(module: str) -> str:
    """Which part of the house a module belongs to: an app, the engine, or another marketsync package."""
    parts = module.split(".")
    if parts[0] == "marketsync" and len(parts) > 1:
        return "marketsync." + parts[1]
    return parts[0]


def test_the_graph_was_read():
    assert "marketsync.sync.wiring" in GRAPH and "orders.services" in GRAPH
    assert "orders.services" in GRAPH["marketsync.sync.wiring"]


def test_adapters_import_no_app_and_no_model():
    offenders = {
        module: sorted(target for target in targets if _room(target) in APPS)
        for module, targets in GRAPH.items()
        if module.startswith("marketsync.marketplaces")
    }
    assert {m: t for m, t in offenders.items() if t} == {}
    for module, path in MODULES.items():
        if module.startswith("marketsync.marketplaces"):
            assert "django.db" not in path.read_text(), f"{module} touches the database layer"


def test_only_the_engine_imports_the_wiring_table():
    importers = sorted(m for m, targets in GRAPH.items() if "marketsync.sync.wiring" in targets)
    assert importers and all(m.startswith("marketsync.sync.") for m in importers), importers


def test_no_import_cycle_crosses_two_apps_or_the_engine_and_an_app():
    # Tarjan's strongly connected components over the file graph.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH.get(node, ()):
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
            components.append(component)

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    crossing = [sorted(c) for c in components if len({_room(m) for m in c}) > 1]
    assert not crossing, "\n".join(" -> ".join(c) for c in crossing)
