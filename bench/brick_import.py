"""Brick first-sync benchmark: BrickLink and Brick Owl orders imported into the configured database.

    .venv/bin/python bench/brick_import.py [--marketplace bricklink|brickowl|both] [--orders 1000] [--runs 3]
                                           [--latency-ms 0]

The simulator runs as its own process (``manage.py runsimulator``, seeded with ``--orders`` orders per
marketplace). Each run, in a fresh subprocess: a new connection's inventory is imported first (so orders
reserve from real lots, as in a store), then its first order sync is timed. It prints orders per second,
database queries per order, API calls per order and peak RSS (medians of ``--runs``). Rows written by a
run are deleted afterwards. ``--latency-ms`` makes the simulator answer each request that much later, as a real
marketplace does (details are fetched ``BRICK_DETAIL_FETCH_CONCURRENCY`` at a time: set it to 1 to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sync_import import SEED, peak_rss_mb, setup_django, start_simulator  # noqa: E402

API_ROOTS = {"bricklink": "/api/store/v1", "brickowl": "/v1"}


def measure(marketplace: str, base_url: str) -> dict:
    setup_django()
    from django.db import connection as db

    from connections.models import Connection, EntitySync, Organization
    from inventory.models import InventoryItem, InventoryLot, Reservation, StockMovement, StockPush, UnmappedLot
    from marketsync.marketplaces import CREDENTIAL_FIELDS, Marketplace
    from marketsync.simulator.core import simulator_token
    from marketsync.sync.runner import run_entity_sync
    from orders.models import Order, OrderItem

    org = Organization.objects.create(slug=f"bench-brick-{os.getpid()}", name="Bench")
    conn = Connection(organization=org, marketplace=marketplace, base_url=base_url,
                      options={"store_id": "1"} if marketplace == "brickowl" else {})
    conn.set_credentials({p: simulator_token(marketplace, SEED, p) for p in CREDENTIAL_FIELDS[Marketplace(marketplace)]})
    conn.save()
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    try:
        inventory = run_entity_sync(EntitySync.objects.create(connection=conn, entity="inventory").pk)
        if inventory.failed:
            raise SystemExit(f"inventory sync failed: {inventory.error}")
        if marketplace == "brickowl":
            # Brick Owl lots wait for their BrickLink ids (the catalog translation) before they are stock.
            from inventory.catalog_sync import catalog_refresh

            catalog_refresh(connection=conn, lookups=10_000)
        orders_sync = EntitySync.objects.create(connection=conn, entity="orders")
        with db.execute_wrapper(count):
            started = time.perf_counter()
            outcome = run_entity_sync(orders_sync.pk)
            seconds = time.perf_counter() - started
        if outcome.failed:
            raise SystemExit(f"order sync failed: {outcome.error}")
        stored = Order.objects.filter(connection=conn).count()
        return {"orders": outcome.seen, "stored": stored, "seconds": seconds, "orders_per_second": outcome.seen / seconds,
                "queries_per_order": queries / max(1, outcome.seen), "pages": outcome.pages,
                "lots": InventoryLot.objects.filter(connection=conn).count(), "peak_rss_mb": peak_rss_mb(),
                "database": db.vendor}
    finally:
        StockMovement.objects.filter(item__organization=org)._raw_delete(db.alias)
        Reservation.objects.filter(organization=org)._raw_delete(db.alias)
        for model in (StockPush, UnmappedLot, OrderItem, Order, InventoryLot):
            model.objects.filter(connection=conn)._raw_delete(db.alias)
        InventoryItem.objects.filter(organization=org)._raw_delete(db.alias)
        conn.delete()
        org.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--marketplace", choices=("bricklink", "brickowl", "both"), default="both")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=0, help="simulated latency of every marketplace request")
    parser.add_argument("--measure", choices=("bricklink", "brickowl"), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.base_url)))
        return
    for marketplace in ("bricklink", "brickowl") if args.marketplace == "both" else (args.marketplace,):
        process, base_url = start_simulator(marketplace, args.orders)
        runs = []
        try:
            if args.latency_ms:
                control = base_url.rsplit("/", 1)[0] + f"/_sim/{marketplace}/faults"
                httpx.post(control, json={"latency_ms": args.latency_ms}, timeout=10).raise_for_status()
            for _ in range(args.runs):
                out = subprocess.run(
                    [sys.executable, __file__, "--measure", marketplace, "--base-url", base_url + API_ROOTS[marketplace]],
                    capture_output=True, text=True, cwd=ROOT, check=False,
                )
                if out.returncode != 0:
                    raise SystemExit(f"{marketplace} run failed:\n{out.stderr[-3000:]}")
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        finally:
            process.terminate()
            process.wait(timeout=30)
        run = sorted(runs, key=lambda r: r["orders_per_second"])[len(runs) // 2]
        rates = ", ".join(f"{r['orders_per_second']:.1f}" for r in runs)
        print(
            f"{marketplace:<9} {run['orders']} orders ({run['lots']} lots in stock) into {run['database']}: "
            f"{statistics.median(r['orders_per_second'] for r in runs):6.1f} orders/s median of {len(runs)} "
            f"({rates}) | "
            f"{args.latency_ms} ms latency | "
            f"{statistics.median(r['queries_per_order'] for r in runs):.1f} queries/order | "
            f"peak RSS {run['peak_rss_mb']:.0f} MB",
            flush=True,
        )


if __name__ == "__main__":
    main()
