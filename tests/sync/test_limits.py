"""``fit_row``: the one check of a row against its model's columns, with PostgreSQL's limits on every database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from inventory.models import InventoryItem
from marketsync.sync.limits import fit_row
from offers.models import Offer
from orders.models import Order, OrderItem


def order(**values) -> Order:
    return Order(organization_id=1, connection_id=1, marketplace="refurbed", external_id="1", **values)


def item(**values) -> OrderItem:
    return OrderItem(organization_id=1, connection_id=1, order_id=1, external_id="1:1", **values)


def test_a_row_that_fits_passes_with_its_decimals_rounded_to_the_column():
    row = order(total_amount=Decimal("12.345678"), shipping_amount=Decimal("9999999999.9999"), raw={"a": [1, "é"]})
    assert fit_row(row) is None
    assert row.total_amount == Decimal("12.3457") and row.shipping_amount == Decimal("9999999999.9999")
    offer = Offer(organization_id=1, connection_id=1, external_id="9", reference_price=Decimal("10.005"))
    assert fit_row(offer) is None and offer.reference_price == Decimal("10.00")  # half to even, as round() did


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (order(total_amount=Decimal("99999999999.00")),
         "total_amount 99999999999.00 has more digits than the column holds (max 10 before the point)"),
        (order(total_amount=Decimal("9999999999.99995")), "total_amount 9999999999.99995 has more digits"),  # rounds up
        (order(total_amount=Decimal("1E+400")), "total_amount 1E+400 has more digits"),
        (order(total_amount=Decimal("Infinity")), "total_amount Infinity is not a finite number"),
        (order(total_amount=Decimal("NaN")), "total_amount NaN is not a finite number"),
        (order(items_count=-4), "items_count -4 is negative, which the column does not hold"),
        (order(items_count=2**31), "items_count 2147483648 is out of the column's range (0 to 2147483647)"),
        (item(quantity=10**12), "quantity 1000000000000 is out of the column's range (-2147483648 to 2147483647)"),
        (item(quantity=float("inf")), "quantity inf is not a whole number"),
        (item(color_id="1234567890" * 4), "color_id '1234567890123456789012… is 40 characters, longer than the column holds (max 16)"),
        (order(customer_name="Ada\x00Lovelace"), "customer_name 'Ada\\x00Lovelace' contains a NUL character"),
        (item(remarks="bin A\x00"), "remarks 'bin A\\x00' contains a NUL character"),
        (order(customer_name="\ud800"), "customer_name '\\ud800' is not valid Unicode"),
        (order(currency=None), "currency is missing"),
        (order(raw={"total_charged": float("inf")}), "raw holds a number JSON cannot store"),
        (order(raw={"note": "a\x00b"}), "raw holds a NUL character"),
        (order(details={"k\x00": 1}), "details holds a NUL character"),
        (order(raw={"x": "\udc00"}), "raw holds text that is not valid Unicode"),
        (order(raw={"x": Decimal("1")}), "raw holds a value that is not JSON"),
        (order(placed_at=datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))),
         "placed_at 9999-12-31T23:00:00-05:00 is outside the range of dates the database can store"),
    ],
)
def test_a_value_its_column_cannot_hold_is_named_with_the_field_and_why(row, problem):
    assert fit_row(row).startswith(problem)


def test_a_backslash_before_u0000_in_text_is_not_mistaken_for_a_nul():
    assert fit_row(order(raw={"path": "C:\\u0000\\files"}, customer_name="\x01 bell and tab\t")) is None


def test_the_limits_are_postgresqls_also_on_sqlite():
    # SQLite stores a 64-bit integer where PostgreSQL's integer column stops at 2^31 - 1.
    assert fit_row(InventoryItem(organization_id=1, part_number="3001", condition="new", quantity_on_hand=2**31))
    assert fit_row(InventoryItem(organization_id=1, part_number="3001", condition="new", quantity_on_hand=2**31 - 1,
                                 created_at=datetime.now(UTC))) is None
