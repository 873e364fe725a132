from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from inventory.catalog_sync import catalog_refresh
from inventory.models import InventoryItem, InventoryLot, Reservation
from inventory.selectors import inventory_check
from marketsync.marketplaces.brickowl.client import BrickOwlClient
from marketsync.marketplaces.brickowl.mapping import lot_record, order_record
from marketsync.simulator.core import simulator_token
from marketsync.sync.errors import AuthError
from marketsync.sync.runner import run_entity_sync
from orders.models import Order, OrderItem
from tests.marketplaces.bricklink.helpers import (
    SEED,
    CountingTransport,
    bricklink_connection,
    brickowl_connection,
    entity_sync,
    simulator,
)

BASE = "http://sim/brickowl/v1"


def test_key_goes_in_the_query_for_get_and_in_a_form_body_for_post():
    sim = simulator()
    transport = CountingTransport(sim)
    client = BrickOwlClient(http=httpx.Client(transport=transport), api_key=simulator_token("brickowl", SEED), base_url=BASE)
    entries = client.order_list(order_time=0)
    assert entries and all(isinstance(v, str) for v in entries[0].values())
    assert transport.requests[-1].url.params["key"] == simulator_token("brickowl", SEED)
    client.post("/order/set_status", order_id=entries[0]["order_id"], status_id=3)
    post = transport.requests[-1]
    assert post.headers["content-type"] == "application/x-www-form-urlencoded"
    assert b"key=" in post.content and "key" not in post.url.params
    assert client.order_view(entries[0]["order_id"])["status_id"] == "3"


def test_a_wrong_key_is_an_auth_error_that_does_not_show_the_key():
    client = BrickOwlClient(http=httpx.Client(transport=httpx.WSGITransport(app=simulator())), api_key="wrong-key-123",
                            base_url=BASE, sleep=lambda s: None)
    with pytest.raises(AuthError) as caught:
        client.order_list()
    assert "API key" in str(caught.value) and "wrong-key-123" not in str(caught.value)


def test_all_string_payloads_are_parsed_into_typed_records():
    entry = {"order_id": "3506238", "order_date": "1398955037", "status": "Processing", "status_id": "3",
             "base_order_total": "12.50"}
    view = {"order_id": "3506238", "status_id": "3", "order_time": "1398955037", "processed_time": None,
            "iso_processed_time": "1970-01-01T01:00:00+01:00", "base_currency": "EUR", "base_order_total": "12.50",
            "sub_total": "9.000", "ship_total": "3.50", "tracking_number": None, "affiliate_fee": 0.15425,
            "ship_first_name": "Ada", "ship_last_name": "L", "ship_country_code": "DE"}
    items = [{"order_item_id": "77", "lot_id": "5001", "boid": "487300-38", "name": "Plate 1 x 2", "type": "Part",
              "color_id": "38", "color_name": "Black", "condition": "Used (Good)", "full_con": "usedg",
              "ordered_quantity": "12", "refunded_quantity": "0", "base_price": "0.104", "personal_note": "B02",
              "bl_lot_id": "", "external_lot_ids": [], "ids": [{"id": "3023", "type": "bl_item_no"}]}]
    record = order_record(entry, view, items)
    assert record.status == "accepted" and record.marketplace_status == "Processing"
    assert record.placed_at == datetime.fromtimestamp(1398955037, UTC) and record.marketplace_updated_at is None
    assert record.total_amount == Decimal("12.50") and record.shipping_amount == Decimal("3.50")
    item = record.items[0]
    assert (item.quantity, item.unit_price, item.condition, item.location, item.part_number) == (12, Decimal("0.104"), "used",
                                                                                                 "B02", "3023")
    assert item.listing_ref == "5001" and item.details["bl_lot_id"] == ""
    lot = lot_record({"lot_id": "9", "boid": "487300-38", "type": "Part", "color_id": "38", "full_con": "news", "qty": "5",
                      "price": "0.720", "personal_note": "A1", "external_lot_ids": {"other": "55984791"}, "ids": []})
    assert (lot.quantity, lot.condition, lot.external_bricklink_id, lot.part_number) == (5, "new", "55984791", "")
    assert (lot.brickowl_boid, lot.brickowl_color_id, lot.brickowl_type, lot.color_id) == ("487300-38", "38", "Part", "")


@pytest.mark.django_db
def test_orders_sync_reviews_open_orders_and_releases_a_cancellation():
    sim = simulator(orders=15)
    transport = CountingTransport(sim)
    connection = brickowl_connection()
    assert run_entity_sync(entity_sync(connection, "inventory").pk, transport=transport).status == "ok"
    catalog_refresh(transport=transport)  # the beat's catalog run: the lots' colours and items in BrickLink's terms
    order_id = sim["brickowl"].control("new_order", {})["order_id"]
    outcome = run_entity_sync(entity_sync(connection, "orders").pk, transport=transport)
    assert outcome.status == "ok", outcome.error
    assert Order.objects.filter(connection=connection).count() == len(sim["brickowl"].orders)
    order = Order.objects.get(connection=connection, external_id=order_id)
    assert order.status == "awaiting_payment" and not order.has_unmatched_items
    assert Reservation.objects.filter(order_item__order=order, state="open").count() == OrderItem.objects.filter(order=order).count()
    sim["brickowl"].control("cancel", {"order_id": order_id})
    transport.requests.clear()
    run_entity_sync(entity_sync(connection, "orders").pk, transport=transport)
    assert "/brickowl/v1/order/view" in transport.paths()  # open orders are re-viewed: the list has no update time
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert set(Reservation.objects.filter(order_item__order=order).values_list("state", flat=True)) == {"released"}
    assert inventory_check() == []


@pytest.mark.django_db
def test_brick_owl_lots_join_the_bricklink_lot_they_were_created_from():
    sim = simulator(orders=0)
    transport = CountingTransport(sim)
    bricklink = bricklink_connection()
    owl = brickowl_connection(organization=bricklink.organization)
    run_entity_sync(entity_sync(bricklink, "inventory").pk, transport=transport)
    items_before = InventoryItem.objects.count()
    run_entity_sync(entity_sync(owl, "inventory").pk, transport=transport)
    catalog_refresh(transport=transport)
    linked = InventoryLot.objects.filter(connection=owl).exclude(external_bricklink_id="")
    assert linked.exists()
    for lot in linked:
        assert InventoryLot.objects.get(connection=bricklink, external_id=lot.external_bricklink_id).item_id == lot.item_id
    # Same parts, colours, conditions and bins: no new items but the minifigure only Brick Owl sells.
    new_items = InventoryItem.objects.exclude(lots__connection=bricklink)
    assert InventoryItem.objects.count() == items_before + 1
    assert list(new_items.values_list("part_number", "item_type", "color_id")) == [("sw0001a", "MINIFIG", "0")]
