"""The catalog run's retry of orders whose items were waiting for Brick Owl's catalog (``catalog_map_order_items``)
holds the organization's stock (``stock_lock_organization``), as every other caller of
``reservation_retry_unmatched`` does: it reserves once, leaves the ledger consistent, and on PostgreSQL waits for an
import or link change of the same organization that holds the stock."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection as db
from django.db import transaction

from conftest import require_server
from inventory.catalog_sync import catalog_refresh
from inventory.models import Reservation, UnmappedLot
from inventory.selectors import inventory_check
from inventory.services import stock_lock_organization
from orders.models import Order
from tests.marketplaces.bricklink.helpers import (
    CountingTransport,
    bricklink_connection,
    brickowl_connection,
    simulator,
    sync,
)


def _order_waiting_for_the_catalog():
    """A brick sold at Brick Owl (its BOID names no BrickLink number: it waits for a catalog lookup) whose stock item
    comes from the BrickLink store; the Brick Owl store itself is not imported, so no waiting lot of the catalog run
    takes the stock lock before the order items' retry."""
    sim = simulator(orders=0)
    transport = CountingTransport(sim)
    bricklink = bricklink_connection()
    owl = brickowl_connection(organization=bricklink.organization)
    sync(bricklink, "inventory", transport)
    brick = next(lot for lot in sim["brickowl"].lots.values() if lot["boid"] == "400001-95")  # BrickLink's 3003 in 86
    order_id = sim["brickowl"].control("sell", {"lots": {brick["lot_id"]: 2}})["order_id"]
    sync(owl, "orders", transport)
    order = Order.objects.get(connection=owl, external_id=order_id)
    assert order.has_unmatched_items and not Reservation.objects.filter(order_item__order=order).exists()
    assert not UnmappedLot.objects.exists()
    return order, transport


def _reserved(order) -> None:
    order.refresh_from_db()
    item = order.items.get()
    assert not order.has_unmatched_items and (item.part_number, item.color_id) == ("3003", "86")
    reservation = Reservation.objects.get(order_item=item)
    assert reservation.quantity == 2 and reservation.item.lots.filter(connection__marketplace="bricklink").exists()
    assert inventory_check() == []


@pytest.mark.django_db
def test_an_order_item_the_catalog_maps_reserves_the_bricklink_stock_once():
    order, transport = _order_waiting_for_the_catalog()
    assert catalog_refresh(transport=transport).order_items_mapped == 1
    _reserved(order)
    catalog_refresh(transport=transport)  # a second run finds nothing to map and reserves nothing more
    _reserved(order)


@pytest.mark.django_db(transaction=True)
def test_the_catalog_runs_reservation_retry_waits_for_the_organizations_stock_lock():
    if db.vendor != "postgresql":
        require_server("PostgreSQL (DATABASE_URL) for concurrent workers")
    order, transport = _order_waiting_for_the_catalog()
    outcome: list = []

    def catalog_run():
        from django.db import connection as thread_db
        try:
            outcome.append(catalog_refresh(transport=transport))
        except Exception as exc:  # noqa: BLE001 - shown by the assertion below
            outcome.append(exc)
        finally:
            thread_db.close()

    worker = threading.Thread(target=catalog_run)
    with transaction.atomic():  # another worker's import of this organization, holding its stock
        stock_lock_organization(organization_id=order.organization_id)
        worker.start()
        waited = False
        deadline = time.monotonic() + 30
        while worker.is_alive() and not waited and time.monotonic() < deadline:
            with db.cursor() as cursor:
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # else one snapshot for the whole transaction
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND query LIKE %s AND pid <> pg_backend_pid()", ['%connections_organization%'])
                waited = cursor.fetchone()[0] > 0
            time.sleep(0.05)
        assert not Reservation.objects.filter(order_item__order=order).exists()
    worker.join(60)
    assert waited, f"the catalog run finished without waiting for the organization's stock lock: {outcome}"
    assert len(outcome) == 1 and outcome[0].order_items_mapped == 1, outcome
    _reserved(order)
