"""Syncing Back Market through the engine: orders incremental with overlap, listings sweep, BackShip labels."""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from backship.models import Delivery, Return
from connections.models import EntitySync
from listings.models import Listing
from marketsync.marketplaces.backmarket.client import parse_datetime
from marketsync.sync.runner import run_entity_sync
from orders.models import Order, OrderItem

pytestmark = pytest.mark.django_db


def sync(connection, entity, transport):
    entity_sync = EntitySync.objects.get(connection=connection, entity=entity)
    outcome = run_entity_sync(entity_sync.pk, transport=transport)
    entity_sync.refresh_from_db()
    return outcome, entity_sync


def order_queries(transport):
    return [parse_qs(r.url.query.decode()) for r in transport.requests if r.url.path.endswith("/ws/orders")]


def test_first_order_sync_starts_at_the_configured_date_and_keeps_every_field(connection, transport, bm, settings):
    start = bm.started - timedelta(hours=20)
    connection.options = {**connection.options, "sync_start_date": start.isoformat()}
    connection.save()
    outcome, state = sync(connection, "orders", transport)
    assert outcome.status == "ok", outcome.error
    assert parse_datetime(order_queries(transport)[0]["date_modification"][0]) == start.replace(microsecond=0)
    expected = [o for o in bm.orders.values() if o["state"] not in (0, 8) and o["date_modification"] >= start]
    assert Order.objects.count() == len(expected) == outcome.created
    newest = max(o["date_modification"] for o in expected)
    assert parse_datetime(state.cursor["date_modification"]) == newest
    source = expected[0]
    order = Order.objects.get(external_id=str(source["order_id"]))
    assert order.marketplace_status == str(source["state"])
    assert order.status == {1: "new", 3: "accepted", 9: "shipped", 10: "awaiting_payment"}[source["state"]]
    assert order.placed_at == source["date_creation"]
    assert order.total_amount == Decimal(source["price"]) and order.currency == "EUR"
    assert order.shipping_address["postal_code"] and order.shipping_address["first_name"]
    assert order.details["is_backship"] == source["is_backship"]
    assert order.details["payment_method"] == source["payment_method"]
    assert order.details["delivery_note"].endswith(".pdf")
    line = OrderItem.objects.filter(order=order).first()
    raw_line = bm.lines[int(line.external_id)]
    assert (line.sku, line.quantity, line.unit_price) == (raw_line["listing"], raw_line["quantity"], Decimal(raw_line["price"]))
    assert line.condition == str(raw_line["condition"]) and line.details["return_reason"] == raw_line["return_reason"]


def test_incremental_sync_overlaps_by_the_lookback_and_picks_up_changes(connection, transport, bm, settings):
    settings.SYNC_LOOKBACK_SECONDS = 600
    sync(connection, "orders", transport)
    first_cursor = EntitySync.objects.get(connection=connection, entity="orders").cursor["date_modification"]
    bm.clock.advance(3600)  # new orders arrive every 20 virtual seconds
    touched = next(o for o in bm.orders.values() if o["state"] == 9)
    bm.control("touch_order", {"order_id": touched["order_id"]})
    before = Order.objects.get(external_id=str(touched["order_id"])).marketplace_updated_at
    transport.requests.clear()
    outcome, state = sync(connection, "orders", transport)
    assert outcome.status == "ok"
    sent = parse_datetime(order_queries(transport)[0]["date_modification"][0])
    assert sent == parse_datetime(first_cursor) - timedelta(seconds=600)
    assert outcome.created >= 150  # an hour of new orders
    assert Order.objects.get(external_id=str(touched["order_id"])).marketplace_updated_at > before
    assert parse_datetime(state.cursor["date_modification"]) > parse_datetime(first_cursor)
    again, _ = sync(connection, "orders", transport)
    assert again.created == 0  # the overlap re-reads, never duplicates
    assert Order.objects.count() == len([o for o in bm.orders.values() if o["state"] not in (0, 8)])


def test_a_pending_order_that_gets_paid_moves_its_modification_date_and_is_resynced(connection, transport, bm):
    bm.clock.advance(20 * 13)  # the 13th new order is a pending-payment one
    sync(connection, "orders", transport)
    pending = Order.objects.filter(marketplace_status="10").order_by("-placed_at").first()
    assert pending is not None and pending.status == "awaiting_payment"
    bm.clock.advance(16 * 60)
    sync(connection, "orders", transport)
    pending.refresh_from_db()
    assert pending.marketplace_status == "1" and pending.status == "new"


def test_listing_sweep_stores_fields_and_marks_vanished_listings_removed(connection, transport, bm):
    outcome, _ = sync(connection, "listings", transport)
    assert outcome.created == len(bm.listings) and outcome.pages == 3
    source = bm.listings[3]
    listing = Listing.objects.get(external_id=source["id"])
    assert (listing.sku, listing.legacy_id, listing.product_id) == (source["sku"], str(source["listing_id"]), source["product_id"])
    assert listing.price == Decimal(source["price"]) and listing.publication_state == str(source["publication_state"])
    assert listing.grade == source["grade"] and listing.warranty_delay == source["warranty_delay"]
    assert listing.shipping_options == source["shippings"]
    bm.control("remove_listing", {"sku": source["sku"]})
    outcome, _ = sync(connection, "listings", transport)
    assert outcome.removed == 1
    listing.refresh_from_db()
    assert listing.removed_at is not None
    assert Listing.objects.filter(removed_at__isnull=True).count() == len(bm.listings)


def test_interrupted_listing_sweep_marks_nothing_removed(connection, transport, bm, settings):
    settings.SYNC_MAX_RETRY_WAIT_SECONDS = 0
    sync(connection, "listings", transport)
    bm.control("remove_listing", {"sku": bm.listings[0]["sku"]})
    bm.faults.force("server_error", 20)  # the sweep fails on its first page
    outcome, _ = sync(connection, "listings", transport)
    assert outcome.status == "failed" and outcome.error_kind == "transient"
    assert Listing.objects.filter(removed_at__isnull=False).count() == 0


def test_deliveries_and_returns_are_linked_and_their_labels_stored_once(connection, transport, bm, media):
    sync(connection, "orders", transport)
    outcome, _ = sync(connection, "deliveries", transport)
    assert outcome.status == "ok" and outcome.created == len(bm.deliveries)
    delivery = Delivery.objects.exclude(orderline_ids=[]).filter(order__isnull=False).first()
    assert delivery.order.external_id == delivery.order_external_id
    assert {i.external_id for i in delivery.items.all()} == set(delivery.orderline_ids)
    assert delivery.label_file.read().startswith(b"%PDF-1.4")
    assert Delivery.objects.filter(label_file="").count() == 0
    labels_before = len([r for r in transport.requests if "/static/" in r.url.path])
    sync(connection, "deliveries", transport)
    assert len([r for r in transport.requests if "/static/" in r.url.path]) == labels_before  # downloaded once
    outcome, _ = sync(connection, "returns", transport)
    assert outcome.created == len(bm.returns)
    returned = Return.objects.first()
    assert returned.order_item is not None and returned.order_item.external_id == returned.orderline_external_id
    assert returned.label_file.read().rstrip().endswith(b"%%EOF")


def test_a_failed_label_is_retried_next_tick_without_blocking_the_rest(connection, transport, bm, media):
    bm.control("label_fail", {"count": 2})
    outcome, _ = sync(connection, "deliveries", transport)
    assert outcome.status == "ok" and outcome.created == len(bm.deliveries)
    failed = Delivery.objects.filter(label_file="")
    assert failed.count() == 2 and all(d.label_error and d.label_attempts == 1 for d in failed)
    assert Delivery.objects.exclude(label_file="").count() == len(bm.deliveries) - 2
    ids = list(failed.values_list("pk", flat=True))
    sync(connection, "deliveries", transport)
    for delivery in Delivery.objects.filter(pk__in=ids):
        assert delivery.label_file and delivery.label_error == ""


def test_waf_block_during_sync_is_transient_not_auth(connection, transport, bm, settings):
    settings.SYNC_MAX_RETRY_WAIT_SECONDS = 0
    bm.control("waf", {"count": 5, "form": "challenge"})
    outcome, state = sync(connection, "orders", transport)
    assert outcome.status == "failed" and state.error_kind == "transient"
    bm.control("unauthorized", {"count": 1})
    bm.forced_waf.clear()
    outcome, state = sync(connection, "orders", transport)
    assert state.error_kind == "auth"


def test_daily_safety_sweep_by_creation_date_catches_a_change_without_a_new_modification_date(connection, transport, bm):
    sync(connection, "orders", transport)
    state = EntitySync.objects.get(connection=connection, entity="orders")
    assert state.cursor["safety_sweep_at"]
    silent = next(o for o in bm.orders.values() if o["state"] == 9 and o["date_modification"] < bm.started - timedelta(days=1))
    silent["tracking_number"] = "CHANGED-QUIETLY"  # date_modification not bumped
    transport.requests.clear()
    sync(connection, "orders", transport)
    assert all("date_creation" not in q for q in order_queries(transport))  # not due again within a day
    assert Order.objects.get(external_id=str(silent["order_id"])).tracking_number != "CHANGED-QUIETLY"
    state.cursor["safety_sweep_at"] = (timezone.now() - timedelta(days=2)).isoformat()
    EntitySync.objects.filter(pk=state.pk).update(cursor=state.cursor)
    transport.requests.clear()
    outcome, state = sync(connection, "orders", transport)
    assert outcome.status == "ok"
    assert "date_creation" in order_queries(transport)[0] and "date_modification" in order_queries(transport)[-1]
    assert Order.objects.get(external_id=str(silent["order_id"])).tracking_number == "CHANGED-QUIETLY"
    assert parse_datetime(state.cursor["safety_sweep_at"]) > timezone.now() - timedelta(minutes=1)


def test_shipments_synced_before_their_orders_are_linked_when_the_orders_arrive(connection, transport, bm, media):
    sync(connection, "deliveries", transport)
    sync(connection, "returns", transport)
    assert not Delivery.objects.filter(order__isnull=False).exists()
    sync(connection, "orders", transport)
    delivery = Delivery.objects.exclude(orderline_ids=[]).first()
    assert delivery.order is not None and delivery.order.external_id == delivery.order_external_id
    assert {i.external_id for i in delivery.items.all()} == set(delivery.orderline_ids)
    returned = Return.objects.first()
    assert returned.order_item is not None and returned.order_item.external_id == returned.orderline_external_id


def test_a_listing_that_does_not_parse_on_an_early_page_is_not_marked_removed(connection, transport, bm):
    sync(connection, "listings", transport)
    unreadable = bm.listings[0]
    unreadable["price"] = "not a price"  # still listed, but its payload no longer parses
    outcome, _ = sync(connection, "listings", transport)
    assert outcome.pages == 3 and any(str(unreadable["id"]) in b for b in outcome.bad_records)
    assert Listing.objects.get(external_id=str(unreadable["id"])).removed_at is None
    assert Listing.objects.filter(removed_at__isnull=False).count() == 0
