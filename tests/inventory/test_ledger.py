import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.db import connection as db

from conftest import require_server
from connections.models import AuditEntry
from inventory.models import InventoryItem, Reservation, StockMovement
from inventory.selectors import inventory_check
from inventory.services import inventory_adjust, inventory_upsert_lots
from marketsync.sync.records import LotRecord, OrderItemRecord, OrderRecord
from marketsync.sync.refresh import record_refresh
from orders.models import Order
from orders.services import brick_order_upsert_page
from tests.factories import make_connection, make_organization
from tests.marketplaces.bricklink.helpers import CountingTransport, bricklink_connection, simulator


def _setup(quantity=40):
    connection = make_connection(make_organization("ledger"), "bricklink")
    inventory_upsert_lots(connection=connection, records=[
        LotRecord(external_id="900", part_number="3023", item_type="PART", color_id="11", condition="new", quantity=quantity,
                  location="A01"),
    ])
    return connection, InventoryItem.objects.get()


def _order(status="new", marketplace_status="PAID", quantity=5, lot="900", part="3023", location="A01"):
    return OrderRecord(external_id="1", status=status, marketplace_status=marketplace_status, items=[
        OrderItemRecord(external_id="1:900", status=status, quantity=quantity, unit_price=Decimal("0.05"), listing_ref=lot,
                        part_number=part, color_id="11", condition="new", location=location),
    ])


@pytest.mark.django_db
def test_database_refuses_a_second_settlement_and_a_replayed_step():
    connection, item = _setup()
    brick_order_upsert_page(connection=connection, records=[_order(status="cancelled", marketplace_status="CANCELLED")])
    assert not Reservation.objects.exists()  # first seen cancelled: nothing to hold
    brick_order_upsert_page(connection=connection, records=[_order()])
    reservation = Reservation.objects.get()
    brick_order_upsert_page(connection=connection, records=[_order(status="cancelled", marketplace_status="CANCELLED")])
    release = StockMovement.objects.get(kind="release")
    base = {f: getattr(release, f) for f in ("organization_id", "item_id", "on_hand_before", "on_hand_after", "reserved_before",
                                             "reserved_after", "source")}
    with pytest.raises(IntegrityError), transaction.atomic():  # a second settlement of the same reservation
        StockMovement.objects.create(**base, sequence=99, kind="consume", reservation=reservation, reservation_sequence=99)
    with pytest.raises(IntegrityError), transaction.atomic():  # the same reservation step twice
        StockMovement.objects.create(**base, sequence=98, kind="reserve", reservation=reservation,
                                     reservation_sequence=release.reservation_sequence)
    with pytest.raises(IntegrityError), transaction.atomic():  # a movement computed from a stale read of the item
        StockMovement.objects.create(**base, sequence=release.sequence, kind="adjust")
    with pytest.raises(IntegrityError), transaction.atomic():  # a second reservation for one order item
        Reservation.objects.create(organization_id=item.organization_id, item=item, order_item_id=reservation.order_item_id)
    assert inventory_check() == []


@pytest.mark.django_db
def test_quantity_change_applies_only_the_difference_and_unmatched_items_are_flagged():
    connection, item = _setup()
    brick_order_upsert_page(connection=connection, records=[_order(quantity=5)])
    brick_order_upsert_page(connection=connection, records=[_order(quantity=8)])
    brick_order_upsert_page(connection=connection, records=[_order(quantity=8)])
    item.refresh_from_db()
    assert item.quantity_reserved == 8
    assert list(StockMovement.objects.filter(kind="reserve").values_list("reserved_before", "reserved_after")) == [(0, 5), (5, 8)]
    other = OrderRecord(external_id="2", status="new", marketplace_status="PAID", items=[
        OrderItemRecord(external_id="2:1", status="new", quantity=2, listing_ref="nope", part_number="9999", color_id="1",
                        condition="new", location="Z9")])
    brick_order_upsert_page(connection=connection, records=[other])
    assert Order.objects.get(external_id="2").has_unmatched_items is True
    assert Order.objects.get(external_id="1").has_unmatched_items is False


@pytest.mark.django_db
def test_match_by_part_colour_condition_location_when_the_lot_is_unknown():
    connection, item = _setup()
    brick_order_upsert_page(connection=connection, records=[_order(lot="unknown-lot")])
    assert Reservation.objects.get().item_id == item.pk


@pytest.mark.django_db
def test_manual_adjust_writes_ledger_and_audit_and_check_command_reports_drift():
    connection, item = _setup(quantity=10)
    movement = inventory_adjust(organization=connection.organization, item_id=item.pk, delta=-3, reason="broken pieces",
                                actor="command")
    assert (movement.on_hand_before, movement.on_hand_after) == (10, 7)
    assert AuditEntry.objects.filter(action="inventory.adjust", target_id=str(item.pk)).exists()
    with pytest.raises(ValueError, match="reason"):
        inventory_adjust(organization=connection.organization, item_id=item.pk, delta=1, reason=" ")
    out = StringIO()
    call_command("inventory", "check", stdout=out)
    assert "ok" in out.getvalue().lower()
    InventoryItem.objects.filter(pk=item.pk).update(quantity_reserved=4)  # a bug or a hand edit
    with pytest.raises(SystemExit) as exit_info:
        call_command("inventory", "check", "--org", connection.organization.slug, stdout=StringIO(), stderr=StringIO())
    assert exit_info.value.code == 1


@pytest.mark.django_db
def test_adjust_command_changes_on_hand_and_refuses_a_missing_reason():
    connection, item = _setup(quantity=10)
    out = StringIO()
    call_command("inventory", "adjust", str(item.pk), "--delta", "5", "--reason", "recount", stdout=out)
    item.refresh_from_db()
    assert item.quantity_on_hand == 15 and "15" in out.getvalue()
    from django.core.management import CommandError
    with pytest.raises(CommandError):
        call_command("inventory", "adjust", "999999", "--delta", "1", "--reason", "x", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_the_same_order_at_once_reserve_once():
    if db.vendor != "postgresql":
        require_server("PostgreSQL (DATABASE_URL) for concurrent workers")
    sim = simulator(orders=5)
    connection = bricklink_connection()
    from marketsync.sync.runner import run_entity_sync
    from tests.marketplaces.bricklink.helpers import entity_sync

    run_entity_sync(entity_sync(connection, "inventory").pk, transport=CountingTransport(sim), force=True)
    order_id = str(sim["bricklink"].control("new_order", {})["order_id"])
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        from django.db import connection as thread_db
        try:
            barrier.wait()
            record_refresh(connection=connection, entity="orders", external_id=order_id, transport=CountingTransport(sim))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            thread_db.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    order = Order.objects.get(connection=connection, external_id=order_id)
    quantities = list(order.items.values_list("quantity", flat=True))
    reservations = Reservation.objects.filter(order_item__order=order)
    assert reservations.count() == len(quantities)
    assert sorted(reservations.values_list("quantity", flat=True)) == sorted(quantities)
    assert StockMovement.objects.filter(reservation__in=reservations, kind="reserve").count() == len(quantities)
    assert inventory_check() == []


@pytest.mark.django_db
def test_deleting_a_connection_releases_its_open_reservations_and_keeps_the_ledger():
    from connections.services import connection_delete

    connection, item = _setup()
    brick_order_upsert_page(connection=connection, records=[_order(quantity=6)])
    item.refresh_from_db()
    assert item.quantity_reserved == 6
    connection_delete(connection=connection)
    item.refresh_from_db()
    assert (item.quantity_on_hand, item.quantity_reserved) == (40, 0)
    assert list(StockMovement.objects.values_list("kind", "source")) == [
        ("adjust", "import:bricklink"), ("reserve", "sync"), ("release", "connection deleted")]
    assert inventory_check() == []


@pytest.mark.django_db
def test_an_item_a_new_order_takes_over_keeps_its_one_reservation():
    """A new order's items are taken as given only when they are new too: an item stored under another order (the
    marketplace moved it) already holds a reservation, which must be read, not opened a second time."""
    connection, item = _setup()
    brick_order_upsert_page(connection=connection, records=[_order(quantity=5)])
    moved = OrderRecord(external_id="2", status="new", marketplace_status="PAID", items=[
        OrderItemRecord(external_id="1:900", status="new", quantity=7, unit_price=Decimal("0.05"), listing_ref="900",
                        part_number="3023", color_id="11", condition="new", location="A01"),
    ])
    brick_order_upsert_page(connection=connection, records=[moved])
    reservation = Reservation.objects.get()
    assert reservation.order_item.order.external_id == "2" and reservation.quantity == 7
    item.refresh_from_db()
    assert item.quantity_reserved == 7
    cancelled = OrderRecord(external_id="3", status="cancelled", marketplace_status="CANCELLED", items=[
        OrderItemRecord(external_id="1:900", status="cancelled", quantity=7, unit_price=Decimal("0.05"), listing_ref="900",
                        part_number="3023", color_id="11", condition="new", location="A01"),
    ])
    brick_order_upsert_page(connection=connection, records=[cancelled])  # a new order, cancelled, takes it over again
    assert Reservation.objects.get().state == Reservation.State.RELEASED
    item.refresh_from_db()
    assert item.quantity_reserved == 0
    assert inventory_check() == []


@pytest.mark.django_db
def test_a_first_page_reads_no_order_item_back():
    """New orders with new items reserve from what the page inserted: the stock step reads no order item."""
    from django.db import connection as db_connection
    from django.test.utils import CaptureQueriesContext

    connection, item = _setup()
    records = [OrderRecord(external_id=str(n), status="new", marketplace_status="PAID", items=[
        OrderItemRecord(external_id=f"{n}:900", status="new", quantity=1, unit_price=Decimal("0.05"), listing_ref="900",
                        part_number="3023", color_id="11", condition="new", location="A01")]) for n in range(1, 6)]
    with CaptureQueriesContext(db_connection) as queries:
        brick_order_upsert_page(connection=connection, records=records)
    # The stock step's read of a page's items joins their reservations (the upsert's own key lookup does not).
    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and '"listings_reservation"' in q["sql"]
             and '"orders_orderitem"' in q["sql"]]
    assert reads == []
    item.refresh_from_db()
    assert item.quantity_reserved == 5 and Reservation.objects.count() == 5
