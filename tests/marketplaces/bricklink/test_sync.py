from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from connections.budget import bricklink_calls_last_24h
from connections.models import ApiCallCount, EntitySync
from inventory.models import InventoryItem, InventoryLot, Reservation
from inventory.selectors import inventory_check
from marketsync.sync.refresh import record_refresh
from marketsync.sync.runner import run_entity_sync
from orders.models import Order, OrderItem
from tests.marketplaces.bricklink.helpers import CountingTransport, bricklink_connection, entity_sync, simulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    sim = simulator(orders=20)
    transport = CountingTransport(sim)
    connection = bricklink_connection()
    return sim, transport, connection


def _sync(connection, entity, transport):
    return run_entity_sync(entity_sync(connection, entity).pk, transport=transport, force=True)


def test_first_sync_stores_orders_items_and_unified_statuses(world):
    sim, transport, connection = world
    outcome = _sync(connection, "orders", transport)
    assert outcome.status == "ok", outcome.error
    listed = [o for o in sim["bricklink"].orders.values() if not o["is_filed"]]
    assert Order.objects.filter(connection=connection).count() == len(listed)
    order = Order.objects.filter(connection=connection, marketplace_status="SHIPPED").first()
    assert order.status == "shipped" and order.tracking_number.startswith("1Z")
    item = OrderItem.objects.filter(order=order).first()
    lot = sim["bricklink"].lots[int(item.listing_ref)]
    assert (item.part_number, item.color_id, item.location) == (lot["item"]["no"], str(lot["color_id"]), lot["remarks"])
    assert item.condition in ("new", "used") and item.unit_price == item.unit_price.quantize(item.unit_price)
    # 1 list + 2 per order
    assert len(transport.requests) == 1 + 2 * len(listed)


def test_idle_tick_makes_exactly_one_call_and_a_moved_order_is_fetched_again(world):
    sim, transport, connection = world
    order_id = sim["bricklink"].control("new_order", {})["order_id"]
    _sync(connection, "orders", transport)
    transport.requests.clear()
    assert _sync(connection, "orders", transport).status == "ok"
    assert transport.paths() == ["/bricklink/api/store/v1/orders"]
    sim.clock.advance(60)
    sim["bricklink"].control("ship", {"order_id": order_id})
    transport.requests.clear()
    _sync(connection, "orders", transport)
    assert transport.paths() == [
        "/bricklink/api/store/v1/orders",
        f"/bricklink/api/store/v1/orders/{order_id}",
        f"/bricklink/api/store/v1/orders/{order_id}/items",
    ]
    assert Order.objects.get(connection=connection, external_id=str(order_id)).status == "shipped"


def test_every_call_is_counted_per_connection_and_hour(world):
    sim, transport, connection = world
    _sync(connection, "orders", transport)
    assert bricklink_calls_last_24h(connection=connection) == len(transport.requests)
    ApiCallCount.objects.create(connection=connection, hour=timezone.now().replace(minute=0, second=0, microsecond=0)
                                - timedelta(hours=30), calls=999)
    assert bricklink_calls_last_24h(connection=connection) == len(transport.requests)  # outside the 24 h window


@override_settings(BRICKLINK_DAILY_CALL_LIMIT=100, BRICKLINK_INVENTORY_PAUSE_AT=0.8)
def test_budget_pauses_inventory_first_then_everything_at_the_limit(world):
    sim, transport, connection = world
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    ApiCallCount.objects.create(connection=connection, hour=hour - timedelta(hours=3), calls=85)
    inventory = run_entity_sync(entity_sync(connection, "inventory").pk, transport=transport)
    assert inventory.status == "skipped" and "Inventory import paused" in inventory.error and "85 of 100" in inventory.error
    assert transport.requests == []
    orders = run_entity_sync(entity_sync(connection, "orders").pk, transport=transport)
    assert orders.status == "ok"
    ApiCallCount.objects.filter(connection=connection).update(calls=200)
    transport.requests.clear()
    waiting = run_entity_sync(entity_sync(connection, "orders").pk, transport=transport)
    assert waiting.status == "skipped" and "daily call limit" in waiting.error
    assert transport.requests == []
    assert "daily call limit" in EntitySync.objects.get(connection=connection, entity="orders").last_error


def test_inventory_then_orders_reserve_stock_and_shipment_consumes_once(world):
    sim, transport, connection = world
    assert _sync(connection, "inventory", transport).status == "ok"
    lots = sim["bricklink"].lots
    assert InventoryLot.objects.filter(connection=connection).count() == len(lots)
    _sync(connection, "orders", transport)
    open_orders = Order.objects.filter(connection=connection, status__in=["new", "accepted", "awaiting_payment", "on_hold"])
    expected = sum(i.quantity for i in OrderItem.objects.filter(order__in=open_orders))
    assert sum(InventoryItem.objects.values_list("quantity_reserved", flat=True)) == expected > 0
    assert inventory_check() == []
    order = open_orders.first()
    before = {r.item_id: (r.item.quantity_on_hand, r.quantity) for r in Reservation.objects.filter(order_item__order=order)}
    sim.clock.advance(60)
    sim["bricklink"].control("ship", {"order_id": order.external_id})
    for _ in range(2):
        _sync(connection, "orders", transport)
        record_refresh(connection=connection, entity="orders", external_id=order.external_id, transport=transport)
    for reservation in Reservation.objects.filter(order_item__order=order).select_related("item"):
        on_hand, held = before[reservation.item_id]
        assert reservation.state == "consumed"
        assert reservation.item.quantity_on_hand == on_hand - held
    assert inventory_check() == []


def test_reimporting_inventory_never_overwrites_on_hand(world):
    sim, transport, connection = world
    _sync(connection, "inventory", transport)
    item = InventoryItem.objects.order_by("pk").first()
    lot = item.lots.first()
    sim["bricklink"].lots[int(lot.external_id)]["quantity"] = 1
    _sync(connection, "inventory", transport)
    item.refresh_from_db()
    lot.refresh_from_db()
    assert lot.marketplace_quantity == 1 and item.quantity_on_hand > 1


def test_amended_order_reserves_the_added_batch_via_a_refresh(world):
    sim, transport, connection = world
    _sync(connection, "inventory", transport)
    order_id = sim["bricklink"].control("new_order", {})["order_id"]
    _sync(connection, "orders", transport)
    reserved = sum(InventoryItem.objects.values_list("quantity_reserved", flat=True))
    sim["bricklink"].control("amend", {"order_id": order_id, "quantity": 4})
    record_refresh(connection=connection, entity="orders", external_id=str(order_id), transport=transport)
    assert sum(InventoryItem.objects.values_list("quantity_reserved", flat=True)) == reserved + 4
    assert inventory_check() == []


@override_settings(BRICKLINK_DAILY_CALL_LIMIT=10)
def test_a_single_order_refresh_also_respects_the_daily_limit(world):
    from marketsync.sync.errors import RateLimited

    sim, transport, connection = world
    ApiCallCount.objects.create(connection=connection, hour=timezone.now().replace(minute=0, second=0, microsecond=0), calls=10)
    with pytest.raises(RateLimited, match="daily call limit"):
        record_refresh(connection=connection, entity="orders", external_id="8000001", transport=transport)
    assert transport.requests == []


def test_an_item_change_without_a_status_change_or_a_push_arrives_on_the_next_tick(world):
    sim, transport, connection = world
    _sync(connection, "inventory", transport)
    order_id = sim["bricklink"].control("new_order", {})["order_id"]
    _sync(connection, "orders", transport)
    reserved = sum(InventoryItem.objects.values_list("quantity_reserved", flat=True))
    sim["bricklink"].control("amend", {"order_id": order_id, "quantity": 5})
    sim["bricklink"].notifications.clear()  # the push notification got lost
    transport.requests.clear()
    _sync(connection, "orders", transport)
    # The list entry's piece and lot counts moved: the order is read again at once, nothing else is.
    assert transport.paths() == [
        "/bricklink/api/store/v1/orders",
        f"/bricklink/api/store/v1/orders/{order_id}",
        f"/bricklink/api/store/v1/orders/{order_id}/items",
    ]
    assert sum(InventoryItem.objects.values_list("quantity_reserved", flat=True)) == reserved + 5
    assert inventory_check() == []
    transport.requests.clear()
    _sync(connection, "orders", transport)
    assert len(transport.requests) == 1  # read once: the next tick is idle again
