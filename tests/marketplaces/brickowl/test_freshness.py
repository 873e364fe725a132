"""Brick Owl orders stay fresh until final: item edits and refunds on open orders, and shipped and received
orders within the window (received, refunded, cancelled), arrive without a status change in the list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from inventory.catalog_sync import catalog_refresh
from inventory.models import Reservation
from inventory.selectors import inventory_check
from marketsync.marketplaces.brickowl.adapters import FINAL_STATUSES, SETTLING_STATUSES
from orders.models import Order, OrderItem
from tests.marketplaces.bricklink.helpers import CountingTransport, brickowl_connection, simulator, sync

pytestmark = pytest.mark.django_db

VIEW, ITEMS, LIST = "/brickowl/v1/order/view", "/brickowl/v1/order/items", "/brickowl/v1/order/list"


@pytest.fixture
def owl():
    sim = simulator(orders=30)
    transport = CountingTransport(sim)
    connection = brickowl_connection()
    sync(connection, "inventory", transport)
    catalog_refresh(transport=transport)  # the beat's catalog run: lots in BrickLink's terms, so orders reserve
    transport.requests.clear()
    return sim, transport, connection



def viewed(transport) -> list[str]:
    return [r.url.params["order_id"] for r in transport.requests if r.url.path == VIEW]


def open_reservation(order: Order) -> Reservation:
    return Reservation.objects.get(order_item__order=order, order_item__external_id=order.items.order_by("id").first().external_id)


def shipped_at_brick_owl(sim, *, older_than: timedelta) -> list[str]:
    """Orders Shipped at Brick Owl and placed long enough ago that the new-order list no longer shows them."""
    cutoff = sim.clock.now() - older_than
    return [oid for oid, o in sim["brickowl"].orders.items() if o["status_id"] == 5 and o["placed"] < cutoff]


def test_a_quantity_edit_on_an_open_order_arrives_and_moves_its_reservation(owl):
    sim, transport, connection = owl
    order_id = sim["brickowl"].control("new_order", {})["order_id"]
    sync(connection, "orders", transport)
    order = Order.objects.get(connection=connection, external_id=order_id)
    item = order.items.order_by("id").first()
    before = item.quantity
    assert open_reservation(order).quantity == before

    sim["brickowl"].control("set_quantity", {"order_id": order_id, "line": 0, "quantity": before + 3})
    sync(connection, "orders", transport)

    item.refresh_from_db()
    order.refresh_from_db()
    assert order.marketplace_status == "Pending"  # no status change told the sync anything
    assert item.quantity == before + 3
    assert open_reservation(order).quantity == before + 3
    assert inventory_check() == []


@override_settings(BRICKOWL_OPEN_ORDER_REFRESH_SECONDS=3600)
def test_a_refunded_line_on_an_open_order_arrives_once_the_order_is_due_and_releases_its_share(owl):
    sim, transport, connection = owl
    order_id = sim["brickowl"].control("new_order", {})["order_id"]
    sim["brickowl"].control("set_quantity", {"order_id": order_id, "line": 0, "quantity": 6})
    sync(connection, "orders", transport)
    order = Order.objects.get(connection=connection, external_id=order_id)
    assert open_reservation(order).quantity == 6

    # A refund shows nowhere in the list: the open order's paced re-read brings it (the reservation holds meanwhile,
    # so nothing is oversold).
    sim["brickowl"].control("refund_line", {"order_id": order_id, "line": 0, "quantity": 2})
    transport.requests.clear()
    sync(connection, "orders", transport)
    assert order_id not in viewed(transport) and open_reservation(order).quantity == 6
    Order.objects.filter(pk=order.pk).update(last_synced_at=timezone.now() - timedelta(hours=1, minutes=1))
    sync(connection, "orders", transport)

    item = order.items.order_by("id").first()
    assert item.details["refunded_quantity"] == 2 and item.quantity == 6
    reservation = open_reservation(order)
    assert reservation.state == "open" and reservation.quantity == 4
    assert Order.objects.get(pk=order.pk).details["refund_total"] != "0.00"
    assert inventory_check() == []


def test_orders_moved_from_shipped_to_received_arrive_on_the_next_sync(owl):
    sim, transport, connection = owl
    sync(connection, "orders", transport)
    moved = shipped_at_brick_owl(sim, older_than=timedelta(hours=1))
    assert len(moved) >= 3
    assert set(Order.objects.filter(connection=connection, external_id__in=moved).values_list("marketplace_status", flat=True)) == {
        "Shipped"}
    for order_id in moved:
        sim["brickowl"].control("set_status", {"order_id": order_id, "status_id": 6})

    transport.requests.clear()
    sync(connection, "orders", transport)

    stored = Order.objects.filter(connection=connection, external_id__in=moved)
    assert set(stored.values_list("marketplace_status", "status")) == {("Received", "delivered")}
    assert [r.url.path for r in transport.requests].count(LIST) == 1  # one list of the window tells which moved on
    assert inventory_check() == []


def test_a_cancellation_after_shipping_arrives_on_the_next_sync(owl):
    sim, transport, connection = owl
    sync(connection, "orders", transport)
    order_id = shipped_at_brick_owl(sim, older_than=timedelta(hours=1))[0]
    order = Order.objects.get(connection=connection, external_id=order_id)
    consumed = set(Reservation.objects.filter(order_item__order=order).values_list("pk", "state"))

    sim["brickowl"].control("cancel", {"order_id": order_id})
    sync(connection, "orders", transport)

    order.refresh_from_db()
    assert (order.marketplace_status, order.status) == ("Cancelled", "cancelled")
    # Stock left with the parcel: a later cancellation moves no stock.
    assert set(Reservation.objects.filter(order_item__order=order).values_list("pk", "state")) == consumed
    assert inventory_check() == []


@override_settings(BRICKOWL_SHIPPED_REFRESH_SECONDS=6 * 3600)
def test_a_refund_on_a_received_order_arrives_once_the_order_is_due_again(owl):
    sim, transport, connection = owl
    sync(connection, "orders", transport)
    order_id = next(oid for oid, o in sim["brickowl"].orders.items() if o["status_id"] == 6)
    sim["brickowl"].control("refund_line", {"order_id": order_id, "line": 0, "quantity": 1})
    order = Order.objects.get(connection=connection, external_id=order_id)

    transport.requests.clear()
    sync(connection, "orders", transport)
    assert order_id not in viewed(transport)  # read moments ago: not due yet

    Order.objects.filter(pk=order.pk).update(last_synced_at=timezone.now() - timedelta(hours=7))
    transport.requests.clear()
    sync(connection, "orders", transport)

    assert order_id in viewed(transport)
    order.refresh_from_db()
    assert order.marketplace_status == "Received" and order.details["refund_total"] != "0.00"
    assert order.items.order_by("id").first().details["refunded_quantity"] == 1
    assert inventory_check() == []


@override_settings(BRICKOWL_SHIPPED_REFRESH_SECONDS=3600, BRICKOWL_OPEN_ORDER_REFRESH_SECONDS=3600, BRICKOWL_REREADS_PER_TICK=3)
def test_an_idle_tick_costs_one_list_and_due_orders_are_paced_open_ones_first(owl):
    sim, transport, connection = owl
    sim["brickowl"].control("cancel", {"order_id": shipped_at_brick_owl(sim, older_than=timedelta(hours=1))[0]})
    sync(connection, "orders", transport)
    orders = Order.objects.filter(connection=connection)
    open_ids = set(orders.exclude(marketplace_status__in=FINAL_STATUSES + SETTLING_STATUSES).values_list("external_id", flat=True))
    settling = orders.filter(marketplace_status__in=SETTLING_STATUSES)
    assert len(open_ids) >= 2 and settling.count() > 3 and orders.filter(marketplace_status__in=FINAL_STATUSES).exists()

    transport.requests.clear()
    sync(connection, "orders", transport)
    assert transport.paths() == [LIST]  # nothing changed, nothing due: the window's list and no order read

    # An hour later every order is due: three a tick, open ones first, least recently read first.
    hour_ago = timezone.now() - timedelta(hours=1, minutes=1)
    orders.update(last_synced_at=hour_ago)
    open_first = sorted(open_ids, key=lambda v: (len(v), v))[:2]
    Order.objects.filter(connection=connection, external_id__in=open_first).update(last_synced_at=hour_ago - timedelta(minutes=5))
    transport.requests.clear()
    sync(connection, "orders", transport)
    assert len(viewed(transport)) == 3 and set(open_first) <= set(viewed(transport))
    assert set(viewed(transport)) <= open_ids | set(settling.values_list("external_id", flat=True))
    assert len(transport.requests) == 1 + 2 * 3


@override_settings(BRICKOWL_SHIPPED_WINDOW_DAYS=1)
def test_shipped_orders_placed_before_the_window_are_final_and_never_read_again(owl):
    sim, transport, connection = owl
    sync(connection, "orders", transport)
    order_id = shipped_at_brick_owl(sim, older_than=timedelta(days=2))[0]
    sim["brickowl"].control("set_status", {"order_id": order_id, "status_id": 6})
    Order.objects.filter(connection=connection).update(last_synced_at=timezone.now() - timedelta(days=3))
    transport.requests.clear()
    sync(connection, "orders", transport)
    assert order_id not in viewed(transport)
    assert Order.objects.get(connection=connection, external_id=order_id).marketplace_status == "Shipped"
    assert OrderItem.objects.filter(order__external_id=order_id, connection=connection).exists()
