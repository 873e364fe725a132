"""A connection's order sync and inventory sync running at the same moment (issue 13 item 6): no integrity error,
and the ledger holds every guarantee afterwards. Needs PostgreSQL (SQLite has one writer at a time)."""

import threading

import pytest
from django.db import connection as db

from conftest import require_server
from inventory.models import InventoryItem, Reservation, StockMovement
from inventory.selectors import inventory_check
from marketsync.sync.runner import run_entity_sync
from tests.marketplaces.bricklink.helpers import CountingTransport, bricklink_connection, entity_sync, simulator

ROUNDS = 4


def _concurrently(*jobs):
    barrier = threading.Barrier(len(jobs))
    errors, outcomes = [], []

    def run(job):
        from django.db import connection as thread_db
        try:
            barrier.wait(30)
            outcomes.append(job())
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            thread_db.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors, outcomes


@pytest.mark.django_db(transaction=True)
def test_order_sync_and_inventory_sync_of_one_connection_at_once_never_break_the_ledger():
    if db.vendor != "postgresql":
        require_server("PostgreSQL (DATABASE_URL) for concurrent workers")
    sim = simulator(orders=40)
    connection = bricklink_connection()
    orders_sync, inventory_sync = entity_sync(connection, "orders"), entity_sync(connection, "inventory")
    for _ in range(ROUNDS):
        for _ in range(3):
            sim["bricklink"].control("new_order", {})
        errors, outcomes = _concurrently(
            lambda: run_entity_sync(orders_sync.pk, transport=CountingTransport(sim), force=True),
            lambda: run_entity_sync(inventory_sync.pk, transport=CountingTransport(sim), force=True),
        )
        assert errors == []
        assert [o.error for o in outcomes if o.error] == []
        assert sorted(o.status for o in outcomes) == ["ok", "ok"], [(o.entity, o.status) for o in outcomes]
    assert InventoryItem.objects.filter(organization=connection.organization).exists()
    assert Reservation.objects.filter(order_item__connection=connection).exists()
    items = InventoryItem.objects.filter(organization=connection.organization)
    for item in items:  # every item's ledger is one unbroken sequence ending at its version
        assert list(item.movements.order_by("sequence").values_list("sequence", flat=True)) == list(range(1, item.version + 1))
    assert StockMovement.objects.filter(item__in=items).exists()
    assert inventory_check() == []


@pytest.mark.django_db(transaction=True)
def test_two_imports_creating_the_same_stock_item_at_once_write_its_first_ledger_line_once():
    """Two imports that both find a part new (a sync and the catalog task storing waiting lots, say) insert the same
    item: the second one's insert meets the first's row. Only the import that created the item writes its first
    ledger line; the other neither fails nor writes a second line 1."""
    if db.vendor != "postgresql":
        require_server("PostgreSQL (DATABASE_URL) for concurrent workers")
    from django.db import transaction

    from inventory.services import inventory_upsert_lots
    from marketsync.sync.records import LotRecord
    from tests.factories import make_connection, make_organization

    connection = make_connection(make_organization("race"), "bricklink")
    records = [LotRecord(external_id=str(900 + n), part_number=f"30{n:02d}", item_type="PART", color_id="11",
                         condition="new", quantity=5, location="A01") for n in range(30)]

    def import_once():
        with transaction.atomic():
            return inventory_upsert_lots(connection=connection, records=records)

    errors, _ = _concurrently(import_once, import_once)
    assert errors == []
    items = InventoryItem.objects.filter(organization=connection.organization)
    assert items.count() == 30
    assert sorted(set(items.values_list("quantity_on_hand", "version"))) == [(5, 1)]
    assert StockMovement.objects.filter(item__in=items).count() == 30
    assert inventory_check() == []
