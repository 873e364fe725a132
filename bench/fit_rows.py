"""What fitting rows to their columns costs a sync: ``fit_row`` on Refurbed orders and their items.

    .venv/bin/python bench/fit_rows.py [--orders 5000]

Orders come from the simulator in process (its ListOrders answers, mapped to records as a sync maps them),
then are built into Order and OrderItem rows as ``orders.services`` builds them. Prints microseconds per
order (with its items) for fit_row alone, and for comparison Django's own JSON serialisation of the same
rows' JSON columns, which every write pays anyway. No database is needed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketsync.settings")
    import django

    django.setup()
    import httpx

    from marketsync.marketplaces.refurbed.adapters import OrdersAdapter
    from marketsync.marketplaces.refurbed.client import RefurbedClient
    from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
    from marketsync.sync.limits import fit_row
    from orders.models import Order, OrderItem
    from orders.services import ITEM_FIELDS, ORDER_FIELDS

    app = build_simulator(SimulatorConfig(marketplaces=("refurbed",), speed=0, seed=42, orders=args.orders,
                                          new_order_every_seconds=0))
    http = httpx.Client(transport=httpx.WSGITransport(app=app))
    adapter = OrdersAdapter(RefurbedClient(http=http, token=simulator_token("refurbed", 42), base_url="http://sim/refurbed"),
                            start=app.clock.now().replace(year=2000))
    records = [r for page in adapter.pages(cursor={}) for r in page.records]

    orders = [Order(organization_id=1, connection_id=1, marketplace="refurbed", external_id=r.external_id,
                    **{f: getattr(r, f) for f in ORDER_FIELDS}) for r in records]
    items = [OrderItem(organization_id=1, connection_id=1, external_id=i.external_id, **{f: getattr(i, f) for f in ITEM_FIELDS})
             for r in records for i in r.items or []]

    started = time.perf_counter()
    misfits = sum(1 for row in [*orders, *items] if fit_row(row))
    fit_seconds = time.perf_counter() - started

    json_fields = [f for f in Order._meta.concrete_fields if f.get_internal_type() == "JSONField"]
    item_json = [f for f in OrderItem._meta.concrete_fields if f.get_internal_type() == "JSONField"]
    from django.db import connection

    started = time.perf_counter()
    for row in orders:
        for f in json_fields:
            f.get_db_prep_save(getattr(row, f.attname), connection)
    for row in items:
        for f in item_json:
            f.get_db_prep_save(getattr(row, f.attname), connection)
    json_seconds = time.perf_counter() - started

    n = len(orders)
    print(f"{n} orders, {len(items)} items ({misfits} misfits): fit_row {fit_seconds / n * 1e6:.0f} µs/order "
          f"({n / fit_seconds:.0f} orders/s); Django's JSON preparation of the same rows {json_seconds / n * 1e6:.0f} µs/order")


if __name__ == "__main__":
    main()
