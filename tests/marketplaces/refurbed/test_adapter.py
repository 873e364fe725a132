"""The Refurbed entities synced through the engine against the simulator in-process."""

from __future__ import annotations

import math
from datetime import timedelta

import httpx
import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from marketsync.marketplaces.refurbed.adapters import parse_iso
from marketsync.marketplaces.refurbed.mapping import order_record
from marketsync.sync.records import UnifiedStatus
from marketsync.sync.runner import run_entity_sync
from marketsync.sync.wiring import entity_wiring
from offers.models import MarketOffer, Offer
from offers.services import offer_upsert_page
from orders.models import Order, OrderItem
from orders.services import order_upsert_page
from tests.marketplaces.refurbed.sim import RecordingTransport, entity_sync, make_sim, refurbed_connection

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reread_every_tick(settings):
    """These tests describe re-reads made every tick (a refresh of 0 s); the paced default has its own tests
    (tests/sync/test_idle_cost.py)."""
    settings.REFURBED_OPEN_ORDER_REFRESH_SECONDS = 0
    settings.REFURBED_SHIPPED_REFRESH_SECONDS = 0


def sync(conn, entity, transport):
    outcome = run_entity_sync(entity_sync(conn, entity).pk, transport=transport)
    assert outcome.status == "ok", outcome.error
    return outcome


def test_first_sync_pages_list_orders_by_id_from_the_start_date_and_stores_items():
    app = make_sim(orders=450)
    transport = RecordingTransport(app)
    conn = refurbed_connection()
    outcome = sync(conn, "orders", transport)
    calls = transport.calls("ListOrders")
    assert len(calls) == 5 and outcome.pages == 5
    assert all(c["sort"] == {"by": "ID", "order": "ASC"} and c["pagination"]["limit"] == 100 for c in calls)
    assert "starting_after" not in calls[0]["pagination"]
    assert [c["pagination"]["starting_after"] for c in calls[1:]] == [
        str(app["refurbed"].order_ids[i]) for i in (99, 199, 299, 399)
    ]
    assert all("ge" in c["filter"]["released_at"] for c in calls)
    assert Order.objects.filter(connection=conn).count() == 450
    assert OrderItem.objects.filter(connection=conn).count() == sum(len(s) for s in app["refurbed"].item_states)
    order = Order.objects.get(connection=conn, external_id=str(app["refurbed"].order_ids[0]))
    assert order.marketplace == "refurbed" and order.placed_at is not None and order.total_amount > 0
    assert order.items_count == order.items.count() and order.customer_email
    cursor = entity_sync(conn, "orders").cursor
    assert cursor["phase"] == "incremental"
    assert round(parse_iso(cursor["high_water"]).timestamp() * 1000) == app["refurbed"].released[-1]


def test_first_sync_starts_at_the_configured_start_date(settings):
    app = make_sim(orders=200)
    sim = app["refurbed"]
    start = sim.start - timedelta(days=5)
    settings.SYNC_START_DATE = start.isoformat()
    conn = refurbed_connection()
    sync(conn, "orders", RecordingTransport(app))
    expected = sum(1 for ms in sim.released if ms >= start.timestamp() * 1000)
    assert 0 < expected < 200
    assert Order.objects.filter(connection=conn).count() == expected


def test_next_tick_reads_new_orders_with_the_lookback_overlap(settings):
    settings.SYNC_LOOKBACK_SECONDS = 600
    app = make_sim(orders=120)
    conn = refurbed_connection()
    sync(conn, "orders", RecordingTransport(app))
    high = entity_sync(conn, "orders").cursor["high_water"]
    app.clock.advance(120)
    new_ids = app["refurbed"].control("add_orders", {"count": 3})["ids"]
    transport = RecordingTransport(app)
    outcome = sync(conn, "orders", transport)
    first = transport.calls("ListOrders")[0]
    assert first["filter"]["released_at"]["ge"].startswith(
        (parse_iso(high) - timedelta(seconds=600)).strftime("%Y-%m-%dT%H:%M:%S"))
    assert set(new_ids) <= set(Order.objects.filter(connection=conn).values_list("external_id", flat=True))
    assert outcome.created == 3
    assert parse_iso(entity_sync(conn, "orders").cursor["high_water"]) > parse_iso(high)


def test_open_orders_are_re_read_and_their_changes_stored():
    app = make_sim(orders=300)
    sim = app["refurbed"]
    conn = refurbed_connection()
    sync(conn, "orders", RecordingTransport(app))
    index = next(i for i in range(len(sim.order_ids) - 2) if "NEW" in sim.item_states[i])
    oid = str(sim.order_ids[index])
    assert Order.objects.get(connection=conn, external_id=oid).status == UnifiedStatus.NEW
    for k, state in enumerate(list(sim.item_states[index])):
        if state == "NEW":
            sim.control("set_item_state", {"id": sim.order_ids[index] * 10 + k, "state": "ACCEPTED"})
    transport = RecordingTransport(app)
    sync(conn, "orders", transport)
    order = Order.objects.get(connection=conn, external_id=oid)
    assert order.status == UnifiedStatus.ACCEPTED and order.marketplace_status == "ACCEPTED"
    assert "NEW" not in set(order.items.values_list("marketplace_status", flat=True))
    batches = [c for c in transport.calls("ListOrders") if "id" in c.get("filter", {})]
    assert any(oid in c["filter"]["id"]["any_of"] for c in batches)
    assert all(len(c["filter"]["id"]["any_of"]) <= 100 for c in batches)


def test_idle_tick_costs_one_list_orders_plus_one_per_100_open_orders():
    app = make_sim(orders=400)
    conn = refurbed_connection()
    sync(conn, "orders", RecordingTransport(app))
    transport = RecordingTransport(app)
    sync(conn, "orders", transport)  # settles: the lookback window's orders were just re-read
    transport = RecordingTransport(app)
    sync(conn, "orders", transport)
    calls = transport.calls("ListOrders")
    new_calls = [c for c in calls if "released_at" in c.get("filter", {})]
    refresh_calls = [c for c in calls if "id" in c.get("filter", {})]
    in_window = {o.external_id for o in Order.objects.filter(connection=conn) if o.placed_at.timestamp() >= parse_iso(
        new_calls[0]["filter"]["released_at"]["ge"]).timestamp()}
    open_ids = set(entity_wiring("refurbed", "orders").build_adapter(conn, httpx.Client()).open_ids()) - in_window
    assert len(open_ids) > 100
    assert len(new_calls) == 1
    assert len(refresh_calls) == math.ceil(len(open_ids) / 100)
    assert len(transport.requests) == 1 + math.ceil(len(open_ids) / 100)


def test_a_page_costs_the_same_number_of_queries_whatever_its_size():
    app = make_sim(orders=300)
    sim = app["refurbed"]
    conn = refurbed_connection()
    records = [order_record(sim.render_order(i)) for i in range(200)]
    counts, selects = [], []
    for page in (records[:5], records[5:105], records[105:110], records[110:200]):
        with CaptureQueriesContext(db_connection) as ctx:
            order_upsert_page(connection=conn, records=page)
        sql = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))]
        counts.append(len(sql))
        selects.append(sum(1 for q in sql if q.startswith("SELECT")))
    # The stock step: the organization's stock held (one row lock), then after storing the items their offers'
    # links, one SKU lookup and at most two flag updates — the same whatever the page's size (no offer is synced
    # here). New orders' items are not read back: the page inserted them, no reservation refers to them yet.
    stock_selects, stock_updates = 3, 2
    if db_connection.vendor == "postgresql":  # COPY into a temporary table, then one INSERT … SELECT per table
        assert len(set(counts)) == 1 and counts[0] <= 6 + stock_selects + stock_updates, counts
    else:  # SQLite caps bound parameters per statement, so Django splits big inserts (by size, not per row)
        assert set(selects) == {2 + stock_selects}, selects  # one key lookup per table, never one per row
        assert counts[0] <= 4 + stock_selects + stock_updates and max(counts) <= 4 + stock_selects + stock_updates + 12, counts


def test_offers_page_costs_constant_queries():
    from marketsync.marketplaces.refurbed.mapping import offer_record

    app = make_sim()
    sim = app["refurbed"]
    conn = refurbed_connection()
    offers = [offer_record(sim.render_offer(sim.offers[i])) for i in sim.offer_ids]
    counts = []
    for page in (offers[:3], offers[3:103]):
        with CaptureQueriesContext(db_connection) as ctx:
            offer_upsert_page(connection=conn, records=page)
        sql = [q["sql"] for q in ctx.captured_queries]
        # SQLite caps bound parameters per statement, so Django splits its inserts: count the lookups there.
        counts.append(len(sql) if db_connection.vendor == "postgresql" else sum(1 for q in sql if q.startswith("SELECT")))
    assert counts[0] == counts[1], counts


def test_offers_and_market_offers_full_sweep_marks_vanished_rows_removed():
    app = make_sim()
    sim = app["refurbed"]
    conn = refurbed_connection()
    first = sync(conn, "offers", RecordingTransport(app))
    sync(conn, "market_offers", RecordingTransport(app))
    assert first.pages == math.ceil(len(sim.offer_ids) / 100) and first.removed == 0
    assert Offer.objects.filter(connection=conn).count() == len(sim.offer_ids)
    market_keys = {f"{oid}:{code}" for oid in sim.offer_ids for code in sim.offers[oid]["_markets"]}
    assert set(MarketOffer.objects.filter(connection=conn).values_list("external_id", flat=True)) == market_keys
    gone = sim.offer_ids[5]
    gone_markets = len(sim.offers[gone]["_markets"])
    assert sim.control("remove_offer", {"id": gone})["removed"]
    second = sync(conn, "offers", RecordingTransport(app))
    third = sync(conn, "market_offers", RecordingTransport(app))
    assert second.removed == 1 and third.removed == gone_markets
    removed = Offer.objects.get(connection=conn, external_id=str(gone))
    assert removed.removed_at is not None  # kept, not deleted
    assert Offer.objects.filter(connection=conn, removed_at__isnull=True).count() == len(sim.offer_ids)
    assert set(entity_sync(conn, "offers").cursor) == {"swept_at"}  # no sweep under way: when the last one ran


def test_interrupted_sweep_resumes_and_still_removes_only_unseen_rows():
    app = make_sim(orders=2500)  # 250 offers: three pages
    sim = app["refurbed"]
    conn = refurbed_connection()
    sync(conn, "offers", RecordingTransport(app))
    crashed = run_entity_sync(entity_sync(conn, "offers").pk, transport=RecordingTransport(app, fail_after=1))
    assert crashed.failed and crashed.pages == 1
    assert entity_sync(conn, "offers").cursor.get("after")
    resumed = RecordingTransport(app)
    outcome = sync(conn, "offers", resumed)
    assert outcome.removed == 0 and len(resumed.requests) == math.ceil(len(sim.offer_ids) / 100) - 1
    assert Offer.objects.filter(connection=conn, removed_at__isnull=False).count() == 0


def test_a_sweep_with_an_unreadable_offer_marks_nothing_removed_even_when_resumed():
    app = make_sim(orders=2500)  # 250 offers: three pages
    conn = refurbed_connection()
    sync(conn, "offers", RecordingTransport(app))
    broken: list[str] = []

    def corrupt_first_page(path, data):
        if path.endswith("/ListOffers") and not broken:
            broken.append(str(data["offers"][0]["id"]))
            data["offers"][0]["stock"] = "plenty"
        return data

    crashed = run_entity_sync(entity_sync(conn, "offers").pk,
                              transport=RecordingTransport(app, rewrite=corrupt_first_page, fail_after=1))
    assert crashed.failed and crashed.pages == 1 and broken and any(broken[0] in b for b in crashed.bad_records)
    outcome = sync(conn, "offers", RecordingTransport(app))  # the rest of the sweep, read cleanly
    assert outcome.removed == 0
    assert Offer.objects.get(connection=conn, external_id=broken[0]).removed_at is None
    assert Offer.objects.filter(connection=conn, removed_at__isnull=False).count() == 0


def test_a_release_time_without_an_offset_is_taken_as_utc_and_does_not_stop_the_sync():
    app = make_sim(orders=250)

    def drop_offset(path, data):
        if path.endswith("/ListOrders") and data.get("orders"):
            first = data["orders"][0]
            first["released_at"] = first["released_at"].replace("Z", "").split("+")[0]
        return data

    conn = refurbed_connection()
    outcome = sync(conn, "orders", RecordingTransport(app, rewrite=drop_offset))
    assert outcome.pages == 3 and not outcome.bad_records
    assert Order.objects.filter(connection=conn).count() == 250
    first = Order.objects.get(connection=conn, external_id=str(app["refurbed"].order_ids[0]))
    assert round(first.placed_at.timestamp() * 1000) == app["refurbed"].released[0]
