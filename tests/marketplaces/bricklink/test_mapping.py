from decimal import Decimal

from marketsync.marketplaces.bricklink.mapping import order_record

ITEM = {"inventory_id": "123", "item": {"no": "3001", "name": "Brick 2 x 4", "type": "PART", "categoryID": 5}, "color_id": 5,
        "color_name": "Red", "quantity": 4, "new_or_used": "U", "completeness": "", "unit_price": "0.12345",
        "unit_price_final": "0.1100", "currency_code": "EUR", "remarks": " B07 ", "description": "clean"}


# The status tables are tested value by value in tests/orders/test_status.py.


def test_ids_as_strings_or_integers_money_with_four_decimals_and_repeated_lots_in_a_later_batch():
    detail = {"order_id": "8001", "status": "PAID", "date_ordered": "2026-11-20T10:00:00.123Z",
              "date_status_changed": "2026-11-20T11:00:00Z", "cost": {"currency_code": "EUR", "grand_total": "10.12349",
                                                                       "subtotal": "8", "shipping": "2.1"},
              "shipping": {"address": {"name": {"full": "Ada L"}, "country_code": "UK"}}}
    record = order_record(detail, detail, [ITEM, {**ITEM, "inventory_id": 123, "quantity": 2}])
    assert record.external_id == "8001" and record.total_amount == Decimal("10.1235")
    assert record.shipping_address["country_code"] == "GB" and record.placed_at.microsecond == 123000
    first, second = record.items
    assert (first.external_id, second.external_id) == ("8001:123", "8001:123:2")
    assert (first.listing_ref, first.location, first.condition, first.unit_price) == ("123", "B07", "used", Decimal("0.1100"))
    assert first.details["category_id"] == "5" and first.color_id == "5"
    assert order_record(detail, detail, None).items is None  # items not fetched: keep what is stored
