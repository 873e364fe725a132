"""First-sync benchmark (Refurbed or Back Market): fetch-only vs a full sync into the configured database, at N and 4×N orders.

    .venv/bin/python bench/sync_import.py [--marketplace refurbed|backmarket] [--orders 50000] [--factor 4] [--runs 3]
                                          [--latency-ms 0]

For each size the simulator is started as its own process (``manage.py runsimulator`` on a free
loopback port) seeded with that many orders (about two items each), every request answered after ``--latency-ms`` (a real
API's round trip; 0 leaves only our own CPU and the database as the limit). Each measurement then runs in
a fresh subprocess, so the peak RSS printed is that of the syncing process alone:

- fetch-only: the marketplace's orders adapter pages through every order (Refurbed ListOrders, 100 per
  page; Back Market ``/ws/orders``, 50 per page) and parses each into records — no database work;
- sync: ``run_entity_sync`` of a new connection's orders: the same pages, each upserted with its
  items and the cursor in one transaction.

It prints orders per second for both (the median of ``--runs`` runs each, fetch and sync alternating so
load on a shared machine falls on both alike), their ratio, database queries per page and peak RSS.
Targets (PostgreSQL): sync ≥ 0.7 × fetch-only; peak RSS ≤ 250 MB and within 10% between N and 4×N.
Rows written by the sync are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 42


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketsync.settings")
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no query log growing in memory
    settings.SYNC_START_DATE = "2000-01-01"  # a first sync of everything the simulator holds


def orders_adapter(marketplace: str, http, base_url: str):
    """The orders adapter a first sync of ``marketplace`` uses, on the simulator's credentials."""
    from marketsync.simulator.core import simulator_token
    from marketsync.sync.wiring import first_sync_start

    if marketplace == "refurbed":
        from marketsync.marketplaces.refurbed.adapters import OrdersAdapter
        from marketsync.marketplaces.refurbed.client import RefurbedClient

        client = RefurbedClient(http=http, token=simulator_token("refurbed", SEED), base_url=base_url)
        return OrdersAdapter(client, start=first_sync_start({}))
    from marketsync.marketplaces.backmarket.adapters import OrdersAdapter
    from marketsync.marketplaces.backmarket.client import BackMarketClient

    client = BackMarketClient(http=http, api_key=simulator_token("backmarket", SEED), base_url=base_url)
    return OrdersAdapter(client, start=first_sync_start({}))


def measure_fetch(marketplace: str, base_url: str) -> dict:
    setup_django()
    from marketsync.sync.http import build_http_client

    started = time.perf_counter()
    orders = items = pages = 0
    with build_http_client() as http:
        for page in orders_adapter(marketplace, http, base_url).pages(cursor={}):
            pages += 1
            orders += len(page.records)
            items += sum(len(r.items or []) for r in page.records)
    seconds = time.perf_counter() - started
    return {"mode": "fetch", "orders": orders, "items": items, "pages": pages, "seconds": seconds,
            "orders_per_second": orders / seconds, "peak_rss_mb": peak_rss_mb()}


def measure_sync(marketplace: str, base_url: str) -> dict:
    setup_django()
    from django.db import connection as db

    from connections.models import Connection, EntitySync, Organization
    from marketsync.simulator.core import simulator_token
    from marketsync.sync.runner import run_entity_sync
    from offers.models import MarketOffer, Offer
    from orders.models import Order, OrderItem

    slug = f"bench-{os.getpid()}"
    org = Organization.objects.create(slug=slug, name="Bench")
    conn = Connection(organization=org, marketplace=marketplace, base_url=base_url)
    conn.set_credentials({"api_key": simulator_token(marketplace, SEED)})
    conn.save()
    sync = EntitySync.objects.create(connection=conn, entity="orders")
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    try:
        with db.execute_wrapper(count):
            started = time.perf_counter()
            outcome = run_entity_sync(sync.pk)
            seconds = time.perf_counter() - started
        if outcome.failed:
            raise SystemExit(f"sync failed: {outcome.error}")
        stored = Order.objects.filter(connection=conn).count()
        items = OrderItem.objects.filter(connection=conn).count()
        return {"mode": "sync", "orders": outcome.seen, "stored": stored, "items": items, "pages": outcome.pages,
                "seconds": seconds, "orders_per_second": outcome.seen / seconds,
                "queries_per_page": queries / max(1, outcome.pages), "peak_rss_mb": peak_rss_mb(),
                "database": db.vendor}
    finally:
        for model in (OrderItem, Order, MarketOffer, Offer):
            model.objects.filter(connection=conn)._raw_delete(db.alias)
        conn.delete()
        org.delete()


def median_run(runs: list[dict]) -> dict:
    """The run with the median rate (its other figures with it)."""
    return sorted(runs, key=lambda r: r["orders_per_second"])[len(runs) // 2]


def run_measurement(mode: str, marketplace: str, base_url: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", mode, "--marketplace", marketplace, "--base-url", base_url],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{mode} measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_simulator(marketplace: str, orders: int, latency_ms: int = 0) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runsimulator", "--port", str(port), "--seed", str(SEED), "--orders", str(orders),
         "--speed", "0", "--new-order-every", "1e9", "--marketplaces", marketplace, "--latency-ms", str(latency_ms)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_sim/state", timeout=1).status_code == 200:
                return process, f"http://127.0.0.1:{port}/{marketplace}"
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the simulator did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--marketplace", choices=("refurbed", "backmarket"), default="refurbed")
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--factor", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement; the median is printed")
    parser.add_argument("--latency-ms", type=int, default=0, help="the simulator's answer delay per request")
    parser.add_argument("--measure", choices=("fetch", "sync"), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure = measure_fetch if args.measure == "fetch" else measure_sync
        print(json.dumps(measure(args.marketplace, args.base_url)))
        return
    rows = []
    for n in (args.orders, args.orders * args.factor):
        process, base_url = start_simulator(args.marketplace, n, args.latency_ms)
        fetches, syncs = [], []
        try:
            for _ in range(args.runs):
                fetches.append(run_measurement("fetch", args.marketplace, base_url))
                syncs.append(run_measurement("sync", args.marketplace, base_url))
        finally:
            process.terminate()
            process.wait(timeout=30)
        fetch = median_run(fetches)
        sync = median_run(syncs)
        ratios = sorted(s["orders_per_second"] / f["orders_per_second"] for f, s in zip(fetches, syncs, strict=True))
        ratio = statistics.median(ratios)
        rows.append((n, fetch, sync, ratio))
        print(
            f"{args.marketplace} N={n:>7} at {args.latency_ms} ms: "
            f"fetch-only {fetch['orders_per_second']:8.0f} orders/s ({fetch['seconds']:.1f}s, "
            f"peak RSS {fetch['peak_rss_mb']:.0f} MB) | sync into {sync['database']} {sync['orders_per_second']:8.0f} orders/s "
            f"({sync['seconds']:.1f}s, {sync['stored']} orders, {sync['items']} items) | ratio median {ratio:.2f} "
            f"(runs {', '.join(f'{r:.2f}' for r in ratios)}) | "
            f"{sync['queries_per_page']:.1f} queries/page | sync peak RSS {sync['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    (n1, _, s1, r1), (n2, _, s2, r2) = rows
    growth = s2["peak_rss_mb"] / s1["peak_rss_mb"] - 1
    print(
        f"targets: ratio ≥ 0.70 → {min(r1, r2):.2f} {'ok' if min(r1, r2) >= 0.7 else 'MISSED'}; "
        f"peak RSS ≤ 250 MB → {max(s1['peak_rss_mb'], s2['peak_rss_mb']):.0f} MB "
        f"{'ok' if max(s1['peak_rss_mb'], s2['peak_rss_mb']) <= 250 else 'MISSED'}; "
        f"RSS growth N→{n2 // n1}N ≤ 10% → {growth * 100:+.1f}% {'ok' if growth <= 0.10 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
