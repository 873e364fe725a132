"""Rows for the workspace tests, stored through the same upsert the syncs use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketsync.sync.records import OrderItemRecord, OrderRecord
from orders.models import Order
from orders.services import order_upsert_page

BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def order_record(n: int, *, prefix: str = "R", status: str = "new", customer: str | None = None, **fields) -> OrderRecord:
    items = fields.pop("items", None)
    if items is None:
        items = [
            OrderItemRecord(
                external_id=f"{prefix}{n}-1", status=status, sku=f"{prefix}-SKU-{n}", title=f"Phone {n}", quantity=1,
                unit_price=Decimal("100.00"), currency="EUR", imei=f"35{n:013d}",
            ),
            OrderItemRecord(
                external_id=f"{prefix}{n}-2", status=status, part_number=f"{prefix}P{n}", title=f"Brick {n}", quantity=2,
                unit_price=Decimal("0.25"), currency="EUR", color_name="Red",
            ),
        ]
    return OrderRecord(
        external_id=f"{prefix}{n}",
        status=status,
        marketplace_status=fields.pop("marketplace_status", status.upper()),
        placed_at=fields.pop("placed_at", BASE_TIME + timedelta(minutes=n)),
        currency="EUR",
        total_amount=fields.pop("total_amount", Decimal("100.50")),
        customer_name=customer if customer is not None else f"Customer {prefix}{n}",
        customer_email=fields.pop("customer_email", f"buyer{n}@{prefix.lower()}.example"),
        tracking_number=fields.pop("tracking_number", f"TRK{prefix}{n}"),
        items=items,
        **fields,
    )


def make_orders(connection, count: int, *, prefix: str = "R", start: int = 0, **fields) -> list[Order]:
    records = [order_record(start + n, prefix=prefix, **fields) for n in range(count)]
    order_upsert_page(connection=connection, records=records)
    return list(Order.objects.filter(connection=connection, external_id__in=[r.external_id for r in records]))
