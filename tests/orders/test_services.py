from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from marketsync.sync.records import OrderItemRecord, OrderRecord
from orders.models import Order, OrderItem
from orders.services import order_upsert_page
from tests.factories import make_connection, make_organization

pytestmark = pytest.mark.django_db


def _records(count: int, *, status: str = "new", quantity: int = 1) -> list[OrderRecord]:
    return [
        OrderRecord(
            external_id=str(1000 + n),
            status=status,
            marketplace_status=status.upper(),
            placed_at=datetime(2026, 11, 1, 12, n % 60, tzinfo=UTC),
            currency="EUR",
            total_amount=Decimal("99.90"),
            items=[
                OrderItemRecord(external_id=f"{1000 + n}-{i}", status=status, sku=f"SKU-{i}", quantity=quantity)
                for i in range(2)
            ],
        )
        for n in range(count)
    ]


def test_repeated_upsert_of_the_same_page_creates_no_duplicates_and_counts_updates():
    connection = make_connection(make_organization())
    first = order_upsert_page(connection=connection, records=_records(5))
    second = order_upsert_page(connection=connection, records=_records(5, status="shipped", quantity=3))
    assert (first.created, first.changed) == (5, 0)
    assert (second.created, second.changed) == (0, 5)
    assert Order.objects.count() == 5
    assert OrderItem.objects.count() == 10
    order = Order.objects.get(external_id="1000")
    assert order.status == "shipped"
    assert order.items_count == 6
    assert set(order.items.values_list("quantity", flat=True)) == {3}


def test_a_key_twice_in_one_page_keeps_the_last_occurrence():
    connection = make_connection(make_organization())
    records = _records(1) + _records(1, status="cancelled")
    result = order_upsert_page(connection=connection, records=records)
    assert result.created == 1
    assert Order.objects.get().status == "cancelled"


def test_same_external_id_on_two_connections_stays_two_orders():
    one = make_connection(make_organization("one"))
    two = make_connection(make_organization("two"))
    order_upsert_page(connection=one, records=_records(2))
    order_upsert_page(connection=two, records=_records(2))
    assert Order.objects.filter(connection=one).count() == 2
    assert Order.objects.filter(connection=two).count() == 2


@pytest.mark.parametrize("size", [10, 100])
def test_a_page_costs_the_same_number_of_queries_whatever_its_size(size):
    connection = make_connection(make_organization())
    with CaptureQueriesContext(db) as queries:
        order_upsert_page(connection=connection, records=_records(size))
    # lookup + insert (+ pk lookup where ids are not returned) for orders, and the same for items; then the stock
    # step: the organization's stock held first (one row lock), the items with their reservations, one SKU lookup
    # and the two flag updates (no stock item matches here, so nothing moves).
    # SQLite caps a statement at 999 parameters, so Django splits big inserts there; PostgreSQL does not.
    limit = 11 if db.vendor == "postgresql" else 11 + (size * 2 * 30) // 999
    assert len(queries) <= limit
