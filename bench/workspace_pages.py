"""Benchmark of the merchant workspace's pages on a large organization.

Loads ORDERS orders with ITEMS items into one organization (plus NOISE orders spread over other
organizations) with PostgreSQL COPY, then prints, for each page, the server time (median of repeated
requests through Django's test client, so URL routing, middleware, queries and template rendering are all
in it) and the number of SQL queries; and the CSV export's peak Python memory (tracemalloc) at two sizes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/marketsync_bench .venv/bin/python bench/workspace_pages.py

Options: --orders 200000 --items 500000 --noise 60000 --repeat 15 --reload (drop and load again).
The database is created and migrated when missing; data already loaded at the same size is reused.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketsync_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketsync.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-secret")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
if not os.environ.get("FIELD_ENCRYPTION_KEYS"):
    from cryptography.fernet import Fernet

    os.environ["FIELD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()  # bench credentials are throwaway


print = functools.partial(print, flush=True)  # noqa: A001 - progress shows while it runs


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=500_000)
    parser.add_argument("--noise", type=int, default=60_000, help="orders spread over three other organizations")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--pages-only", action="store_true", help="skip the export measurements")
    args = parser.parse_args()

    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        sys.exit("This benchmark loads with PostgreSQL COPY: set DATABASE_URL to a PostgreSQL database.")
    ensure_database(url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    org, user = load(args)
    measure(org, user, args)


# --- loading ------------------------------------------------------------------------------------------------

FIRST = ["Anna", "Lena", "Noah", "Paul", "Marie", "Felix", "Clara", "Jonas", "Elias", "Laura", "Emma", "Luca", "Mia", "Ben"]
LAST = ["Müller", "Schmidt", "Weber", "Huber", "Moser", "Fischer", "Wagner", "Bauer", "Hofer", "Becker", "Rossi", "Dubois"]
STATUSES = (["shipped"] * 50 + ["delivered"] * 20 + ["new"] * 6 + ["accepted"] * 6 + ["awaiting_payment"] * 4
            + ["cancelled"] * 6 + ["returned"] * 3 + ["refunded"] * 2 + ["on_hold"] * 3)
MARKETPLACES = ["refurbed", "backmarket", "bricklink", "brickowl"]
ORDER_COLS = [
    "id", "organization_id", "connection_id", "marketplace", "external_id", "status", "marketplace_status", "placed_at",
    "marketplace_updated_at", "currency", "total_amount", "subtotal_amount", "shipping_amount", "customer_name",
    "customer_email", "shipping_address", "billing_address", "tracking_number", "tracking_url", "shipper", "items_count",
    "has_unmatched_items", "details", "raw", "first_synced_at", "last_synced_at",
]
ITEM_COLS = [
    "id", "organization_id", "connection_id", "order_id", "external_id", "status", "marketplace_status", "sku", "title",
    "quantity", "unit_price", "currency", "imei", "serial_number", "listing_ref", "image_url", "part_number", "item_type",
    "color_id", "color_name", "condition", "completeness", "remarks", "location", "details", "raw", "last_synced_at",
]


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load(args):
    from django.contrib.auth import get_user_model
    from django.db import connection as db

    from connections.models import Connection, EntitySync, Membership, Organization
    from marketsync.marketplaces import CREDENTIAL_FIELDS, SUPPORTED_ENTITIES, Marketplace
    from orders.models import Order

    org = Organization.objects.filter(slug="bench-big").first()
    if org is not None and not args.reload and Order.objects.filter(organization=org).count() == args.orders:
        print(f"reusing {args.orders:,} orders already loaded in bench-big")
        return org, get_user_model().objects.get(username="bench-owner")
    started = time.perf_counter()
    with db.cursor() as cursor:
        cursor.execute("TRUNCATE orders_orderitem, orders_order, connections_auditentry, connections_entitysync, "
                       "connections_connection, connections_membership, connections_organization CASCADE")
    get_user_model().objects.filter(username__startswith="bench-").delete()
    orgs = [Organization.objects.create(slug="bench-big", name="Big Seller")] + [
        Organization.objects.create(slug=f"bench-noise-{n}", name=f"Noise {n}") for n in range(3)
    ]
    user = get_user_model().objects.create_user("bench-owner", password="bench")  # noqa: S106
    Membership.objects.create(user=user, organization=orgs[0], role="owner")
    connections = {}
    for organization in orgs:
        for marketplace in MARKETPLACES:
            c = Connection(organization=organization, marketplace=marketplace)
            c.set_credentials({f: "bench-credential-value" for f in CREDENTIAL_FIELDS[Marketplace(marketplace)]})
            c.save()
            EntitySync.objects.bulk_create(EntitySync(connection=c, entity=e) for e in SUPPORTED_ENTITIES[Marketplace(marketplace)])
            connections[(organization.pk, marketplace)] = c.pk

    now = datetime.now(UTC)
    start = now - timedelta(days=730)
    plan = [(orgs[0].pk, args.orders)] + [(o.pk, args.noise // 3) for o in orgs[1:]]
    total_orders = sum(n for _, n in plan)
    items_per_order = args.items / args.orders

    def order_data(org_id: int, n: int, count: int) -> dict:
        r = random.Random(org_id * 10_000_000 + n)  # the same values in the orders pass and the items pass
        marketplace = MARKETPLACES[n % 4]
        placed = start + timedelta(seconds=730 * 86400 * n / count + r.random() * 60)
        return {
            "marketplace": marketplace, "placed": placed, "first": r.choice(FIRST), "last": r.choice(LAST),
            "status": r.choice(STATUSES), "external": f"{marketplace[:2].upper()}{org_id}-{n:07d}",
            "k": int(items_per_order) + (1 if r.random() < items_per_order % 1 else 0), "r": r,
        }

    def order_rows():
        oid = 0
        for org_id, count in plan:
            for n in range(count):
                oid += 1
                d = order_data(org_id, n, count)
                status, first, last, external, placed, k = d["status"], d["first"], d["last"], d["external"], d["placed"], d["k"]
                raw = json.dumps({"id": external, "state": status.upper(), "customer": {"first_name": first, "last_name": last},
                                  "lines": [{"sku": f"SKU-{(n + j) % 5000:05d}", "quantity": 1} for j in range(k)]})
                yield (
                    oid, org_id, connections[(org_id, d["marketplace"])], d["marketplace"], external, status, status.upper(),
                    placed, placed, "EUR", f"{d['r'].uniform(5, 900):.2f}", None, "4.90", f"{first} {last}",
                    f"{first.lower()}.{last.lower()}.{n}@example.com",
                    json.dumps({"name": f"{first} {last}", "city": "Berlin", "zip": "10115"}), "{}",
                    f"TRK{org_id}{n:09d}" if status in ("shipped", "delivered") else "", "", "DHL", k, False, "{}", raw,
                    placed, placed + timedelta(hours=1),
                )

    def item_rows():
        oid, iid = 0, 0
        for org_id, count in plan:
            for n in range(count):
                oid += 1
                d = order_data(org_id, n, count)
                brick = d["marketplace"].startswith("brick")
                for j in range(d["k"]):
                    iid += 1
                    counter[0] += 1
                    yield (
                        iid, org_id, connections[(org_id, d["marketplace"])], oid, f"{d['external']}-{j}", d["status"],
                        d["status"].upper(), f"SKU-{(n + j) % 5000:05d}", f"Item {j} of order {n}", 1,
                        f"{(n * 7 + j) % 400 + 0.5:.2f}", "EUR", "", "", "", "", f"{3000 + (n + j) % 900}" if brick else "",
                        "PART" if brick else "", "", "", "", "", "", "", "{}", "{}", d["placed"],
                    )

    counter = [0]
    with db.cursor() as wrapper:
        raw_cursor = wrapper.cursor
        _copy(raw_cursor, "orders_order", ORDER_COLS, order_rows())
        _copy(raw_cursor, "orders_orderitem", ITEM_COLS, item_rows())
        wrapper.execute("SELECT setval(pg_get_serial_sequence('orders_order', 'id'), (SELECT max(id) FROM orders_order))")
        wrapper.execute("SELECT setval(pg_get_serial_sequence('orders_orderitem', 'id'), (SELECT max(id) FROM orders_orderitem))")
        wrapper.execute("ANALYZE orders_order")
        wrapper.execute("ANALYZE orders_orderitem")
    print(f"loaded {total_orders:,} orders ({args.orders:,} in the measured organization) and {counter[0]:,} items "
          f"in {time.perf_counter() - started:.0f} s")
    return orgs[0], user


# --- measuring ----------------------------------------------------------------------------------------------


def timed(client, url: str, params: dict, repeat: int):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url, params)
        assert response.status_code == 200, (url, params, response.status_code)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        client.get(url, params)
        times.append((time.perf_counter() - t0) * 1000)
    with CaptureQueriesContext(db) as queries:
        response = client.get(url, params)
    return statistics.median(times), len(queries), response


def export_peak(client, params: dict) -> tuple[float, int, float]:
    from django.urls import reverse

    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    response = client.get(reverse("orders:order_export"), params)
    rows = 0
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6, rows - 1, elapsed


def measure(org, user, args) -> None:
    from django.core.cache import cache
    from django.test import Client
    from django.urls import reverse

    from marketsync.keyset import encode_cursor
    from orders.models import Order, OrderItem
    from orders.selectors import OrderFilters, order_tab_counts

    client = Client()
    client.force_login(user)
    book = reverse("orders:order_list")
    deep_order = Order.objects.filter(organization=org).order_by("-placed_at", "-id")[int(args.orders * 0.75)]
    sample = Order.objects.filter(organization=org).order_by("id")[args.orders // 2]
    item = OrderItem.objects.filter(organization=org, sku__startswith="SKU-0123").first()
    part = OrderItem.objects.filter(organization=org).exclude(part_number="").order_by("id")[1000]
    cases = [
        ("first page", book, {}),
        ("filtered page (ready to ship, Refurbed)", book, {"status": "ready", "marketplace": "refurbed"}),
        ("filtered page (shipped, date range)", book, {"status": "shipped", "date_from": "2025-06-01", "date_to": "2025-09-30"}),
        (f"deep keyset page (~{int(args.orders * 0.75):,} rows in)", book, {"after": encode_cursor(deep_order.placed_at, deep_order.pk)}),
        ("search: order id", book, {"q": sample.external_id}),
        ("search: tracking number", book, {"q": sample.tracking_number or "TRK-none"}),
        ("search: SKU (item index)", book, {"q": item.sku}),
        ("search: part number (item index)", book, {"q": part.part_number}),
        ("search: customer name (contains)", book, {"q": "Moser"}),
        ("search: e-mail", book, {"q": sample.customer_email}),
        ("search: no match (worst case, scans the org)", book, {"q": "zz-no-such-thing"}),
        ("order detail", reverse("orders:order_detail", args=[sample.pk]), {}),
        ("live poll (nothing new)", reverse("orders:order_poll"), {"since": datetime.now(UTC).isoformat()}),
        ("sync health", reverse("connections:connection_list"), {}),
    ]
    print(f"\nserver time, median of {args.repeat} requests after 2 warm-ups (tab counts cached as in production):")
    print(f"{'page':48} {'median ms':>10} {'queries':>8}")
    for label, url, params in cases:
        median, queries, _ = timed(client, url, params, args.repeat)
        flag = "" if median < 100 else "  <-- over 100 ms"
        print(f"{label:48} {median:10.1f} {queries:8d}{flag}")

    cache.clear()
    t0 = time.perf_counter()
    order_tab_counts(organization=org, filters=OrderFilters())
    print(f"{'tab counts, uncached (once per 30 s per filter)':48} {(time.perf_counter() - t0) * 1000:10.1f} {1:8d}")

    # Constant queries: the same pages on a small organization.
    from connections.models import Membership, Organization

    small = Organization.objects.get(slug="bench-noise-0")
    Membership.objects.get_or_create(user=user, organization=small, defaults={"role": "owner"})
    session = client.session
    session["current_organization_id"] = small.pk
    session.save()
    _, small_first, _ = timed(client, book, {}, 1)
    small_order = Order.objects.filter(organization=small).order_by("id").first()
    _, small_detail, _ = timed(client, reverse("orders:order_detail", args=[small_order.pk]), {}, 1)
    print(f"queries on an organization of {Order.objects.filter(organization=small).count():,} orders: "
          f"first page {small_first}, order detail {small_detail}")
    session["current_organization_id"] = org.pk
    session.save()

    if args.pages_only:
        return
    t0 = time.perf_counter()
    response = client.get(reverse("orders:order_export"), {})
    size = sum(len(chunk) for chunk in response.streaming_content)
    elapsed = time.perf_counter() - t0
    print(f"\nCSV export of all {args.orders:,} orders without tracing: {elapsed:.1f} s, {size / 1e6:.1f} MB, "
          f"{args.orders / elapsed:,.0f} orders/s")
    print("CSV export, streamed (peak Python memory while producing it, tracemalloc — which slows Python down):")
    quarter_start = (datetime.now(UTC) - timedelta(days=730 // 4)).date().isoformat()
    for label, params in [("orders, last quarter of the range", {"date_from": quarter_start}), ("orders, all", {}),
                          ("items, last quarter of the range", {"date_from": quarter_start, "items": "1"}),
                          ("items, all", {"items": "1"})]:
        peak, rows, elapsed = export_peak(client, params)
        print(f"{label:40} {rows:9,} rows  {elapsed:6.1f} s  peak {peak:6.1f} MB")


if __name__ == "__main__":
    main()
