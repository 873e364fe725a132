"""The layers DESIGN.md describes, held by reading every import of the project's own files
(``bench/import_graph.py`` prints the same figures).

- Adapters only fetch: ``marketsync/marketplaces/`` imports no app and no model.
- The wiring table is read only inside the engine (``marketsync/sync/``).
- No import cycle joins files of two different apps, or the engine and an app.
"""

from __future__ import annotations

from pathlib import Path

from bench.import_graph import (
    WIRING,
    adapter_app_imports,
    crossing_cycles,
    import_graph,
    project_modules,
    wiring_importers_outside_engine,
)

ROOT = Path(__file__).resolve().parent.parent
GRAPH = import_graph(ROOT)


def test_the_graph_was_read():
    assert "orders.services" in GRAPH[WIRING] and "marketsync.sync.wiring" in GRAPH["marketsync.sync.runner"]


def test_adapters_import_no_app_and_no_model():
    assert adapter_app_imports(GRAPH) == []
    touching_db = [m for m, path in project_modules(ROOT).items()
                   if m.startswith("marketsync.marketplaces") and "django.db" in path.read_text()]
    assert touching_db == []


def test_only_the_engine_imports_the_wiring_table():
    assert wiring_importers_outside_engine(GRAPH) == []


def test_no_import_cycle_crosses_two_apps_or_the_engine_and_an_app():
    cycles = crossing_cycles(GRAPH)
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)
