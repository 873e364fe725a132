from decimal import Decimal

import pytest

from marketsync.marketplaces.bricklink.mapping import STATUS_MAP, order_record
from marketsync.marketplaces.brickowl.mapping import STATUS_MAP as OWL_STATUS_MAP
from marketsync.sync.records import UnifiedStatus

ITEM = {"inventory_id": "123", "item": {"no": "3001", "name": "Brick 2 x 4", "type": "PART", "categoryID": 5}, "color_id": 5,
        "color_name": "Red", "quantity": 4, "new_or_used": "U", "completeness": "", "unit_price": "0.12345",
        "unit_price_final": "0.1100", "currency_code": "EUR", "remarks": " B07 ", "description": "clean"}


@pytest.mark.parametrize("raw,unified", [
    ("PENDING", "awaiting_payment"), ("UPDATED", "awaiting_payment"), ("PROCESSING", "accepted"), ("READY", "accepted"),
    ("PAID", "new"), ("PACKED", "accepted"), ("SHIPPED", "shipped"), ("RECEIVED", "delivered"), ("COMPLETED", "delivered"),
    ("CANCELLED", "cancelled"), ("PURGED", "cancelled"), ("NPB", "on_hold"), ("NSS", "on_hold"), ("NRS", "on_hold"),
    ("NPX", "on_hold"), ("OCR", "on_hold"),
])
def test_every_bricklink_status_maps_onto_the_unified_one(raw, unified):
    assert STATUS_MAP[raw] == unified
    assert order_record({"order_id": 1, "status": raw.lower()}, None, []).status == unified


def test_brick_owl_status_ids_cover_0_to_8():
    assert [OWL_STATUS_MAP[str(n)] for n in range(9)] == [
        UnifiedStatus.AWAITING_PAYMENT, UnifiedStatus.AWAITING_PAYMENT, UnifiedStatus.NEW, UnifiedStatus.ACCEPTED,
        UnifiedStatus.ACCEPTED, UnifiedStatus.SHIPPED, UnifiedStatus.DELIVERED, UnifiedStatus.ON_HOLD, UnifiedStatus.CANCELLED]


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
