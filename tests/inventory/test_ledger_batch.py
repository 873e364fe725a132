"""A page's ledger is written in a constant number of queries (issue 13, item 5), and holds every guarantee the
one-step-at-a-time ledger held: gapless sequences per item, one change applied once, settled never moves again."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import InventoryItem, Reservation, StockMovement, StockPush
from inventory.selectors import inventory_check
from inventory.services import inventory_upsert_lots
from marketsync.sync.records import LotRecord, OrderItemRecord, OrderRecord
from orders.services import brick_order_upsert_page
from tests.factories import make_connection, make_organization

pytestmark = pytest.mark.django_db

LOTS = 3  # fewer stock items than order items: several steps of one page land on one item


def _store(name: str):
    connection = make_connection(make_organization(name), "bricklink", stock_push=True)
    inventory_upsert_lots(connection=connection, records=[
        LotRecord(external_id=str(900 + n), part_number=f"30{n}", item_type="PART", color_id="11", condition="new",
                  quantity=1000, location="A01")
        for n in range(LOTS)
    ])
    return connection


def _page(count: int, *, status: str = "new", marketplace_status: str = "PAID") -> list[OrderRecord]:
    now = timezone.now()
    return [
        OrderRecord(
            external_id=str(n), status=status, marketplace_status=marketplace_status,
            # Half were placed before the import read the lots (they add to on hand as they reserve), half after.
            placed_at=now - timedelta(days=1) if n % 2 else now + timedelta(minutes=5),
            items=[
                OrderItemRecord(external_id=f"{n}:{i}", status=status, quantity=1 + (n + i) % 4, unit_price=Decimal("0.05"),
                                listing_ref=str(900 + (n + i) % LOTS), part_number=f"30{(n + i) % LOTS}", color_id="11",
                                condition="new", location="A01")
                for i in range(2)
            ],
        )
        for n in range(count)
    ]


def _queries(connection, records) -> int:
    with CaptureQueriesContext(db) as captured:
        brick_order_upsert_page(connection=connection, records=records)
    return len(captured)


def _assert_ledger_whole(connection):
    assert inventory_check(organization=connection.organization) == []
    for item in InventoryItem.objects.filter(organization=connection.organization):
        sequences = list(item.movements.order_by("sequence").values_list("sequence", flat=True))
        assert sequences == list(range(1, item.version + 1))  # gapless, ending at the item's version
        steps = list(item.movements.order_by("sequence").values_list("on_hand_before", "on_hand_after",
                                                                    "reserved_before", "reserved_after"))
        for (_, on_hand, _, reserved), (on_hand_next, _, reserved_next, _) in zip(steps, steps[1:], strict=False):
            assert (on_hand, reserved) == (on_hand_next, reserved_next)  # each line starts where the last ended
        assert (steps[-1][1], steps[-1][3]) == (item.quantity_on_hand, item.quantity_reserved)


@pytest.mark.parametrize("next_status", [("cancelled", "CANCELLED"), ("shipped", "SHIPPED")])
def test_a_page_of_brick_orders_moves_stock_in_the_same_number_of_queries_for_n_and_2n_orders(next_status):
    counts = {}
    for size in (6, 12):
        connection = _store(f"batch-{size}")
        reserve = _queries(connection, _page(size))
        assert Reservation.objects.filter(order_item__connection=connection, state="open").count() == 2 * size
        again = _queries(connection, _page(size))  # re-read unchanged: nothing moves
        settle = _queries(connection, _page(size, status=next_status[0], marketplace_status=next_status[1]))
        counts[size] = (reserve, again, settle)
        assert not Reservation.objects.filter(order_item__connection=connection, state="open").exists()
        _assert_ledger_whole(connection)
    assert counts[6] == counts[12]


def test_one_page_applies_each_step_once_in_page_order_and_queues_one_push_per_lot():
    connection = _store("batch-order")
    brick_order_upsert_page(connection=connection, records=_page(6))
    brick_order_upsert_page(connection=connection, records=_page(6))  # the same page again changes nothing
    reserves = StockMovement.objects.filter(item__organization=connection.organization, kind="reserve")
    assert reserves.count() == 12
    # Steps follow the page's items (by order, then item): each item's sequence rises with the order items' ids.
    for item in InventoryItem.objects.filter(organization=connection.organization):
        order_items = list(reserves.filter(item=item).order_by("sequence").values_list("order_item_id", flat=True))
        assert order_items == sorted(order_items)
    # Orders placed before the import read the lots were already out of its quantity: they add to on hand.
    assert reserves.exclude(reason="").count() == 6
    assert all(m.on_hand_after - m.on_hand_before == m.reserved_after - m.reserved_before
               for m in reserves.exclude(reason=""))
    pushes = StockPush.objects.filter(connection=connection, state="pending")
    assert pushes.count() == LOTS  # one waiting push per lot, absorbing every change of its item
    for push in pushes:
        item = InventoryItem.objects.get(pk=push.item_id)
        assert push.wanted_quantity == item.quantity_available
        assert push.changes == reserves.filter(item=item, reason="").count()  # the steps that changed available
    _assert_ledger_whole(connection)
