"""The brick order lifecycle read right, through run_entity_sync against the simulators: unpaid orders are not ready
to ship, purged orders keep their outcome, items and stock, filed orders keep being read, and lots not for sale are
never counted as offered (bricklink.md and brickowl.md, corrections at their ends)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inventory.models import InventoryLot, Reservation, StockMovement
from inventory.selectors import inventory_check
from marketsync.sync.records import READY_TO_SHIP_STATUSES, LotSaleStatus, UnifiedStatus
from orders.models import Order
from tests.factories import make_user
from tests.marketplaces.bricklink.helpers import (
    CountingTransport,
    bricklink_connection,
    brickowl_connection,
    simulator,
    sync,
    synced_bricklink,
)

pytestmark = pytest.mark.django_db

ROOT = "/bricklink/api/store/v1"


@pytest.fixture
def world():
    return synced_bricklink()


def stored(connection, order_id) -> Order:
    return Order.objects.get(connection=connection, external_id=str(order_id))


def held_order(sim, status: str) -> int:
    """A new BrickLink order held (no plan) in ``status``."""
    bricklink = sim["bricklink"]
    order_id = bricklink.control("new_order", {})["order_id"]
    sim.clock.advance(60)
    bricklink.control("set_status", {"order_id": order_id, "status": status})
    return order_id


# --- 9. ready to ship only once paid ----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["PROCESSING", "READY"])
def test_an_invoiced_bricklink_order_awaits_payment_until_the_money_arrives(world, status):
    sim, transport, connection = world
    order_id = held_order(sim, status)

    sync(connection, "orders", transport)
    order = stored(connection, order_id)
    assert (order.marketplace_status, order.status, order.details["payment_status"]) == (status, "awaiting_payment", "None")
    assert order.status not in READY_TO_SHIP_STATUSES
    assert Reservation.objects.filter(order_item__order=order).count() == order.items.count()  # still reserves stock

    # The money arrives (or the seller marks it received): the status and its change time stay, no push.
    sim["bricklink"].control("pay", {"order_id": order_id, "payment_status": "Received"})
    sim["bricklink"].notifications.clear()
    transport.requests.clear()
    sync(connection, "orders", transport)

    assert f"{ROOT}/orders/{order_id}" in transport.paths()
    order = stored(connection, order_id)
    assert (order.marketplace_status, order.status) == (status, "new")
    assert inventory_check() == []


def test_the_ready_to_ship_tab_shows_paid_orders_only(world, client):
    sim, transport, connection = world
    unpaid = held_order(sim, "READY")
    paid = held_order(sim, "PAID")
    sync(connection, "orders", transport)
    client.force_login(make_user("packer", connection.organization))

    body = client.get(reverse("orders:order_list"), {"status": "ready"}).content.decode()
    awaiting = client.get(reverse("orders:order_list"), {"status": "awaiting_payment"}).content.decode()

    assert f">{paid}</a>" in body and f">{unpaid}</a>" not in body
    assert f">{unpaid}</a>" in awaiting and f">{paid}</a>" not in awaiting


# --- 10. purged orders ------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome,unified", [("COMPLETED", "delivered"), ("SHIPPED", "shipped"), ("CANCELLED", "cancelled")])
def test_a_purged_order_keeps_its_outcome_items_and_stock(world, client, outcome, unified):
    sim, transport, connection = world
    order_id = held_order(sim, "PAID")
    sync(connection, "orders", transport)
    sim.clock.advance(60)
    sim["bricklink"].control("set_status", {"order_id": order_id, "status": outcome})
    sync(connection, "orders", transport)
    order = stored(connection, order_id)
    items = sorted(order.items.values_list("external_id", "quantity", "status"))
    assert items and order.status == unified
    movements = StockMovement.objects.count()
    reservations = sorted(Reservation.objects.filter(order_item__order=order).values_list("pk", "state"))

    sim.clock.advance(60)
    sim["bricklink"].control("purge", {"order_id": order_id})
    transport.requests.clear()
    sync(connection, "orders", transport)

    assert f"{ROOT}/orders/{order_id}/items" in transport.paths()  # it was read: BrickLink answered no items
    order = stored(connection, order_id)
    assert (order.marketplace_status, order.status) == ("PURGED", unified)
    assert sorted(order.items.values_list("external_id", "quantity", "status")) == items
    assert order.items_count == sum(quantity for _, quantity, _ in items)
    assert StockMovement.objects.count() == movements
    assert sorted(Reservation.objects.filter(order_item__order=order).values_list("pk", "state")) == reservations
    assert inventory_check() == []

    client.force_login(make_user("packer", connection.organization))
    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert "Purged at BrickLink" in page and 'id="purged-at-bricklink"' in page


def test_a_purged_order_stored_in_a_page_with_others_leaves_their_item_counts_right(world):
    sim, transport, connection = world
    purged = held_order(sim, "COMPLETED")
    other = held_order(sim, "PAID")
    sync(connection, "orders", transport)
    sim.clock.advance(60)
    sim["bricklink"].control("purge", {"order_id": purged})
    sim["bricklink"].control("amend", {"order_id": other, "quantity": 3})

    sync(connection, "orders", transport)

    order = stored(connection, other)
    assert order.items_count == sum(order.items.values_list("quantity", flat=True))
    assert stored(connection, purged).items_count > 0


# --- 11. filed orders -------------------------------------------------------------------------------------


def test_an_open_order_filed_away_is_read_by_id_at_once_and_then_left_to_the_filed_listing(world):
    sim, transport, connection = world
    order_id = held_order(sim, "PAID")
    sync(connection, "orders", transport)
    sim.clock.advance(60)
    sim["bricklink"].control("file", {"order_id": order_id})
    sim["bricklink"].control("set_status", {"order_id": order_id, "status": "PACKED"})
    sim["bricklink"].notifications.clear()  # no push reaches us
    transport.requests.clear()

    sync(connection, "orders", transport)

    assert f"{ROOT}/orders/{order_id}" in transport.paths()
    order = stored(connection, order_id)
    assert (order.marketplace_status, order.status, order.details["is_filed"]) == ("PACKED", "accepted", True)

    transport.requests.clear()
    sync(connection, "orders", transport)
    assert f"{ROOT}/orders/{order_id}" not in transport.paths()  # known filed: the filed listing covers it
    assert Order.objects.filter(connection=connection, external_id=str(order_id)).exists()  # never deleted


# --- 12. lots not for sale --------------------------------------------------------------------------------


def test_stockroom_unavailable_and_reserved_lots_keep_their_status_and_offer_nothing():
    sim = simulator(orders=0)
    lots = sorted(sim["bricklink"].lots)
    cases = {lots[0]: ("S", LotSaleStatus.STOCKROOM_A), lots[1]: ("C", LotSaleStatus.STOCKROOM_C),
             lots[2]: ("N", LotSaleStatus.UNAVAILABLE), lots[3]: ("R", LotSaleStatus.RESERVED),
             lots[4]: ("Y", LotSaleStatus.FOR_SALE)}
    for inventory_id, (letter, _) in cases.items():
        sim["bricklink"].control("set_lot_status", {"inventory_id": inventory_id, "status": letter})
    connection = bricklink_connection()
    transport = CountingTransport(sim)

    sync(connection, "inventory", transport)

    assert sorted(r.url.params.get("status", "") for r in transport.requests) == ["", "N", "R"]
    for inventory_id, (_, sale_status) in cases.items():
        lot = InventoryLot.objects.get(connection=connection, external_id=str(inventory_id))
        quantity = sim["bricklink"].lots[inventory_id]["quantity"]
        assert (lot.sale_status, lot.marketplace_quantity) == (sale_status, quantity)
        assert lot.quantity_for_sale == (quantity if sale_status == LotSaleStatus.FOR_SALE else 0)
        assert lot.item.quantity_on_hand >= quantity  # the seller's units, on hand
    assert inventory_check() == []

    # Back for sale at the next import.
    sim["bricklink"].control("set_lot_status", {"inventory_id": lots[0], "status": "Y"})
    sync(connection, "inventory", transport)
    assert InventoryLot.objects.get(connection=connection, external_id=str(lots[0])).sale_status == LotSaleStatus.FOR_SALE


# --- Brick Owl: Payment Submitted is not paid ------------------------------------------------------------


def test_a_brick_owl_order_is_ready_to_ship_at_payment_received_not_payment_submitted():
    sim = simulator(orders=5)
    transport = CountingTransport(sim)
    connection = brickowl_connection()
    owl = sim["brickowl"]
    order_id = owl.control("new_order", {})["order_id"]
    owl.control("set_status", {"order_id": order_id, "status_id": 1})
    sync(connection, "orders", transport)
    order = stored(connection, order_id)
    assert (order.marketplace_status, order.status) == ("Payment Submitted", UnifiedStatus.AWAITING_PAYMENT)

    owl.control("set_status", {"order_id": order_id, "status_id": 2})
    sync(connection, "orders", transport)
    order = stored(connection, order_id)
    assert (order.marketplace_status, order.status) == ("Payment Received", UnifiedStatus.NEW)
